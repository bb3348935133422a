// The native free hook (src/board/native/heap-free-queue.c, src/board/free-queue.ts): every report, fault and
// figure must be the one the JavaScript path gives. The JavaScript path is taken here by recording events
// (which turns the native free off and only adds `events` to the report); the same runs with the native hook on
// must then give the same report, field for field.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  Engine,
  Machine,
  cpuModel,
  listBoards,
  loadBoard,
  runFirmware,
  tlsfHeap,
  type RunOptions,
  type RunReport,
} from '../src/board/index.js';
import { FreeQueue, freeQueueSettings, nativeFreeAvailable } from '../src/board/free-queue.js';

const firmwareDir = join(import.meta.dirname, '..', 'firmware-sim');
const fixtureDir = join(import.meta.dirname, 'fixtures', 'elf');
const fixture = (board: string) => readFileSync(join(fixtureDir, `fixture-${board}.elf`));
const scenarios = JSON.parse(readFileSync(join(firmwareDir, 'scenarios.json'), 'utf8')) as {
  name: string;
  elf: string;
}[];
const scenarioElf = (name: string, board: string) =>
  readFileSync(join(firmwareDir, scenarios.find((scenario) => scenario.name === name)!.elf.replace('{board}', board)));

const TEST = {
  roundTrip: 0,
  doubleFree: 6,
  invalidFree: 7,
  overflow: 8,
  overrunByOne: 24,
  ownStack: 27,
  overflowThenMalloc: 28,
} as const;
const DEFAULT_CAPACITY = freeQueueSettings.capacity;

/** The report without what differs between two runs of the same firmware (host time) or by design (events). */
function comparable(report: RunReport): Omit<RunReport, 'hostMs' | 'events'> {
  const { hostMs: _hostMs, events: _events, ...rest } = report;
  return rest;
}

/** Runs `options` with the native free hook and through the JavaScript path; asserts the hook was used. */
function bothWays(options: RunOptions): { native: RunReport; javascript: RunReport } {
  const machine = new Machine(options, tlsfHeap);
  try {
    expect(Reflect.get(machine, 'freeQueue'), 'the native free hook is installed').not.toBeNull();
    const native = machine.run();
    const javascript = runFirmware({ ...options, recordEvents: true });
    return { native, javascript };
  } finally {
    machine.close();
  }
}

afterEach(() => {
  freeQueueSettings.capacity = DEFAULT_CAPACITY;
  vi.restoreAllMocks();
});

/** The native free needs the library (a C compiler at setup) and the located register file (Linux). */
function nativeFreeUsable(): boolean {
  if (!nativeFreeAvailable()) return false;
  const engine = new Engine(cpuModel('cortex-m4'));
  try {
    return engine.registerFile() !== null;
  } finally {
    engine.close();
  }
}

