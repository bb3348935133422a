import { TlsfError, hex } from './errors.js';
import { CountedHeap, type HeapMemory } from './heap-base.js';
import type { BlockInfo, HeapOptions, PoolInfo } from './heap-contract.js';

// Best fit over one free list, in fixed allocation units with a 4-byte header: the scheme umm_malloc documents,
// written here from that description.
//
// The region is an array of units (8 bytes; larger only when the region has more than 32767 of them, so a unit
// number always fits 15 bits). A block is a run of units; its first 4 bytes are its header, two 16-bit unit
// numbers: the next block (top bit set when this block is free) and the previous block. A free block keeps two
// more, the next and previous free block, in the rest of its first unit. Unit 0 is the list head (its free
// links are the list's ends) and the last unit is an end block whose next is 0.
//
//   unit 0          unit 1 ...                                        last unit
//   | head (1, 0, first free, -) | block | block | ...               | end (0, prev) |
//
// malloc scans the whole free list for the smallest block that fits (stopping early on an exact fit), so its
// cost grows with the number of free blocks; the rest of a larger block stays free in the block's place in
// the list. free joins the block with free neighbours (the physical links make both O(1)) and puts it at the
// head of the list. The payload starts 4 bytes into the unit, so the units are laid out from an address 4 below
// a multiple of the unit: payloads are then unit-aligned.

const FREE_FLAG = 0x8000;
const INDEX_MASK = 0x7fff;
const MAX_UNITS = 0x7fff;
const HEADER_BYTES = 4;

export class BestFitHeap extends CountedHeap {
  readonly kind = 'best-fit';
  readonly headerBytes = HEADER_BYTES;
  readonly minBlockBytes: number;
  readonly payloadAlignment: number;
  readonly controlBytes: number;
  readonly controlAddress: number;
  readonly unitBytes: number;
  /** Address of unit 0. */
  readonly origin: number;
  readonly unitCount: number;

  constructor(memory: HeapMemory, options: HeapOptions = {}) {
    super(memory, options);
    let unitBytes = Math.max(8, this.align);
    while ((this.region.end - this.region.start) / unitBytes > MAX_UNITS) unitBytes *= 2;
    this.unitBytes = unitBytes;
    this.minBlockBytes = unitBytes;
    this.payloadAlignment = unitBytes;
    this.origin = Math.ceil((this.region.start + HEADER_BYTES) / unitBytes) * unitBytes - HEADER_BYTES;
    this.unitCount = Math.min(Math.floor((this.region.end - this.origin) / unitBytes), MAX_UNITS + 1);
    this.controlBytes = 2 * unitBytes;
    this.controlAddress = this.origin;
    if (this.unitCount < 3) {
      this.tooSmall("the best-fit heap's head, end and one block");
    }
    const last = this.unitCount - 1;
    this.setNext(0, 1);
    this.setPrev(0, 0);
    this.setNextFree(0, 1);
    this.setPrevFree(0, 1);
    this.setNext(1, last | FREE_FLAG);
    this.setPrev(1, 0);
    this.setNextFree(1, 0);
    this.setPrevFree(1, 0);
    this.setNext(last, 0);
    this.setPrev(last, 1);
  }

  // ------------------------------------------------------------ the four 16-bit fields of a unit

  private address(unit: number): number {
    return this.origin + unit * this.unitBytes;
  }

  private unitOf(address: number): number {
    return (address - this.origin) / this.unitBytes;
  }

  private next(unit: number): number {
    return this.read16(this.address(unit));
  }
  private prev(unit: number): number {
    return this.read16(this.address(unit) + 2);
  }
  private nextFree(unit: number): number {
    return this.read16(this.address(unit) + 4);
  }
  private prevFree(unit: number): number {
    return this.read16(this.address(unit) + 6);
  }
  private setNext(unit: number, value: number): void {
    this.write16(this.address(unit), value);
  }
  private setPrev(unit: number, value: number): void {
    this.write16(this.address(unit) + 2, value);
  }
  private setNextFree(unit: number, value: number): void {
    this.write16(this.address(unit) + 4, value);
  }
  private setPrevFree(unit: number, value: number): void {
    this.write16(this.address(unit) + 6, value);
  }

