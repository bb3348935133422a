// TLSF's work per call (issue 13): the counting heap's counts are exact on hand-built heaps (each expectation is
// the algorithm's steps, word by word), the counting heap behaves exactly as the production heap, and its worst
// case stays the same however fragmented the heap, while first fit's grows with its free list.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { countsCost, createCountingTlsf, createTlsf, FirstFitHeap, type HeapCost } from '../src/allocator/index.js';

const BASE = 0x2000_0000;

function cost(parts: Partial<HeapCost>): HeapCost {
  return {
    nodesVisited: 0,
    bitmapWordsScanned: 0,
    splits: 0,
    merges: 0,
    wordsRead: 0,
    wordsWritten: 0,
    bytesCopied: 0,
    ...parts,
  };
}

/** 2k blocks of `size` bytes, every other one freed: k free blocks that cannot join, then one large free block. */
function fragmented<Heap extends { malloc(size: number): number; free(ptr: number): void }>(
  heap: Heap,
  k: number,
  size = 16,
): number[] {
  const blocks = Array.from({ length: 2 * k }, () => heap.malloc(size));
  expect(blocks.every((block) => block !== 0)).toBe(true);
  for (let index = 0; index < blocks.length; index += 2) heap.free(blocks[index]!);
  return blocks.filter((_, index) => index % 2 === 1);
}

