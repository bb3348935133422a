import { TlsfError, hex } from './errors.js';
import { alignDown, alignUp, CountedHeap, type HeapMemory } from './heap-base.js';
import type { BlockInfo, HeapOptions, PoolInfo } from './heap-contract.js';

// Half fit: requests rounded up to a power of two, free fragments binned by the power of two their size lies
// in, one bitmap word saying which bins are non-empty. The scheme o1heap documents (after Ogasawara), written
// here from that description.
//
//   region start                                                          region end
//   | bitmap | 32 bin heads | pad | fragment | fragment | ...           |
//   fragment header, 16 bytes: [next fragment, previous fragment, size, used]; a free fragment keeps its
//   next and previous free fragment in the first two payload words.
//
// A request of r bytes takes a fragment of 2^ceil(log2(r + 16)) bytes. Bin i holds free fragments of
// [2^i, 2^(i+1)) bytes, so the head of any non-empty bin at or above log2 of that size fits: malloc reads the
// bitmap once, isolates its lowest suitable bit and takes that bin's head; no list is ever searched. free
// joins both physical neighbours through the header links. Everything is constant time; the price is the
// rounding (up to half of each fragment unused) and the worst-case heap halfFitWorstCaseBytes gives.

const HEADER_BYTES = 16;
const MIN_FRAGMENT_BYTES = 2 * HEADER_BYTES;
const BIN_COUNT = 32;
const CONTROL_BYTES = 4 * (1 + BIN_COUNT);

function log2Floor(value: number): number {
  return 31 - Math.clz32(value);
}

export class HalfFitHeap extends CountedHeap {
  readonly kind = 'half-fit';
  readonly headerBytes = HEADER_BYTES;
  readonly minBlockBytes = MIN_FRAGMENT_BYTES;
  /** o1heap's alignment is its header size: four pointers, 16 bytes on a 32-bit target. */
  readonly payloadAlignment = HEADER_BYTES;
  readonly controlBytes = CONTROL_BYTES;
  /** The non-empty-bins bitmap word; the bin heads follow it. */
  readonly controlAddress: number;
  readonly arenaStart: number;
  readonly arenaEnd: number;

  constructor(memory: HeapMemory, options: HeapOptions = {}) {
    super(memory, options);
    this.controlAddress = alignUp(this.region.start, 4);
    this.arenaStart = alignUp(this.controlAddress + CONTROL_BYTES, HEADER_BYTES);
    this.arenaEnd = this.arenaStart + Math.min(alignDown(this.region.end - this.arenaStart, HEADER_BYTES), 0x4000_0000);
    if (this.arenaEnd - this.arenaStart < MIN_FRAGMENT_BYTES) {
      this.tooSmall("the half-fit heap's bins and one fragment");
    }
    for (let word = 0; word <= BIN_COUNT; word++) this.write(this.controlAddress + 4 * word, 0);
    const fragment = this.arenaStart;
    this.write(fragment, 0);
    this.write(fragment + 4, 0);
    this.write(fragment + 8, this.arenaEnd - this.arenaStart);
    this.write(fragment + 12, 0);
    this.rebin(fragment, this.arenaEnd - this.arenaStart);
  }

  private binAddress(bin: number): number {
    return this.controlAddress + 4 * (1 + bin);
  }

  blockBytesFor(size: number): number {
    const needed = size + HEADER_BYTES;
    if (needed > 0x4000_0000) return 0;
    const fragmentBytes = Math.max(MIN_FRAGMENT_BYTES, 2 ** (32 - Math.clz32(needed - 1)));
    return fragmentBytes > this.arenaEnd - this.arenaStart ? 0 : fragmentBytes;
  }

  protected allocateBlock(size: number): number {
    const fragmentBytes = this.blockBytesFor(size);
    if (fragmentBytes === 0) return 0;
    const optimalBin = log2Floor(fragmentBytes);
    this.cost.bitmapWordsScanned++;
    const suitable = (this.read(this.controlAddress) & (-1 << optimalBin)) >>> 0;
    if (suitable === 0) return 0;
    const bin = log2Floor((suitable & -suitable) >>> 0);
    const fragment = this.read(this.binAddress(bin));
    this.cost.nodesVisited++;
    const available = this.read(fragment + 8);
    this.unbin(fragment, available);
    const leftover = available - fragmentBytes;
    if (leftover >= MIN_FRAGMENT_BYTES) {
      const rest = fragment + fragmentBytes;
      this.insertAfter(fragment, rest);
      this.write(rest + 8, leftover);
      this.write(rest + 12, 0);
      this.rebin(rest, leftover);
      this.write(fragment + 8, fragmentBytes);
      this.cost.splits++;
    }
    this.write(fragment + 12, 1);
    return fragment;
  }

  /** Links a new fragment at `inserted` between `fragment` and its next one. */
  private insertAfter(fragment: number, inserted: number): void {
    const next = this.read(fragment);
    this.write(inserted, next);
    this.write(inserted + 4, fragment);
    if (next !== 0) this.write(next + 4, inserted);
    this.write(fragment, inserted);
  }

