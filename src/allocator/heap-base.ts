import { TlsfError, hex, quote, type TlsfErrorCode } from './errors.js';
import {
  zeroCost,
  type BlockInfo,
  type CheckResult,
  type HeapCost,
  type HeapCostCounter,
  type HeapOptions,
  type HeapStats,
  type PoolInfo,
} from './heap-contract.js';

// What the first-fit, best-fit and half-fit heaps share: argument checks, the per-call cost, used/peak
// bookkeeping, stats from a walk, and calloc, realloc and memalign built from four primitives each heap
// provides (allocate, release, split a used block, grow in place). The heaps differ only in where their
// metadata lives and how they search, which is the point of comparing them.
//
// Every metadata access a heap's algorithm makes goes through read()/write() (or their 16-bit twins), which
// count it; inspection (walk, check, stats) and the simulator's own bookkeeping use peek(), which does not.

export type HeapMemory = ArrayBuffer | SharedArrayBuffer;

export interface ManagedRegion {
  /** Target address of memory[0]. */
  base: number;
  /** First managed target address. */
  start: number;
  /** One past the last managed target address. */
  end: number;
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

export function alignDown(value: number, alignment: number): number {
  return Math.floor(value / alignment) * alignment;
}

/** Checks base/offset/length as the TLSF heap does, with the same error codes. */
export function resolveRegion(memory: HeapMemory, options: HeapOptions): ManagedRegion {
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory instanceof SharedArrayBuffer;
  if (!(memory instanceof ArrayBuffer) && !shared) {
    throw new TlsfError('bad-option', 'memory must be an ArrayBuffer or SharedArrayBuffer');
  }
  const base = options.base ?? 0;
  const offset = options.offset ?? 0;
  const check = (name: string, value: number, min: number, max: number): void => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new TlsfError('bad-option', `${name} must be an integer from ${min} to ${max}, got ${quote(value)}`);
    }
  };
  check('base', base, 0, 0xffff_fffc);
  if (base % 4 !== 0) throw new TlsfError('bad-option', `base must be a multiple of 4, got ${hex(base)}`);
  check('offset', offset, 0, memory.byteLength);
  const length = options.length ?? memory.byteLength - offset;
  check('length', length, 1, memory.byteLength - offset);
  if (base + offset + length > 0x1_0000_0000) {
    throw new TlsfError('bad-option', 'the managed region passes the end of the 32-bit address space');
  }
  return { base, start: base + offset, end: base + offset + length };
}

/** Where a heap's blocks lie, for out-of-pool refusals: headers from `first`, payloads before `end`. */
export interface BlockArea {
  first: number;
  end: number;
  what: string;
}

export abstract class CountedHeap implements HeapCostCounter {
  readonly align: 4 | 8 | 16;
  /** Short name of the scheme, for messages ("first-fit"). */
  abstract readonly kind: string;
  protected readonly memoryBase: number;
  protected readonly region: ManagedRegion;
  private readonly words: Int32Array;
  private readonly halves: Uint16Array;
  private readonly bytes: Uint8Array;
  protected cost: HeapCost = zeroCost();
  private usedNow = 0;
  private peak = 0;

  constructor(memory: HeapMemory, options: HeapOptions) {
    const align = options.align ?? 8;
    if (align !== 4 && align !== 8 && align !== 16) {
      throw new TlsfError('bad-option', `align must be 4, 8 or 16, got ${quote(align)}`);
    }
    this.align = align;
    this.region = resolveRegion(memory, options);
    this.memoryBase = this.region.base;
    this.words = new Int32Array(memory, 0, memory.byteLength >>> 2);
    this.halves = new Uint16Array(memory, 0, memory.byteLength >>> 1);
    this.bytes = new Uint8Array(memory, 0, memory.byteLength);
  }

  // ------------------------------------------------------------ what each heap provides

