import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The board tests share one native library; forks isolate a crash in it to one file.
    pool: 'forks',
    globalSetup: ['tests/support/build.ts'],
  },
});