  /** Makes `fragment` point forwards to `next` and `next` back to it (fragments joined or cut). */
  private interlink(fragment: number, next: number): void {
    this.write(fragment, next);
    if (next !== 0) this.write(next + 4, fragment);
  }

  private rebin(fragment: number, fragmentBytes: number): void {
    const bin = log2Floor(fragmentBytes);
    const binAddress = this.binAddress(bin);
    const head = this.read(binAddress);
    this.write(fragment + 16, head);
    this.write(fragment + 20, 0);
    if (head !== 0) this.write(head + 20, fragment);
    this.write(binAddress, fragment);
    this.write(this.controlAddress, this.read(this.controlAddress) | (1 << bin));
  }

  private unbin(fragment: number, fragmentBytes: number): void {
    const bin = log2Floor(fragmentBytes);
    const nextFree = this.read(fragment + 16);
    const prevFree = this.read(fragment + 20);
    if (nextFree !== 0) this.write(nextFree + 20, prevFree);
    if (prevFree !== 0) {
      this.write(prevFree + 16, nextFree);
    } else {
      this.write(this.binAddress(bin), nextFree);
      if (nextFree === 0) this.write(this.controlAddress, this.read(this.controlAddress) & ~(1 << bin));
    }
  }

  protected releaseBlock(fragment: number): void {
    let fragmentBytes = this.read(fragment + 8);
    this.write(fragment + 12, 0);
    const previous = this.read(fragment + 4);
    const next = this.read(fragment);
    const joinLeft = previous !== 0 && this.read(previous + 12) === 0;
    const joinRight = next !== 0 && this.read(next + 12) === 0;
    let start = fragment;
    if (joinRight) {
      const nextBytes = this.read(next + 8);
      this.unbin(next, nextBytes);
      this.interlink(fragment, this.read(next));
      fragmentBytes += nextBytes;
      this.cost.merges++;
    }
    if (joinLeft) {
      const previousBytes = this.read(previous + 8);
      this.unbin(previous, previousBytes);
      this.interlink(previous, this.read(fragment));
      fragmentBytes += previousBytes;
      start = previous;
      this.cost.merges++;
    }
    this.write(start + 8, fragmentBytes);
    this.rebin(start, fragmentBytes);
  }

  protected splitUsed(fragment: number, frontBytes: number): number {
    const fragmentBytes = this.read(fragment + 8);
    const back = fragment + frontBytes;
    this.insertAfter(fragment, back);
    this.write(back + 8, fragmentBytes - frontBytes);
    this.write(back + 12, 1);
    this.write(fragment + 8, frontBytes);
    this.cost.splits++;
    return back;
  }

  protected growInPlace(fragment: number, wantedBytes: number): boolean {
    const next = this.read(fragment);
    if (next === 0 || this.read(next + 12) !== 0) return false;
    const fragmentBytes = this.read(fragment + 8);
    const nextBytes = this.read(next + 8);
    const total = fragmentBytes + nextBytes;
    if (total < wantedBytes) return false;
    this.unbin(next, nextBytes);
    this.interlink(fragment, this.read(next));
    this.cost.merges++;
    if (total - wantedBytes >= MIN_FRAGMENT_BYTES) {
      const rest = fragment + wantedBytes;
      this.insertAfter(fragment, rest);
      this.write(rest + 8, total - wantedBytes);
      this.write(rest + 12, 0);
      this.rebin(rest, total - wantedBytes);
      this.write(fragment + 8, wantedBytes);
      this.cost.splits++;
    } else {
      this.write(fragment + 8, total);
    }
    return true;
  }

  protected blockBytesOf(fragment: number): number {
    return this.read(fragment + 8);
  }

  protected peekUsedBytes(fragment: number): number {
    return this.peek(fragment + 8);
  }

  protected liveBlock(ptr: number, operation: string): number {
    this.requireAligned(ptr, operation);
    const fragment = ptr - HEADER_BYTES;
    this.requireInside(ptr, fragment, operation, { first: this.arenaStart, end: this.arenaEnd, what: 'fragments' });
    // The simulator's own checks (o1heap asserts similar ones): uncounted, they are not the algorithm's work.
    const fragmentBytes = this.peek(fragment + 8);
    const next = this.peek(fragment);
    const previous = this.peek(fragment + 4);
    const end = fragment + fragmentBytes;
    const linked =
      (fragment - this.arenaStart) % HEADER_BYTES === 0 &&
      fragmentBytes >= MIN_FRAGMENT_BYTES &&
      fragmentBytes % HEADER_BYTES === 0 &&
      end <= this.arenaEnd &&
      (next === 0 ? end === this.arenaEnd : next === end) &&
      (previous === 0
        ? fragment === this.arenaStart
        : previous >= this.arenaStart && previous < fragment && this.peek(previous) === fragment);
    const used = this.peek(fragment + 12);
    if (!linked || used > 1) this.refuse('not-a-block', operation, ptr, "not the start of a fragment's payload");
    if (used === 0) this.refuse('double-free', operation, ptr, 'the fragment is already free');
    return fragment;
  }

