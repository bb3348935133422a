/**
 * Two-Level Segregated Fit heap over memory it does not own: the Tlsf class, its hot paths and the
 * helpers V8 inlines into them.
 *
 * WHY ONE FILE OVER 600 LINES
 * malloc, free and realloc are fast only while V8 inlines their helpers (listOf, makeFreeFast,
 * unlinkFreeFast, the range checks) and reads the heap's fields at fixed offsets of one object
 * shape; TypeScript has no partial classes, so the class and those helpers stay together. The rest
 * of the class is what must write the same private fields in the same steps: the generic block
 * operations the multi-pool and memalign paths share with the flat ones (makeFree, unlinkFree,
 * takeFree), and addPool/rebind, which install pools into the bitmaps and pool table. What reads
 * the heap without changing it lives beside it: inspect.ts (the one bounded block walk, check,
 * stats, the control structure as data), multi-memory.ts (heaps over several buffers), region.ts
 * (regions, carving, pool records), types.ts (public shapes), constants.ts (the class table and
 * defaults), tlsf-counting.ts (the counting heap of the cost reports). Most of the length is the flat
 * paths (malloc, free with releaseMergingFast, realloc) writing steps out that, as calls past V8's
 * inlining budget, measured 4-25% slower (docs/allocator.md, Speed notes and Range checks: cost).
 *
 * WHY THIS SHAPE
 * The heap must behave like a C TLSF on a Cortex-M: everything it knows lives in the managed
 * memory itself (the emulated firmware can read it, corrupt it, and `check()` can find that),
 * and every stored pointer is a 32-bit little-endian target address. JavaScript keeps only the
 * pool table (which never changes after addPool) and statistics counters.
 *
 * MEMORY PICTURE (one pool; addresses grow to the right; every box is 4-byte words)
 *
 *   pool start
 *   | control structure (first pool only)                          | pad | blocks ...        | sentinel |
 *   | flBitmap | slBitmap[flCount] | heads[flCount][slCount]       |     |                   | size 0   |
 *
 *   used block                          free block
 *   +------------------------+          +------------------------+
 *   | size | F=0 | P          |  header  | size | F=1 | P=0        |  header  (P=0: two free blocks never touch)
 *   +------------------------+ <- ptr   +------------------------+
 *   | payload ...            |          | next free (address/0)  |
 *   |                        |          | prev free (address/0)  |
 *   |                        |          | ... unused ...         |
 *   |                        |          | start of this block    |  last word: read by the next block
 *   +------------------------+          +------------------------+  when its P flag says we are free
 *
 *   size  = whole block in bytes, header included, multiple of `align` (so the two low bits are flags)
 *   F     = bit 0, this block is free
 *   P     = bit 1, the physically previous block is free, and so its last word holds its start
 *   ptr   = header + 4, aligned to `align`; so every header sits at an address = align - 4 (mod align)
 *
 *   A used block costs one word. The back link lives in the *previous* block's last word only while
 *   that block is free, when its payload is not anybody's, as in the classic design.
 *   Each pool ends in a zero-size block that is never free, so coalescing stops there without a
 *   bounds check, and the last real block's P flag has somewhere to live.
 *
 * FREE LISTS
 *   heads[fl][sl] holds the header address of the first free block of class (fl, sl), or 0.
 *   The lists are doubly linked through the free blocks, so any block can leave its list in O(1)
 *   when a neighbour is freed. See constants.ts for the class table.
 *   A head's "prev free" word is 0, so a block leaving its list knows from its own links whether it
 *   heads the list, and only then needs its class (and the bitmaps).
 *
 * ONE IMPLEMENTATION, TWO WAYS TO REACH A WORD
 *   Every step (search, take a list head, split, merge, file, unlink) is written once, as a small
 *   helper over word indices that reads block words through word/setWord and the control
 *   structure (always in the first pool) straight from fastWords. A single-memory heap's
 *   word/setWord index its one Int32Array; once addPool brings a second buffer (or base), the object
 *   switches to MultiMemoryTlsf (multi-memory.ts), whose word/setWord pick the pool. realloc, memalign, calloc and
 *   addPool run the helpers on both kinds of heap.
 *
 * HOT PATHS
 *   The exception, for speed: on a single-memory heap, malloc, free and realloc are written out flat
 *   over fastWords (the steps of takeFree + useBlock, and of liveBlock + release), calling only small
 *   fastWords helpers that V8 inlines (searchListOf, listOf, makeFreeFast, unlinkFreeFast). V8
 *   stops inlining past a bytecode budget, and as calls to the accessor helpers these were clearly
 *   slower (docs/allocator.md, Speed notes, has the figures). So taking a list head appears written
 *   out in malloc, next to its helpers (takeHead, setHead), and must change with them; the model
 *   tests run both (one-buffer and two-buffer heaps) against the same reference model. free keeps
 *   only the common case (no free neighbour) and calls releaseMergingFast, flat and never inlined,
 *   for merges: free stays small enough for V8 to inline into its callers. A failed range check on
 *   these paths hands the step to the generic code (mallocGeneric, unlinkFree, makeFree), which
 *   checks through the pool table and names the damage; nothing is written before that.
 *   The fast helpers update lists without branches; see BRANCH-FREE LIST UPDATES below.
 *
 * COST BOUND
 *   malloc: map (one clz), at most two masked bitmap reads and two bit scans, unlink a list head,
 *           maybe split (file the remainder: one map, three link writes, two bitmap writes);
 *           at most about 12 word reads and 12 word writes.
 *   free:   validate (bounds, alignment, flags), unlink up to two neighbours, file one block;
 *           at most about 14 reads and 14 writes.
 *   realloc: one of shrink / grow forward (each at most two unlinks and one file) / malloc + copy +
 *           free / after a failed malloc, grow backward; the copy is the only part that grows with the block.
 *   memalign: one search for size + alignment + 16, then two files (gap and tail).
 *   No loop over blocks anywhere on these paths: the worst case is a fixed number of memory words,
 *   whatever the heap's contents. Every link and size read from a block is range-checked first
 *   (RANGE CHECKS): a few integer operations and one branch per step that a sound heap never takes;
 *   only a link into a pool other than the first looks through the (short) pool table.
 *   The price is the good-fit rule: a request is rounded up to the next class boundary before the
 *   search, so up to 1/2^slLog2 of a block can be left unused inside it
 *   (the split returns the rest), and a free block that would fit but sits in the request's own
 *   class is seen only when it heads that list (the fallback, tried only before failing).
 *   Memory: a used block costs its 4-byte header plus rounding to `align`; the control structure
 *   costs 4 * (1 + flCount * (1 + slCount)) bytes once, a pool record 16 bytes per region. Like any
 *   allocator that never moves blocks, TLSF can be fragmented by an adversarial sequence; the worst case for the whole class is
 *   Robson's bound (as o1heap states it: a heap of about M * (1 + log2(n) / 2) for M live bytes and
 *   blocks up to n times the smallest), which `tlsf-sim min-heap` reports beside measured needs.
 */
import {
  BLOCK_HEADER_SIZE as HEADER_SIZE_CONSTANT,
  FREE_BIT as FREE_BIT_CONSTANT,
  MAX_POOL_BYTES,
  MIN_BLOCK_SIZE as MIN_BLOCK_SIZE_CONSTANT,
  PREV_FREE_BIT as PREV_FREE_BIT_CONSTANT,
  TLSF_DEFAULTS,
  configProblem,
  isPowerOfTwo,
  tlsfLayout,
  type TlsfLayout,
} from './constants.js';
import { TlsfError, hex, quote } from './errors.js';
import {
  checkHeap,
  findBlockIn,
  heapStats,
  largestFreeBlock,
  metadataRangesOf,
  poolList,
  walkHeap,
  walkPool,
  type HeapView,
  type NearestBlock,
  type PoolView,
} from './inspect.js';
import { multiMemoryClass } from './multi-memory.js';
import {
  alignUp,
  assertBuffer,
  carve,
  checkInteger,
  poolRecordAddress,
  poolRecordProblem,
  resolveRegion,
  writePoolRecord,
} from './region.js';
import type {
  BlockInfo,
  CheckResult,
  MetadataRange,
  PoolInfo,
  PoolOptions,
  TlsfMemory,
  TlsfOptions,
  TlsfStats,
} from './types.js';

// Imported bindings are live module cells that V8 re-reads and hole-checks on every use, and even a
// module's own consts cost a context load and a hole check in bytecode; these compile to literals
// (a const enum), which keeps the hot paths' bytecode small enough for V8 to inline (Speed notes in
// docs/allocator.md). Checked against constants.ts once at load.
const enum Block {
  HeaderSize = 4,
  MinSize = 16,
  FreeBit = 1,
  PrevFreeBit = 2,
  SizeMask = ~3,
}
if (
  Block.HeaderSize !== HEADER_SIZE_CONSTANT ||
  Block.MinSize !== MIN_BLOCK_SIZE_CONSTANT ||
  Block.FreeBit !== FREE_BIT_CONSTANT ||
  Block.PrevFreeBit !== PREV_FREE_BIT_CONSTANT
) {
  throw new Error('tlsf.ts block constants disagree with constants.ts');
}

interface Pool extends PoolView {
  bytes: Uint8Array;
}

export class Tlsf {
  declare readonly align: number;
  declare readonly slLog2: number;
  declare readonly strict: boolean;
  declare readonly layout: TlsfLayout;
  /** Target address of the control structure. */
  declare readonly controlAddress: number;

  // Fields are `declare`d and assigned only in the constructor: a class field initialised to
  // undefined first would make V8 store every number as a generic tagged value and check it on
  // each read. Hot-path copies of layout numbers keep reads to one load each.
  declare private readonly alignMask: number;
  declare private readonly alignLog2: number;
  declare private readonly slCount: number;
  declare private readonly slMask: number;
  declare private readonly flCount: number;
  declare private readonly flIndexShift: number;
  declare private readonly smallBlockSize: number;
  declare private readonly maxRequest: number;

