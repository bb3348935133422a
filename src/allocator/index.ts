/**
 * tlsf-sim allocator: a constant-time Two-Level Segregated Fit heap over an ArrayBuffer or
 * SharedArrayBuffer whose bytes stand for target memory at `base`. See tlsf.ts for the layout,
 * constants.ts for the class table and docs/allocator.md for the files.
 */
import { Tlsf } from './tlsf.js';
import type { TlsfMemory, TlsfOptions } from './types.js';

export { Tlsf } from './tlsf.js';
export type {
  BlockInfo,
  CheckResult,
  MetadataRange,
  PoolInfo,
  PoolOptions,
  TlsfMemory,
  TlsfOptions,
  TlsfStats,
} from './types.js';
export { inspectControl, nextFreeLink } from './inspect.js';
export type { ControlInspection } from './inspect.js';
export { TlsfError, hex } from './errors.js';
export type { TlsfErrorCode } from './errors.js';
export {
  BLOCK_HEADER_SIZE,
  MIN_BLOCK_SIZE,
  FREE_BIT,
  PREV_FREE_BIT,
  MAX_POOL_BYTES,
  TLSF_DEFAULTS,
  blockSizeFor,
  classRange,
  configProblem,
  mapBlockSize,
  mapRequest,
  searchSizeFor,
  tlsfGeometry,
  tlsfLayout,
} from './constants.js';
export type { RequestMapping, TlsfGeometry, TlsfLayout } from './constants.js';

/**
 * A TLSF heap managing `memory[offset .. offset + length)`, whose byte 0 is target address `base`.
 *
 * Cost: O(control structure): it is zeroed, one free block filed per piece of the region.
 * Fails: throws TlsfError `bad-option` for memory that is not an ArrayBuffer or SharedArrayBuffer (or is
 * detached), an align/slLog2/base/offset/length/maxPoolBytes out of range, or a region too small for the
 * control structure and one block.
 *
 *   const heap = createTlsf(new ArrayBuffer(64 * 1024), { base: 0x2000_0000 });   // align 8, slLog2 5
 */
export function createTlsf(memory: TlsfMemory, options: TlsfOptions = {}): Tlsf {
  return new Tlsf(memory, options ?? {}); // null from a JavaScript caller means no options, as undefined does
}

export { createCountingTlsf, type CountingTlsf } from './tlsf-counting.js';

// The heaps TLSF is compared with (docs/allocator.md, "Other heaps"): same contract, plus exact per-call work counts.
export { FirstFitHeap } from './first-fit.js';
export { BestFitHeap } from './best-fit.js';
export { HalfFitHeap, halfFitWorstCaseBytes } from './half-fit.js';
export { CountedHeap } from './heap-base.js';
export { HEAP_KINDS, countsCost, zeroCost } from './heap-contract.js';
export type { HeapCost, HeapCostCounter, HeapKind, HeapOptions } from './heap-contract.js';
