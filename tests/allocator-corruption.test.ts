import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { TlsfError, createTlsf, type Tlsf } from '../src/allocator/index.js';

// A firmware that writes into a block after freeing it overwrites the allocator's links. Whatever it
// writes, the allocator may fail (TlsfError) but must never hand out memory outside its pools nor touch a
// byte outside the memory it manages.

const SRAM = 0x2000_0000;
const CCM = 0x1000_0000;
const HIGH = 0xc000_0000;
const PATTERN = 0xa5;

interface Region {
  memory: ArrayBuffer;
  base: number;
  offset: number;
  length: number;
}

/** Fills everything outside the regions with PATTERN; returns a function listing bytes that changed. */
function guardOutside(memory: ArrayBuffer, regions: Region[]): () => number[] {
  const bytes = new Uint8Array(memory);
  const inside = (index: number): boolean =>
    regions.some(
      (region) => region.memory === memory && index >= region.offset && index < region.offset + region.length,
    );
  for (let i = 0; i < bytes.length; i++) if (!inside(i)) bytes[i] = PATTERN;
  return () => {
    const changed: number[] = [];
    for (let i = 0; i < bytes.length; i++) if (!inside(i) && bytes[i] !== PATTERN) changed.push(i);
    return changed;
  };
}

function freeBlockMetadata(heap: Tlsf): number[] {
  const words: number[] = [];
  heap.walk((block) => {
    if (!block.used) words.push(block.header, block.header + 4, block.header + 8, block.header + block.blockSize - 4);
  });
  return words;
}