  /** Bytes in front of every payload. */
  abstract readonly headerBytes: number;
  /** The smallest block the heap can keep (a smaller remainder stays with the block it came from). */
  abstract readonly minBlockBytes: number;
  /** Every payload address is a multiple of this (at least `align`). */
  abstract readonly payloadAlignment: number;
  abstract readonly controlBytes: number;
  /** Where the scheme's own control data starts (list head, bins). */
  abstract readonly controlAddress: number;
  /** Whole block bytes the heap takes for a request of `size`; 0 when no block that large can exist. */
  abstract blockBytesFor(size: number): number;
  /** A free block of at least blockBytesFor(size) made used; its header address, or 0. */
  protected abstract allocateBlock(size: number): number;
  /** Makes a used block free, joining free neighbours as the scheme does. */
  protected abstract releaseBlock(block: number): void;
  /** Cuts used `block` after `frontBytes`; both parts stay used. Returns the second part's header address. */
  protected abstract splitUsed(block: number, frontBytes: number): number;
  /** Grows used `block` to at least `wantedBytes` by taking the free block after it; false when it cannot. */
  protected abstract growInPlace(block: number, wantedBytes: number): boolean;
  /** Whole bytes of a used block, read as the algorithm reads it (counted). */
  protected abstract blockBytesOf(block: number): number;
  /** The header address of the live block whose payload is `ptr`; throws TlsfError on a bad pointer. */
  protected abstract liveBlock(ptr: number, operation: string): number;
  abstract walk(visit: (block: BlockInfo) => void): void;
  abstract poolList(): PoolInfo[];
  /** Structural checks of the scheme's own metadata (lists, bins, links), appended to `errors`. */
  protected abstract checkStructure(errors: string[]): void;

  addPool(_memory: HeapMemory, _options: { base: number; offset?: number; length?: number }): PoolInfo[] {
    throw new TlsfError(
      'bad-option',
      `the ${this.kind} heap manages one contiguous region; it cannot add a pool (use the TLSF heap for extra banks)`,
    );
  }

  // ------------------------------------------------------------ refusals, worded alike for every heap

  /** Misuse of a pointer: `operation(0x...): problem`, with the TLSF heap's error codes. */
  protected refuse(code: TlsfErrorCode, operation: string, ptr: number, problem: string): never {
    throw new TlsfError(code, `${operation}(${hex(ptr)}): ${problem}`, ptr);
  }

  protected requireAligned(ptr: number, operation: string): void {
    if (!Number.isInteger(ptr) || ptr % this.align !== 0) {
      this.refuse('misaligned', operation, ptr, `not a multiple of the heap's alignment ${this.align}`);
    }
  }

  /** A pointer whose header would lie outside [first, end): `what` names the heap's blocks or fragments. */
  protected requireInside(ptr: number, header: number, operation: string, area: BlockArea): void {
    if (header < area.first || ptr >= area.end) {
      this.refuse(
        'out-of-pool',
        operation,
        ptr,
        `outside the heap's ${area.what} ${hex(area.first)}..${hex(area.end)}`,
      );
    }
  }

  /** The region given to the constructor is too small for `what`. */
  protected tooSmall(what: string): never {
    const { start, end } = this.region;
    throw new TlsfError('bad-option', `${end - start} bytes at ${hex(start)} cannot hold ${what}`);
  }

  // ------------------------------------------------------------ memory access

  protected read(addr: number): number {
    this.cost.wordsRead++;
    return this.words[(addr - this.memoryBase) / 4]! >>> 0;
  }

  protected write(addr: number, value: number): void {
    this.cost.wordsWritten++;
    this.words[(addr - this.memoryBase) / 4] = value;
  }

  protected read16(addr: number): number {
    this.cost.wordsRead++;
    return this.halves[(addr - this.memoryBase) / 2]!;
  }

  protected write16(addr: number, value: number): void {
    this.cost.wordsWritten++;
    this.halves[(addr - this.memoryBase) / 2] = value;
  }

  /** A metadata word without counting it: for inspection and the simulator's own bookkeeping. */
  protected peek(addr: number): number {
    return this.words[(addr - this.memoryBase) / 4]! >>> 0;
  }

  protected peek16(addr: number): number {
    return this.halves[(addr - this.memoryBase) / 2]!;
  }