describe('the counting TLSF heap: exact counts on hand-built heaps', () => {
  it('counts; the production heap does not', () => {
    expect(countsCost(createCountingTlsf(new ArrayBuffer(4096)))).toBe(true);
    expect(countsCost(createTlsf(new ArrayBuffer(4096)))).toBe(false);
  });

  it('keeps counting once a pool in another buffer makes it a multi-memory heap', () => {
    const heap = createCountingTlsf(new ArrayBuffer(8192), { base: BASE });
    heap.addPool(new ArrayBuffer(4096), { base: 0x1000_0000 });
    expect(heap.malloc(16)).not.toBe(0);
    expect(heap.lastCallCost()).toMatchObject({ nodesVisited: 1, splits: 1, wordsRead: 12, wordsWritten: 11 });
    const big = heap.malloc(6000); // only the first pool holds it
    heap.free(big);
    expect(heap.lastCallCost().merges).toBe(1);
  });

  it('malloc on a fresh heap: three bitmap words, one list head, a split', () => {
    const heap = createCountingTlsf(new ArrayBuffer(8192), { base: BASE });
    expect(heap.malloc(16)).not.toBe(0);
    // Search: slBitmap[0] (empty above class 3), flBitmap, the row found: 3 reads; the head: 1. Take it: its
    // header (checked) and next link; the head is cleared and the emptied row and flBitmap bit with it (2 reads,
    // 3 writes). Use it: the header again, and a 24-byte block written; the remainder filed: header, back link,
    // its list head read and written, its two links, then its row and flBitmap bits set (2 reads, 6 + 2 writes).
    expect(heap.lastCallCost()).toEqual(
      cost({ nodesVisited: 1, bitmapWordsScanned: 3, splits: 1, wordsRead: 12, wordsWritten: 11 }),
    );
  });

  it('malloc of an exact fit from the search class itself: one bitmap word, no split', () => {
    const heap = createCountingTlsf(new ArrayBuffer(8192), { base: BASE });
    const first = heap.malloc(16);
    heap.malloc(16); // keeps the freed block from joining the rest
    heap.free(first);
    expect(heap.malloc(16)).toBe(first);
    // slBitmap[0]: class 3 non-empty (1 bitmap read); the head; its header and next link; the head cleared and the
    // emptied row and flBitmap with it; the header again and written used; the next block's P flag cleared.
    expect(heap.lastCallCost()).toEqual(
      cost({ nodesVisited: 1, bitmapWordsScanned: 1, wordsRead: 8, wordsWritten: 5 }),
    );
  });

  it('free with no free neighbour files the block: no merge', () => {
    const heap = createCountingTlsf(new ArrayBuffer(8192), { base: BASE });
    const first = heap.malloc(16);
    heap.malloc(16);
    heap.free(first);
    // Validation: header and the next block's P flag; release: header again, next header read and its P set;
    // filing: header, back link, list head read and written, two links, row and flBitmap bits (2 reads, 2 writes).
    expect(heap.lastCallCost()).toEqual(cost({ wordsRead: 7, wordsWritten: 8 }));
  });

  it('free between two free neighbours: two merges, each neighbour taken off its list', () => {
    const heap = createCountingTlsf(new ArrayBuffer(8192), { base: BASE });
    const [a, b, c] = [heap.malloc(16), heap.malloc(16), heap.malloc(16)];
    heap.malloc(16);
    heap.free(a);
    heap.free(c);
    heap.free(b);
    // Validation: header, the next block's P flag. Release: header again; the back link before it and the previous
    // block's header (checked), b's header marked free, a's header for its size. a leaves its list (it is last on
    // it, after c): its two links, c's next link cleared. c's header; c leaves its list as its head: its two links,
    // the head cleared, the emptied row and flBitmap. The 72-byte block filed: header, back link, head read and
    // written, two links, row and flBitmap bits.
    expect(heap.lastCallCost()).toEqual(cost({ merges: 2, wordsRead: 16, wordsWritten: 12 }));
    expect(heap.stats().freeBlocks).toBe(2); // a + b + c, and the large block after the fourth
  });

  it('realloc that grows into the free block after it: one merge, the rest filed again', () => {
    const heap = createCountingTlsf(new ArrayBuffer(8192), { base: BASE });
    const block = heap.malloc(16);
    expect(heap.realloc(block, 40)).toBe(block);
    // Validation (header, next P flag); header and next header again; the large block leaves its list (two links,
    // head cleared, row and flBitmap emptied); the block is written 48 bytes long; the sentinel's P flag set; the
    // rest filed (header, back link, head read and written, two links, row and flBitmap bits).
    expect(heap.lastCallCost()).toEqual(cost({ splits: 1, merges: 1, wordsRead: 12, wordsWritten: 12 }));
  });

  it('realloc that moves counts the copied payload apart from the metadata words', () => {
    const heap = createCountingTlsf(new ArrayBuffer(8192), { base: BASE });
    const block = heap.malloc(40);
    heap.malloc(16); // nothing to grow into
    const moved = heap.realloc(block, 200);
    expect(moved).not.toBe(block);
    // The 44-byte payload of the 48-byte block is copied; the new block splits the large one; the old block merges
    // with nothing (a used block on each side).
    expect(heap.lastCallCost()).toMatchObject({ bytesCopied: 44, splits: 1, merges: 0, nodesVisited: 1 });
  });

  it('calloc counts the bytes it zeroes; inspection between calls counts nothing', () => {
    const heap = createCountingTlsf(new ArrayBuffer(8192), { base: BASE });
    heap.calloc(10, 12);
    const work = { ...heap.lastCallCost() };
    expect(work.bytesCopied).toBe(120);
    heap.check();
    heap.stats();
    heap.walk(() => undefined);
    expect(heap.lastCallCost()).toEqual(work);
  });
});

