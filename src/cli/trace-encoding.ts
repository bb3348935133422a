import type { FlashPatch } from '../board/index.js';
import { InputError } from './errors.js';
import type { Trace } from './trace.js';

/** The built-in scenario that replays a trace (firmware-sim/scenarios.json). */
export const TRACE_PLAYER_SCENARIO = 'trace-player';

/** Flash symbols bounding the area the host fills with the encoded trace (firmware-sim/ld/common.ld). */
export const TRACE_AREA_START_SYMBOL = '__tlsf_trace_start';
export const TRACE_AREA_END_SYMBOL = '__tlsf_trace_end';

export interface EncodedTrace {
  bytes: Uint8Array;
  flashPatches: FlashPatch[];
}

const OP_ALLOC = 0;
const OP_FREE = 1;
const OP_REALLOC = 2;
const TRACE_MAGIC = 0x31435254; // "TRC1" little-endian
const HEADER_WORDS = 4;
const OP_WORDS = 2;

/**
 * Encodes a parsed trace for the trace-player firmware (docs/design.md section 6): a header (magic, operation count, id count, reserved)
 * then two little-endian words per operation: (kind << 28 | id) and size.
 */
export function encodeTrace(trace: Trace): EncodedTrace {
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
  put(trace.idCount);
  put(0);
  for (const op of trace.ops) {
    if (op.id >= 1 << 28) throw new InputError(`trace line ${op.line}: id ${op.id} is too large for the trace player`);
    const kind = op.kind === 'alloc' ? OP_ALLOC : op.kind === 'free' ? OP_FREE : OP_REALLOC;
    put((kind << 28) | op.id);
    put(op.kind === 'free' ? 0 : op.size);
  }
  return { bytes, flashPatches: [{ symbol: TRACE_AREA_START_SYMBOL, endSymbol: TRACE_AREA_END_SYMBOL, bytes }] };
}
