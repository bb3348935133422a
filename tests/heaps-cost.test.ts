// The work counters of the other heaps are exact (issue 13): on hand-built heaps every count is what the
// algorithm must do, first fit's search and insertion grow with the free list, and half fit's do not.
import { describe, expect, it } from 'vitest';
import { BestFitHeap, countsCost, FirstFitHeap, halfFitWorstCaseBytes, HalfFitHeap } from '../src/allocator/index.js';
import { createTlsf } from '../src/allocator/index.js';

const BASE = 0x2000_0000;

/**
 * 2k blocks of `size` bytes, then every other one freed (the lower of each pair): k free blocks none of which
 * can join a neighbour, and one large free block after them. Returns the heap and the used blocks, low to high.
 */
function fragmented<Heap extends FirstFitHeap | BestFitHeap | HalfFitHeap>(
  heap: Heap,
  k: number,
  size = 16,
): {
  heap: Heap;
  used: number[];
} {
  const blocks = Array.from({ length: 2 * k }, () => heap.malloc(size));
  expect(blocks.every((block) => block !== 0)).toBe(true);
  for (let index = 0; index < blocks.length; index += 2) heap.free(blocks[index]!);
  expect(heap.stats().freeBlocks).toBe(k + 1);
  return { heap, used: blocks.filter((_, index) => index % 2 === 1) };
}

describe('first fit (address-ordered list)', () => {
  it.each([0, 1, 4, 16])('malloc past %i small free blocks visits each of them and then the one that fits', (k) => {
    const { heap } = fragmented(new FirstFitHeap(new ArrayBuffer(8192), { base: BASE }), k);
    expect(heap.malloc(100)).not.toBe(0);
    // The start node's link, a size and a link per block too small, the fitting block's size and link; the
    // remainder takes the block's place (3 stores) and the block is marked used (2 stores).
    expect(heap.lastCallCost()).toEqual({
      nodesVisited: k + 1,
      bitmapWordsScanned: 0,
      splits: 1,
      merges: 0,
      wordsRead: 2 * k + 3,
      wordsWritten: 5,
      bytesCopied: 0,
    });
  });

  it.each([0, 1, 4, 16])('free walks past the %i free blocks below the block to its place in the list', (k) => {
    const { heap, used } = fragmented(new FirstFitHeap(new ArrayBuffer(8192), { base: BASE }), k + 1);
    // The highest used block: k + 1 free blocks lie below it, the last of them right before it, and the large
    // free block right after it. Its size, the start node's link, one link per block passed, the size and link
    // of the block after, the size of the block before; the block before grows over both (2 stores).
    heap.free(used[used.length - 1]!);
    expect(heap.lastCallCost()).toEqual({
      nodesVisited: k + 1,
      bitmapWordsScanned: 0,
      splits: 0,
      merges: 2,
      wordsRead: k + 6,
      wordsWritten: 2,
      bytesCopied: 0,
    });
  });

  it('a free between two free neighbours joins all three', () => {
    const heap = new FirstFitHeap(new ArrayBuffer(4096), { base: BASE });
    const [a, b, c] = [heap.malloc(16), heap.malloc(16), heap.malloc(16)];
    heap.free(a!);
    heap.free(c!); // joins the large block after it
    heap.free(b!);
    expect(heap.lastCallCost().merges).toBe(2);
    expect(heap.stats().freeBlocks).toBe(1);
  });
});

describe('best fit (whole free list)', () => {
  it.each([0, 1, 4, 16])('malloc with no exact fit examines all %i + 1 free blocks', (k) => {
    const { heap } = fragmented(new BestFitHeap(new ArrayBuffer(8192), { base: BASE }), k);
    expect(heap.malloc(100)).not.toBe(0);
    expect(heap.lastCallCost().nodesVisited).toBe(k + 1);
    expect(heap.lastCallCost().splits).toBe(1);
  });

  it('an exact fit ends the search: the most recently freed block is at the head of the list', () => {
    const { heap } = fragmented(new BestFitHeap(new ArrayBuffer(8192), { base: BASE }), 8);
    expect(heap.malloc(16)).not.toBe(0);
    expect(heap.lastCallCost()).toMatchObject({ nodesVisited: 1, splits: 0 });
  });

  it('takes the smallest block that fits, where first fit takes the lowest', () => {
    const build = <Heap extends FirstFitHeap | BestFitHeap>(
      heap: Heap,
    ): { heap: Heap; large: number; small: number } => {
      const large = heap.malloc(200);
      heap.malloc(8);
      const small = heap.malloc(40);
      heap.malloc(8);
      heap.free(large);
      heap.free(small);
      return { heap, large, small };
    };
    const best = build(new BestFitHeap(new ArrayBuffer(4096), { base: BASE }));
    expect(best.heap.malloc(30)).toBe(best.small);
    const first = build(new FirstFitHeap(new ArrayBuffer(4096), { base: BASE }));
    expect(first.heap.malloc(30)).toBe(first.large);
  });
});

