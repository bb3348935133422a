import { mapRequest, type RequestMapping } from '../allocator/index.js';
import { parseElf, symbolize, type ElfImage, type HeapEvent, type RunReport } from '../board/index.js';
import { execute, prepareRun, type PreparedRun, type RunRequest } from './engine.js';
import { EXIT_CHECK_FAILED, EXIT_OK, InputError } from './errors.js';
import { writeJson, type CliIo } from './options.js';
import { REPORT_SCHEMA_VERSION } from './report.js';
import { describeDivergence, HeapReplay, type HeapBlock, type HeapSnapshot, type SizeClass } from './replay.js';
import type { Palette } from './terminal.js';
import { formatBytes, formatHex, formatPercent } from './units.js';

// The learner views: `map` (the heap at one moment of a run, drawn and tabulated) and `step` (each heap call
// of a range, with how TLSF placed the block). Both run the workload with the board's event log and replay
// that log on a host heap (replay.ts); every fact below comes from comparing walks of that heap before and
// after a call, and from its stored bitmaps and list heads, never from inside the allocator.

// ---- the run and its replay ----------------------------------------------------------------------------

export interface LearnRun {
  prepared: PreparedRun;
  report: RunReport;
  events: HeapEvent[];
  image: ElfImage | null;
  replay: HeapReplay;
  /** Events that are heap calls (not marks), for counting and range checks. */
  lastCall: number;
}

export function startLearnRun(request: RunRequest): LearnRun {
  const prepared = prepareRun({ ...request, recordEvents: true });
  const report = execute(prepared);
  const events = report.events ?? [];
  let image: ElfImage | null = null;
  try {
    image = parseElf(prepared.options.elf, prepared.options.elfName);
  } catch {
    image = null; // the run already parsed it; symbols are a nicety here
  }
  const replay = new HeapReplay({
    board: prepared.board, heapBase: report.heapBase, heapSize: report.heapSize,
    align: prepared.settings.align as 4 | 8 | 16, slLog2: prepared.settings.slLog2, extraBanks: prepared.options.extraBanks,
  }, events);
  const lastCall = events.reduce((last, event) => (event.op === 'mark' ? last : Math.max(last, event.call)), 0);
  return { prepared, report, events, image, replay, lastCall };
}

/**
 * The current runtime/heap.c passes its own return address in the services' caller argument, so the log names
 * the function that called malloc (docs/design.md §3). Firmware linked with an older shim, or another C library
 * forwarding to the slots without that argument, still shows the wrapper as the caller; naming it would only
 * repeat the operation, so it is left out.
 */
const SHIM_SYMBOL = /^_?(malloc|free|realloc|calloc|memalign|aligned_alloc|posix_memalign|valloc|pvalloc|reallocf|_malloc_r|_free_r|_realloc_r|_calloc_r|_memalign_r)(\+0x[0-9a-f]+)?$/;

function callerSymbol(image: ElfImage | null, caller: number): string | null {
  return image ? symbolize(image, caller & ~1) ?? null : null;
}

/** " from symbol+0x12" for a firmware caller; empty when the logged caller is the C shim. */
function fromText(symbol: string | null, caller: number): string {
  if (symbol !== null && SHIM_SYMBOL.test(symbol)) return '';
  return ` from ${symbol ?? formatHex(caller & ~1)}`;
}

function callText(event: HeapEvent): string {
  const [a = 0, b = 0] = event.args;
  switch (event.op) {
    case 'malloc': return `malloc(${a})`;
    case 'free': return `free(${formatHex(a)})`;
    case 'realloc': return `realloc(${a === 0 ? 'NULL' : formatHex(a)}, ${b})`;
    case 'calloc': return `calloc(${a}, ${b})`;
    case 'memalign': return `memalign(${a}, ${b})`;
    case 'mark': return `mark("${event.label ?? ''}")`;
  }
}

const cls = (sizeClass: SizeClass): string => `(${sizeClass.fl}, ${sizeClass.sl})`;

function headline(run: LearnRun, colours: Palette): string {
  const { report, prepared } = run;
  const ok = report.result === 'ok';
  const result = ok ? colours.green(report.result) : colours.red(report.result);
  const calls = run.events.filter((event) => event.op !== 'mark').length;
  return `${colours.bold(prepared.label)} on ${report.board}: ${result}, ${calls.toLocaleString('en-US')} heap calls; heap ${formatHex(report.heapBase)}, ${formatBytes(report.heapSize)}, align ${prepared.settings.align}, SL 2^${prepared.settings.slLog2}`;
}

