// The data inside an HTML report page: the run's figures and setup as JSON, and its heap-call log as packed
// columns (gzip, then base64, in the page). The page replays the log on the allocator it bundles, so the log
// is all it needs to draw any moment of the run. Shared by the CLI (encode) and the page (decode): no Node or
// DOM APIs here.

import type { HeapEvent } from '../../board/index.js';

export const REPORT_DATA_FORMAT = 1;

export interface RamBankFacts {
  name: string;
  base: number;
  size: number;
  heap: boolean;
}

/** What the page needs besides the log: the run's report, the heap's shape and the names of call sites. */
export interface ReportMeta {
  format: typeof REPORT_DATA_FORMAT;
  target: string;
  board: { name: string; cpu?: string; clockHz?: number; ram: RamBankFacts[] };
  setup: { heapBase: number; heapSize: number; align: 4 | 8 | 16; slLog2: number; extraBanks: string[] };
  /** The `run --json` document (docs/report.schema.json), output and all. */
  run: Record<string, unknown>;
  /** Call sites: the logged caller (a return address, Thumb bit and all) and its symbol+offset, null without one. */
  sites: { address: number; symbol: string | null }[];
  eventCount: number;
  /** Mark labels, in log order (the packed log keeps only the marks' positions). */
  labels: string[];
  generator: string;
}

const OPS: HeapEvent['op'][] = ['malloc', 'free', 'realloc', 'calloc', 'memalign', 'mark'];
/** The board logs one argument for these (a size, a pointer, a label's address) and two for the rest. */
const ONE_ARGUMENT = new Set<HeapEvent['op']>(['malloc', 'free', 'mark']);

/** Column order of the packed log; each column is one little-endian array of `eventCount` values. */
interface Columns {
  op: Uint8Array;
  callDelta: Uint32Array;
  arg0: Uint32Array;
  arg1: Uint32Array;
  result: Uint32Array;
  instructionsDelta: Float64Array;
  site: Uint32Array;
}

/** The sites of a log: one per distinct caller address (a mark's too), in order of first use. */
export function sitesOf(events: HeapEvent[]): number[] {
  const seen = new Map<number, number>();
  for (const event of events) {
    if (!seen.has(event.caller)) seen.set(event.caller, seen.size);
  }
  return [...seen.keys()];
}

function layout(count: number): { offsets: Record<keyof Columns, number>; bytes: number } {
  // The 8-byte column first, so every column starts aligned for its typed array.
  const sizes: [keyof Columns, number][] = [
    ['instructionsDelta', 8],
    ['callDelta', 4],
    ['arg0', 4],
    ['arg1', 4],
    ['result', 4],
    ['site', 4],
    ['op', 1],
  ];
  const offsets = {} as Record<keyof Columns, number>;
  let at = 0;
  for (const [name, size] of sizes) {
    offsets[name] = at;
    at += size * count;
  }
  return { offsets, bytes: at };
}

function views(buffer: ArrayBuffer, count: number): Columns {
  const { offsets } = layout(count);
  return {
    op: new Uint8Array(buffer, offsets.op, count),
    callDelta: new Uint32Array(buffer, offsets.callDelta, count),
    arg0: new Uint32Array(buffer, offsets.arg0, count),
    arg1: new Uint32Array(buffer, offsets.arg1, count),
    result: new Uint32Array(buffer, offsets.result, count),
    instructionsDelta: new Float64Array(buffer, offsets.instructionsDelta, count),
    site: new Uint32Array(buffer, offsets.site, count),
  };
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Packs a log into columns. Call numbers and instruction counts are stored as differences from the previous
 * event (mostly small and repeated, which gzip shrinks well); mark labels go to `labels` in order.
 */
export function packEvents(events: HeapEvent[], siteAddresses: number[]): { bytes: Uint8Array; labels: string[] } {
  if (!littleEndian) throw new Error('the report encoding assumes a little-endian host');
  const count = events.length;
  const buffer = new ArrayBuffer(layout(count).bytes);
  const columns = views(buffer, count);
  const siteIndex = new Map(siteAddresses.map((address, index) => [address, index]));
  const labels: string[] = [];
  let call = 0;
  let instructions = 0;
  events.forEach((event, index) => {
    const op = OPS.indexOf(event.op);
    if (op < 0) throw new Error(`event ${index}: unknown heap operation ${String(event.op)}`);
    if (event.call < call) throw new Error(`event ${index}: call numbers go backwards (${event.call} after ${call})`);
    columns.op[index] = op;
    columns.callDelta[index] = event.call - call;
    columns.arg0[index] = event.args[0] ?? 0;
    columns.arg1[index] = event.args[1] ?? 0;
    columns.result[index] = event.result;
    columns.instructionsDelta[index] = event.instructions - instructions;
    columns.site[index] = siteIndex.get(event.caller) ?? 0;
    if (event.op === 'mark') labels.push(event.label ?? '');
    call = event.call;
    instructions = event.instructions;
  });
  return { bytes: new Uint8Array(buffer), labels };
}

/** The log back from its columns; `callers` maps a site index to the logged caller. */
export function unpackEvents(bytes: Uint8Array, count: number, labels: string[], callers: number[]): HeapEvent[] {
  const expected = layout(count).bytes;
  if (bytes.byteLength !== expected) {
    throw new Error(`the report's call log has ${bytes.byteLength} bytes, expected ${expected} for ${count} events`);
  }
  // A fresh, aligned copy: the decoded bytes may sit at any offset of a larger buffer.
  const columns = views(bytes.slice().buffer, count);
  const events: HeapEvent[] = new Array(count);
  let call = 0;
  let instructions = 0;
  let label = 0;
  for (let index = 0; index < count; index++) {
    call += columns.callDelta[index]!;
    instructions += columns.instructionsDelta[index]!;
    const op = OPS[columns.op[index]!];
    if (op === undefined) throw new Error(`event ${index}: unknown operation code ${columns.op[index]}`);
    const args = ONE_ARGUMENT.has(op) ? [columns.arg0[index]!] : [columns.arg0[index]!, columns.arg1[index]!];
    const caller = callers[columns.site[index]!] ?? 0;
    const event: HeapEvent = { call, op, args, result: columns.result[index]!, instructions, caller };
    if (op === 'mark') event.label = labels[label++] ?? '';
    events[index] = event;
  }
  return events;
}

/** Base64 without Node's Buffer, for the page (atob/btoa work on binary strings). */
export function base64FromBytes(bytes: Uint8Array): string {
  let text = '';
  const chunk = 0x8000;
  for (let at = 0; at < bytes.length; at += chunk) text += String.fromCharCode(...bytes.subarray(at, at + chunk));
  return btoa(text);
}

export function bytesFromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}
