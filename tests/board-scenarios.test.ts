// The firmware-sim scenario ELFs (firmware-sim/elf/<board>/*.elf) on every built-in board.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Machine, listBoards, loadBoard, parseElf, runFirmware, symbolize, tlsfHeap } from '../src/board/index.js';
import { createTlsf } from '../src/allocator/index.js';

const firmwareDir = join(import.meta.dirname, '..', 'firmware-sim');
const scenariosPath = join(firmwareDir, 'scenarios.json');
interface Scenario {
  name: string;
  elf: string;
  minRam: number;
  minHeap?: number;
}
const scenarios: Scenario[] = existsSync(scenariosPath)
  ? (JSON.parse(readFileSync(scenariosPath, 'utf8')) as Scenario[])
  : [];

const elfPath = (scenario: Scenario, board: string) => join(firmwareDir, scenario.elf.replace('{board}', board));

describe.skipIf(scenarios.length === 0)('firmware-sim scenarios on every board', () => {
  for (const board of listBoards()) {
    it(`${board.name}: every scenario finishes ok, or out-of-memory where the board has less RAM than it needs`, () => {
      for (const scenario of scenarios) {
        const path = elfPath(scenario, board.name);
        if (!existsSync(path)) continue;
        const report = runFirmware({
          elf: readFileSync(path),
          elfName: `${scenario.name}.elf`,
          board: loadBoard(board.name),
          maxInstructions: 5e8,
        });
        // scenarios.json states the smallest heap each scenario completes in.
        if (report.heapSize >= (scenario.minHeap ?? 0)) {
          expect(report.result, `${scenario.name} on ${board.name}: ${report.message}`).toBe('ok');
          expect(report.output.length, scenario.name).toBeGreaterThan(0);
          expect(report.ops.malloc + report.ops.calloc + report.ops.realloc).toBeGreaterThan(0);
          expect(report.peakUsed).toBeGreaterThan(0);
          expect(report.peakUsed).toBeLessThanOrEqual(report.heapSize);
          expect(report.peakSpan).toBeLessThanOrEqual(report.heapSize);
        } else {
          expect(report.result, `${scenario.name} on ${board.name}: ${report.message}`).toBe('out-of-memory');
        }
      }
    });
  }

  it('heap calls through the C library are logged as called from the firmware function, not the malloc wrapper', () => {
    // runtime/heap.c passes its own return address in the services' caller argument (docs/design.md §3), and so
    // do the scenarios' xmalloc/xcalloc/xrealloc (scenarios/common.c): neither kind of wrapper is ever named.
    const shim =
      /^_?(malloc|free|realloc|calloc|memalign|aligned_alloc|posix_memalign|valloc|pvalloc|reallocf|cfree|_malloc_r|_free_r|_realloc_r|_calloc_r|_memalign_r|xmalloc|xcalloc|xrealloc)(\+0x[0-9a-f]+)?$/;
    const callersOf = (scenarioName: string, board: string, params: Record<string, number> = {}) => {
      const elf = readFileSync(elfPath(scenarios.find((candidate) => candidate.name === scenarioName)!, board));
      const image = parseElf(elf);
      const report = runFirmware({ elf, board: loadBoard(board), recordEvents: true, params, maxInstructions: 5e8 });
      const callers = new Map<string, Set<string>>();
      for (const event of report.events!) {
        if (event.op === 'mark') continue;
        expect(event.caller & 1, `${event.op} caller ${event.caller.toString(16)} is a Thumb return address`).toBe(1);
        const symbol = symbolize(image, event.caller & ~1) ?? '(none)';
        expect(symbol, `${scenarioName} on ${board}: ${event.op} #${event.call}`).not.toMatch(shim);
        const name = symbol.replace(/\+0x[0-9a-f]+$/, '');
        if (!callers.has(event.op)) callers.set(event.op, new Set());
        callers.get(event.op)!.add(name);
      }
      return callers;
    };
    for (const board of ['tiny', 'stm32f411re']) {
      const packets = callersOf('packet-pool', board, { bursts: 5 });
      expect(packets.get('malloc'), board).toEqual(new Set(['packet_alloc']));
      expect(packets.get('free'), board).toContain('packet_release');
      // Through xcalloc and xrealloc: packet-pool's queues are allocated in main, and realloc-grow's vector_push
      // is inlined into main at -Os.
      expect(packets.get('calloc'), board).toEqual(new Set(['main']));
      expect(callersOf('realloc-grow', board, { rounds: 1 }).get('realloc'), board).toEqual(new Set(['main']));
    }
    // newlib's own callers (stdio buffers, strdup) reach the host through _malloc_r and are named too; memalign.
    const thirdParty = callersOf('third-party', 'stm32f411re', { words: 50 });
    expect(thirdParty.get('malloc')).toContain('_strdup_r');
    expect(thirdParty.get('malloc')).toContain('hashmap_add');
    expect(thirdParty.get('memalign')).toEqual(new Set(['main']));
    expect(thirdParty.get('calloc')).toContain('hashmap_new');
    // Through xmalloc: the RTOS scenario's stacks, TCBs and queues are named by the function that creates a task,
    // its messages by main (send() is inlined into it at -Os).
    expect(callersOf('rtos-queues', 'stm32f411re', { rounds: 20 }).get('malloc')).toEqual(
      new Set(['task_create', 'main']),
    );
    // The same with registers read through Unicorn's API instead of the located register file.
    process.env.TLSF_SIM_SAFE_REGISTERS = '1';
    try {
      expect(callersOf('packet-pool', 'stm32f411re', { bursts: 5 }).get('malloc')).toEqual(new Set(['packet_alloc']));
    } finally {
      delete process.env.TLSF_SIM_SAFE_REGISTERS;
    }
  });

  it("the peak figures match a replay of the run's own call log on a fresh allocator", () => {
    const scenario = scenarios.find((candidate) => candidate.name === 'rtos-queues') ?? scenarios[0]!;
    const machine = new Machine(
      { elf: readFileSync(elfPath(scenario, 'stm32f411re')), board: loadBoard('stm32f411re'), recordEvents: true },
      tlsfHeap,
    );
    try {
      const report = machine.run();
      expect(report.result, report.message).toBe('ok');
      const group = machine.groups[0]!;
      const replay = createTlsf(new ArrayBuffer(group.size), {
        base: group.base,
        offset: machine.heapStart - group.base,
        length: machine.heapLength,
      });
      let peakUsed = 0;
      let largestFreeAtPeak = replay.stats().largestFree;
      let live = 0;
      let peakRequested = 0;
      const requested = new Map<number, number>();
      for (const event of report.events!) {
        let result = 0;
        if (event.op === 'malloc') result = replay.malloc(event.args[0]!);
        else if (event.op === 'calloc') result = replay.calloc(event.args[0]!, event.args[1]!);
        else if (event.op === 'memalign') result = replay.memalign(event.args[0]!, event.args[1]!);
        else if (event.op === 'realloc') result = replay.realloc(event.args[0]!, event.args[1]!);
        else if (event.op === 'free' && event.args[0] !== 0) replay.free(event.args[0]!);
        if (event.op !== 'mark') expect(result).toBe(event.result);
        if (event.op === 'free' || event.op === 'realloc') {
          live -= requested.get(event.args[0]!) ?? 0;
          requested.delete(event.args[0]!);
        }
        if (result !== 0) {
          const size =
            event.op === 'malloc'
              ? event.args[0]!
              : event.op === 'calloc'
                ? event.args[0]! * event.args[1]!
                : event.args[1]!;
          requested.set(result, size);
          live += size;
          peakRequested = Math.max(peakRequested, live);
        }
        if (replay.usedBytes > peakUsed) {
          peakUsed = replay.usedBytes;
          largestFreeAtPeak = replay.stats().largestFree;
        }
      }
      expect(report.peakUsed).toBe(peakUsed);
      expect(report.largestFreeAtPeak).toBe(largestFreeAtPeak);
      expect(report.peakRequested).toBe(peakRequested);
      expect(report.largestFree).toBe(replay.stats().largestFree);
    } finally {
      machine.close();
    }
  });

  it('no false alarms: every scenario passes with --guard and the alignment check (Armv6-M and Armv7-M)', () => {
    for (const boardName of ['rp2040', 'stm32f411re']) {
      for (const scenario of scenarios) {
        const path = elfPath(scenario, boardName);
        if (!existsSync(path)) continue;
        const report = runFirmware({
          elf: readFileSync(path),
          board: loadBoard(boardName),
          guard: true,
          alignmentCheck: true,
          maxInstructions: 5e8,
        });
        expect(report.result, `${scenario.name} on ${boardName}: ${report.message}`).toBe('ok');
      }
    }
  });
  it('an out-of-memory stop names the scenario function that needed the memory, not the xmalloc wrapper', () => {
    const scenario = scenarios.find((entry) => entry.name === 'rtos-queues')!;
    const report = runFirmware({
      elf: readFileSync(elfPath(scenario, 'stm32f411re')),
      board: loadBoard('stm32f411re'),
      heapSize: 12_240,
    });
    expect(report.result).toBe('out-of-memory');
    expect(report.message).toMatch(/called from 0x[0-9a-f]+ \(task_create\+0x[0-9a-f]+\)/);
    expect(report.message).not.toMatch(/xmalloc|xcalloc|xrealloc/);
  });
});