  // The first pool is read and written directly; other pools go through the pool table.
  // Not readonly: rebind() replaces them when the buffer behind the first pool is replaced.
  declare protected fastWords: Int32Array;
  declare protected fastBytes: Uint8Array;
  declare protected readonly fastBase: number;
  declare protected readonly fastStart: number;
  declare protected readonly fastLength: number;
  declare protected readonly fastFirstBlock: number;
  /** alignMask, or -1 in strict mode: `ptr & fastPointerMask` is then never 0, so every pointer takes the slow path. */
  declare private readonly fastPointerMask: number;
  /** fastFirstBlock as a signed 32-bit value, so that `(link - fastFirstBlockInt) | 0` is the link's offset. */
  declare private readonly fastFirstBlockInt: number;
  /** fastFirstBlock - fastBase: turns a word index into an offset from the first block. */
  declare private readonly fastFirstBlockFromBase: number;
  /**
   * Highest offset from fastFirstBlock at which a free block (16 bytes at least) fits before the first
   * pool's sentinel. Every link and size read from heap memory is held against it (RANGE CHECKS).
   */
  declare private readonly fastLinkLimit: number;
  /** Valid bits of flBitmap and of an slBitmap word: a corrupt bitmap cannot send a read past the control structure. */
  declare private readonly flValidBits: number;
  declare private readonly slValidBits: number;
  /** The first pool's words: indices fastStartWord .. fastStartWord + fastWordSpan - 1 of fastWords. */
  declare protected readonly fastStartWord: number;
  declare protected readonly fastWordSpan: number;
  /** Word indices (into fastWords) of flBitmap, slBitmap[0] and heads[0][0]. */
  declare private readonly flWord: number;
  declare private readonly slWord: number;
  declare private readonly headWord: number;

  declare protected readonly pools: Pool[];
  declare private usedBytesNow: number;
  /** Bytes between every pool's first block and its sentinel: all blocks, used or free. */
  declare private blockAreaBytes: number;
  declare private peakUsedBytes: number;

  constructor(memory: TlsfMemory, options: TlsfOptions = {}) {
    const align = options.align ?? TLSF_DEFAULTS.align;
    const slLog2 = options.slLog2 ?? TLSF_DEFAULTS.slLog2;
    const problem = configProblem(align, slLog2);
    if (problem !== undefined) throw new TlsfError('bad-option', problem);
    const region = resolveRegion(memory, options.base ?? TLSF_DEFAULTS.base, options.offset, options.length);
    this.pools = [];
    this.usedBytesNow = 0;
    this.blockAreaBytes = 0;
    this.peakUsedBytes = 0;
    this.align = align;
    this.slLog2 = slLog2;
    this.strict = options.strict ?? false;
    if (options.maxPoolBytes !== undefined) checkInteger('maxPoolBytes', options.maxPoolBytes, 1, MAX_POOL_BYTES);
    this.layout = tlsfLayout({ align, slLog2 }, Math.max(region.length, options.maxPoolBytes ?? 0));
    this.alignMask = align - 1;
    this.alignLog2 = this.layout.alignLog2;
    this.slCount = this.layout.slCount;
    this.slMask = this.layout.slCount - 1;
    this.flCount = this.layout.flCount;
    this.flIndexShift = this.layout.flIndexShift;
    this.smallBlockSize = this.layout.smallBlockSize;
    // `| 0` stores an integer (a small integer field in V8, not a boxed double), read in every malloc.
    this.maxRequest = (this.layout.maxBlockSize - Block.HeaderSize) | 0;

    const start = region.base + region.offset;
    const end = start + region.length;
    this.controlAddress = Math.ceil(start / 4) * 4;
    const controlEnd = this.controlAddress + this.layout.controlBytes;
    const words = new Int32Array(memory, 0, memory.byteLength >>> 2);
    this.fastWords = words;
    this.fastBytes = new Uint8Array(memory, 0, memory.byteLength);
    // Stored as int32 (`| 0`), which V8 keeps as a small integer: a base that reached here as a boxed number
    // (536870912.0 from a float computation, say) would make these fields doubles, a second shape for the
    // class, and every hot path would deoptimise and come back checking both. Every use is modulo 2^32.
    this.fastBase = region.base | 0;
    this.fastStart = start | 0;
    this.fastLength = region.length;
    this.fastStartWord = Math.ceil(region.offset / 4);
    this.fastWordSpan = Math.floor((region.offset + region.length) / 4) - this.fastStartWord;
    this.flWord = (this.controlAddress - region.base) >>> 2;
    this.slWord = this.flWord + 1;
    this.headWord = this.slWord + this.flCount;

    const pieces = carve(controlEnd, poolRecordAddress(end), this.align, this.layout.maxBlockSize);
    if (pieces.length === 0) {
      throw new TlsfError(
        'bad-option',
        `${region.length} bytes at ${hex(start)} cannot hold the ${this.layout.controlBytes}-byte control structure and one block`,
      );
    }
    for (let i = 0; i < this.layout.controlBytes / 4; i++) words[this.flWord + i] = 0;
    const first = pieces[0]!;
    this.fastFirstBlock = first.firstBlock;
    this.fastPointerMask = this.strict ? -1 : this.alignMask;
    this.fastFirstBlockInt = first.firstBlock | 0;
    this.fastFirstBlockFromBase = (first.firstBlock - region.base) | 0;
    this.fastLinkLimit = first.sentinel - first.firstBlock - Block.MinSize;
    this.flValidBits = this.flCount >= 32 ? -1 : (1 << this.flCount) - 1;
    this.slValidBits = this.slCount >= 32 ? -1 : (1 << this.slCount) - 1;
    for (const piece of pieces)
      this.installPool(memory, region.base, words, piece.firstBlock, piece.sentinel, start, end);
    writePoolRecord(words, region.base, start, end, this.poolConfigWord());
  }

  // ---------------------------------------------------------------- memory access

  // Every word of heap memory is reached by its word index, (address - base) >> 2. The `>> 2` of the
  // difference reduces it mod 2^32 first, so signed addresses (read back from the Int32Array) and
  // unsigned ones (from the API) index the same word, and any 32-bit address has an index.
  // A single-memory heap (the common case) indexes its one Int32Array directly: `word` and `setWord`
  // are small enough that V8 always inlines them, so the hot paths cost one array access per word.
  // Once addPool brings a second memory or base, the object switches to MultiMemoryTlsf, whose
  // versions pick the pool; the allocator's logic is the same code for both.
  protected word(index: number): number {
    return this.fastWords[index]!;
  }

  protected setWord(index: number, value: number): void {
    this.fastWords[index] = value;
  }

  protected load(addr: number): number {
    return this.word((addr - this.fastBase) >> 2);
  }

  protected store(addr: number, value: number): void {
    this.setWord((addr - this.fastBase) >> 2, value);
  }
  protected loadOther(addr: number): number {
    const pool = this.poolHolding(addr);
    return pool.words[(addr - pool.memoryBase) >> 2]!;
  }

  protected storeOther(addr: number, value: number): void {
    const pool = this.poolHolding(addr);
    pool.words[(addr - pool.memoryBase) >> 2] = value;
  }

  private poolHolding(addr: number): Pool {
    const pool = this.poolAt(addr);
    if (pool === undefined)
      throw new TlsfError('corrupt', `heap metadata leads to ${hex(addr)}, outside every pool`, addr);
    return pool;
  }

  /** The pool whose managed bytes contain addr. Pools are few; this loop is over pools, not blocks. */
  protected poolAt(address: number): Pool | undefined {
    const addr = address >>> 0;
    const pools = this.pools;
    for (let i = 0; i < pools.length; i++) {
      const pool = pools[i]!;
      if (addr >= pool.start && addr < pool.end) return pool;
    }
    return undefined;
  }

  /** The pool whose block area (first block .. sentinel) contains header address `header`. */
  private poolOfHeader(address: number): Pool | undefined {
    const header = address >>> 0;
    const pools = this.pools;
    for (let i = 0; i < pools.length; i++) {
      const pool = pools[i]!;
      if (header >= pool.firstBlock && header < pool.sentinel) return pool;
    }
    return undefined;
  }

  /*
   * RANGE CHECKS
   * Free blocks' links and sizes live in memory the firmware can write (a use after free), so every
   * address or size the allocator reads from a block is held against the pool before it is followed.
   * The test is against the first pool: a link's offset from its first block, taken mod 2^32,
   * `(link - fastFirstBlockInt) >>> 0`, must be at most fastLinkLimit: one subtraction and one
   * unsigned compare, which V8 compiles to a single cmp and branch when both sides are `>>> 0` values
   * (an address below the pool, or 0, wraps to a huge offset). A link that may be 0 ("no block") is
   * masked first, `& ((link | -link) >> 31)`, so that 0 tests as offset 0. Sizes are held the same
   * way, in an order that keeps every sum exact (a size is tested before the block's end is computed
   * from it). The flat paths test the terms of a step one after another with `||`: branches a sound
   * heap never takes cost less than the sign arithmetic that once folded them into one test.
   * Only a step that fails looks in the pool table (pools are few: that loop is over pools, never
   * over blocks), and only a link found in no pool throws TlsfError('corrupt'), naming the block it
   * was read from. Nothing is written before the checks of a step pass.
   */

  /** Throws unless `link`, read from the block at word `ownerIndex`, is 0 or the header of a block in a pool. */
  private checkLink(link: number, ownerIndex: number, role: string): void {
    const offset = (link - this.fastFirstBlockInt) | 0;
    if (((offset | (this.fastLinkLimit - offset)) & ((link | (0 - link)) >> 31)) < 0) {
      this.checkLinkSlow(link, ownerIndex, role);
    }
  }

  private checkLinkSlow(link: number, ownerIndex: number, role: string): void {
    const pool = this.poolOfHeader(link);
    if (pool !== undefined && (link >>> 0) + Block.MinSize <= pool.sentinel) return;
    throw this.corruptBlock(ownerIndex, `its ${role} ${hex(link)} is outside every pool's blocks`);
  }

  /** Throws unless a free block of `size` bytes at word `index` lies wholly inside one pool's block area. */
  private checkFreeBlock(index: number, size: number): void {
    const offset = ((index << 2) - this.fastFirstBlockFromBase) >>> 0;
    if (offset > this.fastLinkLimit || (size - Block.MinSize) >>> 0 > this.fastLinkLimit - offset) {
      this.checkFreeBlockSlow(index, size);
    }
  }

  private checkFreeBlockSlow(index: number, size: number): void {
    const block = this.addressOf(index);
    const pool = this.poolOfHeader(block);
    if (pool !== undefined && size >= Block.MinSize && block + size <= pool.sentinel) return;
    throw this.corruptBlock(
      index,
      pool === undefined
        ? "it is outside every pool's blocks"
        : `its size ${size} runs past its pool's end ${hex(pool.sentinel)}`,
    );
  }

