// peakSites: the live blocks at the peak of used bytes grouped by allocating call site (docs/board.md, "Peak
// sites"). The board's figures are checked against a replay of each run's own call log on a fresh allocator,
// which finds the peak and its holders independently of the board's incremental bookkeeping.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Machine,
  loadBoard,
  parseElf,
  runFirmware,
  symbolize,
  tlsfHeap,
  type HeapEvent,
  type RunOptions,
  type RunReport,
} from '../src/board/index.js';
import { PeakSites } from '../src/board/peak-sites.js';
import { sourceLines } from '../src/board/dwarf-lines.js';
import type { CallerResolver } from '../src/board/callers.js';
import { createTlsf } from '../src/allocator/index.js';
import { formatRunReport, runReportJson, type RunReportFigures, type RunSettings } from '../src/cli/report.js';
import { palette } from '../src/cli/terminal.js';
// The reference trace encoder (same format as the CLI's src/cli/trace-encoding.ts).
// @ts-expect-error: a plain ES module without type declarations
import { encodeTrace, parseRep } from '../firmware-sim/tools/rep2c.mjs';
import { runCli } from './support/cli.js';

const firmwareDir = join(import.meta.dirname, '..', 'firmware-sim');
const SCENARIOS = [
  'packet-pool',
  'rtos-queues',
  'json-doc',
  'tls-handshake',
  'sensor-logger',
  'fragmenter',
  'realloc-grow',
  'trace-player',
  'third-party',
];
const elfOf = (scenario: string, board: string) => readFileSync(join(firmwareDir, 'elf', board, `${scenario}.elf`));

interface Holding {
  blocks: number;
  bytes: number;
}

/** The sites of a report keyed as the replay keys them: the caller address with the Thumb bit cleared. */
function sitesByAddress(report: RunReport): Map<number, Holding> {
  return new Map(report.peakSites.map((entry) => [entry.address, { blocks: entry.blocks, bytes: entry.bytes }]));
}

interface ReplayedPeak {
  peakUsed: number;
  /** Holders at the first moment used bytes reached peakUsed, by caller address (Thumb bit cleared). */
  sites: Map<number, Holding>;
  /** The peak was the allocator's moment inside a realloc that moved, with the old and the new block used. */
  insideRealloc: boolean;
  /** Realloc calls that moved to a block below the old one and overlapping it (growing backwards). */
  backwardMoves: number;
}

/**
 * Replays the call log on a fresh allocator of the same geometry. A block's bytes are what its call added to
 * the allocator's usedBytes (plus what the block it replaced held), so headers count as the allocator counts
 * them; its site is the reported caller of the call that allocated or last reallocated it.
 */
function replayPeak(machine: Machine, events: readonly HeapEvent[]): ReplayedPeak {
  const group = machine.groups[0]!;
  const heap = createTlsf(new ArrayBuffer(group.size), {
    base: group.base,
    offset: machine.heapStart - group.base,
    length: machine.heapLength,
  });
  const live = new Map<number, { caller: number; bytes: number; usable: number }>();
  let peak: ReplayedPeak = { peakUsed: 0, sites: new Map(), insideRealloc: false, backwardMoves: 0 };
  let backwardMoves = 0;
  for (const event of events) {
    if (event.op === 'mark') continue;
    const [first = 0, second = 0] = event.args;
    const before = heap.usedBytes;
    let result = 0;
    let released = 0;
    if (event.op === 'malloc') result = heap.malloc(first);
    else if (event.op === 'calloc') result = heap.calloc(first, second);
    else if (event.op === 'memalign') result = heap.memalign(first, second);
    else if (event.op === 'free') {
      if (first !== 0) heap.free(first);
      released = first;
    } else {
      result = heap.realloc(first, second);
      if (first !== 0 && (result !== 0 || second === 0)) released = first;
    }
    expect(result, `call #${event.call} (${event.op})`).toBe(event.result);
    const old = released !== 0 ? live.get(released) : undefined;
    if (released !== 0) live.delete(released);
    if (result !== 0) {
      const usable = heap.usableSize(result);
      live.set(result, { caller: event.caller & ~1, bytes: heap.usedBytes - before + (old?.bytes ?? 0), usable });
      if (old && result < released && result + usable > released) backwardMoves++;
    }
    if (heap.peakUsed > peak.peakUsed) {
      const insideRealloc = heap.peakUsed > heap.usedBytes;
      const holders = [...live.values(), ...(insideRealloc ? [old!] : [])];
      const sites = new Map<number, Holding>();
      for (const { caller, bytes } of holders) {
        const site = sites.get(caller) ?? { blocks: 0, bytes: 0 };
        site.blocks++;
        site.bytes += bytes;
        sites.set(caller, site);
      }
      peak = { peakUsed: heap.peakUsed, sites, insideRealloc, backwardMoves: 0 };
    }
  }
  return { ...peak, backwardMoves };
}