  protected inRegion(addr: number): boolean {
    return addr >= this.region.start && addr < this.region.end;
  }

  // ------------------------------------------------------------ the public calls

  lastCallCost(): Readonly<HeapCost> {
    return this.cost;
  }

  malloc(size: number): number {
    this.cost = zeroCost();
    return this.mallocInner(size, 'malloc');
  }

  free(ptr: number): void {
    this.cost = zeroCost();
    if (ptr === 0) return;
    const block = this.liveBlock(ptr, 'free');
    this.release(block);
  }

  usableSize(ptr: number): number {
    this.cost = zeroCost();
    return this.blockBytesOf(this.liveBlock(ptr, 'usableSize')) - this.headerBytes;
  }

  calloc(count: number, size: number): number {
    this.cost = zeroCost();
    if (!Number.isInteger(count) || count < 0) {
      throw new TlsfError('bad-size', `calloc: count must be a non-negative integer, got ${quote(count)}`);
    }
    if (!Number.isInteger(size) || size < 0) {
      throw new TlsfError('bad-size', `calloc: size must be a non-negative integer, got ${quote(size)}`);
    }
    const total = count * size;
    if (total > 0xffff_ffff) return 0; // size_t overflow on the target
    const ptr = this.mallocInner(total, 'calloc');
    if (ptr !== 0) {
      const index = ptr - this.memoryBase;
      this.bytes.fill(0, index, index + total);
      this.cost.bytesCopied += total;
    }
    return ptr;
  }

  /**
   * Shrinks in place (the tail becomes free when it can be a block), grows into a free next block, else
   * moves (allocate, copy, release). realloc(0, n) is malloc(n); realloc(p, 0) frees p and returns 0; on
   * failure returns 0 and leaves the old block as it was.
   */
  realloc(ptr: number, size: number): number {
    this.cost = zeroCost();
    if (ptr === 0) return this.mallocInner(size, 'realloc');
    const block = this.liveBlock(ptr, 'realloc');
    if (size === 0) {
      this.release(block);
      return 0;
    }
    if (!this.validSize(size, 'realloc')) return 0;
    const wanted = this.blockBytesFor(size);
    if (wanted === 0) return 0;
    const current = this.blockBytesOf(block);
    if (wanted <= current) {
      this.trim(block, wanted);
      return ptr;
    }
    const before = this.peekUsedBytes(block);
    if (this.growInPlace(block, wanted)) {
      this.noteUsed(this.peekUsedBytes(block) - before);
      return ptr;
    }
    const moved = this.allocateBlock(size);
    if (moved === 0) return 0;
    this.noteUsed(this.peekUsedBytes(moved));
    const payload = moved + this.headerBytes;
    const keep = Math.min(current - this.headerBytes, size);
    const from = ptr - this.memoryBase;
    this.bytes.copyWithin(payload - this.memoryBase, from, from + keep);
    this.cost.bytesCopied += keep;
    this.release(block);
    return payload;
  }

  /**
   * A payload at a multiple of `alignment` (a power of two; anything else returns 0). Over-allocates by the
   * alignment and one minimum block, then gives the leading gap back as a free block (a gap too small to be
   * one is pushed one alignment step further) and trims the tail, the way the TLSF heap does.
   */
  memalign(alignment: number, size: number): number {
    this.cost = zeroCost();
    const powerOfTwo =
      Number.isInteger(alignment) && alignment > 0 && alignment <= 0x8000_0000 && (alignment & (alignment - 1)) === 0;
    if (!powerOfTwo) return 0;
    if (alignment <= this.payloadAlignment) return this.mallocInner(size, 'memalign');
    if (!this.validSize(size, 'memalign')) return 0;
    const wanted = this.blockBytesFor(size);
    if (wanted === 0) return 0;
    // Sized from `wanted`, not `size`: a tiny request is rounded up to a minimum block, and the part left after
    // the gap must still hold one (memalign(8, 0) on a 4-aligned first-fit heap left a 12-byte block otherwise).
    const block = this.allocateBlock(wanted - this.headerBytes + alignment + this.minBlockBytes);
    if (block === 0) return 0;
    this.noteUsed(this.peekUsedBytes(block));
    const payload = block + this.headerBytes;
    let aligned = alignUp(payload, alignment);
    if (aligned !== payload && aligned - payload < this.minBlockBytes) {
      aligned = alignUp(payload + this.minBlockBytes, alignment);
    }
    let target = block;
    if (aligned !== payload) {
      target = this.splitUsed(block, aligned - payload);
      this.release(block);
    }
    this.trim(target, wanted);
    return aligned;
  }