function replayLine(run: LearnRun, replayedCalls: number): string {
  if (run.replay.divergence) return `  replay: ${describeDivergence(run.replay.divergence)}`;
  return `  replay: ${replayedCalls.toLocaleString('en-US')} calls replayed on a host heap built like the board's; every returned address matches the run`;
}

// ---- drawing -------------------------------------------------------------------------------------------

const KIND_TAIL = 0;
const KIND_CONTROL = 1;
const KIND_USED_HEADER = 2;
const KIND_USED = 3;
const KIND_FREE_HEADER = 4;
const KIND_FREE = 5;
const KIND_HIGHLIGHT = 6;

export const MAP_LEGEND = "C control structure and padding  # used  . free  : used and free in one cell  h block header  | end sentinel";

interface Region { start: number; end: number }

/** Byte-exact kinds for one pool region, then cells of `scale` bytes each drawn by what they hold. */
function drawRegion(region: Region, blocks: HeapBlock[], scale: number, highlight: { header: number; blockSize: number } | null): string {
  const length = region.end - region.start;
  const kinds = new Uint8Array(length).fill(KIND_TAIL);
  const inRegion = blocks.filter((block) => block.header >= region.start && block.header < region.end);
  const firstHeader = inRegion.length > 0 ? inRegion[0]!.header : region.end;
  kinds.fill(KIND_CONTROL, 0, firstHeader - region.start);
  for (const block of inRegion) {
    const from = block.header - region.start;
    const to = Math.min(from + block.blockSize, length);
    kinds.fill(block.used ? KIND_USED : KIND_FREE, from, to);
    kinds.fill(block.used ? KIND_USED_HEADER : KIND_FREE_HEADER, from, Math.min(from + 4, to));
  }
  if (highlight && highlight.header >= region.start && highlight.header < region.end) {
    const from = highlight.header - region.start;
    kinds.fill(KIND_HIGHLIGHT, from, Math.min(from + highlight.blockSize, length));
  }
  let text = '';
  const counts = new Uint32Array(7);
  for (let cell = 0; cell < length; cell += scale) {
    counts.fill(0);
    const end = Math.min(cell + scale, length);
    for (let at = cell; at < end; at++) counts[kinds[at]!]!++;
    const used = counts[KIND_USED]! + counts[KIND_USED_HEADER]!;
    const free = counts[KIND_FREE]! + counts[KIND_FREE_HEADER]!;
    const headers = counts[KIND_USED_HEADER]! + counts[KIND_FREE_HEADER]!;
    if (counts[KIND_HIGHLIGHT]! > 0) text += '@';
    else if (used > 0 && free > 0) text += ':';
    else if (headers === end - cell) text += 'h';
    else {
      const candidates: [number, string][] = [[used, '#'], [free, '.'], [counts[KIND_CONTROL]!, 'C'], [counts[KIND_TAIL]!, '|']];
      let best = candidates[0]!;
      for (const candidate of candidates) if (candidate[0] > best[0]) best = candidate;
      text += best[1];
    }
  }
  return text;
}

/** Pool regions: the main heap first, then extra banks (pieces of one region share its start). */
function regionsOf(replay: HeapReplay): Region[] {
  const regions: Region[] = [];
  for (const pool of replay.heap.poolList()) {
    if (!regions.some((region) => region.start === pool.start)) regions.push({ start: pool.start, end: pool.end });
  }
  return regions;
}

// ---- map -----------------------------------------------------------------------------------------------

export type MapPoint = { kind: 'end' } | { kind: 'peak' } | { kind: 'call'; call: number };

export function parseMapPoint(text: string): MapPoint {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === 'end') return { kind: 'end' };
  if (trimmed === 'peak') return { kind: 'peak' };
  const match = /^call:(\d+)$/.exec(trimmed);
  if (match) return { kind: 'call', call: Number(match[1]) };
  throw new InputError(`--at: "${text}" is not a point of the run; use end, peak or call:N (after heap call N, e.g. call:120)`);
}

export function parseCountOption(text: string, what: string, min: number, max = 1_000_000_000): number {
  const value = Number(text.replace(/_/g, ''));
  if (!/^\s*\d[\d_]*\s*$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InputError(`${what}: "${text}" must be a whole number from ${min} to ${max}`);
  }
  return value;
}

