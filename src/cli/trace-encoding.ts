import { InputError } from './errors.js';
import type { Trace } from './trace.js';

/** The built-in scenario that replays a trace (firmware-sim/scenarios.json). */
export const TRACE_PLAYER_SCENARIO = 'trace-player';

/** Flash symbols bounding the area the host fills with the encoded trace (firmware-sim/ld/common.ld). */
export const TRACE_AREA_START_SYMBOL = '__tlsf_trace_start';
export const TRACE_AREA_END_SYMBOL = '__tlsf_trace_end';

export interface FlashPatch { symbol: string; endSymbol?: string; bytes: Uint8Array }

export interface EncodedTrace {
  bytes: Uint8Array;
  params: Record<string, number>;
  flashPatches: FlashPatch[];
}

const OP_ALLOC = 0;
const OP_FREE = 1;
const OP_REALLOC = 2;
const TRACE_MAGIC = 0x31435254; // "TRC1" little-endian
const HEADER_WORDS = 4;
const OP_WORDS = 2;

/**
 * Encodes a parsed trace for the trace-player firmware: a header (magic, operation count, id count, reserved)
 * then two little-endian words per operation: (kind << 28 | id) and size.
 */
export function encodeTrace(trace: Trace): EncodedTrace {
  const words = new Uint32Array(HEADER_WORDS + trace.ops.length * OP_WORDS);
  words[0] = TRACE_MAGIC;
  words[1] = trace.ops.length;
  words[2] = trace.idCount;
  let index = HEADER_WORDS;
  for (const op of trace.ops) {
    if (op.id >= 1 << 28) throw new InputError(`trace line ${op.line}: id ${op.id} is too large for the trace player`);
    const kind = op.kind === 'alloc' ? OP_ALLOC : op.kind === 'free' ? OP_FREE : OP_REALLOC;
    words[index++] = ((kind << 28) | op.id) >>> 0;
    words[index++] = op.kind === 'free' ? 0 : op.size;
  }
  const bytes = new Uint8Array(words.buffer);
  return { bytes, params: {}, flashPatches: [{ symbol: TRACE_AREA_START_SYMBOL, endSymbol: TRACE_AREA_END_SYMBOL, bytes }] };
}
