/** The allocator's public shapes: options in, blocks, pools, statistics and check results out. */

export type TlsfMemory = ArrayBuffer | SharedArrayBuffer;

export interface TlsfOptions {
  /** Target address of memory[0]; must be a multiple of 4. Default 0. */
  base?: number;
  /** First byte of `memory` to manage. Default 0. */
  offset?: number;
  /** Bytes to manage. Default: the rest of `memory`. */
  length?: number;
  align?: 4 | 8 | 16;
  slLog2?: number;
  /** Validate every pointer against a walk of the heap (O(n); for debugging). */
  strict?: boolean;
  /**
   * Size the first level for blocks up to this many bytes instead of this pool's length: for a heap
   * that will grow with addPool (WebAssembly.Memory.grow, then rebind and addPool), whose later
   * pools would otherwise be cut into blocks no larger than this first one. Costs
   * 4 * (1 + 2^slLog2) bytes of control structure per power of two.
   */
  maxPoolBytes?: number;
}

export interface PoolOptions {
  base: number;
  offset?: number;
  length?: number;
}

export interface BlockInfo {
  /** Payload address (what malloc returned, for a used block). */
  addr: number;
  /** Payload bytes (usable size). */
  size: number;
  used: boolean;
  /** Header word address. */
  header: number;
  /** Whole block bytes, header included. */
  blockSize: number;
}

export interface PoolInfo {
  /** First managed address. */
  start: number;
  /** One past the last managed address. */
  end: number;
  /** Header address of the first block. */
  firstBlock: number;
  /** Header address of the end-of-pool sentinel. */
  sentinel: number;
}

/**
 * A type alias, not an interface, so that it is assignable to a record type with an index signature
 * (the board's HeapStatsLike) and a Tlsf meets the board's HeapAllocator without a cast.
 */
export type TlsfStats = {
  /** Bytes in used blocks, headers included. */
  usedBytes: number;
  /** Bytes in free blocks, headers included. */
  freeBytes: number;
  usedBlocks: number;
  freeBlocks: number;
  /** Bytes of the largest free block, header included (largest malloc that can fit: this - 4). */
  largestFree: number;
  /** Highest usedBytes seen since creation. */
  peakUsed: number;
  controlBytes: number;
  /** Bytes handed to the heap (all pools). */
  poolBytes: number;
  /** Bytes neither free nor payload: control structure, used headers, sentinels, edge padding. */
  overheadBytes: number;
  /** 1 - largestFree / freeBytes (0 when nothing is free). */
  fragmentation: number;
  pools: PoolInfo[];
};

export interface CheckResult {
  ok: boolean;
  errors: string[];
}

export interface MetadataRange {
  start: number;
  /** One past the last byte. */
  end: number;
  what: 'control' | 'header' | 'free-links' | 'back-link' | 'sentinel';
}