function runKept(
  scenario: string,
  board: string,
  extra: Partial<RunOptions> = {},
): { report: RunReport; replay: ReplayedPeak } {
  const machine = new Machine(
    {
      elf: elfOf(scenario, board),
      elfName: `${scenario}.elf`,
      board: loadBoard(board),
      recordEvents: true,
      ...extra,
    },
    tlsfHeap,
  );
  try {
    const report = machine.run();
    return { report, replay: replayPeak(machine, report.events!) };
  } finally {
    machine.close();
  }
}

function expectSumIsPeak(report: RunReport, what: string): void {
  expect(
    report.peakSites.reduce((sum, entry) => sum + entry.bytes, 0),
    what,
  ).toBe(report.peakUsed);
  for (let i = 1; i < report.peakSites.length; i++) {
    expect(report.peakSites[i - 1]!.bytes, what).toBeGreaterThanOrEqual(report.peakSites[i]!.bytes);
  }
  for (const entry of report.peakSites) expect(entry.blocks, what).toBeGreaterThan(0);
}

describe('peakSites on the board', () => {
  it('the bytes of the peak sites sum to peakUsed on every scenario (Armv7-M and Armv6-M, out-of-memory runs too)', () => {
    let outOfMemory = 0;
    for (const board of ['stm32f411re', 'tiny']) {
      for (const scenario of SCENARIOS) {
        const report = runFirmware({ elf: elfOf(scenario, board), board: loadBoard(board), maxInstructions: 5e8 });
        if (report.result === 'out-of-memory') outOfMemory++;
        else expect(report.result, `${scenario} on ${board}: ${report.message}`).toBe('ok');
        expect(report.peakUsed, `${scenario} on ${board}`).toBeGreaterThan(0);
        expectSumIsPeak(report, `${scenario} on ${board}`);
      }
    }
    expect(outOfMemory).toBeGreaterThan(0); // the teaching board is too small for some
  });

  it('packet-pool: packet_alloc holds the blocks a replay of the call log finds live at the peak', () => {
    const { report, replay } = runKept('packet-pool', 'stm32f411re', { params: { bursts: 200 } });
    expect(report.result).toBe('ok');
    expect(replay.peakUsed).toBe(report.peakUsed);
    expect(sitesByAddress(report)).toEqual(replay.sites);
    const image = parseElf(elfOf('packet-pool', 'stm32f411re'));
    const packetAlloc = [...replay.sites.entries()].filter(([address]) =>
      symbolize(image, address)?.startsWith('packet_alloc+'),
    );
    expect(packetAlloc).toHaveLength(1);
    const [address, holding] = packetAlloc[0]!;
    const top = report.peakSites[0]!;
    expect(top.symbol).toBe('packet_alloc');
    expect(top.site).toBe(`packet_alloc+0x${top.offset.toString(16)}`);
    expect(top.site).toBe(symbolize(image, address));
    expect(top.address).toBe(address);
    expect({ blocks: top.blocks, bytes: top.bytes }).toEqual(holding);
    expect(top.blocks).toBeGreaterThan(1);
  });

  it('a peak reached inside a realloc that moves counts the old and the new block (realloc-grow)', () => {
    const { report, replay } = runKept('realloc-grow', 'stm32f411re', { params: { rounds: 1 } });
    expect(report.result).toBe('ok');
    // The scenario is chosen so the allocator's high-water mark is that moment, not a state between calls.
    expect(replay.insideRealloc).toBe(true);
    expect(replay.peakUsed).toBe(report.peakUsed);
    expect(sitesByAddress(report)).toEqual(replay.sites);
    expectSumIsPeak(report, 'realloc-grow');
  });

  it('a realloc that grows backwards over its old block holds only the new one', () => {
    // Heap 4096: after the player's id table, 0 and 1 are allocated and 0 freed; 2 (too large for 0's space)
    // goes after 1 and 3 after it, then 2 is freed. Growing 1 to 2500 fits no free block, so the allocator's
    // last resort takes 0's space before it and 2's after it: the run's peak, with 1 counted once.
    const rep = ['4096', '4', '7', '1', 'a 0 1000', 'a 1 1000', 'f 0', 'a 2 1100', 'a 3 100', 'f 2', 'r 1 2500'].join(
      '\n',
    );
    const bytes = encodeTrace(parseRep(rep, 'backwards.rep')) as Uint8Array;
    const { report, replay } = runKept('trace-player', 'stm32f411re', {
      heapSize: 4096,
      params: { verify: 1 },
      flashPatches: [{ symbol: '__tlsf_trace_start', endSymbol: '__tlsf_trace_end', bytes }],
    });
    expect(report.result, report.output).toBe('ok');
    expect(replay.backwardMoves).toBe(1);
    expect(replay.peakUsed).toBe(report.peakUsed);
    expect(sitesByAddress(report)).toEqual(replay.sites);
    expectSumIsPeak(report, 'backwards');
  });

  it("registers read through Unicorn's API give the same sites as the located register file", () => {
    const run = () =>
      runFirmware({ elf: elfOf('third-party', 'stm32f411re'), board: loadBoard('stm32f411re') }).peakSites;
    const located = run();
    process.env.TLSF_SIM_SAFE_REGISTERS = '1';
    try {
      expect(run()).toEqual(located);
    } finally {
      delete process.env.TLSF_SIM_SAFE_REGISTERS;
    }
    expect(located.map((entry) => entry.symbol)).toContain('hashmap_add');
  });
});

