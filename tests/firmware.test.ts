// The built-in firmware (firmware-sim/): every scenario on every board, the parameter block against
// scenarios.json, trace replay from flash, the scenarios' own data checks, the linker scripts against the
// board profiles, and the committed ELFs against a fresh build.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  listBoards,
  loadBoard,
  parseElf,
  readParams,
  runFirmware,
  symbolize,
  tlsfHeap,
  type BoardProfile,
  type HeapAllocator,
  type HeapFactory,
  type RunOptions,
  type RunReport,
} from '../src/board/index.js';
// The reference trace encoder (same format as the CLI's src/cli/trace-encoding.ts).
// @ts-expect-error: a plain ES module without type declarations
import { encodeTrace, parseRep } from '../firmware-sim/tools/rep2c.mjs';
import { crossToolchainProblem } from './support/cross-toolchain.js';

const firmwareDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'firmware-sim');

interface ScenarioEntry {
  name: string;
  elf: string;
  description: string;
  models: string;
  basis: string;
  params: { name: string; default: number; help: string }[];
  minHeap: number;
  minRam: number;
}

const scenarios = JSON.parse(readFileSync(join(firmwareDir, 'scenarios.json'), 'utf8')) as ScenarioEntry[];
const boards = listBoards();

function elfPath(scenario: ScenarioEntry, board: BoardProfile): string {
  return join(firmwareDir, scenario.elf.replace('{board}', board.name.toLowerCase()));
}

function run(
  scenario: ScenarioEntry,
  board: BoardProfile,
  extra: Partial<RunOptions> = {},
  heap?: HeapFactory,
): RunReport {
  const elf = readFileSync(elfPath(scenario, board));
  return runFirmware({ elf, elfName: `${scenario.name}.elf`, board, maxInstructions: 200_000_000, ...extra }, heap);
}

function scenario(name: string): ScenarioEntry {
  const found = scenarios.find((s) => s.name === name);
  if (!found) throw new Error(`scenario ${name} missing from scenarios.json`);
  return found;
}

describe('scenarios.json', () => {
  it('lists the nine built-in scenarios with their documentation', () => {
    expect(scenarios.map((s) => s.name)).toEqual([
      'packet-pool',
      'rtos-queues',
      'json-doc',
      'tls-handshake',
      'sensor-logger',
      'fragmenter',
      'realloc-grow',
      'trace-player',
      'third-party',
    ]);
    for (const entry of scenarios) {
      expect(entry.elf).toBe(`elf/{board}/${entry.name}.elf`);
      for (const field of ['description', 'models', 'basis'] as const) expect(entry[field].length).toBeGreaterThan(40);
      expect(entry.minHeap).toBeGreaterThan(0);
      expect(entry.minRam).toBeGreaterThan(entry.minHeap);
      for (const param of entry.params) expect(param.help.length).toBeGreaterThan(3);
    }
  });

  it("matches every ELF's parameter block: names and defaults", () => {
    for (const entry of scenarios) {
      for (const board of boards) {
        const image = parseElf(readFileSync(elfPath(entry, board)), entry.name);
        // The linker orders the records as the compiler emitted them, not as the source lists them.
        const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
        const params = readParams(image)
          .map(({ name, value }) => ({ name, value }))
          .sort(byName);
        expect(params, `${entry.name} on ${board.name}`).toEqual(
          entry.params.map((p) => ({ name: p.name, value: p.default })).sort(byName),
        );
      }
    }
  });

  it("links no part of newlib's allocator into any ELF (the shim replaces it)", () => {
    const newlibAllocatorSymbols = [
      '__malloc_free_list',
      '__malloc_sbrk_start',
      '__malloc_av_',
      '__malloc_current_mallinfo',
      '__malloc_top_pad',
    ];
    for (const entry of scenarios) {
      for (const board of boards) {
        const image = parseElf(readFileSync(elfPath(entry, board)), entry.name);
        for (const symbol of newlibAllocatorSymbols)
          expect(image.symbolByName.has(symbol), `${symbol} in ${entry.name}/${board.name}`).toBe(false);
        for (const symbol of ['__heap_start', '__heap_end', '_estack', '__tlsf_params_start', 'Reset_Handler']) {
          expect(image.symbolByName.has(symbol), `${symbol} in ${entry.name}/${board.name}`).toBe(true);
        }
        // Scenarios that print through newlib's stdio reach the heap through the shim's _malloc_r.
        if (entry.name === 'json-doc' || entry.name === 'third-party')
          expect(image.symbolByName.has('_malloc_r')).toBe(true);
      }
    }
  });
});

