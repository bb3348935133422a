// What every heap of this project offers besides TLSF: the shapes of docs/design.md section 1 (the same block
// visits, stats and check result as the TLSF heap, so the board, map and the reports read any of them alike),
// and the exact per-call work counters the comparison of heaps is built on. Declared apart from tlsf.ts so the
// other heaps do not depend on the TLSF file, only on the contract.

import type { BlockInfo, CheckResult, PoolInfo, TlsfStats } from './types.js';

export type { BlockInfo, CheckResult, PoolInfo, TlsfStats as HeapStats };

/** The heaps that can serve the board: TLSF and the three classic schemes it is compared with. */
export const HEAP_KINDS = ['tlsf', 'first-fit', 'best-fit', 'half-fit'] as const;
export type HeapKind = (typeof HEAP_KINDS)[number];

/**
 * The work one heap call did, counted as it happened (exact, not estimated). Metadata only: the payload bytes
 * a realloc moves or a calloc zeroes are `bytesCopied`, apart, because they are the same job under any heap.
 */
export interface HeapCost {
  /** Free-list nodes examined while searching or while finding an insertion point. */
  nodesVisited: number;
  /** Bitmap words read to find a non-empty list. */
  bitmapWordsScanned: number;
  /** Blocks cut in two. */
  splits: number;
  /** Pairs of neighbouring free blocks joined. */
  merges: number;
  /** Metadata loads (a 16-bit field counts as one load: it is one instruction). */
  wordsRead: number;
  /** Metadata stores (likewise). */
  wordsWritten: number;
  /** Payload bytes copied by realloc when the block moved, and bytes zeroed by calloc. */
  bytesCopied: number;
}

export function zeroCost(): HeapCost {
  return {
    nodesVisited: 0,
    bitmapWordsScanned: 0,
    splits: 0,
    merges: 0,
    wordsRead: 0,
    wordsWritten: 0,
    bytesCopied: 0,
  };
}

/** A heap that counts its work: the cost of the most recent public call (malloc, free, realloc, ...). */
export interface HeapCostCounter {
  lastCallCost(): Readonly<HeapCost>;
}

export function countsCost(heap: object): heap is HeapCostCounter {
  return typeof (heap as Partial<HeapCostCounter>).lastCallCost === 'function';
}

/** The options every heap takes (TLSF takes more: slLog2, strict, maxPoolBytes). */
export interface HeapOptions {
  /** Target address of memory[0]; a multiple of 4. Default 0. */
  base?: number;
  /** First byte of memory to manage. Default 0. */
  offset?: number;
  /** Bytes to manage. Default: the rest of memory. */
  length?: number;
  /** Payload alignment. Default 8. */
  align?: 4 | 8 | 16;
}