describe('TLSF work does not grow with the free list; first fit does', () => {
  it.each([1, 4, 16, 64])('malloc(100) past %i small free blocks costs what it costs on a fresh heap', (k) => {
    const fresh = createCountingTlsf(new ArrayBuffer(16384), { base: BASE });
    fresh.malloc(100);
    const heap = createCountingTlsf(new ArrayBuffer(16384), { base: BASE });
    fragmented(heap, k);
    expect(heap.malloc(100)).not.toBe(0);
    expect(heap.lastCallCost()).toEqual(fresh.lastCallCost());
    const firstFit = new FirstFitHeap(new ArrayBuffer(16384), { base: BASE });
    fragmented(firstFit, k);
    firstFit.malloc(100);
    expect(firstFit.lastCallCost().nodesVisited).toBe(k + 1);
  });

  it('the worst call of a random workload costs the same on a fresh and on a fragmented heap', () => {
    // The same mixed workload run after 0 and after 64 stranded free blocks: TLSF's costliest malloc and free are
    // the same words; first fit's costliest malloc examines ever more nodes.
    const worst = (makeHeap: () => { malloc(n: number): number; free(p: number): void; lastCallCost(): HeapCost }) => {
      const result = (k: number) => {
        const heap = makeHeap();
        if (k > 0) fragmented(heap, k);
        let malloc = 0;
        let free = 0;
        let nodes = 0;
        const live: number[] = [];
        let seed = 7;
        for (let step = 0; step < 400; step++) {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff;
          if (live.length > 0 && seed % 3 === 0) {
            heap.free(live.splice(seed % live.length, 1)[0]!);
            const work = heap.lastCallCost();
            free = Math.max(free, work.wordsRead + work.wordsWritten);
          } else {
            const ptr = heap.malloc(24 + (seed % 200));
            if (ptr === 0) continue;
            live.push(ptr);
            const work = heap.lastCallCost();
            malloc = Math.max(malloc, work.wordsRead + work.wordsWritten);
            nodes = Math.max(nodes, work.nodesVisited);
          }
        }
        return { malloc, free, nodes };
      };
      return { fresh: result(0), fragmented: result(64) };
    };
    const tlsf = worst(() => createCountingTlsf(new ArrayBuffer(65536), { base: BASE }));
    expect(tlsf.fragmented).toEqual(tlsf.fresh);
    expect(tlsf.fresh.nodes).toBe(1);
    const firstFit = worst(() => new FirstFitHeap(new ArrayBuffer(65536), { base: BASE }));
    expect(firstFit.fragmented.nodes).toBeGreaterThan(64);
    expect(firstFit.fragmented.nodes).toBeGreaterThan(firstFit.fresh.nodes);
  });
});

describe('the counting heap is the production heap', () => {
  it('returns the same addresses and leaves the same heap as the production heap, one heap or two buffers', () => {
    const command = fc.oneof(
      fc.record({ op: fc.constant('malloc' as const), size: fc.integer({ min: 0, max: 900 }) }),
      fc.record({ op: fc.constant('free' as const), pick: fc.nat() }),
      fc.record({ op: fc.constant('realloc' as const), pick: fc.nat(), size: fc.integer({ min: 0, max: 900 }) }),
      fc.record({
        op: fc.constant('memalign' as const),
        alignment: fc.constantFrom(16, 64, 256),
        size: fc.integer({ min: 1, max: 300 }),
      }),
      fc.record({ op: fc.constant('calloc' as const), count: fc.integer({ min: 0, max: 9 }), size: fc.nat(40) }),
    );
    fc.assert(
      fc.property(fc.array(command, { maxLength: 120 }), fc.boolean(), (commands, twoBuffers) => {
        const build = (counting: boolean) => {
          const create = counting ? createCountingTlsf : createTlsf;
          const heap = create(new ArrayBuffer(6000), { base: BASE });
          if (twoBuffers) heap.addPool(new ArrayBuffer(3000), { base: 0x1000_0000 });
          return heap;
        };
        const production = build(false);
        const counting = build(true);
        const live: number[] = [];
        for (const step of commands) {
          const apply = (heap: ReturnType<typeof build>): number => {
            switch (step.op) {
              case 'malloc':
                return heap.malloc(step.size);
              case 'free':
                heap.free(live[step.pick % live.length]!);
                return 0;
              case 'realloc':
                return heap.realloc(live[step.pick % live.length]!, step.size);
              case 'memalign':
                return heap.memalign(step.alignment, step.size);
              case 'calloc':
                return heap.calloc(step.count, step.size);
            }
          };
          if ((step.op === 'free' || step.op === 'realloc') && live.length === 0) continue;
          const expected = apply(production);
          expect(apply(counting)).toBe(expected);
          if (step.op === 'free' || step.op === 'realloc') live.splice(step.pick % live.length, 1);
          if (expected !== 0) live.push(expected);
          expect(countsCost(counting)).toBe(true);
        }
        const blocks = (heap: ReturnType<typeof build>) => {
          const seen: string[] = [];
          heap.walk((block) => seen.push(`${block.header}:${block.blockSize}:${block.used}`));
          return seen;
        };
        expect(blocks(counting)).toEqual(blocks(production));
        expect(counting.check()).toEqual({ ok: true, errors: [] });
      }),
      { numRuns: 150 },
    );
  });
});