export interface MapFlags { at?: string; width?: string; scale?: string; json?: boolean }

function defaultScale(length: number, width: number, rows: number, align: number): number {
  let scale = align;
  while (Math.ceil(length / scale) > width * rows) scale *= 2;
  return scale;
}

export function mapCommand(request: RunRequest, flags: MapFlags, io: CliIo, colours: Palette): number {
  const point = parseMapPoint(flags.at ?? 'end');
  const width = flags.width === undefined ? 64 : parseCountOption(flags.width, '--width', 8, 1024);
  const scaleOption = flags.scale === undefined ? undefined : parseCountOption(flags.scale, '--scale', 1, 1 << 30);
  const run = startLearnRun(request);
  const { replay, report, events } = run;
  if (point.kind === 'call' && point.call > run.lastCall) {
    throw new InputError(`--at call:${point.call}: the run made ${run.lastCall} heap calls (use call:0..call:${run.lastCall}, peak or end)`);
  }

  // The peak is the first moment usedBytes reaches its highest value: found by a replay, then replayed to.
  let peakCall = 0;
  // The allocator's own high-water mark (the board's peakUsed) can be reached inside a realloc that moves a
  // block, when old and new block are both used for the copy: a moment no between-call view can show.
  let transientPeak: { call: number; op: string; peakUsed: number; betweenCalls: number } | null = null;
  if (point.kind === 'peak') {
    const probe = new HeapReplay(replay.setup, events);
    let highest = probe.heap.usedBytes;
    let inside: { call: number; op: string; peakUsed: number } | null = null;
    while (!probe.done) {
      const peakBefore = probe.heap.peakUsed;
      const event = probe.step();
      if (!event) break;
      if (probe.heap.usedBytes > highest) {
        highest = probe.heap.usedBytes;
        peakCall = event.call;
      }
      if (probe.heap.peakUsed > peakBefore && probe.heap.peakUsed > probe.heap.usedBytes) inside = { call: event.call, op: event.op, peakUsed: probe.heap.peakUsed };
    }
    if (inside && inside.peakUsed > highest) transientPeak = { ...inside, betweenCalls: highest };
  }
  const stopAfter = point.kind === 'end' ? Infinity : point.kind === 'peak' ? peakCall : point.call;
  replay.runWhile((event) => event.call <= stopAfter);
  const snapshot = replay.snapshot();
  const replayedCalls = events.slice(0, replay.position).filter((event) => event.op !== 'mark').length;
  const atCall = replay.position === 0 ? 0 : events[replay.position - 1]!.call;
  const lastMark = events.slice(0, replay.position).reverse().find((event) => event.op === 'mark')?.label ?? null;
  const byCall = new Map(events.filter((event) => event.op !== 'mark').map((event) => [event.call, event]));
  const regions = regionsOf(replay);
  const scale = scaleOption ?? defaultScale(regions[0]!.end - regions[0]!.start, width, 16, replay.geometry.align);
  // What the board itself measured at this point, where it measured anything, to set beside the replay.
  const boardFigures = point.kind === 'peak'
    ? { usedBytes: report.peakUsed, largestFree: report.largestFreeAtPeak, fragmentation: report.fragmentationAtPeak }
    : point.kind === 'end' && !replay.divergence ? { usedBytes: null, largestFree: report.largestFree, fragmentation: report.fragmentation } : null;
  const exitCode = report.result === 'ok' && !replay.divergence ? EXIT_OK : EXIT_CHECK_FAILED;

  if (flags.json) {
    writeJson(io, {
      schemaVersion: REPORT_SCHEMA_VERSION,
      command: 'map',
      target: run.prepared.label,
      board: report.board,
      result: report.result,
      message: report.message ?? null,
      at: { point: point.kind, call: atCall, lastMark, transientPeak },
      heapBase: report.heapBase,
      heapSize: report.heapSize,
      align: run.prepared.settings.align,
      slLog2: run.prepared.settings.slLog2,
      controlAddress: replay.heap.controlAddress,
      controlBytes: replay.heap.layout.controlBytes,
      usedBytes: snapshot.usedBytes,
      freeBytes: snapshot.freeBytes,
      usedBlocks: snapshot.usedBlocks,
      freeBlocks: snapshot.freeBlocks,
      largestFree: snapshot.largestFree,
      fragmentation: snapshot.fragmentation,
      boardFigures,
      replay: { calls: replayedCalls, matches: replay.divergence === null, divergence: replay.divergence },
      blocks: snapshot.blocks.map((block) => ({
        header: block.header, address: block.address, blockSize: block.blockSize, used: block.used,
        class: block.sizeClass, allocatedBy: block.allocatedBy, pool: block.pool,
      })),
      bitmaps: {
        firstLevel: snapshot.firstLevelBitmap,
        secondLevel: snapshot.secondLevelBitmaps,
        freeLists: snapshot.freeLists.map((list) => ({ fl: list.fl, sl: list.sl, classMin: list.classMin, classMax: list.classMax, blocks: list.blocks, bytes: list.bytes })),
        consistent: snapshot.consistent,
        problems: snapshot.problems,
      },
      scale,
      map: regions.map((region) => ({ start: region.start, end: region.end, cells: drawRegion(region, snapshot.blocks, scale, null) })),
    });
    return exitCode;
  }

  const out = (line = ''): void => void io.stdout.write(`${line}\n`);
  out(headline(run, colours));
  if (report.result !== 'ok' && report.message) out(`  ${colours.red('stopped')}: ${report.message}`);
  const where = point.kind === 'end' ? 'at the end of the run' : point.kind === 'peak' ? 'at the peak (first call that reached the highest used bytes)' : `after call #${point.call}`;
  const callEvent = byCall.get(atCall);
  const callPart = atCall === 0 ? 'before the first heap call' : `${point.kind === 'call' ? '' : `after call #${atCall} `}${callEvent ? callText(callEvent) : ''}`;
  out(`  ${where}: ${callPart.trim()}${lastMark ? `, in phase "${lastMark}"` : ''}`);
  out(replayLine(run, replayedCalls));
  const blocksText = (n: number): string => `${n} block${n === 1 ? '' : 's'}`;
  out(`  used ${formatBytes(snapshot.usedBytes)} in ${blocksText(snapshot.usedBlocks)}, free ${formatBytes(snapshot.freeBytes)} in ${blocksText(snapshot.freeBlocks)}, largest free ${formatBytes(snapshot.largestFree)}, fragmentation ${formatPercent(snapshot.fragmentation)}`);
  if (point.kind === 'peak') out(`  the board measured at its peak: used ${formatBytes(report.peakUsed)}, largest free ${formatBytes(report.largestFreeAtPeak)}, fragmentation ${formatPercent(report.fragmentationAtPeak)}`);
  if (transientPeak) {
    out(`  note: the board's peak used ${formatBytes(transientPeak.peakUsed)} is the allocator's high-water mark, reached inside call #${transientPeak.call} (${transientPeak.op}),`);
    out(`        which moved a block: old and new block were both used while the data was copied. Between calls the highest is ${formatBytes(transientPeak.betweenCalls)}, shown here.`);
  }
  if (point.kind === 'end' && !replay.divergence) out(`  the board measured at the end: largest free ${formatBytes(report.largestFree)}, fragmentation ${formatPercent(report.fragmentation)}`);
  out();
  out(`heap map, ${scale} B per character:  ${MAP_LEGEND}`);
  regions.forEach((region, index) => {
    if (regions.length > 1) out(`${index === 0 ? 'main heap' : 'extra bank'} ${formatHex(region.start)}..${formatHex(region.end)}`);
    const cells = drawRegion(region, snapshot.blocks, scale, null);
    for (let at = 0; at < cells.length; at += width) out(`  ${formatHex(region.start + at * scale)}  ${cells.slice(at, at + width)}`);
  });
  out();
  out(`blocks (${snapshot.blocks.length}):`);
  out(`  ${'address'.padEnd(10)}  ${'block'.padStart(9)}  state  ${'class'.padEnd(8)}  allocated by`);
  const shown = snapshot.blocks.slice(0, 200);
  for (const block of shown) {
    const by = block.allocatedBy === null ? '' : (() => {
      const event = byCall.get(block.allocatedBy);
      return event ? `#${block.allocatedBy} ${callText(event)}${fromText(callerSymbol(run.image, event.caller), event.caller)}` : `#${block.allocatedBy}`;
    })();
    out(`  ${formatHex(block.address)}  ${block.blockSize.toLocaleString('en-US').padStart(9)}  ${block.used ? 'used ' : 'free '}  ${(block.sizeClass ? cls(block.sizeClass) : '').padEnd(8)}  ${by}`.trimEnd());
  }
  if (snapshot.blocks.length > shown.length) out(`  ... ${snapshot.blocks.length - shown.length} more blocks (--json lists them all)`);
  out('  (address: the payload, what malloc returned; block: whole block bytes, its 4-byte header included)');
  out();
  const rows = snapshot.secondLevelBitmaps.map((bits, fl) => (bits !== 0 ? fl : -1)).filter((fl) => fl >= 0);
  out(`free lists: first-level bitmap ${formatHex(snapshot.firstLevelBitmap)} (non-empty rows: ${rows.length > 0 ? rows.join(', ') : 'none'})`);
  for (const fl of rows) {
    const lists = snapshot.freeLists.filter((list) => list.fl === fl);
    out(`  row ${String(fl).padEnd(2)} second-level bitmap ${formatHex(snapshot.secondLevelBitmaps[fl]!)}`);
    for (const list of lists) {
      const blocksText = list.blocks.slice(0, 4).map((header) => formatHex(header + 4)).join(', ') + (list.blocks.length > 4 ? `, ... (${list.blocks.length - 4} more)` : '');
      out(`    class (${list.fl}, ${list.sl}) ${formatBytes(list.classMin)}..${formatBytes(list.classMax)}: ${list.blocks.length} block${list.blocks.length === 1 ? '' : 's'}, ${formatBytes(list.bytes)}; head first: ${blocksText}`);
    }
  }
  out(snapshot.consistent
    ? '  the bitmaps, the list heads and a walk of the heap agree'
    : `  ${colours.red('inconsistent')}: ${snapshot.problems.slice(0, 5).join('; ')}`);
  return exitCode;
}