describe("use-after-free writes into free blocks' links", () => {
  test('issue 15 reproduction: a next link below the region ends in TlsfError naming the block', () => {
    const memory = new ArrayBuffer(64 * 1024);
    const region = { memory, base: SRAM, offset: 16 * 1024, length: 32 * 1024 };
    const changed = guardOutside(memory, [region]);
    const heap = createTlsf(memory, { base: SRAM, offset: region.offset, length: region.length });
    const a = heap.malloc(100);
    heap.malloc(100);
    heap.free(a);
    new DataView(memory).setUint32(a - SRAM, SRAM + 0xfc, true); // a's next-free link
    let caught: unknown;
    const returned: number[] = [];
    try {
      returned.push(heap.malloc(100));
      returned.push(heap.malloc(100));
    } catch (error) {
      caught = error;
    }
    const [start, end] = [SRAM + region.offset, SRAM + region.offset + region.length];
    for (const ptr of returned) expect(ptr === 0 || (ptr >= start && ptr < end)).toBe(true);
    expect(caught).toBeInstanceOf(TlsfError);
    expect((caught as TlsfError).code).toBe('corrupt');
    expect((caught as TlsfError).message).toContain((a - 4).toString(16)); // the block whose link is broken
    expect(changed()).toEqual([]);
  });

  test('a corrupt previous-physical-block link is caught at free', () => {
    const memory = new ArrayBuffer(64 * 1024);
    const region = { memory, base: SRAM, offset: 16 * 1024, length: 32 * 1024 };
    const changed = guardOutside(memory, [region]);
    const heap = createTlsf(memory, { base: SRAM, offset: region.offset, length: region.length });
    const a = heap.malloc(100);
    const b = heap.malloc(100);
    heap.malloc(100);
    heap.free(a);
    new DataView(memory).setUint32(b - 8 - SRAM, SRAM + 0x40, true); // a's back link, read when b is freed
    expect(() => heap.free(b)).toThrow(TlsfError);
    expect(changed()).toEqual([]);
  });

  // Pool shapes: one region of a larger buffer; plus a second pool in the same buffer, above or below it
  // (below, a block's offset from the first pool is negative: a size check that trusted where a block
  // starts would let a block of the lower pool grow across the gap); plus one in another buffer.
  const shapes = ['one-pool', 'same-buffer-pools', 'same-buffer-pool-below', 'two-buffers'] as const;

  test('a free block of a pool below the first cannot be grown across the gap into the first pool', () => {
    // The flat realloc and free hold every block against the first pool; a block of a lower pool
    // of the same buffer has a negative offset from it, which must fail that test on its own.
    const memory = new ArrayBuffer(64 * 1024);
    const first = { memory, base: SRAM, offset: 16 * 1024, length: 32 * 1024 };
    const lower = { memory, base: SRAM, offset: 4 * 1024, length: 8 * 1024 };
    const changed = guardOutside(memory, [first, lower]);
    const heap = createTlsf(memory, { base: SRAM, offset: first.offset, length: first.length });
    const inLower = (ptr: number): boolean => ptr >= SRAM + lower.offset && ptr < SRAM + lower.offset + lower.length;
    while (heap.malloc(1000) !== 0); // the first pool full: the lower pool's blocks come next
    heap.addPool(memory, lower);
    const a = heap.malloc(1000);
    const b = heap.malloc(1000);
    expect(inLower(a) && b === a + 1008).toBe(true);
    heap.free(b); // b and the rest of the lower pool: one free block after a
    const nextHeader = b - 4 - SRAM;
    // Its size now reaches from the lower pool across the gap into the first pool's blocks.
    new DataView(memory).setUint32(nextHeader, (SRAM + first.offset + 4096 - (b - 4)) | 1, true);
    expect(() => heap.realloc(a, 2000)).toThrow(TlsfError);
    expect(changed()).toEqual([]);
  });

  test('random single-byte and single-word corruptions: pointers stay in pools, bytes outside never change', () => {
    const value = fc.oneof(
      fc.nat({ max: 0xffff_ffff }),
      fc.integer({ min: 0, max: 0x1_0000 }), // an offset from the heap's base: anywhere in the buffer
      fc.integer({ min: 0, max: 0x1000 }).map((offset) => CCM + offset),
      fc.integer({ min: 0, max: 64 }),
    );
    const damage = fc.oneof(
      fc.record({ kind: fc.constant('byte' as const), byteIndex: fc.nat(3), value: fc.nat(255) }),
      fc.record({ kind: fc.constant('word' as const), byteIndex: fc.constant(0), value, nearBase: fc.boolean() }),
    );
    const operation = fc.record({
      kind: fc.constantFrom('malloc', 'free', 'realloc', 'memalign'),
      size: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 9000 })),
      pick: fc.nat(),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...shapes),
        fc.constantFrom(SRAM, HIGH), // HIGH: addresses above 2^31 read back negative from an Int32Array
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 2, maxLength: 24 }),
        fc.nat(),
        damage,
        fc.array(operation, { minLength: 1, maxLength: 40 }),
        (shape, base, sizes, target, hit, operations) => {
          const memory = new ArrayBuffer(64 * 1024);
          const regions: Region[] = [{ memory, base, offset: 16 * 1024, length: 32 * 1024 }];
          const other = new ArrayBuffer(8 * 1024);
          if (shape === 'same-buffer-pools') regions.push({ memory, base, offset: 52 * 1024, length: 8 * 1024 });
          if (shape === 'same-buffer-pool-below') regions.push({ memory, base, offset: 4 * 1024, length: 8 * 1024 });
          if (shape === 'two-buffers') regions.push({ memory: other, base: CCM, offset: 1024, length: 6 * 1024 });
          const changedHere = guardOutside(memory, regions);
          const changedThere = guardOutside(other, regions);
          const heap = createTlsf(memory, { base, offset: regions[0]!.offset, length: regions[0]!.length });
          for (const region of regions.slice(1)) heap.addPool(region.memory, region);
          const inPool = (ptr: number, size: number): boolean =>
            heap.poolList().some((pool) => ptr - 4 >= pool.firstBlock && ptr + size <= pool.sentinel);

          const live: number[] = [];
          for (const size of sizes) {
            const ptr = heap.malloc(size);
            if (ptr !== 0) live.push(ptr);
          }
          for (let i = live.length - 1; i >= 0; i -= 2) heap.free(live.splice(i, 1)[0]!);
          const metadata = freeBlockMetadata(heap);
          if (metadata.length === 0) return;
          const address = metadata[target % metadata.length]!;
          const region = regions.find(
            (candidate) =>
              address >= candidate.base + candidate.offset &&
              address < candidate.base + candidate.offset + candidate.length,
          )!;
          const view = new DataView(region.memory);
          if (hit.kind === 'byte') {
            view.setUint8(address - region.base + hit.byteIndex, hit.value);
          } else {
            const word = hit.nearBase && hit.value < 0x1_0000 ? base + hit.value : hit.value;
            view.setUint32(address - region.base, word >>> 0, true);
          }

          for (const { kind, size, pick } of operations) {
            try {
              if (kind === 'free' && live.length > 0) {
                heap.free(live.splice(pick % live.length, 1)[0]!);
              } else if (kind === 'realloc' && live.length > 0) {
                const index = pick % live.length;
                const moved = heap.realloc(live[index]!, size);
                if (moved !== 0) {
                  expect(inPool(moved, size)).toBe(true);
                  live[index] = moved;
                } else if (size === 0) {
                  live.splice(index, 1);
                }
              } else {
                const ptr = kind === 'memalign' ? heap.memalign(64, size) : heap.malloc(size);
                if (ptr !== 0) {
                  expect(inPool(ptr, size)).toBe(true);
                  live.push(ptr);
                }
              }
            } catch (error) {
              if (!(error instanceof TlsfError)) throw error;
              // A realloc that failed may or may not have released the block: forget it.
              if (kind === 'realloc' && live.length > 0) live.splice(pick % live.length, 1);
            }
          }
          heap.check(); // never throws, whatever the damage
          expect(changedHere()).toEqual([]);
          expect(changedThere()).toEqual([]);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