  /**
   * Throws unless the block at `block`, taken from a free list for `blockSize` bytes, is a free block
   * of at least that size lying wholly inside its pool.
   */
  private checkTaken(block: number, blockSize: number): void {
    const address = block >>> 0;
    let sentinel = this.fastFirstBlock + this.fastLinkLimit + Block.MinSize;
    if ((block - this.fastFirstBlock) >>> 0 > this.fastLinkLimit) {
      const pool = this.poolOfHeader(address);
      if (pool === undefined) {
        throw this.corruptBlock(this.indexOf(block), "it is on a free list but outside every pool's blocks");
      }
      sentinel = pool.sentinel;
    }
    const header = this.load(address);
    const size = header & Block.SizeMask;
    if ((header & Block.FreeBit) === 0 || size < blockSize || address + size > sentinel) {
      throw this.corruptBlock(
        this.indexOf(block),
        `it is on a free list, but its header ${hex(header)} is not a free block of ${blockSize} bytes or more inside its pool`,
      );
    }
  }

  /**
   * The free block before the block at word `index`, from the back link in the word before its header
   * (the P flag says it is there): checked to be a free block (16 bytes at least) of the same pool
   * ending exactly here.
   */
  private previousFree(index: number): number {
    const block = this.addressOf(index);
    const pool = this.poolOfHeader(block);
    if (pool === undefined || block === pool.firstBlock) {
      throw this.corruptBlock(index, 'its header says the block before it is free, but none is');
    }
    const prev = this.word(index - 1) >>> 0;
    if (
      prev < pool.firstBlock ||
      prev + Block.MinSize > block ||
      (this.load(prev) & ~Block.PrevFreeBit) !== block - prev + Block.FreeBit
    ) {
      throw this.corruptBlock(
        index,
        `its header says the block before it is free, but the back link before it, ${hex(prev)}, is not a free block ending there`,
      );
    }
    return prev;
  }

  /**
   * previousFree for a block of the first pool at byte `offset` from its first block, over fastWords:
   * what it returns is a free block wholly inside the first pool, so only its links need checks.
   */
  private previousFreeFast(index: number, offset: number): number {
    const words = this.fastWords;
    const prev = words[index - 1]!;
    const prevOffset = (prev - this.fastFirstBlockInt) | 0;
    if (
      prevOffset >>> 0 >= offset >>> 0 ||
      offset - prevOffset < Block.MinSize ||
      prevOffset + (words[(prev - this.fastBase) >> 2]! & ~Block.PrevFreeBit) !== offset + Block.FreeBit
    ) {
      this.previousFree(index); // throws, naming the block
    }
    return prev;
  }

  private corruptBlock(index: number, what: string): TlsfError {
    this.assertAttached();
    const block = this.addressOf(index);
    const message = `heap corrupt at block ${hex(block)}: ${what} (a write after free, or past the end of a block?)`;
    return new TlsfError('corrupt', message, block);
  }

  protected addressOf(index: number): number {
    return (this.fastBase + index * 4) >>> 0;
  }

  protected indexOf(address: number): number {
    return (address - this.fastBase) >> 2;
  }

  // ---------------------------------------------------------------- pools

  private installPool(
    memory: TlsfMemory,
    memoryBase: number,
    words: Int32Array,
    firstBlock: number,
    sentinel: number,
    start: number,
    end: number,
  ): void {
    const pool: Pool = {
      start,
      end,
      firstBlock,
      sentinel,
      memoryBase,
      words,
      record: poolRecordAddress(end),
      bytes: new Uint8Array(memory, 0, memory.byteLength),
    };
    this.pools.push(pool);
    const size = sentinel - firstBlock;
    this.blockAreaBytes += size;
    this.store(sentinel, Block.PrevFreeBit);
    this.makeFree((firstBlock - this.fastBase) >> 2, firstBlock, size);
  }

  /**
   * Adds a separate region (another RAM bank, possibly another buffer) to the heap, cut into pieces no
   * larger than the largest block the index files; returns the pieces.
   *
   * Cost: O(pools) checks, then one block filed per piece.
   * Fails: throws TlsfError `bad-option` for a bad buffer, base, offset or length or a region too small
   * for one block, `overlap` when its addresses or its bytes are already another pool's, `detached`.
   *
   *   heap.addPool(new ArrayBuffer(0x10000), { base: 0x1000_0000 });   // an STM32F4's CCM beside SRAM
   */
  addPool(memory: TlsfMemory, options: PoolOptions): PoolInfo[] {
    if (options === undefined || options.base === undefined) {
      throw new TlsfError('bad-option', 'addPool needs { base }: the target address of memory[0]');
    }
    this.assertAttached(); // rebind first, or the new pool would go to a heap it cannot see
    const region = resolveRegion(memory, options.base, options.offset, options.length);
    const start = region.base + region.offset;
    const end = start + region.length;
    for (const pool of this.pools) {
      if (start < pool.end && pool.start < end) {
        throw new TlsfError(
          'overlap',
          `pool ${hex(start)}..${hex(end)} overlaps the pool at ${hex(pool.start)}..${hex(pool.end)}`,
          start,
        );
      }
      // The same bytes under another base would be two pools writing one memory: each would overwrite
      // the other's headers and links, and neither's range checks could tell.
      const poolFrom = pool.start - pool.memoryBase;
      if (pool.bytes.buffer === memory && region.offset < pool.end - pool.memoryBase && poolFrom < end - region.base) {
        throw new TlsfError(
          'overlap',
          `pool ${hex(start)}..${hex(end)} is bytes ${region.offset}..${end - region.base} of a buffer whose bytes ` +
            `${poolFrom}..${pool.end - pool.memoryBase} are already the pool at ${hex(pool.start)}`,
          start,
        );
      }
    }
    const pieces = carve(start, poolRecordAddress(end), this.align, this.layout.maxBlockSize);
    if (pieces.length === 0) {
      throw new TlsfError(
        'bad-option',
        `pool at ${hex(start)} of ${region.length} bytes is too small for one block`,
        start,
      );
    }
    const sameMemory = memory === this.fastWords.buffer && (region.base | 0) === this.fastBase;
    const words =
      memory === this.fastWords.buffer ? this.fastWords : new Int32Array(memory, 0, memory.byteLength >>> 2);
    // One-way switch to checked word access; a single-memory heap never pays for it.
    if (!sameMemory && !(this instanceof multiMemory())) Object.setPrototypeOf(this, multiMemory().prototype);
    const added: PoolInfo[] = [];
    for (const piece of pieces) {
      this.installPool(memory, region.base, words, piece.firstBlock, piece.sentinel, start, end);
      added.push({ start, end, firstBlock: piece.firstBlock, sentinel: piece.sentinel });
    }
    writePoolRecord(words, region.base, start, end, this.poolConfigWord());
    return added;
  }

  /**
   * Points the heap at a buffer that replaced a detached one. WebAssembly.Memory.grow() (and
   * transferring an ArrayBuffer) detaches the old buffer; the bytes, and so the whole heap, live on
   * in the new one at the same offsets, and the heap only has to look there. Pools whose buffer is
   * still attached are left alone. The grown part can then be handed over with addPool:
   *
   *   const oldBytes = memory.buffer.byteLength;
   *   memory.grow(pages);
   *   heap.rebind(memory.buffer);
   *   heap.addPool(memory.buffer, { base, offset: oldBytes });
   */
  rebind(memory: TlsfMemory): void {
    assertBuffer(memory);
    const detached = this.pools.filter((pool) => pool.words.length === 0);
    if (detached.length === 0) {
      throw new TlsfError('bad-option', "rebind: no pool's buffer is detached; nothing to rebind");
    }
    const oldViews = new Set(detached.map((pool) => pool.words));
    if (oldViews.size > 1) {
      throw new TlsfError(
        'bad-option',
        `rebind: pools in ${oldViews.size} different buffers are detached; one buffer can replace only one of them`,
      );
    }
    const needed = Math.max(...detached.map((pool) => pool.end - pool.memoryBase)); // bytes the buffer must hold
    if (memory.byteLength < needed) {
      throw new TlsfError(
        'bad-option',
        `rebind: the new buffer has ${memory.byteLength} bytes; the pools it replaces reach byte ${needed}`,
      );
    }
    const words = new Int32Array(memory, 0, memory.byteLength >>> 2);
    const bytes = new Uint8Array(memory, 0, memory.byteLength);
    // Verify before binding anything: a refused buffer leaves the heap as it was, and a later call
    // with the right buffer still works.
    const refuse = (problem: string, address: number): never => {
      throw new TlsfError('bad-option', `rebind: the new buffer does not hold this heap: ${problem}`, address);
    };
    for (const pool of detached) {
      const problem = this.poolRecordProblem(pool, words);
      if (problem !== undefined) refuse(problem, pool.start);
    }
    if (detached.includes(this.pools[0]!)) {
      const problem = this.bitmapProblem(words);
      if (problem !== undefined) refuse(problem, this.controlAddress);
    }
    for (const pool of detached) {
      pool.words = words;
      pool.bytes = bytes;
    }
    if (this.fastWords.length === 0) {
      this.fastWords = words;
      this.fastBytes = bytes;
    }
  }

  /** align | slLog2 << 8 | flCount << 16: the configuration word of every pool record (region.ts). */
  private poolConfigWord(): number {
    return this.align | (this.slLog2 << 8) | (this.flCount << 16);
  }

  private poolRecordProblem(pool: PoolView, words: Int32Array): string | undefined {
    return poolRecordProblem(pool, words, this.poolConfigWord());
  }

  /** Whether the bitmaps in `words` fit this heap's geometry: at most 1 + flCount reads, no list is followed. */
  private bitmapProblem(words: Int32Array): string | undefined {
    const levelBits = words[this.flWord]!;
    if ((levelBits & ~this.flValidBits) !== 0)
      return `flBitmap ${hex(levelBits)} has bits above row ${this.flCount - 1}`;
    for (let fl = 0; fl < this.flCount; fl++) {
      const rowBits = words[this.slWord + fl]!;
      if ((rowBits & ~this.slValidBits) !== 0 || ((levelBits >>> fl) & 1) !== (rowBits !== 0 ? 1 : 0)) {
        return `flBitmap ${hex(levelBits)} and slBitmap[${fl}] ${hex(rowBits)} disagree`;
      }
    }
    return undefined;
  }

  /**
   * Fails clearly when a pool's buffer has been detached since: every access would read nothing,
   * and malloc would report "no memory" for a heap that is merely out of sight. Called only on
   * paths that are about to fail or report, never on the hot paths.
   */
  private assertAttached(): void {
    for (const pool of this.pools) {
      if (pool.words.length === 0) {
        throw new TlsfError(
          'detached',
          `the buffer behind the pool at ${hex(pool.start)} was detached (WebAssembly.Memory.grow() or a transfer replaces it); call rebind(newBuffer) with its replacement`,
          pool.start,
        );
      }
    }
  }