describe('file:line of the peak sites from DWARF line tables', () => {
  const fixtureDir = join(import.meta.dirname, 'fixtures');
  const fixture = (board: string) => readFileSync(join(fixtureDir, 'elf', `fixture-${board}.elf`));

  it('names the source line of each allocating call in the fixture (DWARF 5, built with -g)', () => {
    // The round trip's allocations: their lines are found in the source, not written down here.
    const source = readFileSync(join(fixtureDir, 'src', 'fixture.c'), 'utf8').split('\n');
    const lineOf = (call: string) => source.findIndex((text) => text.includes(call)) + 1;
    const calls = ['h_malloc(size)', 'h_realloc(blocks[1], 400)', 'h_calloc(10, 8)', 'h_memalign(64, 50)'];
    const expected = calls.map(lineOf);
    expect(expected.every((line) => line > 0)).toBe(true);
    for (const board of ['stm32f411re', 'tiny']) {
      const report = runFirmware({ elf: fixture(board), board: loadBoard(board), params: { test: 0 } });
      expect(report.result, report.message).toBe('ok');
      expect(
        report.peakSites.map((entry) => entry.file),
        board,
      ).toEqual(expected.map(() => 'src/fixture.c'));
      expect(report.peakSites.map((entry) => entry.line).sort(), board).toEqual([...expected].sort());
      expectSumIsPeak(report, board);
    }
  });

  it('a damaged or missing line table leaves file and line out, and the run as it was', () => {
    const elf = fixture('stm32f411re');
    const image = parseElf(elf);
    const section = image.sections.find((candidate) => candidate.name === '.debug_line')!;
    const good = runFirmware({ elf, board: loadBoard('stm32f411re'), params: { test: 0 } });
    expect(good.peakSites.every((entry) => entry.line !== undefined)).toBe(true);
    const damages: [string, (bytes: Uint8Array) => void, boolean][] = [
      ['a length past the section', (bytes) => bytes.fill(0xff, section.offset, section.offset + 4), false],
      ['version 0', (bytes) => bytes.fill(0x00, section.offset + 4, section.offset + section.size), false],
      ['a garbled program', (bytes) => bytes.fill(0x7f, section.offset + 40, section.offset + section.size), true],
    ];
    for (const [what, damage, someLinesMayStay] of damages) {
      const damaged = Uint8Array.from(elf);
      damage(damaged);
      const report = runFirmware({ elf: damaged, board: loadBoard('stm32f411re'), params: { test: 0 } });
      expect(report.result).toBe('ok');
      expect(report.peakSites.map(({ site, blocks, bytes }) => ({ site, blocks, bytes }))).toEqual(
        good.peakSites.map(({ site, blocks, bytes }) => ({ site, blocks, bytes })),
      );
      for (const entry of report.peakSites) {
        if (!someLinesMayStay) expect(entry, what).not.toHaveProperty('line');
        else if (entry.line !== undefined) expect(entry.file, what).toBe('src/fixture.c');
      }
    }
    const scenario = runFirmware({
      elf: elfOf('packet-pool', 'stm32f411re'),
      board: loadBoard('stm32f411re'),
      params: { bursts: 5 },
    });
    for (const entry of scenario.peakSites) expect(entry).not.toHaveProperty('line'); // built without -g
  });

  it('reads a DWARF 4 table: directories and files before the program, rows up to the end of a sequence', () => {
    const bytes: number[] = [];
    const text = (value: string) => bytes.push(...new TextEncoder().encode(value), 0);
    bytes.push(0, 0, 0, 0, 4, 0, 0, 0, 0, 0); // unit length and header length, filled in below; version 4
    const headerStart = bytes.length;
    // min instruction length 2, max ops 1, is_stmt, line base -5, line range 14, opcode base 13
    bytes.push(2, 1, 1, 0xfb, 14, 13);
    bytes.push(0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1); // operands of the standard opcodes 1..12
    text('inc');
    bytes.push(0);
    text('a.c');
    bytes.push(0, 0, 0);
    text('b.h');
    bytes.push(1, 0, 0);
    bytes.push(0);
    const programStart = bytes.length;
    bytes.push(0, 5, 2, 0x00, 0x01, 0x00, 0x08); // DW_LNE_set_address 0x08000100
    bytes.push(3, 9, 1); // advance_line +9 (line 10), copy: 0x08000100 a.c:10
    bytes.push(13 + (2 + 5) + 14 * 2); // special: address +4, line +2: 0x08000104 a.c:12
    bytes.push(4, 2, 2, 4, 1); // set_file 2, advance_pc 4 units (+8), copy: 0x0800010c b.h:12
    bytes.push(2, 2, 0, 1, 1); // advance_pc +4, end_sequence at 0x08000110
    const view = new DataView(Uint8Array.from(bytes).buffer);
    view.setUint32(0, bytes.length - 4, true);
    view.setUint32(6, programStart - headerStart, true);
    const elf = new Uint8Array(view.buffer);
    const image = { sections: [{ name: '.debug_line', addr: 0, size: elf.length, type: 1, flags: 0, offset: 0 }] };
    const lines = sourceLines(
      elf,
      image as unknown as Parameters<typeof sourceLines>[1],
      [0x0800_0102, 0x0800_0104, 0x0800_010a, 0x0800_010e, 0x0800_0110, 0x0800_00fe],
    );
    const named = [...lines].map(([address, where]) => [address.toString(16), `${where.file}:${where.line}`]);
    expect(Object.fromEntries(named)).toEqual({
      8000102: 'a.c:10',
      8000104: 'a.c:12',
      '800010a': 'a.c:12',
      '800010e': 'inc/b.h:12',
    });
  });
});

