// The learner views (map, step) as a user runs them: the built program spawned, its documents checked against
// the run's own figures, the board's event log, and each other.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CliResult, root, runCli } from './support/cli.js';
import { loadBoard, runFirmware } from '../src/board/index.js';
import { evaluateChecks, worstFragmentation } from '../src/cli/checks.js';
import { HeapReplay } from '../src/cli/replay.js';

const SHORT = ['--param', 'bursts=20'];

const cli = (args: string[]): Promise<CliResult> => runCli(args);

const schema = JSON.parse(readFileSync(join(root, 'docs', 'report.schema.json'), 'utf8')) as {
  $defs: Record<string, { required?: string[] }>;
};

function json(result: CliResult, definition: string): Record<string, any> {
  expect(result.stderr).toBe('');
  const document = JSON.parse(result.stdout) as Record<string, any>;
  for (const field of schema.$defs[definition]?.required ?? ['missing definition'])
    expect(document, definition).toHaveProperty(field);
  return document;
}

interface MapBlock {
  header: number;
  address: number;
  blockSize: number;
  used: boolean;
  class: { fl: number; sl: number } | null;
  allocatedBy: number | null;
  pool: number;
}

/** Facts any heap map must satisfy, whatever the workload: blocks tile each pool, figures add up, bitmaps match the lists. */
function expectCoherentMap(map: Record<string, any>): void {
  const blocks = map.blocks as MapBlock[];
  expect(map.replay.matches).toBe(true);
  expect(map.bitmaps.consistent, map.bitmaps.problems.join('; ')).toBe(true);
  const used = blocks.filter((block) => block.used);
  const free = blocks.filter((block) => !block.used);
  expect(used.reduce((sum, block) => sum + block.blockSize, 0)).toBe(map.usedBytes);
  expect(free.reduce((sum, block) => sum + block.blockSize, 0)).toBe(map.freeBytes);
  expect(Math.max(0, ...free.map((block) => block.blockSize))).toBe(map.largestFree);
  for (let i = 1; i < blocks.length; i++) {
    if (blocks[i]!.pool !== blocks[i - 1]!.pool) continue;
    expect(blocks[i]!.header).toBe(blocks[i - 1]!.header + blocks[i - 1]!.blockSize);
    // TLSF merges on free, so two free neighbours never coexist.
    expect(blocks[i]!.used || blocks[i - 1]!.used).toBe(true);
  }
  for (const block of used) expect(block.allocatedBy).toBeGreaterThan(0);
  const listed = new Set(
    (map.bitmaps.freeLists as { fl: number; sl: number; blocks: number[] }[]).flatMap((list) =>
      list.blocks.map((header) => `${header}:${list.fl},${list.sl}`),
    ),
  );
  for (const block of free) expect(listed.has(`${block.header}:${block.class!.fl},${block.class!.sl}`)).toBe(true);
  expect(listed.size).toBe(free.length);
  const secondLevel = map.bitmaps.secondLevel as number[];
  secondLevel.forEach((bits, fl) => {
    expect(((map.bitmaps.firstLevel >>> fl) & 1) === 1).toBe(bits !== 0);
  });
}

