import { TlsfError, hex } from './errors.js';
import { alignDown, alignUp, CountedHeap, type HeapMemory } from './heap-base.js';
import type { BlockInfo, HeapOptions, PoolInfo } from './heap-contract.js';

// First fit over an address-ordered free list with immediate coalescing: the scheme FreeRTOS documents for
// heap_4, written here from that description.
//
//   region start                                                                 region end
//   | start node | block | block | ...                                   | end marker |
//     (next, 0)    header = [next free (0 when used), size | USED_BIT], payload after it
//
// malloc walks the list from the start node and takes the first block that is large enough, cutting off the
// rest when it can be a block; free walks the list again to the insertion point (the list is kept in address
// order) and joins the block with a free neighbour on either side. Both walks grow with the number of free
// blocks: that is the cost this heap is here to show. One difference from heap_4: a remainder left by malloc
// takes the taken block's place in the list directly (the list is in address order, so that place is right),
// where heap_4 walks the list again to insert it.

/** heap_4 marks a used block with the size word's top bit. */
const USED_BIT = 0x8000_0000;
const SIZE_MASK = 0x7fff_ffff;

export class FirstFitHeap extends CountedHeap {
  readonly kind = 'first-fit';
  readonly headerBytes: number;
  readonly minBlockBytes: number;
  readonly payloadAlignment: number;
  readonly controlBytes: number;
  readonly controlAddress: number;
  /** The list head: a header-sized node whose next field is the first free block. */
  readonly startNode: number;
  readonly firstBlock: number;
  /** A header of size 0 after the last block, where the list ends. */
  readonly endNode: number;

  constructor(memory: HeapMemory, options: HeapOptions = {}) {
    super(memory, options);
    // heap_4's header is two words (next, size), padded to the alignment so payloads stay aligned.
    this.headerBytes = Math.max(8, this.align);
    this.minBlockBytes = 2 * this.headerBytes;
    this.payloadAlignment = this.align;
    this.startNode = alignUp(this.region.start, this.align);
    this.firstBlock = this.startNode + this.headerBytes;
    this.endNode = alignDown(this.region.end - this.headerBytes, this.align);
    this.controlBytes = 2 * this.headerBytes;
    this.controlAddress = this.startNode;
    if (this.endNode - this.firstBlock < this.minBlockBytes) {
      this.tooSmall("the first-fit heap's list ends and one block");
    }
    this.init();
  }

  private init(): void {
    this.write(this.startNode, this.firstBlock);
    this.write(this.startNode + 4, 0);
    this.write(this.firstBlock, this.endNode);
    this.write(this.firstBlock + 4, this.endNode - this.firstBlock);
    this.write(this.endNode, 0);
    this.write(this.endNode + 4, 0);
  }

  blockBytesFor(size: number): number {
    const bytes = Math.max(alignUp(size + this.headerBytes, this.align), this.minBlockBytes);
    return bytes > this.endNode - this.firstBlock ? 0 : bytes;
  }

  protected allocateBlock(size: number): number {
    const wanted = this.blockBytesFor(size);
    if (wanted === 0) return 0;
    let previous = this.startNode;
    let block = this.read(previous);
    let blockBytes = 0;
    while (block !== this.endNode) {
      this.cost.nodesVisited++;
      blockBytes = this.read(block + 4);
      if (blockBytes >= wanted) break;
      previous = block;
      block = this.read(block);
    }
    if (block === this.endNode) return 0;
    const next = this.read(block);
    if (blockBytes - wanted >= this.minBlockBytes) {
      const rest = block + wanted;
      this.write(rest, next);
      this.write(rest + 4, blockBytes - wanted);
      this.write(previous, rest);
      this.cost.splits++;
      blockBytes = wanted;
    } else {
      this.write(previous, next);
    }
    this.write(block, 0);
    this.write(block + 4, blockBytes | USED_BIT);
    return block;
  }

  protected releaseBlock(block: number): void {
    let blockBytes = this.read(block + 4) & SIZE_MASK;
    // The insertion point: the last list node below the block (the start node when there is none).
    let previous = this.startNode;
    let next = this.read(previous);
    while (next < block) {
      this.cost.nodesVisited++;
      previous = next;
      next = this.read(next);
    }
    if (block + blockBytes === next && next !== this.endNode) {
      blockBytes += this.read(next + 4);
      next = this.read(next);
      this.cost.merges++;
    }
    if (previous !== this.startNode) {
      const previousBytes = this.read(previous + 4);
      if (previous + previousBytes === block) {
        this.write(previous + 4, previousBytes + blockBytes);
        this.write(previous, next);
        this.cost.merges++;
        return;
      }
    }
    this.write(block, next);
    this.write(block + 4, blockBytes);
    this.write(previous, block);
  }

  protected splitUsed(block: number, frontBytes: number): number {
    const blockBytes = this.read(block + 4) & SIZE_MASK;
    const back = block + frontBytes;
    this.write(block + 4, frontBytes | USED_BIT);
    this.write(back, 0);
    this.write(back + 4, (blockBytes - frontBytes) | USED_BIT);
    this.cost.splits++;
    return back;
  }

