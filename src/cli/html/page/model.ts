import { Tlsf } from '../../../allocator/index.js';
import type { BoardProfile, HeapEvent } from '../../../board/index.js';
import { HeapReplay, type Divergence, type ReplaySetup } from '../../replay.js';
import { SITE_COLOURS } from '../heap-map-svg.js';
import { bytesFromBase64, unpackEvents, type ReportMeta } from '../report-data.js';
import type { SiteSymbols } from './board-stand-in.js';

// The run as the page sees it: the log decoded, then replayed once on the bundled allocator to get the
// timeline's figures after every heap call (used, requested, largest free, free, fragmentation), the live
// bytes of each call site, the peak and the phases. Views of one moment replay again (cursor.ts).

export interface Phase {
  label: string;
  fromCall: number;
  toCall: number;
}
export interface SiteSeries {
  name: string;
  site: number | null;
  colour: string;
  values: Float64Array;
}
export interface PeakRow {
  name: string;
  site: number | null;
  blocks: number;
  bytes: number;
  share: number;
}

export interface RunModel {
  meta: ReportMeta;
  events: HeapEvent[];
  setup: ReplaySetup;
  symbols: SiteSymbols;
  /** Per heap call (marks left out), in order: its call number and the figures just after it. */
  points: number;
  call: Float64Array;
  instructions: Float64Array;
  used: Float64Array;
  requested: Float64Array;
  largestFree: Float64Array;
  free: Float64Array;
  fragmentation: Float64Array;
  lastCall: number;
  /** First call after which used bytes were highest (0: before any call). */
  peakCall: number;
  peakUsed: number;
  phases: Phase[];
  /** The first allocation that returned NULL, else null. */
  failedCall: number | null;
  divergence: Divergence | null;
  /** Event index by call number for heap calls. */
  eventOfCall: Map<number, HeapEvent>;
  /** Site index of each logged caller. */
  siteOfCaller: Map<number, number>;
  /** The top sites (by live bytes at the peak) and "other", each a colour; values stacked bottom first. */
  siteSeries: SiteSeries[];
  peakTable: PeakRow[];
  requestSizes: number[];
}

export const OTHER_COLOUR = '#9a9a9a';
const TOP_SITES = SITE_COLOURS.length;