describe('every scenario on every board', () => {
  for (const entry of scenarios) {
    it(`${entry.name}: completes where the heap is large enough, runs out of memory cleanly where it is not`, () => {
      const outcomes: string[] = [];
      for (const board of boards) {
        const report = run(entry, board);
        outcomes.push(`${board.name}: ${report.result} (heap ${report.heapSize})`);
        const where = `${entry.name} on ${board.name}: ${report.result} ${report.message ?? ''}\n${report.output}`;
        expect(['ok', 'out-of-memory'], where).toContain(report.result);
        expect(report.output, where).toContain(`${entry.name}:`);
        expect(report.peakUsed, where).toBeLessThanOrEqual(report.heapSize);
        if (report.heapSize >= entry.minHeap) {
          expect(report.result, where).toBe('ok');
        } else if (report.heapSize < entry.minHeap * 0.9) {
          expect(report.result, where).toBe('out-of-memory');
        }
        if (report.result === 'ok') {
          expect(report.exitCode, where).toBe(0);
          expect(report.ops.malloc + report.ops.calloc + report.ops.realloc, where).toBeGreaterThan(10);
          expect(report.ops.free, where).toBeGreaterThan(0);
        } else {
          expect(report.message, where).toMatch(/\d+ bytes/);
          expect(report.ops.failed, where).toBeGreaterThan(0);
        }
      }
      // The default board runs every scenario.
      expect(outcomes.find((line) => line.startsWith('stm32f411re:'))).toMatch(/: ok /);
    });
  }

  it('the teaching board is too small for the big workloads', () => {
    const tiny = loadBoard('tiny');
    const failing = scenarios.filter((entry) => run(entry, tiny).result === 'out-of-memory').map((entry) => entry.name);
    expect(failing).toEqual(expect.arrayContaining(['tls-handshake', 'packet-pool', 'json-doc']));
    expect(run(scenario('third-party'), tiny).result).toBe('ok');
  });
});