// ---- step ----------------------------------------------------------------------------------------------

interface BlockRef { address: number; header: number; blockSize: number; class: SizeClass | null }

export interface StepFacts {
  call: number;
  op: Exclude<HeapEvent['op'], 'mark'>;
  args: number[];
  result: number;
  caller: number;
  callerSymbol: string | null;
  /** The request as TLSF maps it (allocations only). */
  request: (RequestMapping & { class: SizeClass; searchClass: SizeClass }) | null;
  /** The free block the allocation came from, before the call. */
  taken: (BlockRef & { listLength: number; wasListHead: boolean; fromSearchClass: boolean }) | null;
  /** Free blocks that would have fitted but sat in the request's own class, which the search skips. */
  skippedFits: number;
  /** The block returned (after the call). */
  block: BlockRef | null;
  /** Free blocks split off the taken block and filed (after the call). */
  remainders: BlockRef[];
  /** The block a free (or realloc's release) gave back, before the call. */
  released: BlockRef | null;
  /** Its free neighbours merged into it, and the resulting free block. */
  coalesced: { previous: number | null; next: number | null; merged: BlockRef } | null;
  /** realloc only: 'in-place' (grown or shrunk where it was) or 'moved'. */
  realloc: 'in-place' | 'moved' | 'failed' | null;
  /** realloc in place: bytes taken from the free block after it. */
  grewInto: BlockRef | null;
  largestFreeBefore: number;
  usedAfter: number;
  miniMap: string;
  explanation: string[];
}

