// The part of the allocator contract (docs/design.md section 1) the board relies on: a structural subset of
// the allocator's Tlsf class (index.ts: tlsfHeap satisfies HeapFactory, without a cast, so tsc checks it).
// Declared here so the board can be driven by any allocator with this shape (the TLSF one in production, a
// stand-in in tests).

export interface HeapBlockVisit {
  addr: number;
  size: number;
  used: boolean;
}

export interface HeapStatsLike {
  usedBytes: number;
  freeBytes: number;
  largestFree: number;
  peakUsed: number;
  controlBytes: number;
  fragmentation: number;
}

export interface HeapAllocator {
  malloc(size: number): number;
  free(addr: number): void;
  realloc(addr: number, size: number): number;
  calloc(count: number, size: number): number;
  memalign(align: number, size: number): number;
  usableSize(addr: number): number;
  addPool(memory: ArrayBuffer, options: { base: number; offset?: number; length?: number }): unknown;
  check(): { ok: boolean; errors: string[] };
  walk(visit: (block: HeapBlockVisit) => void): void;
  stats(): HeapStatsLike;
  /** Bytes in used blocks, headers included, in O(1) (the TLSF allocator has it); else the board estimates. */
  readonly usedBytes?: number;
  /** Bytes in free blocks, headers included, in O(1); with largestFreeBlock() it spares a walk at each peak. */
  readonly freeBytes?: number;
  /** The largest free block, header included, from the bitmaps without walking the heap. */
  largestFreeBlock?(): number;
  /** The pools, for their end-of-pool sentinels (fault reports tell a sentinel from an overwritten header). */
  poolList?(): { sentinel: number }[];
}

export interface HeapFactoryOptions {
  base: number;
  offset: number;
  length: number;
  align: 4 | 8 | 16;
  slLog2?: number;
}

export type HeapFactory = (memory: ArrayBuffer, options: HeapFactoryOptions) => HeapAllocator;

/** The heap's stats, or null when a damaged heap makes the walk throw. */
export function statsOrNull(heap: HeapAllocator): HeapStatsLike | null {
  try {
    return heap.stats();
  } catch {
    return null;
  }
}