  // ------------------------------------------------------------ shared steps

  private mallocInner(size: number, operation: string): number {
    if (!this.validSize(size, operation)) return 0;
    if (this.blockBytesFor(size) === 0) return 0;
    const block = this.allocateBlock(size);
    if (block === 0) return 0;
    this.noteUsed(this.peekUsedBytes(block));
    return block + this.headerBytes;
  }

  /** Too large is a failure; not a size at all is misuse (as the TLSF heap). */
  private validSize(size: number, operation: string): boolean {
    if (typeof size === 'number' && Number.isInteger(size) && size >= 0) return size <= 0x7fff_0000;
    throw new TlsfError('bad-size', `${operation}: size must be a non-negative integer, got ${quote(size)}`);
  }

  /** Cuts a used block down to `wanted` bytes when the rest can be a block of its own, and frees the rest. */
  private trim(block: number, wanted: number): void {
    const current = this.blockBytesOf(block);
    if (current - wanted < this.minBlockBytes) return;
    const tail = this.splitUsed(block, wanted);
    this.release(tail);
  }

  private release(block: number): void {
    this.noteUsed(-this.peekUsedBytes(block));
    this.releaseBlock(block);
  }

  private noteUsed(delta: number): void {
    this.usedNow += delta;
    if (this.usedNow > this.peak) this.peak = this.usedNow;
  }

  /** Bytes of a block by the walk's reading (uncounted): the simulator's bookkeeping, not the algorithm's. */
  protected abstract peekUsedBytes(block: number): number;

  // ------------------------------------------------------------ inspection

  /** Bytes in used blocks, headers included (O(1)). */
  get usedBytes(): number {
    return this.usedNow;
  }

  get peakUsed(): number {
    return this.peak;
  }

  resetPeak(): void {
    this.peak = this.usedNow;
  }

  stats(): HeapStats {
    let usedBytes = 0;
    let freeBytes = 0;
    let usedBlocks = 0;
    let freeBlocks = 0;
    let largestFree = 0;
    let payloadBytes = 0;
    this.walk((block) => {
      if (block.used) {
        usedBytes += block.blockSize;
        usedBlocks++;
        payloadBytes += block.size;
      } else {
        freeBytes += block.blockSize;
        freeBlocks++;
        if (block.blockSize > largestFree) largestFree = block.blockSize;
      }
    });
    const poolBytes = this.region.end - this.region.start;
    return {
      usedBytes,
      freeBytes,
      usedBlocks,
      freeBlocks,
      largestFree,
      peakUsed: this.peak,
      controlBytes: this.controlBytes,
      poolBytes,
      overheadBytes: poolBytes - freeBytes - payloadBytes,
      fragmentation: freeBytes === 0 ? 0 : 1 - largestFree / freeBytes,
      pools: this.poolList(),
    };
  }

  check(): CheckResult {
    const errors: string[] = [];
    let usedBytes = 0;
    try {
      this.walk((block) => {
        if (block.used) usedBytes += block.blockSize;
        if (block.addr % this.payloadAlignment !== 0) {
          errors.push(`block ${hex(block.header)}: payload ${hex(block.addr)} not aligned to ${this.payloadAlignment}`);
        }
      });
    } catch (error) {
      errors.push((error as Error).message);
      return { ok: false, errors };
    }
    if (usedBytes !== this.usedNow) {
      errors.push(`the walk finds ${usedBytes} used bytes, the counter says ${this.usedNow}`);
    }
    this.checkStructure(errors);
    return { ok: errors.length === 0, errors: errors.slice(0, 1000) };
  }
}
