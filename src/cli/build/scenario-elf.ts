// Built-in scenarios for boards that are not built in: a board JSON file has no committed
// firmware-sim/elf/<board>/, so the scenario is linked for it on first use with the Makefile's own rule
// (`make scenario-elf`, the same flags as the committed ELFs) into the cache. The cache key covers the board
// file's bytes and every firmware input, so an edited board or a newer tlsf-sim links afresh, and the build
// is reproducible: the same inputs give the same bytes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { firmwareDirectory, resolveBoard } from '../engine.js';
import { InputError } from '../errors.js';
import { cacheDirectory, contentHash } from './board-target.js';
import { CROSS_PACKAGES, checkToolchain, toolchainFor } from './toolchain.js';

/** Every file the scenario ELFs are built from, in a fixed order. */
function firmwareInputs(firmwareDir: string): string[] {
  const files = ['Makefile', 'include/tlsf_sim.h', 'ld/common.ld', 'tools/gen-ld.mjs', 'tools/cpu-flags.json'];
  for (const directory of ['runtime', 'scenarios', 'scenarios/third-party']) {
    for (const name of readdirSync(join(firmwareDir, directory)).sort()) {
      if (/\.(c|h|cpp)$/.test(name)) files.push(`${directory}/${name}`);
    }
  }
  return files;
}

/**
 * The ELF of a built-in scenario linked for the board in `boardFile` (a board JSON file), building it into
 * the cache on first use. Throws InputError (exit 2) naming `tlsf-sim build` when it cannot be built here.
 */
export function scenarioElfForBoard(
  scenario: { name: string },
  boardFile: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const firmwareDir = firmwareDirectory();
  const boardPath = resolve(boardFile);
  const board = resolveBoard(boardPath);
  const boardBytes = readFileSync(boardPath);
  const hash = contentHash(
    Buffer.concat([
      boardBytes,
      ...firmwareInputs(firmwareDir).map((file) =>
        Buffer.concat([Buffer.from(`\0${file}\0`), readFileSync(join(firmwareDir, file))]),
      ),
    ]),
  );
  const directory = join(cacheDirectory(env), 'scenarios', hash);
  const elf = join(directory, `${scenario.name}.elf`);
  if (existsSync(elf)) return elf;

  const why = `scenario ${scenario.name} is not built for board ${board.name}`;
  const cpuTable = JSON.parse(readFileSync(join(firmwareDir, 'tools', 'cpu-flags.json'), 'utf8')) as {
    flags: Record<string, string>;
  };
  const cpuFlags = cpuTable.flags[board.cpu];
  try {
    checkToolchain(toolchainFor(env), 'newlib-nano', false, cpuFlags!.split(' '));
  } catch {
    throw new InputError(
      `${why}, and linking it needs the Arm cross compiler (${CROSS_PACKAGES}); or build your own firmware with tlsf-sim build`,
    );
  }
  if (spawnSync('make', ['--version']).status !== 0) {
    throw new InputError(
      `${why}, and linking it needs make; install make, or build your own firmware with tlsf-sim build`,
    );
  }

  mkdirSync(directory, { recursive: true });
  const script = join(directory, 'board.ld');
  const generator = join(firmwareDir, 'tools', 'gen-ld.mjs');
  const generated = spawnSync(process.execPath, [generator, '--board', boardPath, '--out', script], {
    encoding: 'utf8',
  });
  if (generated.status !== 0) {
    // Node prints an uncaught error's source location first ("file:1"): the line naming the error says more.
    const lines = (generated.stderr || generated.stdout).trim().split('\n');
    const reason = lines.find((line) => /^\w*Error\b/.test(line)) ?? lines[0];
    throw new InputError(`${why}: cannot write its linker script: ${reason}`);
  }
  // A private name until complete, so a concurrent run never loads half an ELF.
  const partial = join(directory, `${scenario.name}.${process.pid}.elf`);
  const made = spawnSync(
    'make',
    [
      '-s',
      '-C',
      firmwareDir,
      'scenario-elf',
      `CROSS=${toolchainFor(env).prefix}`,
      `SCENARIO=${scenario.name}`,
      `BOARD_LD=${script}`,
      `BOARD_CPUFLAGS=${cpuFlags}`,
      `ELF=${partial}`,
    ],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) {
    rmSync(partial, { force: true });
    const lines = `${made.stdout}${made.stderr}`.trim().split('\n');
    const detail = lines.find((line) => /error|overflow|not fit/i.test(line)) ?? `make exited ${made.status}`;
    throw new InputError(`${why}, and linking it failed: ${detail.slice(0, 160)}`);
  }
  renameSync(partial, elf);
  return elf;
}