describe('PeakSites bookkeeping', () => {
  // Odd addresses pass as return addresses here; the board's resolver also looks for the BL before them.
  const resolver = { isCallerArgument: (address: number) => (address & 1) === 1 } as unknown as CallerResolver;

  it('names the caller argument when it is believable, else lr, as CallerResolver.choose does', () => {
    const sites = new PeakSites(resolver);
    const wrapper = sites.allocated(0x0800_0101, 0x0800_0201, 16);
    expect(sites.allocated(0x0800_0101, 0x0800_0301, 16)).toBe(wrapper);
    const classic = sites.allocated(0x2000_0040, 0x0800_0401, 16); // a data value in the caller register: lr
    expect(sites.allocated(0x2000_0080, 0x0800_0401, 16)).toBe(classic);
    expect(classic).not.toBe(wrapper);
    // An lr that fails the test is that lr's site, never a site found through the caller argument.
    const odd = sites.allocated(0, 0x0800_0500, 16);
    const other = sites.allocated(0x0800_0500, 0x0800_0601, 16);
    expect(other).not.toBe(odd);
    // The same pair again, after others: the same site (the one-call memory and the Map agree).
    expect(sites.allocated(0x0800_0101, 0x0800_0201, 16)).toBe(wrapper);
    expect(sites.allocated(0x2000_0040, 0x0800_0401, 16)).toBe(classic);
    expect(sites.atPeak().map(({ caller, blocks }) => [caller, blocks])).toEqual([
      [0x0800_0101, 3],
      [0x0800_0401, 3],
      [0x0800_0500, 1],
      [0x0800_0601, 1],
    ]);
  });

  it('copies the holders at the first moment of the peak, not a later equal or lower state', () => {
    const sites = new PeakSites(resolver);
    const first = sites.allocated(0x0800_0101, 0, 100);
    const second = sites.allocated(0x0800_0201, 0, 50);
    sites.released(first, 100);
    sites.allocated(0x0800_0201, 0, 100); // 150 again: equal, not a new peak
    sites.allocated(0x0800_0201, 0, 200); // 350: the peak
    sites.released(second, 200);
    sites.allocated(0x0800_0101, 0, 40);
    expect(sites.atPeak()).toEqual([{ caller: 0x0800_0201, blocks: 3, bytes: 350 }]);
  });

  it('grows past its first site capacity, keeping a peak copied before', () => {
    const sites = new PeakSites(resolver);
    const first = sites.allocated(0x0800_0001, 0, 1000);
    sites.released(first, 1000); // the peak so far: 1000 bytes at the first site, copied here
    for (let i = 1; i < 200; i++) sites.allocated(0x0800_0001 + i * 4, 0, 4); // 796 bytes: no new peak
    expect(sites.atPeak()).toEqual([{ caller: 0x0800_0001, blocks: 1, bytes: 1000 }]);
    for (let i = 1; i < 200; i++) sites.allocated(0x0800_0001 + i * 4, 0, 8 + i);
    const totals = sites.atPeak();
    expect(totals).toHaveLength(199);
    expect(totals.reduce((sum, entry) => sum + entry.bytes, 0)).toBe(199 * 4 + 199 * 8 + (199 * 200) / 2);
  });
});