describe.skipIf(!nativeFreeUsable())('the native free hook', () => {
  it('gives every built-in scenario the same report as the JavaScript path, on every board', () => {
    for (const board of listBoards().map((profile) => profile.name)) {
      for (const { name } of scenarios) {
        const { native, javascript } = bothWays({
          elf: scenarioElf(name, board),
          elfName: `${name}.elf`,
          board: loadBoard(board),
          maxInstructions: 5e8,
        });
        if (native.result === 'ok') expect(native.ops.free, `${name} on ${board} frees`).toBeGreaterThan(0);
        expect(comparable(native), `${name} on ${board}`).toEqual(comparable(javascript));
      }
    }
  });

  it('applies the queued frees when a run ends without a heap call: at the instruction budget', () => {
    // Every scenario exits through the exit service, which applies the queue first; a stop at the budget does not.
    for (const name of ['packet-pool', 'sensor-logger', 'json-doc']) {
      for (const maxInstructions of [100_003, 150_001, 200_017, 250_009]) {
        const { native, javascript } = bothWays({
          elf: scenarioElf(name, 'stm32f411re'),
          elfName: `${name}.elf`,
          board: loadBoard('stm32f411re'),
          maxInstructions,
        });
        expect(native.result, `${name} stopped at ${maxInstructions}`).toBe('timeout');
        expect(comparable(native), `${name} stopped at ${maxInstructions}`).toEqual(comparable(javascript));
      }
    }
  });

  it('works when the queue overflows: more frees in a row than it holds go through the JavaScript path', () => {
    // Capacity 1: every second free in a row stops the run on the free slot and is served by the run loop.
    freeQueueSettings.capacity = 1;
    const stops = vi.spyOn(FreeQueue.prototype, 'takeStop');
    for (const name of ['json-doc', 'third-party', 'sensor-logger']) {
      const { native, javascript } = bothWays({
        elf: scenarioElf(name, 'stm32f411re'),
        elfName: `${name}.elf`,
        board: loadBoard('stm32f411re'),
        maxInstructions: 5e8,
      });
      expect(comparable(native), name).toEqual(comparable(javascript));
    }
    expect(stops.mock.results.filter((result) => result.value === true).length).toBeGreaterThan(100);
  });

  it('leaves the block table as the JavaScript path does: each freed block numbered by its own free call', () => {
    // C numbers a queued free from the service's call count and the frees queued before it (free(NULL) included).
    type Records = ReturnType<import('../src/board/block-table.js').BlockTable['recordArrays']>;
    const recordsAfter = (options: RunOptions): { report: RunReport; records: Records } => {
      const machine = new Machine(options, tlsfHeap);
      try {
        const report = machine.run();
        return { report, records: Reflect.get(machine, 'blocks').recordArrays() as Records };
      } finally {
        machine.close();
      }
    };
    for (const [name, maxInstructions] of [
      ['json-doc', 5e8],
      ['packet-pool', 150_001],
    ] as const) {
      const options = {
        elf: scenarioElf(name, 'stm32f411re'),
        elfName: `${name}.elf`,
        board: loadBoard('stm32f411re'),
        maxInstructions,
      };
      const native = recordsAfter(options);
      const javascript = recordsAfter({ ...options, recordEvents: true });
      expect(native.report.ops.free, name).toBeGreaterThan(0);
      expect(native.records.length).toBe(javascript.records.length);
      native.records.forEach((region, index) => {
        expect(region.records, name).toEqual(javascript.records[index]!.records);
      });
    }
  });

  it('counts free(NULL) as a free call, in order with the others', () => {
    // The fixture's round trip calls free(0) between frees of live blocks, then reads heap_info.
    for (const board of ['stm32f411re', 'tiny', 'rp2040']) {
      const { native, javascript } = bothWays({ elf: fixture(board), board: loadBoard(board), params: { test: 0 } });
      expect(native.result, native.message).toBe('ok');
      expect(javascript.events!.some((event) => event.op === 'free' && event.args[0] === 0)).toBe(true);
      expect(comparable(native)).toEqual(comparable(javascript));
    }
  });

  it('a free made with SP below the stack limit (a stack of its own in a heap block) takes the JavaScript path', () => {
    // The hook leaves it to the JavaScript hook's stack check, which finds SP in a live block and serves the call.
    const stops = vi.spyOn(FreeQueue.prototype, 'takeStop');
    const options = { elf: fixture('stm32f411re'), board: loadBoard('stm32f411re'), params: { test: TEST.ownStack } };
    const { native, javascript } = bothWays(options);
    expect(native.result, native.message).toBe('ok');
    expect(stops.mock.results.some((result) => result.value === true)).toBe(true);
    expect(comparable(native)).toEqual(comparable(javascript));
  });

  it('a double free and an invalid free give the JavaScript path their fault, word for word', () => {
    for (const [board, test, kind] of [
      ['stm32f407vg', TEST.doubleFree, 'double-free'],
      ['tiny', TEST.doubleFree, 'double-free'],
      ['tiny', TEST.invalidFree, 'invalid-free'],
      ['rp2040', TEST.invalidFree, 'invalid-free'],
    ] as const) {
      const { native, javascript } = bothWays({ elf: fixture(board), board: loadBoard(board), params: { test } });
      expect(native.fault?.kind, `${board} test ${test}`).toBe(kind);
      expect(native.message).toBe(javascript.message);
      expect(comparable(native)).toEqual(comparable(javascript));
    }
  });

  it('an overwritten header found when the queued free is applied names that free and its caller', () => {
    // Test 8 overruns block a into b's header, then frees a and b: both are queued, and the heap refuses a's free
    // when the queue is applied at the next call (exit). The run went further than the JavaScript path's, so only
    // the counts differ; the fault and its words are the same.
    const options = { elf: fixture('stm32f411re'), board: loadBoard('stm32f411re'), params: { test: TEST.overflow } };
    const { native, javascript } = bothWays(options);
    expect(native.result).toBe('heap-corruption');
    expect(native.message).toMatch(/heap corrupted: free\(0x[0-9a-f]+\) called from 0x[0-9a-f]+ \(main_dispatch\+/);
    expect(native.message).toBe(javascript.message);
    expect(native.fault).toEqual(javascript.fault);
    expect(native.ops).toEqual(javascript.ops);
    const byOne = bothWays({ ...options, params: { test: TEST.overrunByOne } });
    expect(byOne.native.result).toBe('heap-corruption');
    expect(byOne.native.message).toBe(byOne.javascript.message);
  });

  it('a refused queued free found at the next malloc is a fault of that free, not of the malloc', () => {
    // Test 28 overwrites b's header from a, frees a (queued alone) and calls malloc: the malloc's own path
    // applies the single queued free, and the heap's refusal must name free(a) and its caller, as the JavaScript
    // path does at the free itself; the malloc is never served.
    for (const board of ['stm32f411re', 'tiny']) {
      const options = {
        elf: fixture(board),
        board: loadBoard(board),
        params: { test: TEST.overflowThenMalloc, size: 24 },
      };
      const { native, javascript } = bothWays(options);
      expect(native.result, board).toBe('heap-corruption');
      expect(native.message).toMatch(/heap corrupted: free\(0x[0-9a-f]+\) called from 0x[0-9a-f]+ \(main_dispatch\+/);
      expect(native.message).toBe(javascript.message);
      expect(native.fault).toEqual(javascript.fault);
      expect(native.ops).toEqual(javascript.ops);
      expect(native.ops.malloc).toBe(2);
    }
  });

  it('is off when events are recorded, with --guard and with --align-check', () => {
    for (const extra of [{ recordEvents: true }, { guard: true }, { alignmentCheck: true }]) {
      const machine = new Machine(
        { elf: fixture('tiny'), board: loadBoard('tiny'), params: { test: 0 }, ...extra },
        tlsfHeap,
      );
      try {
        expect(Reflect.get(machine, 'freeQueue'), JSON.stringify(extra)).toBeNull();
      } finally {
        machine.close();
      }
    }
  });
});