  // ---------------------------------------------------------------- classes and free lists
  //
  // Small helpers over word indices, which V8 inlines into realloc, memalign and the multi-memory
  // malloc and free (realloc through them is as fast as hand-inlined copies were; the
  // single-memory malloc and free are written out flat, see HOT PATHS at the top). The control
  // structure is always in the first pool, so it is read straight from fastWords; block words go
  // through word/setWord. None of them loops: each is a fixed handful of words.

  /**
   * The heap's one size-to-class mapping (constants.ts mapBlockSize states the same rule for callers
   * outside): the list a free block of `size` bytes is filed under, as the list number
   * fl * slCount + sl, which is also its head's offset in heads[]. One bit scan and no branch:
   * OR-ing in smallBlockSize makes every size below it scan as power flIndexShift, and there the
   * same formula yields row 0's linear classes, size >> alignLog2:
   *
   *   power = log2(size | smallBlockSize)                  (= flIndexShift for small sizes)
   *   list  = (power - flIndexShift) * slCount + (size >> (power - slLog2))
   *
   *   For power > flIndexShift the second term is slCount + sl (the size's top slLog2 + 1 bits),
   *   so list = (power - flIndexShift + 1) * slCount + sl: row fl = power - flIndexShift + 1.
   *   Branches on the size class mispredict often on mixed sizes, which costs more than the OR.
   */
  private listOf(size: number): number {
    const power = 31 - Math.clz32(size | this.smallBlockSize);
    return ((power - this.flIndexShift) << this.slLog2) + (size >> (power - this.slLog2));
  }

  /**
   * The first list whose every block fits `blockSize` (good fit): the size rounded up to the next
   * class boundary. Below smallBlockSize classes are exactly `align` wide, so the class is the
   * size's own. This one branch stays: it leads to malloc's first bitmap read, and a branch-free
   * form lengthened that chain enough to cost more than the mispredictions it saved ('small' trace).
   */
  private searchListOf(blockSize: number): number {
    if (blockSize < this.smallBlockSize) return blockSize >> this.alignLog2;
    return this.listOf(blockSize + (1 << (31 - Math.clz32(blockSize) - this.slLog2)) - 1);
  }

  /** Block size for a request: payload + header word, rounded to the alignment, at least the minimum. */
  private blockSizeFor(size: number): number {
    const blockSize = (size + Block.HeaderSize + this.alignMask) & ~this.alignMask;
    return blockSize < Block.MinSize ? Block.MinSize : blockSize;
  }

  /*
   * BRANCH-FREE LIST UPDATES
   * Whether a list is empty, or a block heads its list, is as good as random from one call to the
   * next, and a mispredicted branch (some 15-20 cycles) costs more than the few integer operations
   * that replace it (docs/allocator.md, Speed notes, has what this gained on bench/allocator.ts). So
   * those cases are folded into arithmetic on an all-ones / all-zeros mask, `(x | -x) >> 31`
   * (-1 when x != 0):
   *   - a link store that has no target (no next block, or no previous one) goes to a word that is
   *     harmless to write: one the same step overwrites, or one inside a block being merged or handed
   *     out, where the old value is nobody's;
   *   - a list's bit in its row's bitmap word is set unconditionally when a block is filed
   *     (idempotent for a non-empty list), and cleared under a mask that is non-zero only when the
   *     list is left empty.
   * The first-level bitmap is the exception: it changes only when a whole row fills or empties,
   * which is rare and so well predicted, and a branch there saves a read and a write of it on
   * most calls (every typed-array access costs a check once any buffer in the process has been
   * detached; docs/allocator.md, Range checks: cost).
   */

  /**
   * Marks the block at word `index` (address `block`) free with `size` bytes: header, back link in its
   * last word, and the head of its list. The caller sets the P flag of the block after it. The list head
   * is checked before anything is written.
   */
  private makeFree(index: number, block: number, size: number): void {
    const list = this.listOf(size);
    const words = this.fastWords;
    const headIndex = this.headWord + list;
    const oldHead = words[headIndex]!;
    this.checkLink(oldHead, index, "free list's head");
    this.setWord(index, size | Block.FreeBit);
    this.setWord(index + (size >> 2) - 1, block);
    words[headIndex] = block;
    this.setWord(index + 1, oldHead);
    this.setWord(index + 2, 0);
    if (oldHead !== 0) this.setWord(((oldHead - this.fastBase) >> 2) + 2, block);
    const fl = list >> this.slLog2;
    words[this.slWord + fl] |= 1 << (list & this.slMask);
    words[this.flWord] |= 1 << fl;
  }

  /**
   * makeFree for the flat paths of a single-memory heap, whose blocks are all in fastWords: without
   * the word/setWord indirection (a measurable cost on those paths) and branch-free. With an empty list the old
   * head's back link has no target, and the store goes to this block's own prev word, which the
   * next store clears.
   */
  private makeFreeFast(index: number, block: number, size: number): void {
    // The block's own two words are written before the head is checked, the cheaper order on the flat
    // paths; docs/allocator.md ("What a call that throws leaves") says what that leaves when the head is damaged.
    const words = this.fastWords;
    words[index] = size | Block.FreeBit;
    words[index + (size >> 2) - 1] = block;
    const list = this.listOf(size);
    const headIndex = this.headWord + list;
    const oldHead = words[headIndex]!;
    const hasHead = (oldHead | (0 - oldHead)) >> 31;
    if (((oldHead - this.fastFirstBlockInt) & hasHead) >>> 0 > this.fastLinkLimit >>> 0) {
      this.makeFree(index, block, size); // checks through the pool table; a head in another pool passes
      return;
    }
    words[headIndex] = block;
    words[index + 1] = oldHead;
    const ownPrev = index + 2;
    words[ownPrev ^ ((ownPrev ^ (((oldHead - this.fastBase) >> 2) + 2)) & hasHead)] = block;
    words[ownPrev] = 0;
    const fl = list >> this.slLog2;
    const rowIndex = this.slWord + fl;
    const rowWord = words[rowIndex]!;
    words[rowIndex] = rowWord | (1 << (list & this.slMask));
    if (rowWord === 0) words[this.flWord] |= 1 << fl;
  }

  /**
   * Takes the free block at word `index` (of `size` bytes) off its list. A head's prev link is 0, so
   * only a block heading its list needs its class (and the bitmaps).
   */
  private unlinkFree(index: number, size: number): void {
    this.checkFreeBlock(index, size);
    const next = this.word(index + 1);
    const prev = this.word(index + 2);
    this.checkLink(next, index, 'next-free link');
    this.checkLink(prev, index, 'prev-free link');
    if (next !== 0) this.setWord(((next - this.fastBase) >> 2) + 2, prev);
    if (prev !== 0) this.setWord(((prev - this.fastBase) >> 2) + 1, next);
    else this.setHead(this.listOf(size), next);
  }

  /**
   * unlinkFree over fastWords, branch-free, for the flat paths: with no next block, the back-link
   * store goes to the leaving block's own prev word (its links are dead once it leaves); `next` is
   * stored in the previous block's next link, or in the list head when the block heads the list;
   * the bits are cleared only if the list is left empty. The block, its size and its links are
   * checked against the first pool before anything is written; when one fails, unlinkFree does the
   * whole step, checking through the pool table (a block or link in another pool of this buffer
   * passes there).
   */
  private unlinkFreeFast(index: number, size: number): void {
    // RANGE CHECKS, one unsigned compare each: the block's offset from the first block, then its size
    // against the room left before the sentinel (exact: the offset is at most the limit by then).
    const limit = this.fastLinkLimit >>> 0;
    const offset = ((index << 2) - this.fastFirstBlockFromBase) >>> 0;
    if (offset > limit || (size - Block.MinSize) >>> 0 > (limit - offset) >>> 0) {
      this.unlinkFree(index, size); // checks through the pool table; a block of another pool passes
      return;
    }
    this.unlinkPlacedFast(index, size);
  }

  /**
   * unlinkFreeFast for a block already known to be a free block of `size` bytes (16 at least) inside a
   * pool: only its links are checked, each 0 (masked to offset 0) or a block of the first pool.
   */
  private unlinkPlacedFast(index: number, size: number): void {
    const words = this.fastWords;
    const memoryBase = this.fastBase;
    const next = words[index + 1]!;
    const prev = words[index + 2]!;
    const hasNext = (next | (0 - next)) >> 31;
    const hasPrev = (prev | (0 - prev)) >> 31;
    const firstBlock = this.fastFirstBlockInt;
    const limit = this.fastLinkLimit >>> 0;
    if (((next - firstBlock) & hasNext) >>> 0 > limit || ((prev - firstBlock) & hasPrev) >>> 0 > limit) {
      this.unlinkFree(index, size); // checks through the pool table; links into another pool pass
      return;
    }
    const ownPrev = index + 2;
    words[ownPrev ^ ((ownPrev ^ (((next - memoryBase) >> 2) + 2)) & hasNext)] = prev;
    const list = this.listOf(size);
    const headIndex = this.headWord + list;
    words[headIndex ^ ((headIndex ^ (((prev - memoryBase) >> 2) + 1)) & hasPrev)] = next;
    const fl = list >> this.slLog2;
    const rowBits = words[this.slWord + fl]! & ~((1 << (list & this.slMask)) & ~(hasNext | hasPrev));
    words[this.slWord + fl] = rowBits;
    if (rowBits === 0) words[this.flWord] &= ~(1 << fl);
  }

  /** List `list` now starts at `next`, its head having left; a list left empty clears its bits. */
  private setHead(list: number, next: number): void {
    const words = this.fastWords;
    words[this.headWord + list] = next;
    if (next !== 0) return;
    const fl = list >> this.slLog2;
    const rowBits = words[this.slWord + fl]! & ~(1 << (list & this.slMask));
    words[this.slWord + fl] = rowBits;
    if (rowBits === 0) words[this.flWord] &= ~(1 << fl);
  }

  /**
   * Takes a free block of at least `blockSize` bytes off its list and returns its header address,
   * or 0. Good fit: the search starts at the next class boundary above the request, so the head of
   * whatever list it lands on fits. Two masked bitmap reads and two bit scans; no list is searched.
   */
  private takeFree(blockSize: number): number {
    const slLog2 = this.slLog2;
    let list = this.searchListOf(blockSize);
    let fl = list >> slLog2;
    if (fl >= this.flCount) return this.takeFromOwnClass(blockSize);
    const words = this.fastWords;
    let rowBits = words[this.slWord + fl]! & ((-1 << (list & this.slMask)) & this.slValidBits);
    if (rowBits === 0) {
      const levelBits = words[this.flWord]! & ((-2 << fl) & this.flValidBits);
      if (levelBits === 0) return this.takeFromOwnClass(blockSize);
      fl = 31 - Math.clz32(levelBits & -levelBits);
      rowBits = words[this.slWord + fl]! & this.slValidBits;
      if (rowBits === 0) return this.takeFromOwnClass(blockSize); // bitmaps disagree: check() says where
    }
    list = (fl << slLog2) + (31 - Math.clz32(rowBits & -rowBits));
    return this.takeHead(list, words[this.headWord + list]!, blockSize);
  }