  // ------------------------------------------------------------ the scheme

  private unitsFor(size: number): number {
    return Math.max(1, Math.ceil((size + HEADER_BYTES) / this.unitBytes));
  }

  blockBytesFor(size: number): number {
    const units = this.unitsFor(size);
    return units > this.unitCount - 2 ? 0 : units * this.unitBytes;
  }

  protected allocateBlock(size: number): number {
    const units = this.unitsFor(size);
    if (units > this.unitCount - 2) return 0;
    let best = 0;
    let bestUnits = Number.POSITIVE_INFINITY;
    for (let candidate = this.nextFree(0); candidate !== 0; candidate = this.nextFree(candidate)) {
      this.cost.nodesVisited++;
      const candidateUnits = (this.next(candidate) & INDEX_MASK) - candidate;
      if (candidateUnits >= units && candidateUnits < bestUnits) {
        best = candidate;
        bestUnits = candidateUnits;
        if (candidateUnits === units) break;
      }
    }
    if (best === 0) return 0;
    const following = this.next(best) & INDEX_MASK;
    if (bestUnits === units) {
      this.unlink(best);
      this.setNext(best, following);
    } else {
      // The front is taken; the rest stays free and takes the block's place in the list.
      const rest = best + units;
      const nextFree = this.nextFree(best);
      const prevFree = this.prevFree(best);
      this.setNext(rest, following | FREE_FLAG);
      this.setPrev(rest, best);
      this.setPrev(following, rest);
      this.setNextFree(rest, nextFree);
      this.setPrevFree(rest, prevFree);
      this.setNextFree(prevFree, rest);
      if (nextFree !== 0) this.setPrevFree(nextFree, rest);
      this.setNext(best, rest);
      this.cost.splits++;
    }
    return this.address(best);
  }

  private unlink(unit: number): void {
    const nextFree = this.nextFree(unit);
    const prevFree = this.prevFree(unit);
    this.setNextFree(prevFree, nextFree);
    if (nextFree !== 0) this.setPrevFree(nextFree, prevFree);
  }

  protected releaseBlock(block: number): void {
    const unit = this.unitOf(block);
    let following = this.next(unit);
    const afterFollowing = this.next(following);
    if ((afterFollowing & FREE_FLAG) !== 0) {
      this.unlink(following);
      following = afterFollowing & INDEX_MASK;
      this.setPrev(following, unit);
      this.cost.merges++;
    }
    const previous = this.prev(unit);
    if ((this.next(previous) & FREE_FLAG) !== 0) {
      // The previous block is free and listed already: it grows over this one.
      this.setNext(previous, following | FREE_FLAG);
      this.setPrev(following, previous);
      this.cost.merges++;
      return;
    }
    const head = this.nextFree(0);
    this.setNext(unit, following | FREE_FLAG);
    this.setNextFree(unit, head);
    this.setPrevFree(unit, 0);
    if (head !== 0) this.setPrevFree(head, unit);
    this.setNextFree(0, unit);
  }

  protected splitUsed(block: number, frontBytes: number): number {
    const unit = this.unitOf(block);
    const back = unit + frontBytes / this.unitBytes;
    const following = this.next(unit);
    this.setNext(back, following);
    this.setPrev(back, unit);
    this.setPrev(following, back);
    this.setNext(unit, back);
    this.cost.splits++;
    return this.address(back);
  }

  protected growInPlace(block: number, wantedBytes: number): boolean {
    const unit = this.unitOf(block);
    const following = this.next(unit);
    const afterFollowing = this.next(following);
    if ((afterFollowing & FREE_FLAG) === 0) return false;
    const end = afterFollowing & INDEX_MASK;
    const wantedUnits = wantedBytes / this.unitBytes;
    if (end - unit < wantedUnits) return false;
    this.unlink(following);
    this.setNext(unit, end);
    this.setPrev(end, unit);
    this.cost.merges++;
    if (end - unit > wantedUnits) this.releaseBlock(this.splitUsed(block, wantedBytes));
    return true;
  }

