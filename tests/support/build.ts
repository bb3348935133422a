// vitest globalSetup: the spawned CLI suites need dist/; build it once per test run, before any suite starts,
// so that no suite reads dist/ while another is rewriting it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, root } from './cli.js';

export default function buildOnce(): void {
  const build = spawnSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')],
    { encoding: 'utf8' },
  );
  // Type errors are the typecheck's business (npm run typecheck); tsc still emits, and the suites need the
  // emitted program. Only a build that emitted nothing is fatal.
  if (build.status !== 0 && !existsSync(cliPath)) throw new Error(`tsc failed:\n${build.stdout}${build.stderr}`);
}