  protected growInPlace(block: number, wantedBytes: number): boolean {
    const blockBytes = this.read(block + 4) & SIZE_MASK;
    const after = block + blockBytes;
    if (after === this.endNode) return false;
    const afterWord = this.read(after + 4);
    if ((afterWord & USED_BIT) !== 0 || blockBytes + afterWord < wantedBytes) return false;
    // The free block after is in the list: find the node before it to unlink it (another walk).
    let previous = this.startNode;
    let node = this.read(previous);
    while (node !== after) {
      this.cost.nodesVisited++;
      previous = node;
      node = this.read(node);
    }
    const next = this.read(after);
    this.cost.merges++;
    const total = blockBytes + afterWord;
    if (total - wantedBytes >= this.minBlockBytes) {
      const rest = block + wantedBytes;
      this.write(rest, next);
      this.write(rest + 4, total - wantedBytes);
      this.write(previous, rest);
      this.write(block + 4, wantedBytes | USED_BIT);
      this.cost.splits++;
    } else {
      this.write(previous, next);
      this.write(block + 4, total | USED_BIT);
    }
    return true;
  }

  protected blockBytesOf(block: number): number {
    return this.read(block + 4) & SIZE_MASK;
  }

  protected peekUsedBytes(block: number): number {
    return this.peek(block + 4) & SIZE_MASK;
  }

  protected liveBlock(ptr: number, operation: string): number {
    this.requireAligned(ptr, operation);
    const block = ptr - this.headerBytes;
    this.requireInside(ptr, block, operation, { first: this.firstBlock, end: this.endNode, what: 'blocks' });
    // The simulator's own checks (heap_4 asserts similar ones): uncounted, they are not the algorithm's work.
    const sizeWord = this.peek(block + 4);
    const blockBytes = sizeWord & SIZE_MASK;
    if ((sizeWord & USED_BIT) === 0) {
      const known = this.blockAt(block);
      if (known && !known.used) this.refuse('double-free', operation, ptr, 'the block is already free');
      this.refuse('not-a-block', operation, ptr, `the header ${hex(sizeWord)} is not a used block's`);
    }
    const plausible =
      this.peek(block) === 0 &&
      blockBytes >= this.minBlockBytes &&
      blockBytes % this.align === 0 &&
      block + blockBytes <= this.endNode;
    if (!plausible) this.refuse('not-a-block', operation, ptr, `the header ${hex(sizeWord)} is not a used block's`);
    return block;
  }

  /** The block whose header is at `header`, by a walk (error reports only). */
  private blockAt(header: number): BlockInfo | undefined {
    let found: BlockInfo | undefined;
    try {
      this.walk((block) => {
        if (block.header === header) found = block;
      });
    } catch {
      /* a damaged heap: no answer */
    }
    return found;
  }

  walk(visit: (block: BlockInfo) => void): void {
    let block = this.firstBlock;
    while (block < this.endNode) {
      const word = this.peek(block + 4);
      const blockBytes = word & SIZE_MASK;
      if (blockBytes < this.minBlockBytes || blockBytes % this.align !== 0 || block + blockBytes > this.endNode) {
        throw new TlsfError('corrupt', `walk: broken block header ${hex(word)} at ${hex(block)}`, block);
      }
      const used = (word & USED_BIT) !== 0;
      const payload = block + this.headerBytes;
      visit({ addr: payload, size: blockBytes - this.headerBytes, used, header: block, blockSize: blockBytes });
      block += blockBytes;
    }
  }

  poolList(): PoolInfo[] {
    return [{ start: this.region.start, end: this.region.end, firstBlock: this.firstBlock, sentinel: this.endNode }];
  }

  protected checkStructure(errors: string[]): void {
    const free = new Map<number, number>();
    this.walk((block) => {
      if (!block.used) free.set(block.header, block.blockSize);
    });
    if (this.peek(this.endNode) !== 0 || this.peek(this.endNode + 4) !== 0) {
      errors.push(`the end marker at ${hex(this.endNode)} was overwritten`);
    }
    let node = this.peek(this.startNode);
    let previousEnd = -1;
    let listed = 0;
    while (node !== this.endNode) {
      if (listed > free.size) {
        errors.push('the free list is longer than the free blocks the walk finds (a cycle?)');
        return;
      }
      const blockBytes = free.get(node);
      if (blockBytes === undefined) {
        errors.push(`the free list holds ${hex(node)}, which the walk does not find free`);
        return;
      }
      if (node < previousEnd) errors.push(`the free list is out of address order at ${hex(node)}`);
      else if (node === previousEnd) errors.push(`the free blocks meeting at ${hex(node)} were not joined`);
      previousEnd = node + blockBytes;
      listed++;
      node = this.peek(node);
    }
    if (listed !== free.size) errors.push(`the free list holds ${listed} blocks, the walk finds ${free.size} free`);
  }
}