  walk(visit: (block: BlockInfo) => void): void {
    let fragment = this.arenaStart;
    while (fragment !== this.arenaEnd) {
      const fragmentBytes = this.peek(fragment + 8);
      const used = this.peek(fragment + 12);
      const plausible =
        fragmentBytes >= MIN_FRAGMENT_BYTES &&
        fragmentBytes % HEADER_BYTES === 0 &&
        fragment + fragmentBytes <= this.arenaEnd &&
        used <= 1;
      if (!plausible) {
        const text = `walk: broken fragment header (size ${fragmentBytes}, used ${used}) at ${hex(fragment)}`;
        throw new TlsfError('corrupt', text, fragment);
      }
      const payload = fragment + HEADER_BYTES;
      const size = fragmentBytes - HEADER_BYTES;
      visit({ addr: payload, size, used: used === 1, header: fragment, blockSize: fragmentBytes });
      fragment += fragmentBytes;
    }
  }

  poolList(): PoolInfo[] {
    return [{ start: this.region.start, end: this.region.end, firstBlock: this.arenaStart, sentinel: this.arenaEnd }];
  }

  protected checkStructure(errors: string[]): void {
    const free = new Map<number, number>();
    let previous = 0;
    let previousFree = false;
    this.walk((block) => {
      const fragment = block.header;
      if (this.peek(fragment + 4) !== previous) {
        errors.push(`fragment ${hex(fragment)}: its previous-fragment link is not ${hex(previous)}`);
      }
      const next = this.peek(fragment);
      const expectedNext = fragment + block.blockSize === this.arenaEnd ? 0 : fragment + block.blockSize;
      if (next !== expectedNext) {
        errors.push(`fragment ${hex(fragment)}: its next-fragment link is ${hex(next)}, not ${hex(expectedNext)}`);
      }
      if (!block.used) {
        free.set(fragment, block.blockSize);
        if (previousFree) errors.push(`free fragments before and at ${hex(fragment)} were not joined`);
      }
      previousFree = !block.used;
      previous = fragment;
    });
    const bitmap = this.peek(this.controlAddress);
    let listed = 0;
    for (let bin = 0; bin < BIN_COUNT; bin++) {
      const head = this.peek(this.binAddress(bin));
      if (((bitmap >>> bin) & 1) !== (head === 0 ? 0 : 1)) {
        errors.push(`bin ${bin}: bitmap bit and list head ${hex(head)} disagree`);
      }
      let before = 0;
      for (let fragment = head; fragment !== 0; fragment = this.peek(fragment + 16)) {
        const fragmentBytes = free.get(fragment);
        if (fragmentBytes === undefined) {
          errors.push(`bin ${bin} holds ${hex(fragment)}, which the walk does not find free`);
          return;
        }
        if (log2Floor(fragmentBytes) !== bin) errors.push(`${hex(fragment)} (${fragmentBytes} B) is in bin ${bin}`);
        if (this.peek(fragment + 20) !== before) errors.push(`${hex(fragment)}: its previous-free link is wrong`);
        if (++listed > free.size) {
          errors.push('the bins hold more fragments than the walk finds free (a cycle?)');
          return;
        }
        before = fragment;
      }
    }
    if (listed !== free.size) errors.push(`the bins hold ${listed} fragments, the walk finds ${free.size} free`);
  }
}

/**
 * The heap on which half fit provably never fails for a workload that has at most `maxLiveBytes` requested at
 * once and never asks for more than `largestRequest` bytes (nor less than `smallestRequest`): o1heap's sizing
 * formula, H = a·k + 2·l·n·M_f·(⌈log2 n_f⌉ + 1) / (l + n), with a the 16-byte header, l the smallest and n the
 * largest request, M_f and n_f the peak and the largest request in units of l, and k = M_f − n_f + 1 fragments.
 * Its unrefined form is Robson's 2·M·(1 + ⌈log2 n⌉).
 */
export function halfFitWorstCaseBytes(maxLiveBytes: number, largestRequest: number, smallestRequest = 1): number {
  const smallest = Math.max(1, Math.min(smallestRequest, largestRequest));
  const largestUnits = Math.ceil(largestRequest / smallest);
  const liveUnits = Math.ceil(maxLiveBytes / smallest);
  const fragments = Math.max(1, liveUnits - largestUnits + 1);
  const log2Units = largestUnits <= 1 ? 0 : Math.ceil(Math.log2(largestUnits));
  const fragmentBytes = (2 * smallest * largestRequest * liveUnits * (log2Units + 1)) / (smallest + largestRequest);
  return Math.ceil(HEADER_BYTES * fragments + fragmentBytes);
}