describe('map', () => {
  it('at the peak shows the figures the board measured at its peak', async () => {
    const [mapResult, runResult] = await Promise.all([
      cli(['map', 'packet-pool', ...SHORT, '--at', 'peak', '--json']),
      cli(['run', 'packet-pool', ...SHORT, '--json']),
    ]);
    expect(mapResult.code).toBe(0);
    const map = json(mapResult, 'mapReport');
    const run = json(runResult, 'runReport');
    expectCoherentMap(map);
    expect(map.usedBytes).toBe(run.peakUsed);
    expect(map.largestFree).toBe(run.largestFreeAtPeak);
    expect(map.fragmentation).toBeCloseTo(run.fragmentationAtPeak, 12);
    expect(map.at.point).toBe('peak');
    // The control structure sits at the start of the heap and the map begins with it.
    expect(map.controlAddress).toBeGreaterThanOrEqual(run.heapBase);
    expect(map.controlBytes).toBe(run.controlBytes);
    expect(map.map[0].cells.startsWith('C')).toBe(true);
    expect(map.map[0].cells).toContain('#');
  });

  it("at the end of a run that ran out of memory: exit 1, the run's final figures, and the map still drawn", async () => {
    const [mapResult, runResult] = await Promise.all([
      cli(['map', 'fragmenter', '--board', 'tiny', '--json']),
      cli(['run', 'fragmenter', '--board', 'tiny', '--json']),
    ]);
    expect(mapResult.code).toBe(1);
    const map = json(mapResult, 'mapReport');
    const run = json(runResult, 'runReport');
    expect(run.result).toBe('out-of-memory');
    expectCoherentMap(map);
    expect(map.largestFree).toBe(run.largestFree);
    expect(map.fragmentation).toBeCloseTo(run.fragmentation, 12);
    expect(map.usedBlocks).toBeGreaterThan(10);
  });

  it('the human map: legend, one row per width of cells, block table and free lists', async () => {
    const result = await cli([
      'map',
      'fragmenter',
      '--board',
      'tiny',
      '--at',
      'call:120',
      '--width',
      '32',
      '--scale',
      '16',
    ]);
    expect(result.code).toBe(1); // the run itself ran out of memory later
    expect(result.stdout).toContain('after call #120');
    expect(result.stdout).toContain('16 B per character');
    const rows = result.stdout.split('\n').filter((line) => /^ {2}0x[0-9a-f]{8} {2}[C#.:h|]+$/.test(line));
    expect(rows.length).toBeGreaterThan(1);
    for (const row of rows) expect(row.split('  ')[2]!.length).toBeLessThanOrEqual(32);
    expect(result.stdout).toMatch(/free lists: first-level bitmap 0x[0-9a-f]{8}/);
    expect(result.stdout).toContain('the bitmaps, the list heads and a walk of the heap agree');
  });

  it('a realloc-heavy trace replays call for call to the end', async () => {
    const result = await cli(['map', 'firmware-sim/traces/default.rep', '--json']);
    expect(result.code).toBe(0);
    const map = json(result, 'mapReport');
    expectCoherentMap(map);
    expect(map.replay.calls).toBeGreaterThan(300);
    expect(map.largestFree).toBe(map.boardFigures.largestFree);
  });

  it('a peak reached inside a moving realloc is named, and the between-call peak is what is drawn', async () => {
    const [mapResult, runResult] = await Promise.all([
      cli(['map', 'realloc-grow', '--at', 'peak', '--json']),
      cli(['run', 'realloc-grow', '--json']),
    ]);
    const map = json(mapResult, 'mapReport');
    const run = json(runResult, 'runReport');
    expectCoherentMap(map);
    // The allocator's high-water mark counts old and new block together during the copy.
    expect(map.at.transientPeak).toMatchObject({ op: 'realloc', peakUsed: run.peakUsed, betweenCalls: map.usedBytes });
    expect(map.usedBytes).toBeLessThan(run.peakUsed);
    expect(map.largestFree).toBe(run.largestFreeAtPeak);
    expect(map.fragmentation).toBeCloseTo(run.fragmentationAtPeak, 12);
  });

  it('extra banks are replayed as pools too', async () => {
    const result = await cli([
      'map',
      'packet-pool',
      '--board',
      'stm32f407vg',
      '--bank',
      'CCM',
      ...SHORT,
      '--at',
      'peak',
      '--json',
    ]);
    expect(result.code).toBe(0);
    const map = json(result, 'mapReport');
    expectCoherentMap(map);
    expect(map.map).toHaveLength(2);
    expect(new Set((map.blocks as MapBlock[]).map((block) => block.pool))).toEqual(new Set([0, 1]));
  });

  it('bad --at values are bad input (exit 2)', async () => {
    const [bogus, beyond, width] = await Promise.all([
      cli(['map', '--at', 'middle']),
      cli(['map', ...SHORT, '--at', 'call:999999']),
      cli(['map', '--width', 'wide']),
    ]);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toContain('--at: "middle"');
    expect(beyond.code).toBe(2);
    expect(beyond.stderr).toMatch(/--at call:999999: the run made \d+ heap calls/);
    expect(width.code).toBe(2);
    expect(width.stderr).toContain('--width');
  });
});

describe('step', () => {
  it('results are the addresses the board returned, call by call', async () => {
    const stepResult = await cli(['step', 'packet-pool', ...SHORT, '--from', '1', '--count', '60', '--json']);
    expect(stepResult.code).toBe(0);
    const step = json(stepResult, 'stepReport');
    const report = runFirmware({
      elf: readFileSync(join(root, 'firmware-sim', 'elf', 'stm32f411re', 'packet-pool.elf')),
      board: loadBoard('stm32f411re'),
      params: { bursts: 20 },
      recordEvents: true,
    });
    const logged = new Map(report.events!.filter((event) => event.op !== 'mark').map((event) => [event.call, event]));
    const steps = (step.steps as Record<string, any>[]).filter((entry) => entry.op !== 'mark');
    expect(steps.map((entry) => entry.call)).toEqual(Array.from({ length: 60 }, (_, index) => index + 1));
    for (const entry of steps) {
      const event = logged.get(entry.call)!;
      expect(entry.op).toBe(event.op);
      expect(entry.args).toEqual(event.args);
      expect(entry.result).toBe(event.result);
      if (entry.block) expect(entry.block.address).toBe(event.result);
      expect(entry.caller).toBe(event.caller & ~1);
    }
    // The caller is the firmware function that called malloc/free, not the C library's wrapper (runtime/heap.c).
    for (const entry of steps) {
      if (entry.op === 'malloc') expect(entry.callerSymbol).toMatch(/^packet_alloc\+0x[0-9a-f]+$/);
      if (entry.op === 'free') expect(entry.callerSymbol).toMatch(/^(packet_release|main)\+0x[0-9a-f]+$/);
    }
    const human = await cli(['step', 'packet-pool', ...SHORT, '--from', '4', '--count', '1']);
    expect(human.stdout).toMatch(/^#4 malloc\(\d+\) from packet_alloc\+0x[0-9a-f]+ -> 0x[0-9a-f]{8}$/m);
    const map = await cli(['map', 'packet-pool', ...SHORT, '--at', 'call:6']);
    expect(map.stdout).toMatch(/#4 malloc\(\d+\) from packet_alloc\+0x[0-9a-f]+/);
  });

  it('a free that coalesces reports the merged block, and the map after that call agrees', async () => {
    const stepResult = await cli(['step', 'packet-pool', ...SHORT, '--count', '80', '--json']);
    const steps = json(stepResult, 'stepReport').steps as Record<string, any>[];
    const merges = steps.filter(
      (entry) =>
        entry.op === 'free' && entry.coalesced && (entry.coalesced.previous !== null || entry.coalesced.next !== null),
    );
    expect(merges.length).toBeGreaterThan(0);
    for (const entry of merges) {
      const { previous, next, merged } = entry.coalesced;
      expect(merged.blockSize).toBe(entry.released.blockSize + (previous ?? 0) + (next ?? 0));
      expect(merged.header).toBe(entry.released.header - (previous ?? 0));
    }
    const chosen = merges[0]!;
    const map = json(await cli(['map', 'packet-pool', ...SHORT, '--at', `call:${chosen.call}`, '--json']), 'mapReport');
    const block = (map.blocks as MapBlock[]).find((candidate) => candidate.header === chosen.coalesced.merged.header)!;
    expect(block).toMatchObject({
      used: false,
      blockSize: chosen.coalesced.merged.blockSize,
      class: chosen.coalesced.merged.class,
    });
  });

  it('allocations: block size and classes from mapRequest, the taken block split into the returned block and the remainder', async () => {
    const steps = json(
      await cli(['step', 'fragmenter', '--board', 'tiny', '--from', '200', '--count', '40', '--json']),
      'stepReport',
    ).steps as Record<string, any>[];
    const allocations = steps.filter((entry) => entry.op === 'malloc' && entry.result !== 0 && entry.taken);
    expect(allocations.length).toBeGreaterThan(5);
    for (const entry of allocations) {
      expect(entry.block.blockSize).toBeGreaterThanOrEqual(entry.request.adjustedSize);
      expect(entry.taken.blockSize).toBe(
        entry.block.blockSize +
          entry.remainders.reduce((sum: number, block: { blockSize: number }) => sum + block.blockSize, 0),
      );
      // Good fit: the block taken comes from the search class or above.
      const { fl, sl } = entry.taken.class;
      const search = entry.request.searchClass;
      expect(fl > search.fl || (fl === search.fl && sl >= search.sl)).toBe(true);
      expect(entry.taken.wasListHead).toBe(true);
    }
    // This run ends out of memory: its last call is a malloc that returned NULL.
    const failed = steps.find((entry) => entry.op === 'malloc' && entry.result === 0);
    expect(failed).toBeDefined();
    expect(failed!.explanation.join(' ')).toContain('fails');
  });

  it("good fit: a skipped block in the request's own class really was free and large enough just before the call", async () => {
    const steps = json(await cli(['step', 'rtos-queues', '--from', '1300', '--count', '200', '--json']), 'stepReport')
      .steps as Record<string, any>[];
    const skipping = steps.filter((entry) => entry.skippedFits > 0);
    expect(skipping.length).toBeGreaterThan(0);
    const entry = skipping[0]!;
    // The block taken came from above the request's own class although a fitting block sat in it.
    expect(entry.taken.class.fl * 32 + entry.taken.class.sl).toBeGreaterThan(
      entry.request.class.fl * 32 + entry.request.class.sl,
    );
    const map = json(await cli(['map', 'rtos-queues', '--at', `call:${entry.call - 1}`, '--json']), 'mapReport');
    const fitting = (map.blocks as MapBlock[]).filter(
      (block) =>
        !block.used &&
        block.class!.fl === entry.request.class.fl &&
        block.class!.sl === entry.request.class.sl &&
        block.blockSize >= entry.request.adjustedSize,
    );
    expect(fitting).toHaveLength(entry.skippedFits);
  });

  it('the human view names the call, the classes and draws a one-line map per call', async () => {
    const result = await cli(['step', 'packet-pool', ...SHORT, '--from', '7', '--count', '3', '--width', '40']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('#7 free(0x');
    expect(result.stdout).toMatch(/merged with the free block/);
    const maps = result.stdout.split('\n').filter((line) => /^ {5}\[[C#.:h|@]+\]/.test(line));
    expect(maps).toHaveLength(3);
    for (const line of maps) expect(line.indexOf(']') - line.indexOf('[') - 1).toBeLessThanOrEqual(40);
    const beyond = await cli(['step', ...SHORT, '--from', '999999']);
    expect(beyond.code).toBe(2);
  });
});

describe('replay', () => {
  it('a log the host heap does not reproduce is reported as a divergence and not replayed past', () => {
    const setup = { board: loadBoard('tiny'), heapBase: 0x2000_0100, heapSize: 4096, align: 8 as const, slLog2: 5 };
    const first = new HeapReplay(setup, []).heap.malloc(100);
    expect(first).toBeGreaterThan(setup.heapBase);
    const events = [
      { call: 1, op: 'malloc' as const, args: [100], result: first, instructions: 0, caller: 0 },
      { call: 2, op: 'malloc' as const, args: [50], result: first + 0x1000, instructions: 0, caller: 0 },
      { call: 3, op: 'free' as const, args: [first], result: 0, instructions: 0, caller: 0 },
    ];
    const replay = new HeapReplay(setup, events);
    replay.runWhile(() => true);
    expect(replay.position).toBe(1);
    expect(replay.divergence).toMatchObject({ call: 2, op: 'malloc', logged: first + 0x1000 });
    // The diverging call itself acted on the host heap; the third event was never applied.
    expect(replay.snapshot().usedBlocks).toBe(2);
    expect(replay.step()).toBeNull();
  });
});

describe('fragmentation at peak', () => {
  it('max-fragmentation holds the worse of peak and end', () => {
    const figures = {
      result: 'ok',
      ops: { failed: 0 },
      peakUsed: 1,
      peakSpan: 1,
      largestFreeAtPeak: 1,
      fragmentation: 0.05,
      fragmentationAtPeak: 0.4,
    };
    expect(worstFragmentation(figures)).toBe(0.4);
    const [, outcome] = evaluateChecks('t', 'b', figures, { maxFragmentation: 0.3 });
    expect(outcome).toMatchObject({ check: 'max-fragmentation', pass: false, measured: 0.4 });
    expect(outcome!.summary).toContain('(at peak)');
    const [, endWorse] = evaluateChecks(
      't',
      'b',
      { ...figures, fragmentation: 0.5, fragmentationAtPeak: 0.1 },
      { maxFragmentation: 0.3 },
    );
    expect(endWorse).toMatchObject({ pass: false, measured: 0.5 });
    expect(endWorse!.summary).toContain('(at the end)');
  });
});
