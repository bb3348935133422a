import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from './engine.js';
import { InputError } from './errors.js';
import type { CliIo } from './options.js';

/**
 * The benchmarks live in bench/<area>.ts, outside src/, and are loaded at run time: the CLI must still start
 * when a benchmark module is missing, and a static import would make every CLI start load the benchmarks.
 */
const BENCH_AREAS = [
  { area: 'allocator', exportName: 'runAllocatorBench' },
  { area: 'board', exportName: 'runBoardBench' },
] as const;

export interface BenchFlags {
  only?: 'allocator' | 'board';
  quick?: boolean;
  board?: string;
}

export async function benchCommand(flags: BenchFlags, io: CliIo): Promise<number> {
  const only = flags.only;
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
    // Each area takes its own options: the allocator a scale for a quick look, the board a board name.
    const argument = area === 'allocator' ? (flags.quick ? { scale: 0.1, runs: 3 } : {}) : flags.board;
    await (run as (argument: unknown) => unknown)(argument);
  }
  return 0;
}