  /**
   * Last resort before failing (kept out of takeFree so it stays small): the head of the request's
   * own class, when it happens to be big enough.
   */
  private takeFromOwnClass(blockSize: number): number {
    const list = this.listOf(blockSize);
    if (list >> this.slLog2 >= this.flCount) return 0;
    const head = this.fastWords[this.headWord + list]!;
    if (head === 0) return 0;
    this.checkTaken(head, Block.MinSize);
    if ((this.load(head) & Block.SizeMask) < blockSize) return 0;
    return this.takeHead(list, head, blockSize);
  }

  /** Takes `block`, the head of list `list`, off it, for a block of `blockSize` bytes. */
  private takeHead(list: number, block: number, blockSize: number): number {
    this.checkTaken(block, blockSize);
    const next = this.word(((block - this.fastBase) >> 2) + 1);
    this.checkLink(next, this.indexOf(block), 'next-free link');
    if (next !== 0) this.setWord(((next - this.fastBase) >> 2) + 2, 0);
    this.setHead(list, next);
    return block;
  }

  /** Marks a block just taken off a free list as used, returning any remainder of a useful size to the lists. */
  private useBlock(block: number, blockSize: number): void {
    const index = (block - this.fastBase) >> 2;
    const header = this.word(index);
    const size = header & Block.SizeMask;
    const rest = size - blockSize;
    if (rest >= Block.MinSize) {
      // The remainder is filed first (makeFree checks its list head before it writes), so that damage found
      // there leaves this block whole. The block after the remainder keeps its P flag: its neighbour is still free.
      this.makeFree(index + (blockSize >> 2), block + blockSize, rest);
      this.setWord(index, blockSize | (header & Block.PrevFreeBit));
      this.addUsed(blockSize);
    } else {
      this.setWord(index, header & ~Block.FreeBit);
      const nextIndex = index + (size >> 2);
      this.setWord(nextIndex, this.word(nextIndex) & ~Block.PrevFreeBit);
      this.addUsed(size);
    }
  }

  private addUsed(bytes: number): void {
    const used = this.usedBytesNow + bytes;
    this.usedBytesNow = used;
    if (used > this.peakUsedBytes) this.peakUsedBytes = used;
  }

  // ---------------------------------------------------------------- pointer validation

  /**
   * The header address of the live block at `ptr`, or a TlsfError. Cheap checks only: the pointer's
   * type, alignment and pool, the header's flags and size, and the next block's P flag (which must
   * say "previous is used" for a live block). Strict mode adds a walk of the pool.
   */
  private liveBlock(ptr: number, operation: string): number {
    const header = ptr - Block.HeaderSize;
    // Fast path: a header where a block fits in the first pool (an unsigned offset of at most
    // fastLinkLimit), an aligned pointer (strict mode's mask sends every pointer to the slow path).
    // Addresses of 2^31 and above are correct but take the slow path (`ptr | 0` differs).
    const limit = this.fastLinkLimit >>> 0;
    const offset = (header - this.fastFirstBlockInt) >>> 0;
    if (offset > limit || (ptr & this.fastPointerMask) !== 0 || (ptr | 0) !== ptr) {
      return this.liveBlockSlow(ptr, operation);
    }
    const index = (header - this.fastBase) >> 2;
    const word = this.word(index);
    const size = word & Block.SizeMask;
    if (this.badLiveHeader(word, offset, limit) || (this.word(index + (size >> 2)) & Block.PrevFreeBit) !== 0) {
      throw this.headerError(ptr, word, operation);
    }
    return header;
  }

  /**
   * Whether the header word of a block `offset` bytes into the first pool's block area cannot be a live block's:
   * marked free, misaligned, or its size below a minimum block or past the sentinel (one unsigned compare, as
   * offset <= limit). The fast pointer checks of liveBlock, free and realloc share it; each then tests the next
   * block's P flag itself, as it needs that header anyway.
   */
  private badLiveHeader(header: number, offset: number, limit: number): boolean {
    const size = header & Block.SizeMask;
    return (
      (header & Block.FreeBit) !== 0 ||
      (size - Block.MinSize) >>> 0 > (limit - offset) >>> 0 ||
      (size & this.alignMask) !== 0
    );
  }

  /** Pointers outside the first pool's block area, misaligned or non-integer ones, and strict mode. */
  private liveBlockSlow(ptr: number, operation: string): number {
    const header = ptr - Block.HeaderSize;
    if (typeof ptr !== 'number' || !Number.isInteger(ptr) || ptr < 0 || ptr > 0xffff_ffff) {
      throw new TlsfError('out-of-pool', `${operation}(${quote(ptr)}): not a 32-bit address`, ptr);
    }
    if ((ptr & this.alignMask) !== 0) {
      throw new TlsfError(
        'misaligned',
        `${operation}(${hex(ptr)}): address is not a multiple of ${this.align}, so it was never returned by this heap`,
        ptr,
      );
    }
    const pool = this.poolOfHeader(header);
    if (pool === undefined) {
      throw new TlsfError('out-of-pool', `${operation}(${hex(ptr)}): address is outside every heap pool`, ptr);
    }
    if (this.strict) this.strictCheck(pool, header, ptr, operation);
    const word = this.load(header);
    const size = word & Block.SizeMask;
    if (
      (word & Block.FreeBit) !== 0 ||
      size < Block.MinSize ||
      (size & this.alignMask) !== 0 ||
      size > pool.sentinel - header ||
      (this.load(header + size) & Block.PrevFreeBit) !== 0
    ) {
      throw this.headerError(ptr, word, operation);
    }
    return header;
  }

  /**
   * The error for a pointer whose header (`word`) is not a live block's. Returned, not thrown, so that
   * callers write `throw`: V8 then knows the path ends there and keeps the hot path's values in registers.
   */
  private headerError(ptr: number, word: number, operation: string): TlsfError {
    this.assertAttached();
    if ((word & Block.FreeBit) !== 0) {
      return new TlsfError('double-free', `${operation}(${hex(ptr)}): block is already free (double free?)`, ptr);
    }
    return new TlsfError(
      'not-a-block',
      `${operation}(${hex(ptr)}): the word before it (${hex(word)}) is not a live block header`,
      ptr,
    );
  }

  private strictCheck(pool: Pool, header: number, ptr: number, operation: string): void {
    let found = -1;
    let insideFree = false;
    walkPool(this.view(), pool, (block, word, size) => {
      if (block >= header) {
        if (block === header) found = word;
        return true;
      }
      insideFree = header < block + size && (word & Block.FreeBit) !== 0;
      return insideFree;
    });
    // A block merged into the free block before it when it was freed keeps its header, F bit set, inside that
    // free block: freeing it again is a double free, as the cheap checks report it without strict.
    if (found < 0 && insideFree && (this.load(header) & Block.FreeBit) !== 0) found = this.load(header);
    if (found < 0) {
      throw new TlsfError('not-a-block', `${operation}(${hex(ptr)}): no block starts there (strict walk)`, ptr);
    }
    if ((found & Block.FreeBit) !== 0) {
      throw new TlsfError('double-free', `${operation}(${hex(ptr)}): block is already free (double free?)`, ptr);
    }
  }

  // ---------------------------------------------------------------- public operations

  /**
   * The payload address of a block of at least `size` bytes, aligned to `align`; 0 when nothing fits.
   *
   * Cost: O(1): one class mapping, at most two bitmap reads and two bit scans, one list head taken and
   * any remainder filed (about 12 words read and 12 written), whatever the heap holds.
   * Fails: 0 when no free block fits or `size` is larger than any block can be; throws TlsfError
   * `bad-size` for a size that is not a non-negative integer, `corrupt` for a damaged list head or
   * link (docs/allocator.md, "What a call that throws leaves"), `detached` for a detached buffer.
   *
   *   const p = heap.malloc(100);   // e.g. 0x20000530; malloc(0) is a unique minimum block
   */
  malloc(size: number): number {
    if ((size | 0) !== size || size < 0 || size > this.maxRequest) return this.badRequest(size, 'malloc');
    // The hot path, written out flat (see HOT PATHS at the top): the steps of takeFree + takeHead +
    // useBlock, branch-free where a branch would be a coin toss (BRANCH-FREE LIST UPDATES).
    const words = this.fastWords;
    const memoryBase = this.fastBase;
    const slLog2 = this.slLog2;
    const slWord = this.slWord;
    const flWord = this.flWord;
    const blockSize = this.blockSizeFor(size);
    // Good fit: search from the next class boundary up, so the head of any list found fits.
    const searchList = this.searchListOf(blockSize);
    let fl = searchList >> slLog2;
    if (fl >= this.flCount) return this.mallocFromOwnClass(blockSize);
    // This branch stays: when it is predictable (often), the CPU runs ahead on the guess, and the
    // branch-free form (read both rows, pick by mask) was slower on the 'small' trace.
    // The masks are grouped so that each bitmap read meets one AND on its way to the head read.
    // The row's word is kept for the update below: nothing written before then can be a bitmap word.
    let rowIndex = (slWord + fl) | 0;
    let rowWord = words[rowIndex]!;
    let rowBits = rowWord & ((-1 << (searchList & this.slMask)) & this.slValidBits);
    if (rowBits === 0) {
      const levelBits = words[flWord]! & ((-2 << fl) & this.flValidBits);
      if (levelBits === 0) return this.mallocFromOwnClass(blockSize);
      fl = 31 - Math.clz32(levelBits & -levelBits);
      rowIndex = (slWord + fl) | 0;
      rowWord = words[rowIndex]!;
      rowBits = rowWord & this.slValidBits;
    }
    const list = ((fl << slLog2) + (31 - Math.clz32(rowBits & (0 - rowBits)))) | 0;

    // Take the head of the list, once it is known to be a free block of the first pool, large
    // enough and ending before the sentinel (RANGE CHECKS). When a check fails nothing has been
    // written yet, and the call starts again on the generic path, which checks through the pool
    // table (a head or link in another pool of this buffer passes there) and names any damage: no
    // value has to survive a call on the way, so V8 keeps this path's values in registers. With no
    // next block, the back-link store clears this block's own prev word, already 0 in a head.
    const headIndex = (this.headWord + list) | 0;
    const block = words[headIndex]!;
    const limit = this.fastLinkLimit >>> 0;
    const offset = (block - this.fastFirstBlockInt) >>> 0;
    if (offset > limit) return this.mallocGeneric(size);
    const index = (block - memoryBase) >> 2;
    const header = words[index]!;
    const total = header & Block.SizeMask;
    const rest = (total - blockSize) | 0;
    const nextFree = words[index + 1]!;
    const hasNext = (nextFree | (0 - nextFree)) >> 31;
    // Free, large enough (rest in [0, limit], so the next sum is exact), ending by the sentinel, and a
    // next link that is 0 or in the pool: one unsigned compare each.
    if (
      (header & Block.FreeBit) === 0 ||
      rest >>> 0 > limit ||
      ((limit + Block.MinSize - offset - total) | 0) < 0 ||
      ((nextFree - this.fastFirstBlockInt) & hasNext) >>> 0 > limit
    ) {
      return this.mallocGeneric(size);
    }
    words[headIndex] = nextFree;
    const ownPrev = index + 2;
    words[ownPrev ^ ((ownPrev ^ (((nextFree - memoryBase) >> 2) + 2)) & hasNext)] = 0;
    const remaining = rowWord & ~((1 << (list & this.slMask)) & ~hasNext);
    words[rowIndex] = remaining;
    if (remaining === 0) words[flWord] &= ~(1 << fl);

    // Split: the tail goes back on the lists when it can be a block of its own.
    if (rest >= Block.MinSize) {
      // Remainder first, as in useBlock. The block after the remainder keeps its P flag: its neighbour is still free.
      this.makeFreeFast(index + (blockSize >> 2), block + blockSize, rest);
      words[index] = blockSize | (header & Block.PrevFreeBit);
      this.addUsed(blockSize);
    } else {
      words[index] = header & ~Block.FreeBit;
      const nextIndex = index + (total >> 2);
      words[nextIndex] = words[nextIndex]! & ~Block.PrevFreeBit;
      this.addUsed(total);
    }
    return (block + Block.HeaderSize) >>> 0;
  }

