import type { ElfImage, FlashPatch } from '../board/index.js';
import { InputError } from './errors.js';
import type { Trace } from './trace.js';
import { formatBytes } from './units.js';

/** The built-in scenario that replays a trace (firmware-sim/scenarios.json). */
export const TRACE_PLAYER_SCENARIO = 'trace-player';

/** Flash symbols bounding the area the host fills with the encoded trace (firmware-sim/ld/common.ld). */
export const TRACE_AREA_START_SYMBOL = '__tlsf_trace_start';
export const TRACE_AREA_END_SYMBOL = '__tlsf_trace_end';

/** One entry of the player's table (trace-player.c slot_t): block address, requested size, pattern tag. */
export const TRACE_TABLE_ENTRY_BYTES = 12;
/** The table's start is aligned like the heap start (common.ld aligns __heap_start to 8). */
const TRACE_TABLE_ALIGN = 8;

export interface EncodedTrace {
  bytes: Uint8Array;
  flashPatches: FlashPatch[];
  /** Entries of the player's table: the most ids live at once (ids are renumbered into these slots). */
  slotCount: number;
}

const OP_ALLOC = 0;
const OP_FREE = 1;
const OP_REALLOC = 2;
const TRACE_MAGIC = 0x31435254; // "TRC1" little-endian
const HEADER_WORDS = 4;
const OP_WORDS = 2;

/**
 * The slot each operation uses. A trace id is only a name for one live block, and CS:APP traces never reuse
 * one, so a 12,000-id trace may hold a few hundred blocks at a time: renumbering ids into slots that are
 * reused once freed sizes the player's table by the most ids live at once, not by the id count. An id stays
 * in its slot from its first `a` (or `r`) to its `f`, as the parser counts it live.
 */
export function assignSlots(trace: Trace): { slots: Uint32Array; slotCount: number } {
  const slots = new Uint32Array(trace.ops.length);
  const slotOfId = new Map<number, number>();
  const freeSlots: number[] = [];
  let slotCount = 0;
  trace.ops.forEach((op, index) => {
    let slot = slotOfId.get(op.id);
    if (slot === undefined) {
      slot = freeSlots.pop() ?? slotCount++;
      slotOfId.set(op.id, slot);
    }
    slots[index] = slot;
    if (op.kind === 'free') {
      slotOfId.delete(op.id);
      freeSlots.push(slot);
    }
  });
  return { slots, slotCount };
}

/**
 * Encodes a parsed trace for the trace-player firmware (docs/design.md section 6): a header (magic, operation
 * count, slot count, table address) then two little-endian words per operation: (kind << 28 | slot) and size.
 * `tableAddress` is the RAM the host reserved outside the heap for the player's table; 0 lets the player use
 * its own static table, which only holds the built-in trace's ids.
 */
export function encodeTrace(trace: Trace, tableAddress = 0): EncodedTrace {
  const { slots, slotCount } = assignSlots(trace);
  const bytes = new Uint8Array((HEADER_WORDS + trace.ops.length * OP_WORDS) * 4);
  // DataView with explicit little-endian writes: the target is little-endian whatever the host is.
  const view = new DataView(bytes.buffer);
  let offset = 0;
  const put = (word: number): void => {
    view.setUint32(offset, word >>> 0, true);
    offset += 4;
  };
  put(TRACE_MAGIC);
  put(trace.ops.length);
  put(slotCount);
  put(tableAddress);
  trace.ops.forEach((op, index) => {
    const kind = op.kind === 'alloc' ? OP_ALLOC : op.kind === 'free' ? OP_FREE : OP_REALLOC;
    put((kind << 28) | slots[index]!);
    put(op.kind === 'free' ? 0 : op.size);
  });
  const flashPatches = [{ symbol: TRACE_AREA_START_SYMBOL, endSymbol: TRACE_AREA_END_SYMBOL, bytes }];
  return { bytes, slotCount, flashPatches };
}

export interface TraceRunLayout extends EncodedTrace {
  /** The heap the run gets: below the table. */
  heapSize: number;
  tableAddress: number;
  tableBytes: number;
}

/**
 * Where the player's table goes on a board: the top of the default heap range, just below the stack
 * (__heap_end), so the heap (from __heap_start) never includes it and the run's figures are the trace's own.
 * Without `heapSize` the heap is everything below the table; a given `heapSize` must leave room for it.
 */
export function layoutTraceRun(
  trace: Trace,
  image: ElfImage,
  elfName: string,
  heapSize: number | undefined,
): TraceRunLayout {
  const symbol = (name: string): number => {
    const found = image.symbolByName.get(name);
    if (!found) throw new Error(`${elfName}: the trace player has no symbol ${name}`);
    return found.value;
  };
  const heapStart = symbol('__heap_start');
  const heapEnd = symbol('__heap_end');
  const { slotCount } = assignSlots(trace);
  const tableBytes = Math.max(slotCount, 1) * TRACE_TABLE_ENTRY_BYTES;
  const tableAddress = Math.floor((heapEnd - tableBytes) / TRACE_TABLE_ALIGN) * TRACE_TABLE_ALIGN;
  const room = tableAddress - heapStart;
  const live = slotCount.toLocaleString('en-US');
  const table = `the trace player's table (${formatBytes(tableBytes)}: ${live} ids live at once)`;
  if (room <= 0) {
    const between = formatBytes(heapEnd - heapStart);
    throw new InputError(`${table} does not fit the ${between} between the image and the stack`);
  }
  if (heapSize !== undefined && heapSize > room) {
    throw new InputError(
      `--heap ${heapSize}: ${table} sits below the stack; the largest heap beside it is ${room} bytes`,
    );
  }
  return { ...encodeTrace(trace, tableAddress), heapSize: heapSize ?? room, tableAddress, tableBytes };
}