function ref(block: HeapBlock): BlockRef {
  return { address: block.address, header: block.header, blockSize: block.blockSize, class: block.sizeClass };
}

function requestedBytes(event: HeapEvent): number | null {
  const [a = 0, b = 0] = event.args;
  switch (event.op) {
    case 'malloc': return a;
    case 'calloc': return a * b;
    case 'memalign': return b;
    case 'realloc': return a === 0 || b !== 0 ? b : null;
    default: return null;
  }
}

function classLess(a: SizeClass, b: SizeClass): boolean {
  return a.fl < b.fl || (a.fl === b.fl && a.sl < b.sl);
}

/** What one call did, from the heap's walk and stored lists before and after it. */
export function analyseStep(replay: HeapReplay, event: HeapEvent, before: HeapSnapshot, after: HeapSnapshot, image: ElfImage | null, width: number): StepFacts {
  const byHeaderBefore = new Map(before.blocks.map((block) => [block.header, block]));
  const byHeaderAfter = new Map(after.blocks.map((block) => [block.header, block]));
  const containing = (snapshot: HeapSnapshot, address: number): HeapBlock | undefined =>
    snapshot.blocks.find((block) => address >= block.header && address < block.header + block.blockSize);
  const unchanged = (block: HeapBlock): boolean => {
    const old = byHeaderBefore.get(block.header);
    return old !== undefined && old.blockSize === block.blockSize && old.used === block.used;
  };
  const facts: StepFacts = {
    call: event.call, op: event.op as StepFacts['op'], args: [...event.args], result: event.result, caller: event.caller & ~1,
    callerSymbol: callerSymbol(image, event.caller),
    request: null, taken: null, skippedFits: 0, block: null, remainders: [], released: null, coalesced: null,
    realloc: null, grewInto: null, largestFreeBefore: before.largestFree, usedAfter: after.usedBytes, miniMap: '', explanation: [],
  };
  const say = (line: string): void => void facts.explanation.push(line);
  const [argument0 = 0, argument1 = 0] = event.args;
  const size = requestedBytes(event);
  const releasing = event.op === 'free' ? argument0 : event.op === 'realloc' && argument0 !== 0 && (event.result !== 0 || argument1 === 0) && event.result !== argument0 ? argument0 : 0;
  const allocating = event.op !== 'free' && event.op !== 'mark' && size !== null;

  if (allocating && size !== null) {
    try {
      const mapping = mapRequest(size, { align: replay.geometry.align, slLog2: replay.geometry.slLog2 });
      facts.request = {
        ...mapping,
        class: { fl: mapping.firstLevelIndex, sl: mapping.secondLevelIndex },
        searchClass: { fl: mapping.searchFirstLevel, sl: mapping.searchSecondLevel },
      };
    } catch {
      facts.request = null; // beyond any pool: the allocator refuses it outright
    }
  }
  const request = facts.request;
  const inPlace = event.op === 'realloc' && argument0 !== 0 && event.result === argument0;
  if (request && inPlace) {
    say(`needs a ${formatBytes(request.adjustedSize)} block (${size} + 4-byte header, rounded to ${replay.geometry.align}); realloc first tries to resize the block where it is`);
  } else if (request) {
    const own = `class ${cls(request.class)} (${formatBytes(request.classMin)}..${formatBytes(request.classMax)})`;
    const layout = replay.heap.layout;
    const search = request.adjustedSize > layout.maxBlockSize || request.searchFirstLevel >= layout.flCount
      ? `that is beyond the largest block this heap can file (${formatBytes(layout.maxBlockSize)}, rows 0..${layout.flCount - 1}): refused without a search`
      : event.op === 'memalign'
        ? 'memalign looks for a block large enough to move the payload up to the alignment as well'
        : request.adjustedSize < replay.geometry.smallBlockSize
      ? `below ${formatBytes(replay.geometry.smallBlockSize)} classes are exact, so the search starts in it`
      : request.searchSize === request.adjustedSize
        ? 'it is the first size of its class, so every block there fits: the search starts in it'
        : `search from ${formatBytes(request.searchSize)}, class ${cls(request.searchClass)}, where every block fits`;
    say(`needs a ${formatBytes(request.adjustedSize)} block (${size} + 4-byte header, rounded to ${replay.geometry.align}), ${own}; ${search}`);
  }

  if (event.op === 'realloc' && argument0 !== 0 && argument1 !== 0) facts.realloc = event.result === 0 ? 'failed' : inPlace ? 'in-place' : 'moved';

  if (allocating && event.result !== 0) {
    const block = byHeaderAfter.get(event.result - 4);
    if (block) {
      facts.block = ref(block);
      if (inPlace) {
        const old = byHeaderBefore.get(block.header)!;
        if (block.blockSize > old.blockSize) {
          const next = byHeaderBefore.get(old.header + old.blockSize);
          if (next && !next.used) {
            facts.grewInto = ref(next);
            say(`grows in place from ${formatBytes(old.blockSize)} to ${formatBytes(block.blockSize)}, taking ${formatBytes(block.blockSize - old.blockSize)} of the free block after it (${formatBytes(next.blockSize)}, class ${cls(next.sizeClass!)})`);
          }
        } else if (block.blockSize < old.blockSize) {
          say(`shrinks in place from ${formatBytes(old.blockSize)} to ${formatBytes(block.blockSize)}`);
        } else {
          say(`stays in place: the ${formatBytes(old.blockSize)} block already fits`);
        }
      } else {
        if (facts.realloc === 'moved') {
          const old = byHeaderBefore.get(argument0 - 4);
          const next = old ? byHeaderBefore.get(old.header + old.blockSize) : undefined;
          const why = !next ? 'it ends its pool' : next.used ? 'the block after it is used' : `the free block after it (${formatBytes(next.blockSize)}) is too small`;
          say(`cannot grow in place (${why}): a new block is allocated, the data copied, the old block freed`);
        }
        let skippedExample: HeapBlock | null = null;
        const taken = containing(before, block.header);
        if (taken && !taken.used) {
          const list = before.freeLists.find((candidate) => candidate.fl === taken.sizeClass!.fl && candidate.sl === taken.sizeClass!.sl);
          const fromSearchClass = request !== null && cls(taken.sizeClass!) === cls(request.searchClass);
          facts.taken = { ...ref(taken), listLength: list?.blocks.length ?? 0, wasListHead: list?.blocks[0] === taken.header, fromSearchClass };
          if (request) {
            const skipped = before.blocks.filter((candidate) => !candidate.used && candidate.blockSize >= request.adjustedSize && classLess(candidate.sizeClass!, request.searchClass));
            facts.skippedFits = skipped.length;
            skippedExample = skipped[0] ?? null;
          }
          const why = event.op === 'memalign'
            ? 'the payload inside it moved up to the alignment'
            : fromSearchClass
              ? 'the search class itself was non-empty'
              : `${cls(taken.sizeClass!)} is the first non-empty class at or above ${request ? cls(request.searchClass) : 'the search class'} (two bit scans of the bitmaps)`;
          say(`takes ${facts.taken.wasListHead ? 'the head of' : 'a block from'} list ${cls(taken.sizeClass!)} (${facts.taken.listLength} block${facts.taken.listLength === 1 ? '' : 's'}): free block ${formatHex(taken.address)} of ${formatBytes(taken.blockSize)}; ${why}`);
          if (facts.skippedFits > 0 && skippedExample) {
            say(`good fit, not best fit: ${facts.skippedFits === 1 ? 'a free block' : `${facts.skippedFits} free blocks`} in the request's own class ${cls(request!.class)} would have fitted (${formatHex(skippedExample.address)}, ${formatBytes(skippedExample.blockSize)}), but that class may also hold blocks too small, so the search starts above it`);
          }
        }
      }
      // Remainders: free blocks new since the call, touching the returned block.
      for (const candidate of after.blocks) {
        if (candidate.used || unchanged(candidate)) continue;
        if (candidate.header === block.header + block.blockSize || candidate.header + candidate.blockSize === block.header) facts.remainders.push(ref(candidate));
      }
      for (const remainder of facts.remainders) {
        const side = remainder.header > block.header ? 'after' : 'before';
        say(`split: ${formatBytes(block.blockSize)} used, the ${formatBytes(remainder.blockSize)} ${side} it filed as a free block in class ${cls(remainder.class!)}`);
      }
      if (facts.remainders.length === 0 && facts.taken && request) {
        const leftover = facts.taken.blockSize - request.adjustedSize;
        say(leftover <= 0
          ? 'no split: an exact fit'
          : `no split: the ${formatBytes(leftover)} beyond ${formatBytes(request.adjustedSize)} is less than a minimum block (${replay.geometry.minBlockSize} B), so the whole ${formatBytes(facts.taken.blockSize)} block is used`);
      }
    }
  } else if (allocating && event.result === 0) {
    if (facts.realloc === 'failed') say('fails: no block is large enough and the block cannot grow in place; the old block stays');
    else if (!request) say(`fails (returns NULL): ${event.op === 'calloc' ? `${argument0} × ${argument1} = ${(argument0 * argument1).toLocaleString('en-US')} B` : `${size} B`} is larger than any heap can hold`);
    else if (request.adjustedSize > replay.heap.layout.maxBlockSize || request.searchFirstLevel >= replay.heap.layout.flCount) say('fails (returns NULL): no block of this heap can ever be that large');
    else say(`fails (returns NULL): no free list at or above the search class is non-empty; the largest free block is ${formatBytes(before.largestFree)}`);
  }

  if (releasing !== 0) {
    const released = byHeaderBefore.get(releasing - 4);
    if (released) {
      facts.released = ref(released);
      const merged = containing(after, released.header);
      if (merged && !merged.used) {
        const previous = released.header > merged.header ? released.header - merged.header : null;
        const nextBytes = merged.header + merged.blockSize - (released.header + released.blockSize);
        facts.coalesced = { previous, next: nextBytes > 0 ? nextBytes : null, merged: ref(merged) };
        const parts = [previous !== null ? `the free block before it (${formatBytes(previous)})` : '', nextBytes > 0 ? `the free block after it (${formatBytes(nextBytes)})` : ''].filter(Boolean);
        const prefix = event.op === 'realloc' ? 'the old block ' : '';
        say(`${prefix}${formatHex(released.address)} (${formatBytes(released.blockSize)}) is released; ${parts.length > 0 ? `merged with ${parts.join(' and ')}` : 'no free neighbour to merge with'}: free block ${formatHex(merged.address)} of ${formatBytes(merged.blockSize)} filed in class ${cls(merged.sizeClass!)}`);
      }
    }
  }
  if (event.op === 'free' && argument0 === 0) say('free(NULL) does nothing');

  // The block this call returned, else the bytes it gave back (the merged free block can be most of the heap).
  const highlight = facts.block ?? facts.released;
  const main = regionsOf(replay)[0]!;
  const scale = Math.ceil((main.end - main.start) / width / 4) * 4;
  facts.miniMap = drawRegion(main, after.blocks, scale, highlight);
  return facts;
}