  /** The path malloc takes when the search finds nothing: the own class's head, if it fits. */
  private mallocFromOwnClass(blockSize: number): number {
    const block = this.takeFromOwnClass(blockSize);
    if (block === 0) {
      this.assertAttached();
      return 0;
    }
    this.useBlock(block, blockSize);
    return (block + Block.HeaderSize) >>> 0;
  }

  /** malloc as takeFree + useBlock, through word/setWord: what multi-memory heaps run. */
  protected mallocGeneric(size: number): number {
    if ((size | 0) !== size || size < 0 || size > this.maxRequest) return this.badRequest(size, 'malloc');
    const blockSize = this.blockSizeFor(size);
    const block = this.takeFree(blockSize);
    if (block === 0) {
      this.assertAttached();
      return 0;
    }
    this.useBlock(block, blockSize);
    return (block + Block.HeaderSize) >>> 0;
  }

  /** Too large is a failure (0); not a size at all is misuse. */
  private badRequest(size: number, operation: string): number {
    if (typeof size === 'number' && Number.isInteger(size) && size >= 0) return 0;
    throw new TlsfError('bad-size', `${operation}: size must be a non-negative integer, got ${quote(size)}`);
  }

  /**
   * Returns the block at `ptr` (what malloc, calloc, memalign or realloc returned) to the heap, merged with
   * any free neighbour. free(0) does nothing.
   *
   * Cost: O(1): the pointer checks, at most two neighbours unlinked and one block filed (about 14 words
   * read and 14 written).
   * Fails: throws TlsfError `misaligned`, `out-of-pool`, `double-free` or `not-a-block` (docs/allocator.md,
   * Misuse) having changed nothing; `corrupt` for a damaged neighbour or list; `detached`.
   *
   *   heap.free(p);
   *   heap.free(p);   // TlsfError double-free: free(0x20000530): block is already free (double free?)
   */
  free(ptr: number): void {
    // The hot path, flat like malloc: the steps of liveBlock + release over fastWords, which
    // multi-memory heaps and odd pointers use. Keep its bytecode under V8's 460-byte limit for
    // inlining into a caller, where it runs faster: grow it only with a reason, and check with
    // node --print-bytecode --print-bytecode-filter=free (the range checks live in helpers for this).
    if (ptr === 0) return;
    const block = ptr - Block.HeaderSize;
    const limit = this.fastLinkLimit >>> 0;
    const offset = (block - this.fastFirstBlockInt) >>> 0;
    if (offset > limit || (ptr & this.fastPointerMask) !== 0 || (ptr | 0) !== ptr) {
      this.release(this.liveBlockSlow(ptr, 'free'));
      return;
    }
    const words = this.fastWords;
    const index = (block - this.fastBase) >> 2;
    const header = words[index]!;
    const size = header & Block.SizeMask;
    if (this.badLiveHeader(header, offset, limit)) throw this.headerError(ptr, header, 'free');
    const nextIndex = index + (size >> 2);
    const nextHeader = words[nextIndex]!;
    if ((nextHeader & Block.PrevFreeBit) !== 0) throw this.headerError(ptr, header, 'free');
    // A free neighbour (P in this header, F in the next one) takes the merging path, as a call that
    // ends free: no value of this path has to survive a call, so V8 keeps them in registers.
    if ((((header >> 1) | nextHeader) & Block.FreeBit) !== 0) {
      this.releaseMergingFast(index, offset, header, nextIndex, nextHeader);
      return;
    }
    words[nextIndex] = nextHeader | Block.PrevFreeBit;
    this.makeFreeFast(index, block, size);
    this.usedBytesNow -= size; // counters move only when the call completes
  }

  /**
   * The rest of free for a block of the first pool with at least one free neighbour: the block at
   * word `index`, `offset` bytes from the first block, has passed free's checks (its header and the
   * next block's, both given). Written out flat, both unlinks included, on purpose: at over 460 bytes
   * of bytecode V8 never inlines it into free, so free stays small enough to be inlined into its
   * callers, and here the unlinks run without calls (as helper calls they were outside V8's inlining
   * budget). unlinkPlacedFast is the same unlink; a change to one is a change to both.
   */
  private releaseMergingFast(
    index: number,
    offset: number,
    header: number,
    nextIndex: number,
    nextHeader: number,
  ): void {
    const words = this.fastWords;
    const memoryBase = this.fastBase;
    const firstBlock = this.fastFirstBlockInt;
    const limit = this.fastLinkLimit >>> 0;
    const slLog2 = this.slLog2;
    const slMask = this.slMask;
    let block = (firstBlock + offset) | 0;
    let start = index;
    let size = header & Block.SizeMask;
    if ((header & Block.PrevFreeBit) !== 0) {
      // previousFreeFast proves a free block of the first pool ending here; its links are checked below.
      const prev = this.previousFreeFast(index, offset);
      const prevSize = block - prev;
      const prevIndex = (prev - memoryBase) >> 2;
      const next = words[prevIndex + 1]!;
      const before = words[prevIndex + 2]!;
      const hasNext = (next | (0 - next)) >> 31;
      const hasBefore = (before | (0 - before)) >> 31;
      if (((next - firstBlock) & hasNext) >>> 0 > limit || ((before - firstBlock) & hasBefore) >>> 0 > limit) {
        this.unlinkFree(prevIndex, prevSize); // checks through the pool table; links into another pool pass
      } else {
        const ownPrev = prevIndex + 2;
        words[ownPrev ^ ((ownPrev ^ (((next - memoryBase) >> 2) + 2)) & hasNext)] = before;
        const list = this.listOf(prevSize);
        const headIndex = this.headWord + list;
        words[headIndex ^ ((headIndex ^ (((before - memoryBase) >> 2) + 1)) & hasBefore)] = next;
        const fl = list >> slLog2;
        const rowIndex = this.slWord + fl;
        const rowBits = words[rowIndex]! & ~((1 << (list & slMask)) & ~(hasNext | hasBefore));
        words[rowIndex] = rowBits;
        if (rowBits === 0) words[this.flWord] &= ~(1 << fl);
      }
      // Leave F set in the swallowed header so that a second free of ptr is still caught.
      words[index] = header | Block.FreeBit;
      start = prevIndex;
      block = prev;
      size += prevSize;
    }
    if ((nextHeader & Block.FreeBit) !== 0) {
      // The next block starts inside the first pool (free checked this block's size); its own size
      // must fit before the sentinel, and its links are checked like the previous block's.
      const nextSize = nextHeader & Block.SizeMask;
      const nextOffset = (offset + (header & Block.SizeMask)) >>> 0;
      const next = words[nextIndex + 1]!;
      const before = words[nextIndex + 2]!;
      const hasNext = (next | (0 - next)) >> 31;
      const hasBefore = (before | (0 - before)) >> 31;
      if (
        nextOffset > limit ||
        (nextSize - Block.MinSize) >>> 0 > (limit - nextOffset) >>> 0 ||
        ((next - firstBlock) & hasNext) >>> 0 > limit ||
        ((before - firstBlock) & hasBefore) >>> 0 > limit
      ) {
        this.unlinkFree(nextIndex, nextSize); // checks through the pool table, naming any damage
      } else {
        const ownPrev = nextIndex + 2;
        words[ownPrev ^ ((ownPrev ^ (((next - memoryBase) >> 2) + 2)) & hasNext)] = before;
        const list = this.listOf(nextSize);
        const headIndex = this.headWord + list;
        words[headIndex ^ ((headIndex ^ (((before - memoryBase) >> 2) + 1)) & hasBefore)] = next;
        const fl = list >> slLog2;
        const rowIndex = this.slWord + fl;
        const rowBits = words[rowIndex]! & ~((1 << (list & slMask)) & ~(hasNext | hasBefore));
        words[rowIndex] = rowBits;
        if (rowBits === 0) words[this.flWord] &= ~(1 << fl);
      }
      size += nextSize; // the block after a free one already carries P
    } else {
      words[nextIndex] = nextHeader | Block.PrevFreeBit;
    }
    this.makeFreeFast(start, block, size);
    this.usedBytesNow -= header & Block.SizeMask;
  }

  /** free as liveBlock + release, through word/setWord: what multi-memory heaps run. */
  protected freeGeneric(ptr: number): void {
    if (ptr !== 0) this.release(this.liveBlock(ptr, 'free'));
  }