  protected blockBytesOf(block: number): number {
    const unit = this.unitOf(block);
    return ((this.next(unit) & INDEX_MASK) - unit) * this.unitBytes;
  }

  protected peekUsedBytes(block: number): number {
    const unit = this.unitOf(block);
    return ((this.peek16(block) & INDEX_MASK) - unit) * this.unitBytes;
  }

  protected liveBlock(ptr: number, operation: string): number {
    this.requireAligned(ptr, operation);
    const block = ptr - HEADER_BYTES;
    const unit = this.unitOf(block);
    const area = { first: this.address(1), end: this.address(this.unitCount - 1), what: 'blocks' };
    this.requireInside(ptr, block, operation, area);
    const notABlock = (): never => this.refuse('not-a-block', operation, ptr, "not the start of a block's payload");
    if (!Number.isInteger(unit)) notABlock();
    // The simulator's own checks (umm_malloc makes none): uncounted, they are not the algorithm's work.
    const nextWord = this.peek16(block);
    const following = nextWord & INDEX_MASK;
    const previous = this.peek16(block + 2);
    const linked =
      following > unit &&
      following < this.unitCount &&
      previous < unit &&
      (this.peek16(this.address(previous)) & INDEX_MASK) === unit &&
      this.peek16(this.address(following) + 2) === unit;
    if (!linked) notABlock();
    if ((nextWord & FREE_FLAG) !== 0) this.refuse('double-free', operation, ptr, 'the block is already free');
    return block;
  }

  walk(visit: (block: BlockInfo) => void): void {
    const last = this.unitCount - 1;
    let unit = 1;
    while (unit !== last) {
      const word = this.peek16(this.address(unit));
      const following = word & INDEX_MASK;
      const header = this.address(unit);
      if (following <= unit || following > last) {
        throw new TlsfError('corrupt', `walk: broken block header ${hex(word)} at ${hex(header)}`, header);
      }
      const blockBytes = (following - unit) * this.unitBytes;
      const used = (word & FREE_FLAG) === 0;
      visit({ addr: header + HEADER_BYTES, size: blockBytes - HEADER_BYTES, used, header, blockSize: blockBytes });
      unit = following;
    }
  }

  poolList(): PoolInfo[] {
    const { start, end } = this.region;
    return [{ start, end, firstBlock: this.address(1), sentinel: this.address(this.unitCount - 1) }];
  }

  protected checkStructure(errors: string[]): void {
    const last = this.unitCount - 1;
    const free = new Set<number>();
    let previous = 0;
    let previousFree = false;
    for (let unit = 1; unit !== last; ) {
      const word = this.peek16(this.address(unit));
      if (this.peek16(this.address(unit) + 2) !== previous) {
        errors.push(`block ${hex(this.address(unit))}: its previous-block link is not ${hex(this.address(previous))}`);
      }
      const isFree = (word & FREE_FLAG) !== 0;
      if (isFree) {
        free.add(unit);
        if (previousFree) errors.push(`free blocks before and at ${hex(this.address(unit))} were not joined`);
      }
      previousFree = isFree;
      previous = unit;
      unit = word & INDEX_MASK;
    }
    if (this.peek16(this.address(last)) !== 0 || this.peek16(this.address(last) + 2) !== previous) {
      errors.push(`the end block at ${hex(this.address(last))} was overwritten`);
    }
    let listed = 0;
    let before = 0;
    for (let unit = this.peek16(this.address(0) + 4); unit !== 0; unit = this.peek16(this.address(unit) + 4)) {
      if (!free.has(unit)) {
        errors.push(`the free list holds ${hex(this.address(unit))}, which the walk does not find free`);
        return;
      }
      if (this.peek16(this.address(unit) + 6) !== before) {
        errors.push(`free block ${hex(this.address(unit))}: its previous-free link is wrong`);
      }
      if (++listed > free.size) {
        errors.push('the free list is longer than the free blocks the walk finds (a cycle?)');
        return;
      }
      before = unit;
    }
    if (listed !== free.size) errors.push(`the free list holds ${listed} blocks, the walk finds ${free.size} free`);
  }
}