describe('peakSites in the CLI reports', () => {
  const settings: RunSettings = {
    target: 'demo',
    targetKind: 'scenario',
    boardName: 'tiny',
    align: 8,
    slLog2: 5,
    params: {},
    guard: false,
    alignmentCheck: false,
  } as RunSettings;
  const site = (name: string, offset: number, blocks: number, bytes: number) => ({
    site: `${name}+0x${offset.toString(16)}`,
    symbol: name,
    offset,
    address: 0x0800_0100 + offset,
    blocks,
    bytes,
  });
  const report: RunReportFigures = {
    result: 'ok',
    exitCode: 0,
    output: '',
    board: 'tiny',
    firmware: 'demo.elf',
    ops: { malloc: 10, free: 10, realloc: 0, calloc: 0, memalign: 0, failed: 0 },
    peakUsed: 10_000,
    peakRequested: 9_000,
    peakSpan: 10_500,
    largestFreeAtPeak: 100,
    largestFree: 5_000,
    fragmentation: 0,
    fragmentationAtPeak: 0,
    controlBytes: 300,
    heapBase: 0x2000_0000,
    heapSize: 16_384,
    instructions: 1000,
    cycles: 1400,
    seconds: 0.001,
    hostMs: 5,
    peakSites: [
      site('packet_alloc', 0x1a, 6, 8_192),
      site('queue_new', 0x10, 1, 800),
      site('a', 2, 1, 400),
      site('b', 4, 1, 300),
      site('c', 6, 1, 200),
      site('d', 8, 2, 60),
      site('e', 10, 1, 48),
    ],
  };

  it('the text report lists the top five holders with their share of peak used, and what the rest hold', () => {
    const text = formatRunReport(report, settings, palette(false));
    const lines = text.split('\n');
    const heading = lines.findIndex((line) => line.startsWith('  peak holders'));
    expect(heading).toBeGreaterThan(0);
    expect(lines[heading + 1]).toMatch(/^ {4}packet_alloc\+0x1a +6 blocks +8,192 B +81\.9%$/);
    expect(lines[heading + 2]).toMatch(/^ {4}queue_new\+0x10 +1 block +800 B +8\.0%$/);
    expect(lines[heading + 5]).toMatch(/^ {4}c\+0x6 /);
    expect(lines[heading + 6]).toBe('    (2 more sites: 3 blocks, 108 B, 1.1%)');
    expect(lines[heading + 7]).toMatch(/^ {2}instructions/);
    const none = formatRunReport({ ...report, peakSites: [] }, settings, palette(false));
    expect(none).not.toContain('peak holders');
  });

  it("run --json carries every site with the documented fields, in the board's order", () => {
    const json = runReportJson(report, settings);
    expect(json.peakSites).toEqual(report.peakSites);
    expect(Object.keys((json.peakSites as object[])[0]!)).toEqual([
      'site',
      'symbol',
      'offset',
      'address',
      'blocks',
      'bytes',
    ]);
    expect(runReportJson({ ...report, peakSites: undefined }, settings).peakSites).toEqual([]);
  });

  it('tlsf-sim run prints the peak holders, and --json their figures summing to peakUsed', async () => {
    const [text, json] = await Promise.all([
      runCli(['run', 'packet-pool', '--param', 'bursts=50']),
      runCli(['run', 'packet-pool', '--param', 'bursts=50', '--json']),
    ]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/peak holders[^\n]*\n {4}packet_alloc\+0x[0-9a-f]+ +\d+ blocks/);
    const document = JSON.parse(json.stdout) as { peakUsed: number; peakSites: { bytes: number; symbol: string }[] };
    expect(document.peakSites[0]!.symbol).toBe('packet_alloc');
    expect(document.peakSites.reduce((sum, entry) => sum + entry.bytes, 0)).toBe(document.peakUsed);
  });
});