  /** Returns a validated used block to the lists, merged with whichever neighbours are free. */
  private release(freed: number): void {
    let block = freed;
    let index = (block - this.fastBase) >> 2;
    const header = this.word(index);
    const freedSize = header & Block.SizeMask;
    let size = freedSize;
    if ((header & Block.PrevFreeBit) !== 0) {
      block = this.previousFree(index);
      const prevIndex = (block - this.fastBase) >> 2;
      const prevSize = this.word(prevIndex) & Block.SizeMask;
      this.unlinkFree(prevIndex, prevSize); // checks the previous block before anything is written
      // Leave F set in the swallowed header so that a second free of ptr is still caught.
      this.setWord(index, header | Block.FreeBit);
      index = prevIndex;
      size += prevSize;
    }
    const nextIndex = index + (size >> 2);
    const nextHeader = this.word(nextIndex);
    const nextFree = (nextHeader & Block.FreeBit) !== 0;
    if (nextFree) {
      // The block after a free one already carries P.
      const nextSize = nextHeader & Block.SizeMask;
      this.unlinkFree(nextIndex, nextSize);
      size += nextSize;
    }
    this.makeFree(index, block, size); // checks the list head before it writes
    if (!nextFree) this.setWord(nextIndex, nextHeader | Block.PrevFreeBit);
    this.usedBytesNow -= freedSize;
  }

  /**
   * Payload bytes of the live block at `ptr`: at least what was asked for, up to the block's rounding.
   *
   * Cost: O(1), the pointer checks of free and one header read.
   * Fails: throws as free does for a pointer that is not a live block; usableSize(0) is `out-of-pool`.
   *
   *   heap.usableSize(heap.malloc(100));   // 100 (align 8: a 104-byte block)
   */
  usableSize(ptr: number): number {
    const block = this.liveBlock(ptr, 'usableSize');
    return (this.load(block) & Block.SizeMask) - Block.HeaderSize;
  }

  /**
   * Resizes in place when it can (shrink; grow into a free next block), else moves (malloc, copy,
   * free), as a C TLSF does; only when that malloc fails does it grow backwards into a free previous
   * block (moving the bytes down). See "Realloc placement" in docs/allocator.md for why.
   * realloc(0, n) is malloc(n); realloc(p, 0) frees p and returns 0.
   *
   * Cost: O(1) apart from the copy of a move (the old payload, word by word up to 128 bytes).
   * Fails: returns 0 when nothing fits, leaving the old block untouched; throws as free does for a bad
   * pointer and as malloc does for a bad size, having changed nothing; `corrupt` for damage around the
   * block (a move may then have allocated and copied: docs/allocator.md, "What a call that throws leaves").
   *
   *   p = heap.realloc(p, 200);   // the same address when the next block was free, else a new one
   */
  realloc(ptr: number, size: number): number {
    // Flat like malloc and free on a single-memory heap (see HOT PATHS): shrink, growth forwards and
    // the move over fastWords. Growth backwards, tried only when the move's malloc fails, takes
    // reallocGeneric, which validates again.
    // realloc(0, n) is malloc(n), but a bad size is named as realloc's.
    if (ptr === 0) return (size | 0) === size && size >= 0 ? this.malloc(size) : this.badRequest(size, 'realloc');
    // The pointer is checked as free checks it, each header read once; one outside the first pool's
    // block area (or any, in strict mode) takes reallocGeneric, which checks through the pool table.
    const block = ptr - Block.HeaderSize;
    const limit = this.fastLinkLimit >>> 0;
    const offset = (block - this.fastFirstBlockInt) >>> 0;
    if (offset > limit || (ptr & this.fastPointerMask) !== 0 || (ptr | 0) !== ptr) {
      return this.reallocGeneric(ptr, size);
    }
    const words = this.fastWords;
    const index = (block - this.fastBase) >> 2;
    const header = words[index]!;
    const current = header & Block.SizeMask;
    if (this.badLiveHeader(header, offset, limit)) throw this.headerError(ptr, header, 'realloc');
    const nextIndex = index + (current >> 2);
    const nextHeader = words[nextIndex]!;
    if ((nextHeader & Block.PrevFreeBit) !== 0) throw this.headerError(ptr, header, 'realloc');
    if ((size | 0) !== size || size <= 0 || size > this.maxRequest) {
      if (size === 0) {
        this.free(ptr);
        return 0;
      }
      return this.badRequest(size, 'realloc');
    }
    const blockSize = this.blockSizeFor(size);
    const nextSize = (nextHeader & Block.FreeBit) !== 0 ? nextHeader & Block.SizeMask : 0;
    if (blockSize <= current) {
      // Shrink: the tail, merged with a free next block, goes back on the lists.
      let rest = current - blockSize;
      if (rest < Block.MinSize) return ptr;
      // Unlinked and filed before the headers change: their checks (RANGE CHECKS) pass before anything is written.
      if (nextSize !== 0) {
        this.unlinkFreeFast(nextIndex, nextSize);
        rest += nextSize;
      }
      this.makeFreeFast(index + (blockSize >> 2), block + blockSize, rest);
      words[index] = blockSize | (header & Block.PrevFreeBit);
      if (nextSize === 0) words[nextIndex] = nextHeader | Block.PrevFreeBit;
      this.usedBytesNow -= current - blockSize;
      return ptr;
    }
    const combined = current + nextSize;
    if (combined >= blockSize) {
      // Grow forwards into the free next block; the block after that one already carries P.
      this.unlinkFreeFast(nextIndex, nextSize);
      const rest = combined - blockSize;
      if (rest >= Block.MinSize) {
        this.makeFreeFast(index + (blockSize >> 2), block + blockSize, rest);
        words[index] = blockSize | (header & Block.PrevFreeBit);
        this.addUsed(blockSize - current);
      } else {
        words[index] = combined | (header & Block.PrevFreeBit);
        const afterIndex = nextIndex + (nextSize >> 2);
        words[afterIndex] = words[afterIndex]! & ~Block.PrevFreeBit;
        this.addUsed(combined - current);
      }
      return ptr;
    }
    const moved = this.malloc(size);
    // A failed malloc changes nothing, so reallocGeneric meets the same heap and fails it again.
    if (moved === 0) return (header & Block.PrevFreeBit) !== 0 ? this.reallocGeneric(ptr, size) : 0;
    this.moveBytes(ptr, moved, current - Block.HeaderSize);
    // The old block, checked above, goes back to the lists as free's last steps would put it. Its
    // header is read again: the malloc may have taken the free block before it and cleared its P
    // flag. The next block cannot have changed: it is used, or free and too small for the malloc.
    const headerNow = words[index]!;
    if ((((headerNow >> 1) | nextHeader) & Block.FreeBit) !== 0) {
      this.releaseMergingFast(index, offset, headerNow, nextIndex, nextHeader);
    } else {
      this.makeFreeFast(index, block, current);
      words[nextIndex] = nextHeader | Block.PrevFreeBit;
      this.usedBytesNow -= current;
    }
    return moved;
  }

  /**
   * realloc through word/setWord, with growth backwards when the move finds no room: what
   * multi-memory heaps run, and the flat realloc's fallback.
   */
  protected reallocGeneric(ptr: number, size: number): number {
    // realloc(0, n) is malloc(n), but a bad size is named as realloc's.
    if (ptr === 0) return (size | 0) === size && size >= 0 ? this.malloc(size) : this.badRequest(size, 'realloc');
    const block = this.liveBlock(ptr, 'realloc');
    if (size === 0) {
      this.free(ptr);
      return 0;
    }
    if ((size | 0) !== size || size < 0 || size > this.maxRequest) return this.badRequest(size, 'realloc');
    const blockSize = this.blockSizeFor(size);
    const index = (block - this.fastBase) >> 2;
    const header = this.word(index);
    const current = header & Block.SizeMask;
    let nextIndex = index + (current >> 2);
    const nextHeader = this.word(nextIndex);
    const nextSize = (nextHeader & Block.FreeBit) !== 0 ? nextHeader & Block.SizeMask : 0;

    if (blockSize <= current) {
      // Shrink: the tail, merged with a free next block, goes back on the lists.
      let rest = current - blockSize;
      if (rest < Block.MinSize) return ptr;
      const released = rest;
      // Unlinked and filed before the headers change: their checks (RANGE CHECKS) pass before anything is written.
      if (nextSize !== 0) {
        this.unlinkFree(nextIndex, nextSize);
        rest += nextSize;
      }
      this.makeFree(index + (blockSize >> 2), block + blockSize, rest);
      this.setWord(index, blockSize | (header & Block.PrevFreeBit));
      if (nextSize === 0) this.setWord(nextIndex, nextHeader | Block.PrevFreeBit);
      this.usedBytesNow -= released;
      return ptr;
    }

    let start = block;
    let startIndex = index;
    let startHeader = header;
    let combined = current + nextSize;
    if (combined < blockSize) {
      // Not enough forwards: move, as a C TLSF does. Growing backwards into a free previous block
      // whenever it fitted left peak span higher than a C TLSF's (docs/allocator.md, "Realloc
      // placement"), so it is kept only for when nothing else fits, where it saves a failure.
      const moved = this.malloc(size);
      if (moved !== 0) {
        this.moveBytes(ptr, moved, current - Block.HeaderSize);
        this.free(ptr); // the flat free: cheaper here than inlining release into realloc
        return moved;
      }
      if ((header & Block.PrevFreeBit) === 0) return 0;
      const prev = this.previousFree(index);
      const prevIndex = (prev - this.fastBase) >> 2;
      const prevSize = this.word(prevIndex) & Block.SizeMask;
      if (combined + prevSize < blockSize) return 0;
      this.unlinkFree(prevIndex, prevSize);
      start = prev;
      startIndex = prevIndex;
      startHeader = 0; // prev was free, so the block before it is used: P = 0
      combined += prevSize;
    }
    if (nextSize !== 0) {
      this.unlinkFree(nextIndex, nextSize);
      nextIndex += nextSize >> 2;
    }
    // Unlinked before the copy: a backwards copy overwrites the previous block's links.
    if (start !== block) this.moveBytes(ptr, start + Block.HeaderSize, current - Block.HeaderSize);
    const rest = combined - blockSize;
    if (rest >= Block.MinSize) {
      this.makeFree(startIndex + (blockSize >> 2), start + blockSize, rest);
      this.setWord(startIndex, blockSize | (startHeader & Block.PrevFreeBit));
      this.setWord(nextIndex, this.word(nextIndex) | Block.PrevFreeBit);
      this.addUsed(blockSize - current);
    } else {
      this.setWord(startIndex, combined | (startHeader & Block.PrevFreeBit));
      this.setWord(nextIndex, this.word(nextIndex) & ~Block.PrevFreeBit);
      this.addUsed(combined - current);
    }
    return (start + Block.HeaderSize) >>> 0;
  }