function requestedBytes(event: HeapEvent): number {
  const [a = 0, b = 0] = event.args;
  switch (event.op) {
    case 'malloc':
      return a;
    case 'calloc':
      return a * b;
    case 'memalign':
    case 'realloc':
      return b;
    default:
      return 0;
  }
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function loadRun(meta: ReportMeta, logBase64: string): Promise<RunModel> {
  const callers = meta.sites.map((site) => site.address);
  const events = unpackEvents(await gunzip(bytesFromBase64(logBase64.trim())), meta.eventCount, meta.labels, callers);
  const symbolByAddress = new Map(meta.sites.map((site) => [site.address & ~1, site.symbol ?? undefined]));
  const symbols: SiteSymbols = { symbolOf: (address) => symbolByAddress.get(address & ~1) };
  const board = { name: meta.board.name, ram: meta.board.ram } as unknown as BoardProfile;
  const setup: ReplaySetup = { board, ...meta.setup };
  return buildModel(meta, events, setup, symbols);
}

export function siteName(model: Pick<RunModel, 'meta'>, site: number): string {
  const entry = model.meta.sites[site];
  if (!entry) return '(unknown)';
  return entry.symbol ?? `0x${(entry.address & ~1).toString(16).padStart(8, '0')}`;
}

function buildModel(meta: ReportMeta, events: HeapEvent[], setup: ReplaySetup, symbols: SiteSymbols): RunModel {
  const calls = events.filter((event) => event.op !== 'mark').length;
  const call = new Float64Array(calls);
  const instructions = new Float64Array(calls);
  const used = new Float64Array(calls);
  const requested = new Float64Array(calls);
  const largestFree = new Float64Array(calls);
  const free = new Float64Array(calls);
  const fragmentation = new Float64Array(calls);
  const siteOfCaller = new Map(meta.sites.map((site, index) => [site.address, index]));
  // Per call, the bytes and blocks each site gained or lost (an allocation and a release at most).
  const deltaSite = new Int32Array(calls * 2).fill(-1);
  const deltaBytes = new Float64Array(calls * 2);
  const live = new Map<number, { site: number; blockSize: number; requested: number }>();
  const eventOfCall = new Map<number, HeapEvent>();
  const phases: Phase[] = [];
  const requestSizes: number[] = [];
  let failedCall: number | null = null;
  let liveRequested = 0;
  let point = 0;
  const replay = new HeapReplay(setup, events);
  const heap = replay.heap;
  let peakUsed = heap.usedBytes;
  let peakCall = 0;
  while (!replay.done) {
    const event = replay.step();
    if (!event) break;
    if (event.op === 'mark') {
      const open = phases[phases.length - 1];
      if (open) open.toCall = event.call;
      phases.push({ label: event.label ?? '', fromCall: event.call, toCall: -1 });
      continue;
    }
    eventOfCall.set(event.call, event);
    const [argument0 = 0, argument1 = 0] = event.args;
    const site = siteOfCaller.get(event.caller) ?? 0;
    // free(p), and a realloc that moved or freed p (on failure the old block stays).
    const reallocReleases = event.op === 'realloc' && argument0 !== 0 && (event.result !== 0 || argument1 === 0);
    const releases = event.op === 'free' || reallocReleases ? argument0 : 0;
    if (releases !== 0) {
      const block = live.get(releases);
      if (block) {
        live.delete(releases);
        liveRequested -= block.requested;
        deltaSite[point * 2] = block.site;
        deltaBytes[point * 2] = -block.blockSize;
      }
    }
    if (event.op !== 'free') {
      const size = requestedBytes(event);
      requestSizes.push(size);
      if (event.result !== 0) {
        const blockSize = heap.usableSize(event.result) + 4;
        live.set(event.result, { site, blockSize, requested: size });
        liveRequested += size;
        deltaSite[point * 2 + 1] = site;
        deltaBytes[point * 2 + 1] = blockSize;
      } else if (failedCall === null && !(event.op === 'realloc' && argument1 === 0)) {
        failedCall = event.call;
      }
    }
    // TLSF keeps these in O(1) (counters and bitmaps); the other heaps (--allocator) only by a walk (stats).
    const figures = heap instanceof Tlsf ? null : heap.stats();
    const usedNow = figures ? figures.usedBytes : heap.usedBytes;
    const freeNow = figures ? figures.freeBytes : (heap as Tlsf).freeBytes;
    const largest = figures ? figures.largestFree : (heap as Tlsf).largestFreeBlock();
    call[point] = event.call;
    instructions[point] = event.instructions;
    used[point] = usedNow;
    requested[point] = liveRequested;
    free[point] = freeNow;
    largestFree[point] = largest;
    fragmentation[point] = freeNow === 0 ? 0 : 1 - largest / freeNow;
    if (usedNow > peakUsed) {
      peakUsed = usedNow;
      peakCall = event.call;
    }
    point++;
  }
  const points = point;
  const lastCall = points > 0 ? call[points - 1]! : 0;
  const open = phases[phases.length - 1];
  if (open) open.toCall = lastCall;
  const model: RunModel = {
    meta,
    events,
    setup,
    symbols,
    points,
    call: call.subarray(0, points),
    instructions: instructions.subarray(0, points),
    used: used.subarray(0, points),
    requested: requested.subarray(0, points),
    largestFree: largestFree.subarray(0, points),
    free: free.subarray(0, points),
    fragmentation: fragmentation.subarray(0, points),
    lastCall,
    peakCall,
    peakUsed,
    phases,
    failedCall,
    divergence: replay.divergence,
    eventOfCall,
    siteOfCaller,
    siteSeries: [],
    peakTable: [],
    requestSizes,
  };
  bySite(model, deltaSite, deltaBytes);
  return model;
}

/** Live bytes per site over time (top sites plus the rest) and the table of who holds the bytes at the peak. */
function bySite(model: RunModel, deltaSite: Int32Array, deltaBytes: Float64Array): void {
  const siteCount = model.meta.sites.length;
  const bytes = new Float64Array(siteCount);
  const blocks = new Float64Array(siteCount);
  const peakIndex = model.peakCall === 0 ? -1 : indexOfCall(model, model.peakCall);
  let peakBytes = new Float64Array(siteCount);
  let peakBlocks = new Float64Array(siteCount);
  const apply = (index: number): void => {
    for (const slot of [index * 2, index * 2 + 1]) {
      const site = deltaSite[slot]!;
      if (site < 0) continue;
      bytes[site]! += deltaBytes[slot]!;
      blocks[site]! += Math.sign(deltaBytes[slot]!);
    }
  };
  for (let index = 0; index <= peakIndex; index++) apply(index);
  peakBytes = bytes.slice();
  peakBlocks = blocks.slice();
  const ranked = [...peakBytes.keys()]
    .filter((site) => peakBytes[site]! > 0)
    .sort((a, b) => peakBytes[b]! - peakBytes[a]!);
  const top = ranked.slice(0, TOP_SITES);
  const total = model.peakUsed;
  model.peakTable = ranked.map((site) => ({
    name: siteName(model, site),
    site,
    blocks: peakBlocks[site]!,
    bytes: peakBytes[site]!,
    share: total === 0 ? 0 : peakBytes[site]! / total,
  }));
  // Series: every point's live bytes for the top sites and the rest, stacked (each value includes those below).
  bytes.fill(0);
  blocks.fill(0);
  const slotOf = new Int32Array(siteCount).fill(top.length);
  top.forEach((site, slot) => {
    slotOf[site] = slot;
  });
  const stacked = Array.from({ length: top.length + 1 }, () => new Float64Array(model.points));
  const bySlot = new Float64Array(top.length + 1);
  for (let index = 0; index < model.points; index++) {
    for (const slot of [index * 2, index * 2 + 1]) {
      const site = deltaSite[slot]!;
      if (site >= 0) bySlot[slotOf[site]!]! += deltaBytes[slot]!;
    }
    let sum = 0;
    for (let slot = 0; slot <= top.length; slot++) {
      sum += bySlot[slot]!;
      stacked[slot]![index] = sum;
    }
  }
  model.siteSeries = stacked.map((values, slot) => ({
    name: slot < top.length ? siteName(model, top[slot]!) : 'other sites',
    site: slot < top.length ? top[slot]! : null,
    colour: slot < top.length ? SITE_COLOURS[slot]! : OTHER_COLOUR,
    values,
  }));
}

/** The timeline point of a heap call (binary search over call numbers); -1 before the first. */
export function indexOfCall(model: Pick<RunModel, 'call' | 'points'>, callNumber: number): number {
  let low = 0;
  let high = model.points - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (model.call[middle]! <= callNumber) {
      found = middle;
      low = middle + 1;
    } else high = middle - 1;
  }
  return found;
}

/** The colour of a site in the map and charts: its top-site colour, else the colour of "other". */
export function siteColour(model: RunModel, site: number | undefined): string {
  return model.siteSeries.find((series) => series.site === site)?.colour ?? OTHER_COLOUR;
}

/** Where "jump to failure" goes: the first failed allocation, else where a failed run stopped or the replay diverged. */
export function failureCall(model: RunModel): number | null {
  if (model.failedCall !== null) return model.failedCall;
  if (model.divergence) return model.divergence.call;
  return model.meta.run.result === 'ok' ? null : model.lastCall;
}
