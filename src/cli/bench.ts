import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from './engine.js';
import { InputError } from './errors.js';
import type { CliIo } from './program.js';

/**
 * The benchmarks live in bench/<area>.ts, outside src/, and are loaded at run time: the CLI must still start
 * when a benchmark module is missing, and a static import would make every CLI start load the benchmarks.
 */
const BENCH_AREAS = [
  { area: 'allocator', exportName: 'runAllocatorBench' },
  { area: 'board', exportName: 'runBoardBench' },
] as const;

export async function benchCommand(only: 'allocator' | 'board' | undefined, io: CliIo): Promise<number> {
  const root = packageRoot();
  const selected = BENCH_AREAS.filter((entry) => only === undefined || entry.area === only);
  for (const { area, exportName } of selected) {
    const compiled = join(root, 'dist', 'bench', `${area}.js`);
    if (!existsSync(compiled)) {
      throw new InputError(`bench: ${compiled} is missing; build with \`npm run build\` first`);
    }
    const module = (await import(pathToFileURL(compiled).href)) as Record<string, unknown>;
    const run = module[exportName];
    if (typeof run !== 'function') throw new InputError(`bench: ${compiled} does not export ${exportName}()`);
    io.stderr.write(`tlsf-sim bench: ${area}\n`);
    await (run as () => Promise<void> | void)();
  }
  return 0;
}