describe('scenario behaviour', () => {
  const board = loadBoard('stm32f411re');

  it('parameters from the block change the workload', () => {
    const short = run(scenario('packet-pool'), board, { params: { bursts: 20, seed: 5 } });
    const long = run(scenario('packet-pool'), board, { params: { bursts: 200, seed: 5 } });
    expect(short.result).toBe('ok');
    expect(short.output).toContain('20 bursts');
    expect(long.ops.malloc).toBeGreaterThan(short.ops.malloc * 5);
    const fullRecords = run(scenario('tls-handshake'), board);
    const smallRecords = run(scenario('tls-handshake'), board, { params: { record_len: 4096 } });
    expect(smallRecords.result).toBe('ok');
    // Two record buffers, each 12 KiB smaller.
    expect(fullRecords.peakUsed - smallRecords.peakUsed).toBeGreaterThanOrEqual(2 * 12288);
  });

  it('the third-party scenario exercises the whole shim through newlib and plain C', () => {
    const report = run(scenario('third-party'), board);
    expect(report.result).toBe('ok');
    expect(report.output).toContain('distinct words; most frequent:');
    expect(report.output).toContain('allocation contracts all check out');
    expect(report.ops.memalign).toBeGreaterThanOrEqual(3);
    // The three requests that must fail (2 GiB malloc and posix_memalign, overflowing calloc).
    expect(report.ops.failed).toBeGreaterThanOrEqual(2);
  });

  it('trace-player replays a .rep trace written into the flash trace area', () => {
    const rep = ['4096', '3', '6', '1', 'a 0 100', 'a 1 2000', 'r 0 3000', 'a 2 17', 'f 1', 'r 2 5'].join('\n');
    const bytes = encodeTrace(parseRep(rep, 'inline.rep')) as Uint8Array;
    const patch = { symbol: '__tlsf_trace_start', endSymbol: '__tlsf_trace_end', bytes };
    const report = run(scenario('trace-player'), board, { flashPatches: [patch] });
    expect(report.result, report.output).toBe('ok');
    expect(report.output).toContain('flash trace, 6 operations, 3 table slots');
    expect(report.ops.realloc).toBe(2);
    expect(report.ops.malloc).toBe(3);
    expect(report.peakRequested).toBeGreaterThanOrEqual(3000 + 2000 + 17);

    const huge = ['0', '1', '1', '1', 'a 0 200000'].join('\n');
    const oom = run(scenario('trace-player'), board, {
      flashPatches: [{ ...patch, bytes: encodeTrace(parseRep(huge, 'huge.rep')) as Uint8Array }],
    });
    expect(oom.result).toBe('out-of-memory');
    expect(oom.message).toContain('200000');
  });

  it('without a flash trace, trace-player replays its built-in trace', () => {
    const report = run(scenario('trace-player'), board);
    const rep = parseRep(readFileSync(join(firmwareDir, 'traces/default.rep'), 'utf8'), 'default.rep') as {
      ops: { op: string }[];
    };
    expect(report.output).toContain(`built-in trace, ${rep.ops.length} operations`);
    expect(report.ops.malloc).toBe(rep.ops.filter((o) => o.op === 'a').length);
    expect(report.ops.realloc).toBe(rep.ops.filter((o) => o.op === 'r').length);
  });

  // A heap that damages one byte of a live block: every scenario must notice through its own checks.
  function corruptingHeap(afterCalls: number): HeapFactory {
    return (memory, options) => {
      const real = tlsfHeap(memory, options) as HeapAllocator;
      const bytes = new Uint8Array(memory);
      const live = new Map<number, number>();
      let calls = 0;
      let done = false;
      const track = (addr: number, size: number): number => {
        calls++;
        if (!done && calls > afterCalls && live.size > 0) {
          // The most recently allocated block that is still live.
          const [victim, victimSize] = [...live.entries()].at(-1)!;
          if (victimSize >= 8) {
            bytes[victim - options.base + Math.floor(victimSize / 2)] ^= 0x5a;
            done = true;
          }
        }
        if (addr) live.set(addr, size);
        return addr;
      };
      return {
        ...real,
        malloc: (size) => track(real.malloc(size), size),
        calloc: (count, size) => track(real.calloc(count, size), count * size),
        memalign: (align, size) => track(real.memalign(align, size), size),
        realloc: (addr, size) => {
          live.delete(addr);
          return track(real.realloc(addr, size), size);
        },
        free: (addr) => {
          live.delete(addr);
          real.free(addr);
        },
        usableSize: (addr) => real.usableSize(addr),
        addPool: (m, o) => real.addPool(m, o),
        check: () => real.check(),
        walk: (visit) => real.walk(visit),
        stats: () => real.stats(),
      };
    };
  }

  for (const name of [
    'packet-pool',
    'rtos-queues',
    'json-doc',
    'tls-handshake',
    'sensor-logger',
    'fragmenter',
    'realloc-grow',
    'trace-player',
  ]) {
    it(`${name} detects a damaged block with its own data check`, () => {
      const report = run(scenario(name), board, {}, corruptingHeap(40));
      expect(report.result, `${report.message}\n${report.output}`).toBe('assertion');
      expect(report.assertion?.file).toMatch(/^scenarios\//);
    });
  }
});

describe('build inputs', () => {
  it('the committed linker scripts match the board profiles', () => {
    const result = spawnSync(process.execPath, [join(firmwareDir, 'tools/gen-ld.mjs'), '--check'], {
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('every board has an ELF of every scenario whose heap bounds lie in the board RAM', () => {
    for (const board of boards) {
      for (const entry of scenarios) {
        const image = parseElf(readFileSync(elfPath(entry, board)), entry.name);
        const start = image.symbolByName.get('__heap_start')!.value;
        const end = image.symbolByName.get('__heap_end')!.value;
        const stackTop = image.symbolByName.get('_estack')!.value;
        expect(start % 8).toBe(0);
        expect(end).toBeGreaterThan(start);
        const bank = board.ram.find((b) => start >= b.base && start < b.base + b.size);
        expect(bank, `${entry.name}/${board.name} heap at ${start.toString(16)}`).toBeDefined();
        expect(stackTop).toBeLessThanOrEqual(
          board.ram.filter((b) => b.heap).reduce((max, b) => Math.max(max, b.base + b.size), 0),
        );
      }
    }
  });

  const crossProblem = crossToolchainProblem();
  const haveCross = crossProblem === null;
  const crossSkip = haveCross ? '' : ` (skipped: ${crossProblem})`;
  const haveMake = spawnSync('make', ['--version']).status === 0;

  // The worked example of docs/firmware.md, compiled with exactly the documented command.
  it.skipIf(!haveCross)(
    `the documented worked example builds and runs (nano and full newlib, M4 and M0)${crossSkip}`,
    () => {
      const out = mkdtempSync(join(tmpdir(), 'tlsf-sim-example-'));
      try {
        const runtime = ['startup.c', 'heap.c', 'syscalls.c', 'tlsf_sim.c'].map((file) =>
          join(firmwareDir, 'runtime', file),
        );
        const variants = [
          { board: 'stm32f411re', cpu: 'cortex-m4', specs: ['--specs=nano.specs'] },
          { board: 'tiny', cpu: 'cortex-m0', specs: ['--specs=nano.specs'] },
          { board: 'stm32f411re', cpu: 'cortex-m4', specs: [] },
        ];
        for (const [index, variant] of variants.entries()) {
          const elf = join(out, `my-${index}.elf`);
          const map = join(out, `my-${index}.map`);
          execFileSync('arm-none-eabi-gcc', [
            `-mcpu=${variant.cpu}`,
            '-mthumb',
            '-mfloat-abi=soft',
            '-Os',
            '-ffunction-sections',
            '-fdata-sections',
            `-I${join(firmwareDir, 'include')}`,
            join(firmwareDir, 'examples/my.c'),
            ...runtime,
            ...variant.specs,
            '-nostartfiles',
            '-Wl,--gc-sections',
            `-L${join(firmwareDir, 'ld')}`,
            '-T',
            `${variant.board}.ld`,
            `-Wl,-Map=${map}`,
            '-o',
            elf,
          ]);
          expect(readFileSync(map, 'utf8')).not.toMatch(/lib_a-(nano-)?(mallocr|freer|reallocr|callocr)\.o/);
          const report = runFirmware({
            elf: readFileSync(elf),
            board: loadBoard(variant.board),
            params: { items: 120 },
          });
          expect(report.result, report.output).toBe('ok');
          expect(report.output).toContain('built and freed 120 items');
          expect(report.ops.malloc).toBeGreaterThanOrEqual(120);
          expect(report.ops.free).toBeGreaterThanOrEqual(120);
        }
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    },
    60_000,
  );
  // Fault reports name the firmware function that called malloc()/free(), not the C wrappers in runtime/heap.c:
  // the wrappers pass their return address in the services' caller argument (docs/design.md §3).
  it.skipIf(!haveCross)(
    `fault reports name the function that called malloc and free through the C library${crossSkip}`,
    () => {
      const out = mkdtempSync(join(tmpdir(), 'tlsf-sim-caller-'));
      try {
        const source = join(out, 'labels.c');
        writeFileSync(
          source,
          [
            '#include <malloc.h>',
            '#include <stdlib.h>',
            '#include <string.h>',
            '#include "tlsf_sim.h"',
            'TLSF_SIM_PARAM(bug, 0);',
            'static volatile int dropped;',
            '__attribute__((noinline)) char *make_label(size_t length) {',
            '  char *label = malloc(length);',
            '  if (!label) tlsf_sim_out_of_memory(length);',
            "  memset(label, 'x', length);",
            '  return label;',
            '}',
            // Not a tail call: the increment keeps drop_label on the stack while free() runs.
            '__attribute__((noinline)) void drop_label(char *label) { free(label); dropped++; }',
            'int main(void) {',
            '  char *first = make_label(20), *second = make_label(20);',
            '  if (TLSF_SIM_PARAM_GET(bug) == 1) drop_label(first + 4);',
            '  if (TLSF_SIM_PARAM_GET(bug) == 2) first[malloc_usable_size(first)] = 0;',
            '  drop_label(first);',
            '  drop_label(second);',
            '  return 0;',
            '}',
            '',
          ].join('\n'),
        );
        const runtime = ['startup.c', 'heap.c', 'syscalls.c', 'tlsf_sim.c'].map((file) =>
          join(firmwareDir, 'runtime', file),
        );
        for (const variant of [
          { board: 'tiny', cpu: 'cortex-m0' },
          { board: 'stm32f411re', cpu: 'cortex-m4' },
        ]) {
          const elfFile = join(out, `labels-${variant.board}.elf`);
          execFileSync('arm-none-eabi-gcc', [
            `-mcpu=${variant.cpu}`,
            '-mthumb',
            '-mfloat-abi=soft',
            '-Os',
            '-ffunction-sections',
            '-fdata-sections',
            `-I${join(firmwareDir, 'include')}`,
            source,
            ...runtime,
            '--specs=nano.specs',
            '-nostartfiles',
            '-Wl,--gc-sections',
            `-L${join(firmwareDir, 'ld')}`,
            '-T',
            `${variant.board}.ld`,
            '-o',
            elfFile,
          ]);
          const elf = readFileSync(elfFile);
          const board = loadBoard(variant.board);
          const clean = runFirmware({ elf, board, recordEvents: true });
          expect(clean.result, clean.message).toBe('ok');
          const image = parseElf(elf);
          expect(
            clean.events!.map(
              (event) => `${event.op} ${symbolize(image, event.caller & ~1)?.replace(/\+0x[0-9a-f]+$/, '')}`,
            ),
          ).toEqual(['malloc make_label', 'malloc make_label', 'free drop_label', 'free drop_label']);
          const invalid = runFirmware({ elf, board, params: { bug: 1 } });
          expect(invalid.result).toBe('fault');
          expect(invalid.fault).toMatchObject({
            kind: 'invalid-free',
            symbol: expect.stringMatching(/^drop_label\+0x/) as unknown,
          });
          expect(invalid.message).toMatch(
            /^invalid-free: free\(0x[0-9a-f]+\) called from 0x[0-9a-f]+ \(drop_label\+0x[0-9a-f]+\): .* \(4 bytes into block 0x[0-9a-f]+ \(20 bytes\) allocated by call #1 from make_label\+0x[0-9a-f]+\)$/,
          );
          const overflow = runFirmware({ elf, board, params: { bug: 2 }, guard: true });
          expect(overflow.result).toBe('heap-corruption');
          expect(overflow.message).toMatch(
            /into the header of block 0x[0-9a-f]+ \(allocated by call #2 from make_label\+0x[0-9a-f]+\), right after the end of block 0x[0-9a-f]+ \(20 bytes\) allocated by call #1 from make_label\+0x/,
          );
        }
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    },
    60_000,
  );
  // Another compiler or newlib release makes different bytes, not stale ones: compare only with the toolchain
  // that built the committed ELFs (firmware-sim/elf/TOOLCHAIN, written by the build).
  const toolchain =
    haveCross && haveMake
      ? spawnSync('make', ['-s', '--no-print-directory', '-C', firmwareDir, 'toolchain-id'], { encoding: 'utf8' })
          .stdout
      : '';
  const committedToolchain = readFileSync(join(firmwareDir, 'elf/TOOLCHAIN'), 'utf8');
  const sameToolchain = toolchain === committedToolchain;
  const skipReason = !haveCross
    ? crossSkip
    : !haveMake
      ? ' (skipped: make is not installed)'
      : !sameToolchain
        ? ` (skipped: the ELFs were built with ${committedToolchain.split('\n')[0]}, this machine has ${toolchain.split('\n')[0] || 'another newlib'})`
        : '';
  it.skipIf(skipReason !== '')(
    `the committed ELFs are byte-identical to a fresh build${skipReason}`,
    () => {
      const output = execFileSync('make', ['-s', '-j2', '-C', firmwareDir, 'check-uptodate'], {
        encoding: 'utf8',
        timeout: 170_000,
      });
      expect(output).toMatch(/all \d+ ELFs match a fresh build/);
    },
    180_000,
  );

  // `make -n` and `make -q` must not write: the TOOLCHAIN file's recipe once ran a recursive $(MAKE), which make
  // runs even then, and its redirection replaced the committed file whenever an ELF was newer than it.
  it.skipIf(!haveMake)('make -n and make -q leave the committed elf/TOOLCHAIN as it is', () => {
    const copy = mkdtempSync(join(tmpdir(), 'tlsf-sim-make-dry-'));
    try {
      for (const entry of ['Makefile', 'include', 'runtime', 'scenarios', 'ld', 'tools', 'traces', 'elf']) {
        cpSync(join(firmwareDir, entry), join(copy, entry), { recursive: true });
      }
      const committed = readFileSync(join(copy, 'elf/TOOLCHAIN'), 'utf8');
      const later = new Date(Date.now() + 60_000);
      utimesSync(join(copy, 'elf/tiny/packet-pool.elf'), later, later); // as a checkout can leave it
      for (const flag of ['-n', '-q']) {
        spawnSync('make', [flag, '-s', '--no-print-directory', '-C', copy], { encoding: 'utf8', timeout: 60_000 });
        expect(readFileSync(join(copy, 'elf/TOOLCHAIN'), 'utf8'), `after make ${flag}`).toBe(committed);
      }
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe('cross toolchain detection', () => {
  // A fake arm-none-eabi-gcc on an otherwise empty PATH: it answers --version, and -print-file-name with what
  // GCC prints for a file it cannot find (the bare name) or with a real path.
  function fakeCompiler(specsAnswer: string): { env: NodeJS.ProcessEnv; cleanup: () => void } {
    const bin = mkdtempSync(join(tmpdir(), 'tlsf-sim-fake-gcc-'));
    const script = join(bin, 'arm-none-eabi-gcc');
    writeFileSync(
      script,
      `#!/bin/sh\ncase "$1" in\n  --version) echo "arm-none-eabi-gcc (fake) 12.2.1";;\n  -print-file-name=*) echo "${specsAnswer}";;\n  *) exit 1;;\nesac\n`,
    );
    chmodSync(script, 0o755);
    return { env: { ...process.env, PATH: bin }, cleanup: () => rmSync(bin, { recursive: true, force: true }) };
  }

  it('skips, naming the package, when the compiler is there but newlib (nano.specs) is not', () => {
    const fake = fakeCompiler('nano.specs');
    try {
      expect(crossToolchainProblem('arm-none-eabi-gcc', fake.env)).toBe(
        'arm-none-eabi-gcc is installed but newlib is not (no nano.specs); apt-get install libnewlib-arm-none-eabi',
      );
    } finally {
      fake.cleanup();
    }
  });

  it('skips, naming both packages, when there is no compiler', () => {
    const empty = mkdtempSync(join(tmpdir(), 'tlsf-sim-empty-path-'));
    try {
      expect(crossToolchainProblem('arm-none-eabi-gcc', { ...process.env, PATH: empty })).toMatch(
        /^arm-none-eabi-gcc is not installed; apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi$/,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('is ready when the compiler finds nano.specs', () => {
    const specsDir = mkdtempSync(join(tmpdir(), 'tlsf-sim-specs-'));
    const specs = join(specsDir, 'nano.specs');
    writeFileSync(specs, '');
    const fake = fakeCompiler(specs);
    try {
      expect(crossToolchainProblem('arm-none-eabi-gcc', fake.env)).toBeNull();
    } finally {
      fake.cleanup();
      rmSync(specsDir, { recursive: true, force: true });
    }
  });
});