export interface StepFlags { from?: string; count?: string; width?: string; json?: boolean }

export function stepCommand(request: RunRequest, flags: StepFlags, io: CliIo, colours: Palette): number {
  const from = flags.from === undefined ? 1 : parseCountOption(flags.from, '--from', 1);
  const count = flags.count === undefined ? 20 : parseCountOption(flags.count, '--count', 1, 100_000);
  const width = flags.width === undefined ? 64 : parseCountOption(flags.width, '--width', 8, 1024);
  const run = startLearnRun(request);
  const { replay, report, events } = run;
  if (from > run.lastCall) throw new InputError(`--from ${from}: the run made ${run.lastCall} heap calls`);
  const until = from + count; // exclusive
  replay.runWhile((event) => event.call < from);
  const steps: (StepFacts | { call: number; op: 'mark'; label: string })[] = [];
  let before = replay.snapshot();
  while (!replay.done) {
    const next = events[replay.position]!;
    if (next.call >= until) break;
    const event = replay.step();
    if (!event) break;
    if (event.op === 'mark') {
      steps.push({ call: event.call, op: 'mark', label: event.label ?? '' });
      continue;
    }
    const after = replay.snapshot();
    steps.push(analyseStep(replay, event, before, after, run.image, width));
    before = after;
  }
  const exitCode = report.result === 'ok' && !replay.divergence ? EXIT_OK : EXIT_CHECK_FAILED;

  if (flags.json) {
    writeJson(io, {
      schemaVersion: REPORT_SCHEMA_VERSION,
      command: 'step',
      target: run.prepared.label,
      board: report.board,
      result: report.result,
      message: report.message ?? null,
      heapBase: report.heapBase,
      heapSize: report.heapSize,
      align: run.prepared.settings.align,
      slLog2: run.prepared.settings.slLog2,
      calls: run.lastCall,
      from,
      count,
      replay: { matches: replay.divergence === null, divergence: replay.divergence },
      steps,
    });
    return exitCode;
  }

  const out = (line = ''): void => void io.stdout.write(`${line}\n`);
  out(headline(run, colours));
  if (report.result !== 'ok' && report.message) out(`  ${colours.red('stopped')}: ${report.message}`);
  out(replayLine(run, events.slice(0, replay.position).filter((event) => event.op !== 'mark').length));
  out(`  calls #${from}..#${Math.min(until - 1, run.lastCall)}; the line under each is the whole heap (${MAP_LEGEND}  @ this call's block)`);
  for (const step of steps) {
    if (step.op === 'mark') {
      out(colours.dim(`-- mark "${step.label}"`));
      continue;
    }
    const facts = step as StepFacts;
    const returns = facts.op === 'free' ? '' : ` -> ${facts.result === 0 ? 'NULL' : formatHex(facts.result)}`;
    out();
    out(`${colours.bold(`#${facts.call}`)} ${callText({ ...facts, instructions: 0 } as HeapEvent)}${fromText(facts.callerSymbol, facts.caller)}${returns}`);
    for (const line of facts.explanation) out(`     ${line}`);
    out(`     [${facts.miniMap}]  used ${formatBytes(facts.usedAfter)}`);
  }
  if (replay.divergence) out(`\n${colours.red('replay diverged')}: ${describeDivergence(replay.divergence)}`);
  return exitCode;
}