describe('half fit (power-of-two bins)', () => {
  it('malloc and free cost the same on a fresh heap and past 16 free blocks: one bitmap word, one node', () => {
    const cost = (k: number) => {
      const { heap } = fragmented(new HalfFitHeap(new ArrayBuffer(8192), { base: BASE }), k);
      const block = heap.malloc(100);
      const mallocCost = { ...heap.lastCallCost() };
      heap.free(block);
      return { mallocCost, freeCost: { ...heap.lastCallCost() } };
    };
    const few = cost(1);
    const many = cost(16);
    expect(few.mallocCost).toMatchObject({ nodesVisited: 1, bitmapWordsScanned: 1, splits: 1 });
    expect(many.mallocCost).toEqual(few.mallocCost);
    // Before the freed block a used one, after it the rest of the large block: one merge either way.
    expect(many.freeCost).toEqual(few.freeCost);
    expect(few.freeCost.merges).toBe(1);
  });

  it('rounds requests up to a power of two, header included', () => {
    const heap = new HalfFitHeap(new ArrayBuffer(8192), { base: BASE });
    expect(heap.blockBytesFor(1)).toBe(32);
    expect(heap.blockBytesFor(16)).toBe(32);
    expect(heap.blockBytesFor(17)).toBe(64);
    expect(heap.blockBytesFor(112)).toBe(128);
    expect(heap.blockBytesFor(113)).toBe(256);
    expect(heap.usableSize(heap.malloc(100))).toBe(112);
  });

  it("o1heap's worst-case heap: with l = n it is a fixed-block pool, M plus a header per block", () => {
    // l = n: k = M/n blocks of n bytes, H = 16 k + 2 n M_f (0 + 1) / 2 = 16 k + M.
    expect(halfFitWorstCaseBytes(1024, 64, 64)).toBe(16 * 16 + 1024);
    // Robson's form 2 M (1 + log2 n) for l = 1 and no headers: the header term is 16 (M - n + 1).
    expect(halfFitWorstCaseBytes(1024, 64, 1)).toBe(16 * (1024 - 64 + 1) + Math.ceil((2 * 64 * 1024 * 7) / 65));
  });
});

it('the production TLSF heap counts nothing (its counting heap does: allocator-tlsf-cost.test.ts); the other three count', () => {
  expect(countsCost(createTlsf(new ArrayBuffer(4096)))).toBe(false);
  expect(countsCost(new FirstFitHeap(new ArrayBuffer(4096)))).toBe(true);
  expect(countsCost(new BestFitHeap(new ArrayBuffer(4096)))).toBe(true);
  expect(countsCost(new HalfFitHeap(new ArrayBuffer(4096)))).toBe(true);
});

it('misuse gives the TLSF error codes the board reports', () => {
  const options = { base: BASE };
  const heaps = [
    new FirstFitHeap(new ArrayBuffer(4096), options),
    new BestFitHeap(new ArrayBuffer(4096), options),
    new HalfFitHeap(new ArrayBuffer(4096), options),
  ];
  for (const heap of heaps) {
    const block = heap.malloc(40);
    expect(() => heap.free(block + 2)).toThrow(expect.objectContaining({ code: 'misaligned' }));
    expect(() => heap.free(BASE + 0x10000)).toThrow(expect.objectContaining({ code: 'out-of-pool' }));
    expect(() => heap.free(block + 16)).toThrow(expect.objectContaining({ code: 'not-a-block' }));
    heap.free(block);
    expect(() => heap.free(block)).toThrow(expect.objectContaining({ code: 'double-free' }));
    expect(() => heap.malloc(-1)).toThrow(expect.objectContaining({ code: 'bad-size' }));
    const addPool = () => heap.addPool(new ArrayBuffer(1024), { base: 0x1000_0000 });
    expect(addPool).toThrow(expect.objectContaining({ code: 'bad-option' }));
    expect(heap.check().ok).toBe(true);
  }
});