  /**
   * Copies a payload (a whole number of words), safe for the overlap of a backwards move
   * (destination below source). On a single-memory heap every block is in the one buffer: short
   * payloads are copied word by word, cheaper than the call into copyWithin
   * below about 150 bytes. A forward word loop is wrong only when the destination starts inside the
   * source; a move to a new block never overlaps, whichever way it goes, so upward moves take the
   * loop too.
   */
  protected moveBytes(from: number, to: number, length: number): void {
    const memoryBase = this.fastBase;
    if (length <= 128) {
      const words = this.fastWords;
      let source = (from - memoryBase) >> 2;
      let target = (to - memoryBase) >> 2;
      const end = source + (length >> 2);
      if (target <= source || target >= end) {
        while (source < end) words[target++] = words[source++]!;
        return;
      }
    }
    // `| 0` reduces mod 2^32: an address read back from the Int32Array is negative at 2^31 and above.
    const source = (from - memoryBase) | 0;
    this.fastBytes.copyWithin((to - memoryBase) | 0, source, source + length);
  }

  /**
   * malloc(count * size), zeroed.
   *
   * Cost: malloc's, plus zeroing the payload.
   * Fails: 0 when count * size passes 2^32 - 1 (size_t overflow on the target) or nothing fits; throws
   * TlsfError `bad-size` when count or size is not a non-negative integer.
   *
   *   const table = heap.calloc(16, 4);   // 64 zero bytes
   */
  calloc(count: number, size: number): number {
    if (!Number.isInteger(count) || count < 0) {
      throw new TlsfError('bad-size', `calloc: count must be a non-negative integer, got ${quote(count)}`);
    }
    if (!Number.isInteger(size) || size < 0) {
      throw new TlsfError('bad-size', `calloc: size must be a non-negative integer, got ${quote(size)}`);
    }
    const total = count * size;
    if (total > 0xffff_ffff) return 0; // size_t overflow on the target
    const ptr = this.malloc(total);
    if (ptr !== 0) this.fill(ptr, 0, total);
    return ptr;
  }

  /**
   * A block whose payload address is a multiple of `alignment` (a power of two). Over-allocates by
   * the alignment plus one minimum block, then returns the leading gap to the free lists as its own
   * block (a gap smaller than a block is pushed one alignment step further), and trims the tail.
   * An alignment up to `align` is malloc(size).
   *
   * Cost: O(1): one search for size + alignment + 16 bytes, then up to two blocks filed.
   * Fails: 0 for an alignment that is not a power of two (as C's memalign fails with EINVAL), when
   * size and alignment together pass the largest block, or when nothing fits; throws TlsfError
   * `bad-size` for a size that is not a non-negative integer.
   *
   *   const page = heap.memalign(4096, 256);   // e.g. 0x20001000
   */
  memalign(alignment: number, size: number): number {
    if (!isPowerOfTwo(alignment)) return 0;
    if (size >>> 0 !== size || size > this.maxRequest) return this.badRequest(size, 'memalign');
    if (alignment <= this.align) return this.malloc(size);
    const blockSize = this.blockSizeFor(size);
    const withGap = blockSize + alignment - this.align + Block.MinSize;
    if (withGap > this.layout.maxBlockSize) return 0;
    const taken = this.takeFree(withGap);
    if (taken === 0) return 0;
    const block = taken >>> 0; // alignment arithmetic below wants the unsigned address
    const header = this.load(block);
    const ptr = block + Block.HeaderSize;
    let aligned = alignUp(ptr, alignment);
    if (aligned !== ptr && aligned - ptr < Block.MinSize) aligned = alignUp(ptr + Block.MinSize, alignment);
    const gap = aligned - ptr;
    let target = block;
    if (gap > 0) {
      // The block was free, so its previous neighbour is used: the gap becomes a free block with P = 0.
      target = block + gap;
      this.makeFree((block - this.fastBase) >> 2, block, gap);
      this.store(target, ((header & Block.SizeMask) - gap) | Block.FreeBit | Block.PrevFreeBit);
    }
    this.useBlock(target, blockSize);
    return (target + Block.HeaderSize) >>> 0;
  }

  // ---------------------------------------------------------------- byte helpers

  private bytesAt(address: number, length: number, operation: string): { bytes: Uint8Array; index: number } {
    const addr = address >>> 0; // may arrive signed, read back from the Int32Array
    const pool = this.poolAt(addr);
    if (pool === undefined || addr + length > pool.end) {
      throw new TlsfError('corrupt', `${operation}: ${length} bytes at ${hex(addr)} leave the pool`, addr);
    }
    return { bytes: pool.bytes, index: addr - pool.memoryBase };
  }

  protected copy(from: number, to: number, length: number): void {
    const fastStart = this.fastStart;
    const fastLength = this.fastLength;
    if (
      (from - fastStart) >>> 0 < fastLength &&
      (to - fastStart) >>> 0 < fastLength &&
      ((from - fastStart) >>> 0) + length <= fastLength &&
      ((to - fastStart) >>> 0) + length <= fastLength
    ) {
      const source = (from - this.fastBase) | 0;
      this.fastBytes.copyWithin((to - this.fastBase) | 0, source, source + length);
      return;
    }
    const source = this.bytesAt(from, length, 'copy');
    const target = this.bytesAt(to, length, 'copy');
    if (source.bytes.buffer === target.bytes.buffer) {
      target.bytes.copyWithin(target.index, source.index, source.index + length);
    } else {
      target.bytes.set(source.bytes.subarray(source.index, source.index + length), target.index);
    }
  }

  private fill(addr: number, value: number, length: number): void {
    const target = this.bytesAt(addr, length, 'fill');
    target.bytes.fill(value, target.index, target.index + length);
  }

  // ---------------------------------------------------------------- inspection (inspect.ts; off hot paths)

  /**
   * Visits every block, used and free: pool by pool in poolList() order, each in address order.
   *
   * Cost: O(blocks); bounded by the pool sizes even on a damaged heap.
   * Fails: throws TlsfError `corrupt` at a broken header (after visiting the blocks before it).
   *
   *   heap.walk((b) => console.log(hex(b.addr), b.size, b.used));
   */
  walk(visit: (block: BlockInfo) => void): void {
    this.assertAttached();
    walkHeap(this.view(), visit);
  }

  /**
   * The block containing `addr`, else the nearest one in the same pool (for fault reports).
   * Tolerates corrupt memory: stops at the first broken header.
   *
   * Cost: O(blocks of the pools within 4 KiB of addr). Never throws: undefined when no pool is that
   * close or addr is not an integer.
   *
   *   heap.findBlock(p + 10);   // { addr: p, size: 100, used: true, contains: true, distance: 0, ... }
   */
  findBlock(addr: number): NearestBlock | undefined {
    return findBlockIn(this.view(), addr);
  }

  /**
   * Every byte range that is allocator metadata right now: the control structure, pool records, every
   * header, free blocks' links and back links, sentinels. For a guard that traps firmware writes into them.
   */
  metadataRanges(): MetadataRange[] {
    return metadataRangesOf(this.view());
  }

  /** Whether a write to [addr, addr + length) would touch allocator metadata (walks the heap). */
  isMetadata(addr: number, length = 1): boolean {
    const end = addr + length;
    return this.metadataRanges().some((range) => addr < range.end && range.start < end);
  }

  poolList(): PoolInfo[] {
    return poolList(this.view());
  }

  /**
   * Used and free bytes and blocks, the largest free block, peak, overhead and fragmentation
   * (docs/allocator.md, "stats()").
   *
   * Cost: O(blocks): a walk (usedBytes, freeBytes and peakUsed are O(1) counters).
   * Fails: throws TlsfError `detached`; on a damaged heap counts the blocks before the damage only.
   *
   *   heap.stats().fragmentation;   // 0 when all free memory is one block
   */
  stats(): TlsfStats {
    this.assertAttached();
    return heapStats(this.view());
  }

  /**
   * Size of the largest free block (header included), without walking the heap: the highest
   * non-empty class from the bitmaps, then a scan of that one list. For tracking "largest free at
   * peak" on every allocation; stats() gives the same by a walk.
   */
  largestFreeBlock(): number {
    return largestFreeBlock(this.view());
  }

  /**
   * The heap's internals as inspect.ts reads them. Not part of the API: inspectControl() and the
   * methods above are.
   * @internal
   */
  view(): HeapView {
    return {
      pools: this.pools,
      layout: this.layout,
      controlAddress: this.controlAddress,
      controlWords: this.fastWords,
      flWord: this.flWord,
      slWord: this.slWord,
      headWord: this.headWord,
      peakUsed: this.peakUsedBytes,
      recordProblem: (pool) => this.poolRecordProblem(pool, pool.words),
    };
  }

  /** Bytes in used blocks right now (headers included), from the counter; O(1). */
  get usedBytes(): number {
    return this.usedBytesNow;
  }

  /**
   * Bytes in free blocks right now (headers included); O(1): every byte between a pool's first block and
   * its sentinel is in exactly one block, used or free, so free is that area minus the used counter.
   */
  get freeBytes(): number {
    return this.blockAreaBytes - this.usedBytesNow;
  }

  /** Highest usedBytes so far; O(1). */
  get peakUsed(): number {
    return this.peakUsedBytes;
  }

  /** Forget the peak (e.g. between benchmark phases). */
  resetPeak(): void {
    this.peakUsedBytes = this.usedBytesNow;
  }

  /**
   * Walks every pool and every free list and reports each broken invariant, naming addresses.
   *
   * Cost: O(blocks + free-list links). Never throws and never loops forever: every loop is bounded by
   * the pool size or block count; a detached buffer is reported, not thrown.
   *
   *   heap.check();   // { ok: true, errors: [] }, or errors such as "list (0,4): 0x2000031c is on a free list twice"
   */
  check(): CheckResult {
    const detached = this.pools.find((pool) => pool.words.length === 0);
    if (detached !== undefined) {
      return {
        ok: false,
        errors: [
          `pool ${hex(detached.start)}: its buffer was detached (WebAssembly.Memory.grow() or a transfer); call rebind(newBuffer)`,
        ],
      };
    }
    return checkHeap(this.view());
  }
}

let multiMemoryCache: typeof Tlsf | undefined;

/** The class a heap switches to when addPool brings a second buffer or base (multi-memory.ts). */
function multiMemory(): typeof Tlsf {
  multiMemoryCache ??= multiMemoryClass(Tlsf);
  return multiMemoryCache;
}
