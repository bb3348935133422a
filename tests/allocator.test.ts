import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import {
  BLOCK_HEADER_SIZE,
  MIN_BLOCK_SIZE,
  TLSF_DEFAULTS,
  TlsfError,
  classRange,
  createTlsf,
  inspectControl,
  mapBlockSize,
  mapRequest,
  nextFreeLink,
  searchSizeFor,
  tlsfGeometry,
  tlsfLayout,
  type Tlsf,
} from '../src/allocator/index.js';

const SRAM = 0x2000_0000;
const CCM = 0x1000_0000;

function expectClean(heap: Tlsf): void {
  const result = heap.check();
  expect(result.errors).toEqual([]);
  expect(result.ok).toBe(true);
}

function expectTlsfError(action: () => unknown, code: string, addressText?: string): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(TlsfError);
  expect((caught as TlsfError).code).toBe(code);
  if (addressText !== undefined) expect((caught as TlsfError).message).toContain(addressText);
}

describe('size-to-class mapping', () => {
  test('the README example: slLog2 = 2, align 8 gives 32-39, 40-47, 48-55, 56-63', () => {
    const geometry = tlsfGeometry({ align: 8, slLog2: 2 });
    expect(geometry.smallBlockSize).toBe(32);
    const expected = [
      [32, 39],
      [40, 47],
      [48, 55],
      [56, 63],
    ];
    expected.forEach(([min, max], sl) => {
      expect(classRange(geometry, 1, sl)).toEqual({ classMin: min, classMax: max });
      expect(mapBlockSize(geometry, min!)).toEqual({ firstLevelIndex: 1, secondLevelIndex: sl });
      expect(mapBlockSize(geometry, max! - 7)).toEqual({ firstLevelIndex: 1, secondLevelIndex: sl });
    });
    expect(classRange(geometry, 2, 0)).toEqual({ classMin: 64, classMax: 79 });
    // 37 bytes + 4 header = 41 -> 48: class (1,2) 48..55; already on a boundary, so searched there.
    expect(mapRequest(37, { align: 8, slLog2: 2 })).toMatchObject({
      adjustedSize: 48,
      firstLevelIndex: 1,
      secondLevelIndex: 2,
      classMin: 48,
      classMax: 55,
      searchSize: 48,
      searchFirstLevel: 1,
      searchSecondLevel: 2,
    });
    // 100 + 4 = 104 lies in 96..111 (2,2); a block there may be 96..103, so search starts at 112.
    expect(mapRequest(100, { align: 8, slLog2: 2 })).toMatchObject({
      adjustedSize: 104,
      firstLevelIndex: 2,
      secondLevelIndex: 2,
      classMin: 96,
      classMax: 111,
      searchSize: 112,
      searchFirstLevel: 2,
      searchSecondLevel: 3,
    });
  });

  for (const align of [4, 8, 16] as const) {
    for (let slLog2 = 1; slLog2 <= 5; slLog2++) {
      test(`every class boundary up to 1 MiB, align ${align}, slLog2 ${slLog2}`, () => {
        const geometry = tlsfGeometry({ align, slLog2 });
        const layout = tlsfLayout({ align, slLog2 }, 1 << 20);
        let { firstLevelIndex: expectedFl, secondLevelIndex: expectedSl } = mapBlockSize(geometry, MIN_BLOCK_SIZE);
        let previousMax = MIN_BLOCK_SIZE - 1;
        // Walk the classes in order: each starts right after the previous one ends.
        for (let fl = 0; fl < layout.flCount; fl++) {
          for (let sl = 0; sl < geometry.slCount; sl++) {
            const { classMin, classMax } = classRange(geometry, fl, sl);
            if (classMax < MIN_BLOCK_SIZE) continue;
            expect(classMin).toBe(previousMax + 1);
            expect((classMax + 1) % align).toBe(0);
            expect(mapBlockSize(geometry, classMin)).toEqual({ firstLevelIndex: fl, secondLevelIndex: sl });
            const lastBlockSize = classMax + 1 - align;
            expect(mapBlockSize(geometry, lastBlockSize)).toEqual({ firstLevelIndex: fl, secondLevelIndex: sl });
            expect(fl === expectedFl && sl === expectedSl).toBe(true);
            // Good fit: a request just above a boundary searches the next class, whose every block fits.
            const requests = new Set([classMin, Math.min(classMin + align, lastBlockSize), lastBlockSize]);
            for (const request of requests) {
              const search = searchSizeFor(geometry, request);
              const target = mapBlockSize(geometry, search);
              expect(
                classRange(geometry, target.firstLevelIndex, target.secondLevelIndex).classMin,
              ).toBeGreaterThanOrEqual(request);
              const sameClass = request === classMin;
              expect(target).toEqual(
                sameClass ? { firstLevelIndex: fl, secondLevelIndex: sl } : mapBlockSize(geometry, classMax + 1),
              );
            }
            previousMax = classMax;
            expectedSl = sl + 1 === geometry.slCount ? 0 : sl + 1;
            expectedFl = sl + 1 === geometry.slCount ? fl + 1 : fl;
          }
        }
        expect(previousMax + 1).toBe(2 ** (layout.flCount + geometry.flIndexShift - 1));
        expect(previousMax + 1).toBeGreaterThan(1 << 20);
        // Requests map to whole aligned blocks with room for the header.
        for (const request of [0, 1, 11, 12, 13, align * 3 - 4, align * 3 - 3, 1000, 65_536]) {
          const mapping = mapRequest(request, { align, slLog2 });
          expect(mapping.adjustedSize % align).toBe(0);
          expect(mapping.adjustedSize).toBeGreaterThanOrEqual(Math.max(MIN_BLOCK_SIZE, request + BLOCK_HEADER_SIZE));
          expect(mapping.adjustedSize - (request + BLOCK_HEADER_SIZE)).toBeLessThan(
            Math.max(align, MIN_BLOCK_SIZE - BLOCK_HEADER_SIZE - request + 1),
          );
          expect(mapping.classMin).toBeLessThanOrEqual(mapping.adjustedSize);
          expect(mapping.classMax).toBeGreaterThanOrEqual(mapping.adjustedSize);
        }
      });
    }
  }

  test("the heap's own branch-free mapping agrees with mapBlockSize and searchSizeFor everywhere", () => {
    // listOf / searchListOf are private and written for speed; this holds them to the readable rule.
    interface Internals {
      listOf(size: number): number;
      searchListOf(size: number): number;
    }
    for (const align of [4, 8, 16] as const) {
      for (let slLog2 = 1; slLog2 <= 5; slLog2++) {
        const geometry = tlsfGeometry({ align, slLog2 });
        const heap = createTlsf(new ArrayBuffer(1 << 20), { align, slLog2 }) as unknown as Internals;
        const listNumber = (size: number): number => {
          const { firstLevelIndex, secondLevelIndex } = mapBlockSize(geometry, size);
          return firstLevelIndex * geometry.slCount + secondLevelIndex;
        };
        let mismatches = 0;
        for (let size = MIN_BLOCK_SIZE; size < 1 << 20; size += size < 8192 ? align : align * 61) {
          if (heap.listOf(size) !== listNumber(size)) mismatches++;
          if (heap.searchListOf(size) !== listNumber(searchSizeFor(geometry, size))) mismatches++;
        }
        expect(mismatches, `align ${align}, slLog2 ${slLog2}`).toBe(0);
      }
    }
  });

  test('parameters are validated with clear errors', () => {
    expect(() => tlsfGeometry({ align: 32 })).toThrow(/align must be 4, 8 or 16, got 32/);
    expect(() => tlsfGeometry({ slLog2: 6 })).toThrow(/slLog2 must be an integer from 1 to 5, got 6/);
    expect(() => createTlsf(new ArrayBuffer(4096), { align: 2 as 4 })).toThrow(/align must be 4, 8 or 16/);
    expect(() => createTlsf(new ArrayBuffer(4096), { slLog2: 0 })).toThrow(/slLog2/);
    expect(() => createTlsf(new ArrayBuffer(4096), { base: 0x2000_0002 })).toThrow(/multiple of 4/);
    expect(() => createTlsf(new ArrayBuffer(4096), { offset: 4000, length: 200 })).toThrow(/length/);
    expect(() => createTlsf(new ArrayBuffer(64))).toThrow(/cannot hold/);
    expect(() => mapRequest(-1)).toThrow(/request size/);
  });

  test('first-level rows follow the largest pool, so small SRAMs pay for fewer heads', () => {
    const small = createTlsf(new ArrayBuffer(8 * 1024)).stats().controlBytes;
    const large = createTlsf(new ArrayBuffer(256 * 1024)).stats().controlBytes;
    expect(small).toBe(tlsfLayout({}, 8 * 1024).controlBytes);
    expect(large - small).toBe(5 * (1 + 32) * 4);
    expect(TLSF_DEFAULTS.align).toBe(8);
    expect(TLSF_DEFAULTS.slLog2).toBe(5);
  });
});

describe('heap in target memory', () => {
  test('control structure, headers and links are little-endian target addresses', () => {
    const memory = new ArrayBuffer(16 * 1024);
    const heap = createTlsf(memory, { base: SRAM, slLog2: 2 });
    const view = new DataView(memory);
    const word = (addr: number): number => view.getUint32(addr - SRAM, true);
    const [pool] = heap.stats().pools;
    expect(pool!.start).toBe(SRAM);
    expect(heap.controlAddress).toBe(SRAM);
    const block = pool!.firstBlock;
    expect((block + 4) % 8).toBe(0);
    expect(word(block)).toBe((pool!.sentinel - block) | 1);
    expect(word(pool!.sentinel)).toBe(2); // size 0, previous (the big block) free
    expect(word(pool!.sentinel - 4)).toBe(block);
    const layout = heap.layout;
    const { firstLevelIndex, secondLevelIndex } = mapBlockSize(layout, pool!.sentinel - block);
    expect(word(SRAM)).toBe(1 << firstLevelIndex);
    expect(word(SRAM + 4 + 4 * firstLevelIndex)).toBe(1 << secondLevelIndex);
    expect(word(SRAM + 4 + 4 * layout.flCount + 4 * ((firstLevelIndex << 2) + secondLevelIndex))).toBe(block);

    const ptr = heap.malloc(20);
    expect(ptr).toBe(block + 4);
    expect(word(block)).toBe(24 | 0);
    const remainder = block + 24;
    expect(word(remainder) & 1).toBe(1);
    expect(heap.usableSize(ptr)).toBe(20);
    expectClean(heap);
  });

  test('malloc/free round trip leaves one free block, and malloc(0) gives a unique pointer', () => {
    const heap = createTlsf(new ArrayBuffer(32 * 1024), { base: SRAM });
    const initial = heap.stats();
    expect(initial.freeBlocks).toBe(1);
    const a = heap.malloc(0);
    const b = heap.malloc(0);
    expect(a).not.toBe(0);
    expect(b).not.toBe(a);
    const c = heap.malloc(1000);
    expect(heap.stats().usedBlocks).toBe(3);
    heap.free(b);
    heap.free(a);
    heap.free(c);
    heap.free(0);
    expect(heap.stats()).toMatchObject({ usedBlocks: 0, freeBlocks: 1, freeBytes: initial.freeBytes, usedBytes: 0 });
    expect(heap.stats().peakUsed).toBe(16 + 16 + 1008);
    expect(heap.peakUsed).toBe(16 + 16 + 1008);
    heap.resetPeak();
    expect(heap.peakUsed).toBe(0);
    expectClean(heap);
  });

  test('SharedArrayBuffer memory works the same', () => {
    const memory = new SharedArrayBuffer(16 * 1024);
    const heap = createTlsf(memory, { base: SRAM, align: 16 });
    const pointers = [heap.malloc(10), heap.malloc(100), heap.calloc(10, 10)];
    for (const ptr of pointers) expect(ptr % 16).toBe(0);
    new Uint8Array(memory).fill(0xab, pointers[1]! - SRAM, pointers[1]! - SRAM + 100);
    const moved = heap.realloc(pointers[1]!, 3000);
    expect(new Uint8Array(memory, moved - SRAM, 100).every((byte) => byte === 0xab)).toBe(true);
    expectClean(heap);
  });

  test('offset and length manage a window of a larger buffer', () => {
    const memory = new ArrayBuffer(64 * 1024);
    const sentinelBytes = new Uint8Array(memory);
    sentinelBytes.fill(0x5a);
    const heap = createTlsf(memory, { base: SRAM, offset: 4096, length: 8192 });
    const pointers: number[] = [];
    for (let p = heap.malloc(64); p !== 0; p = heap.malloc(64)) pointers.push(p);
    for (const p of pointers) {
      expect(p).toBeGreaterThanOrEqual(SRAM + 4096);
      expect(p + 64).toBeLessThanOrEqual(SRAM + 4096 + 8192);
    }
    expect(sentinelBytes.subarray(0, 4096).every((b) => b === 0x5a)).toBe(true);
    expect(sentinelBytes.subarray(4096 + 8192).every((b) => b === 0x5a)).toBe(true);
    expectClean(heap);
  });
});

describe('operations', () => {
  test('exhaustion and recovery: fill until 0, free all, one free block again', () => {
    for (const [align, slLog2] of [
      [4, 1],
      [8, 5],
      [16, 3],
      [8, 2],
    ] as const) {
      const heap = createTlsf(new ArrayBuffer(48 * 1024), { base: SRAM, align, slLog2 });
      const before = heap.stats();
      const pointers: number[] = [];
      let size = 1;
      for (;;) {
        const p = heap.malloc(size);
        if (p === 0) break;
        pointers.push(p);
        size = (size * 7 + 13) % 700;
      }
      expect(pointers.length).toBeGreaterThan(50);
      expectClean(heap);
      // Nothing as large as the request that failed is left (good-fit guarantee).
      const failedBlock = mapRequest(size, { align, slLog2 }).searchSize;
      expect(heap.stats().largestFree).toBeLessThan(failedBlock);
      expect(heap.malloc(48 * 1024)).toBe(0);
      expectClean(heap);
      // Free in an order that exercises both-neighbour coalescing.
      const order = pointers.map((p, i) => ({ p, key: (i * 7919) % pointers.length })).sort((a, b) => a.key - b.key);
      for (const { p } of order) heap.free(p);
      const after = heap.stats();
      expect(after.freeBlocks).toBe(1);
      expect(after.freeBytes).toBe(before.freeBytes);
      expect(after.usedBytes).toBe(0);
      expect(heap.usedBytes).toBe(0);
      expectClean(heap);
      // The whole heap is one request again (found via the own-class head).
      const whole = heap.malloc(after.largestFree - BLOCK_HEADER_SIZE);
      expect(whole).not.toBe(0);
      heap.free(whole);
      expectClean(heap);
    }
  });

  test('realloc shrinks in place, grows in place into a free neighbour, else moves keeping the bytes', () => {
    const memory = new ArrayBuffer(32 * 1024);
    const bytes = new Uint8Array(memory);
    const heap = createTlsf(memory, { base: SRAM });
    const a = heap.malloc(200);
    const b = heap.malloc(200);
    const c = heap.malloc(200);
    for (let i = 0; i < 200; i++) bytes[b - SRAM + i] = i;
    expect(heap.realloc(b, 100)).toBe(b); // shrink: tail returns to the lists
    expect(heap.stats().freeBlocks).toBe(2);
    expect(heap.usableSize(b)).toBeLessThan(200);
    expect(heap.realloc(b, 180)).toBe(b); // grow back into the freed tail
    heap.free(c);
    expect(heap.realloc(b, 2000)).toBe(b); // grow into c's space and beyond
    expect(heap.usableSize(b)).toBeGreaterThanOrEqual(2000);
    const d = heap.malloc(50);
    const moved = heap.realloc(a, 1000); // next block is b (used): must move
    expect(moved).not.toBe(a);
    for (let i = 0; i < 100; i++) expect(bytes[b - SRAM + i]).toBe(i);
    expect(heap.realloc(0, 64)).not.toBe(0);
    expect(heap.realloc(d, 0)).toBe(0);
    expect(heap.realloc(moved, 10_000_000)).toBe(0); // failure leaves the block alone
    expect(heap.usableSize(moved)).toBeGreaterThanOrEqual(1000);
    expectClean(heap);
  });

  test('realloc grows backwards (no room to move) at addresses above 2^31, long and short payloads', () => {
    // Found by the model test: links read back from the Int32Array are negative up there, and the
    // long copy took them as offsets from the end of the buffer.
    const base = 0xc000_0000;
    for (const payload of [200, 60]) {
      const memory = new ArrayBuffer(16 * 1024);
      const bytes = new Uint8Array(memory);
      const heap = createTlsf(memory, { base });
      const a = heap.malloc(16);
      const b = heap.malloc(payload);
      const c = heap.malloc(16);
      for (let chunk = 8192; chunk >= 8; chunk >>= 1) while (heap.malloc(chunk) !== 0); // no room elsewhere
      for (let i = 0; i < payload; i++) bytes[b - base + i] = (i * 7 + 3) & 255;
      heap.free(a);
      const grown = heap.realloc(b, payload + 16); // c blocks the way forward; a's space is behind
      expect(grown).toBe(a);
      for (let i = 0; i < payload; i++) expect(bytes[grown - base + i]).toBe((i * 7 + 3) & 255);
      expectClean(heap);
      heap.free(c);
      heap.free(grown);
      expect(heap.stats().freeBlocks).toBe(1);
    }
  });

  test('realloc grows backwards into a free previous block when a move finds no room, moving the bytes down', () => {
    const memory = new ArrayBuffer(16 * 1024);
    const bytes = new Uint8Array(memory);
    const heap = createTlsf(memory, { base: SRAM });
    const a = heap.malloc(200); // too small alone for the 250 below, so a move could not use it
    const b = heap.malloc(100);
    const c = heap.malloc(100);
    for (let chunk = 8192; chunk >= 8; chunk >>= 1) while (heap.malloc(chunk) !== 0); // no room elsewhere
    for (let i = 0; i < 100; i++) bytes[b - SRAM + i] = 200 - i;
    heap.free(a);
    const grown = heap.realloc(b, 250); // c blocks the way forward; a's space is behind
    expect(grown).toBe(a);
    for (let i = 0; i < 100; i++) expect(bytes[grown - SRAM + i]).toBe(200 - i);
    expectClean(heap);
    expectTlsfError(() => heap.free(b), 'not-a-block'); // b is now inside the grown block's payload
    heap.free(c);
    heap.free(grown);
    expect(heap.stats().freeBlocks).toBe(1);
    expectClean(heap);
  });

  test('calloc zeroes and checks overflow', () => {
    const memory = new ArrayBuffer(16 * 1024);
    new Uint8Array(memory).fill(0xff);
    const heap = createTlsf(memory, { base: SRAM });
    const p = heap.calloc(13, 17);
    expect(new Uint8Array(memory, p - SRAM, 13 * 17).every((b) => b === 0)).toBe(true);
    expect(heap.calloc(0x10000, 0x10000)).toBe(0); // 2^32 overflows size_t
    expect(heap.calloc(0x1_0000, 0x1000)).toBe(0); // fits size_t, not the heap
    expect(() => heap.calloc(-1, 4)).toThrow(TlsfError);
    expectClean(heap);
  });

  test('memalign: any power of two, 4 KiB and beyond, leading gap returned to the lists', () => {
    const heap = createTlsf(new ArrayBuffer(256 * 1024), { base: SRAM });
    const pointers: number[] = [];
    for (const alignment of [1, 2, 4, 8, 16, 32, 64, 256, 1024, 4096, 16384, 65536]) {
      heap.malloc(alignment % 97); // disturb the position
      const p = heap.memalign(alignment, 100);
      expect(p).not.toBe(0);
      expect(p % alignment).toBe(0);
      expect(heap.usableSize(p)).toBeGreaterThanOrEqual(100);
      pointers.push(p);
      expectClean(heap);
    }
    expect(heap.memalign(48, 10)).toBe(0);
    expect(heap.memalign(0, 10)).toBe(0);
    for (const p of pointers) heap.free(p);
    expectClean(heap);
  });

  test('oversized and invalid sizes', () => {
    const heap = createTlsf(new ArrayBuffer(16 * 1024), { base: SRAM });
    expect(heap.malloc(0xffff_ffff)).toBe(0);
    expect(heap.malloc(16 * 1024)).toBe(0);
    expect(() => heap.malloc(-4)).toThrow(/size must be a non-negative integer, got -4/);
    expect(() => heap.malloc(1.5)).toThrow(TlsfError);
    expect(() => heap.malloc(Number.NaN)).toThrow(TlsfError);
    expectClean(heap);
  });
});

describe('misuse is detected and leaves the heap intact', () => {
  function setup(strict = false) {
    const memory = new ArrayBuffer(32 * 1024);
    const heap = createTlsf(memory, { base: SRAM, strict });
    const a = heap.malloc(64);
    const b = heap.malloc(64);
    const c = heap.malloc(64);
    return { memory, heap, a, b, c };
  }

  test('misaligned pointer', () => {
    const { heap, b } = setup();
    expectTlsfError(() => heap.free(b + 4), 'misaligned', (b + 4).toString(16));
    expectTlsfError(() => heap.realloc(b + 2, 10), 'misaligned');
    expectTlsfError(() => heap.usableSize(b + 1), 'misaligned');
    expectClean(heap);
  });

  test('out-of-pool pointer', () => {
    const { heap } = setup();
    expectTlsfError(() => heap.free(0x0800_0000), 'out-of-pool', '0x08000000');
    expectTlsfError(() => heap.free(SRAM + 8), 'out-of-pool', '0x20000008'); // inside the control structure
    expectTlsfError(() => heap.free(SRAM + 64 * 1024), 'out-of-pool');
    expectTlsfError(() => heap.free(-8), 'out-of-pool');
    expectClean(heap);
  });

  test('double free, also after the block was merged into a neighbour', () => {
    const { heap, a, b } = setup();
    heap.free(b);
    expectTlsfError(() => heap.free(b), 'double-free', b.toString(16));
    heap.free(a); // b is now inside a's free block
    expectTlsfError(() => heap.free(b), 'double-free');
    expectTlsfError(() => heap.free(a), 'double-free');
    expectTlsfError(() => heap.realloc(a, 10), 'double-free');
    expectClean(heap);
  });

  test('pointer into the middle of a block', () => {
    const { heap, b, memory } = setup();
    const words = new Uint32Array(memory);
    words[(b + 8 - SRAM) >>> 2] = 0; // payload word that a naive free would take as header
    expectTlsfError(() => heap.free(b + 16), 'not-a-block', (b + 16).toString(16));
    words[(b + 8 - SRAM) >>> 2] = 0x30; // plausible used header
    words[(b + 8 + 0x30 - SRAM) >>> 2] = 0x2; // and a "next" header claiming a free previous
    expectTlsfError(() => heap.free(b + 12 - 4 + 8), 'not-a-block');
    expectClean(heap);
  });

  test('strict mode walks the heap and rejects a forged header', () => {
    const { heap, b, memory } = setup(true);
    const words = new Uint32Array(memory);
    // Forge a header inside b that passes the cheap checks: size 16 used, next word with P = 0.
    words[(b + 20 - SRAM) >>> 2] = 16;
    words[(b + 36 - SRAM) >>> 2] = 16;
    expectTlsfError(() => heap.free(b + 24), 'not-a-block', 'strict');
    heap.free(b);
    expectTlsfError(() => heap.free(b), 'double-free');
    expectClean(heap);
  });
});

describe('pools', () => {
  test('WebAssembly.Memory.grow: a detached buffer is named, rebind finds the heap again, addPool takes the growth', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 64 });
    const base = 0x1000_0000;
    const heap = createTlsf(memory.buffer, { base, maxPoolBytes: 1 << 20 });
    const kept = heap.malloc(1000);
    new Uint8Array(memory.buffer).fill(0x5a, kept - base, kept - base + 1000);
    const oldBytes = memory.buffer.byteLength;
    memory.grow(15); // 1 MiB in all; the old ArrayBuffer is detached

    // Until rebind, nothing pretends to be "out of memory" or a bad pointer.
    expectTlsfError(() => heap.malloc(10), 'detached', '0x10000000');
    expectTlsfError(() => heap.free(kept), 'detached');
    expectTlsfError(() => heap.addPool(memory.buffer, { base, offset: oldBytes }), 'detached');
    expect(heap.check().ok).toBe(false);
    expect(heap.check().errors[0]).toMatch(/detached.*rebind/);

    heap.rebind(memory.buffer);
    expectClean(heap);
    heap.addPool(memory.buffer, { base, offset: oldBytes });
    expectClean(heap);
    const bytes = new Uint8Array(memory.buffer);
    for (let i = 0; i < 1000; i++) expect(bytes[kept - base + i]).toBe(0x5a);
    // maxPoolBytes sized the first level for the grown pool: one block far larger than the first pool.
    const large = heap.malloc(800 * 1024);
    expect(large).toBeGreaterThanOrEqual(base + oldBytes);
    expectClean(heap);
    heap.free(kept);
    heap.free(large);
    expect(heap.stats().freeBlocks).toBe(2);
    expectTlsfError(() => heap.rebind(memory.buffer), 'bad-option'); // nothing is detached now
  });

  test("without maxPoolBytes, later pools are cut to the first pool's classes; rebind checks the new buffer", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 64 });
    const heap = createTlsf(memory.buffer);
    const oldBytes = memory.buffer.byteLength;
    const detachedBuffer = memory.buffer;
    memory.grow(15);
    expectTlsfError(() => heap.rebind(new ArrayBuffer(1024)), 'bad-option');
    expect(detachedBuffer.byteLength).toBe(0);
    heap.rebind(memory.buffer);
    heap.addPool(memory.buffer, { base: 0, offset: oldBytes });
    expect(heap.malloc(800 * 1024)).toBe(0); // no class that large in a heap sized for 64 KiB
    expect(heap.malloc(60 * 1024)).not.toBe(0);
    expectClean(heap);
    expect(() => createTlsf(new ArrayBuffer(4096), { maxPoolBytes: -1 })).toThrow(/maxPoolBytes/);
  });

  test('rebind refuses a buffer that does not hold the heap and stays bound; the right buffer still works', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 64 });
    const base = 0x1000_0000;
    const heap = createTlsf(memory.buffer, { base, maxPoolBytes: 1 << 20 });
    const kept = heap.malloc(1000);
    memory.grow(3);
    const wrong = new ArrayBuffer(memory.buffer.byteLength); // right size, zeroed: no heap in it
    expectTlsfError(() => heap.rebind(wrong), 'bad-option', 'signature');
    expectTlsfError(() => heap.malloc(10), 'detached'); // still bound to what it had
    // A copy of the heap whose bitmaps were damaged is refused too (the record alone is not enough).
    const damaged = memory.buffer.slice(0);
    new Uint32Array(damaged)[(heap.controlAddress - base) >>> 2] = 0xffff_ffff;
    expectTlsfError(() => heap.rebind(damaged), 'bad-option', 'flBitmap');
    heap.rebind(memory.buffer);
    expectClean(heap);
    const more = heap.malloc(2000);
    expect(more).not.toBe(0);
    heap.free(kept);
    heap.free(more);
    expectClean(heap);
    expect(heap.stats().freeBlocks).toBe(1);
  });

  test('a pool record overwritten at the end of a region is reported by check()', () => {
    const memory = new ArrayBuffer(4096);
    const heap = createTlsf(memory, { base: SRAM });
    new Uint32Array(memory)[4096 / 4 - 3] = 1234; // the record's "first address" word
    expect(heap.check().errors.join('\n')).toMatch(/record first address .*overwritten/);
  });

  test('two pools in separate buffers: CCM at 0x10000000 and SRAM at 0x20000000', () => {
    const sram = new ArrayBuffer(16 * 1024);
    const ccm = new ArrayBuffer(8 * 1024);
    const heap = createTlsf(sram, { base: SRAM });
    heap.addPool(ccm, { base: CCM });
    expect(heap.stats().pools.map((p) => p.start)).toEqual([SRAM, CCM]);
    const pointers: number[] = [];
    for (let p = heap.malloc(500); p !== 0; p = heap.malloc(500)) pointers.push(p);
    const inCcm = pointers.filter((p) => p >= CCM && p < CCM + 8192);
    const inSram = pointers.filter((p) => p >= SRAM && p < SRAM + 16384);
    expect(inCcm.length).toBeGreaterThan(10);
    expect(inSram.length).toBeGreaterThan(20);
    expect(inCcm.length + inSram.length).toBe(pointers.length);
    expectClean(heap);
    // Move a block between buffers and keep its bytes.
    const ccmBytes = new Uint8Array(ccm);
    const source = inCcm[0]!;
    for (let i = 0; i < 500; i++) ccmBytes[source - CCM + i] = (i * 31) & 255;
    for (const p of inSram) heap.free(p);
    const moved = heap.realloc(source, 4000);
    expect(moved).toBeGreaterThanOrEqual(SRAM);
    const sramBytes = new Uint8Array(sram);
    for (let i = 0; i < 500; i++) expect(sramBytes[moved - SRAM + i]).toBe((i * 31) & 255);
    expectTlsfError(() => heap.free(source), 'double-free');
    for (const p of inCcm.slice(1)) heap.free(p);
    heap.free(moved);
    expect(heap.stats().freeBlocks).toBe(2);
    expectClean(heap);
    expect(() => heap.addPool(new ArrayBuffer(4096), { base: SRAM + 8192 })).toThrow(/overlaps/);
  });

  test('a second region of the same buffer stays on the direct-access path', () => {
    const memory = new ArrayBuffer(64 * 1024);
    const heap = createTlsf(memory, { base: SRAM, length: 16 * 1024 });
    heap.addPool(memory, { base: SRAM, offset: 32 * 1024, length: 16 * 1024 });
    expect(Object.getPrototypeOf(heap).constructor.name).toBe('Tlsf');
    const pointers: number[] = [];
    for (let p = heap.malloc(700); p !== 0; p = heap.malloc(700)) pointers.push(p);
    expect(pointers.some((p) => p >= SRAM + 32 * 1024)).toBe(true);
    expect(pointers.some((p) => p < SRAM + 16 * 1024)).toBe(true);
    expect(pointers.every((p) => p < SRAM + 16 * 1024 || p >= SRAM + 32 * 1024)).toBe(true);
    expectClean(heap);
    const moved = heap.realloc(pointers.pop()!, 100);
    for (const p of pointers) heap.free(p);
    heap.free(moved);
    expect(heap.stats().freeBlocks).toBe(2);
    expectClean(heap);
    expect(() => heap.addPool(memory, {} as never)).toThrow(/needs \{ base \}/);
  });

  test('a pool larger than the first is cut into pieces the index can file', () => {
    const heap = createTlsf(new ArrayBuffer(4096), { base: SRAM });
    const pieces = heap.addPool(new ArrayBuffer(64 * 1024), { base: CCM });
    expect(pieces.length).toBeGreaterThan(1);
    const pointers: number[] = [];
    for (let p = heap.malloc(1000); p !== 0; p = heap.malloc(1000)) pointers.push(p);
    expect(pointers.length).toBeGreaterThan(55);
    expectClean(heap);
    for (const p of pointers) heap.free(p);
    expect(heap.stats().poolBytes).toBe(4096 + 65536);
    expectClean(heap);
  });
});

describe('check() finds corruption and never throws', () => {
  test('reports the broken invariant and the address', () => {
    const memory = new ArrayBuffer(16 * 1024);
    const words = new Uint32Array(memory);
    const heap = createTlsf(memory, { base: SRAM });
    const a = heap.malloc(40);
    const b = heap.malloc(40);
    heap.malloc(40);
    heap.free(b);
    const at = (addr: number): number => (addr - SRAM) >>> 2;
    const hexOf = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

    const saved = words[at(a - 4)]!;
    words[at(a - 4)] = saved | 1; // a used block claims to be free
    let errors = heap.check().errors.join('\n');
    expect(errors).toMatch(/adjacent free blocks|P=0 but the previous block/);
    expect(errors).toContain(hexOf(a - 4));
    words[at(a - 4)] = saved;

    const link = words[at(b)]!;
    words[at(b)] = 0x1234_5678; // next-free link (first payload word) into nowhere
    errors = heap.check().errors.join('\n');
    expect(errors).toContain('0x12345678 is not a free block');
    words[at(b)] = link;

    words[at(b + 4)] = 0x2000_0100; // a list head's prev link must be 0
    errors = heap.check().errors.join('\n');
    expect(errors).toContain(`${hexOf(b - 4)} has prev link 0x20000100, expected 0x00000000`);
    words[at(b + 4)] = 0;

    const flBitmap = words[at(SRAM)]!;
    words[at(SRAM)] = flBitmap ^ 0x40;
    errors = heap.check().errors.join('\n');
    expect(errors).toContain('flBitmap bit 6');
    words[at(SRAM)] = flBitmap;

    const bHeader = words[at(b - 4)]!;
    words[at(b - 4)] = 0; // size 0: the walk cannot continue
    errors = heap.check().errors.join('\n');
    expect(errors).toContain(`block at ${hexOf(b - 4)} has impossible size 0`);
    expect(errors).toMatch(/is on no free list|not a free block/);
    words[at(b - 4)] = bHeader;
    expectClean(heap);
  });

  test('random corruption: check() always returns, naming problems', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(4000), { minLength: 1, maxLength: 30 }),
        fc.array(fc.tuple(fc.nat(2047), fc.nat()), { minLength: 1, maxLength: 6 }),
        (sizes, damage) => {
          const memory = new ArrayBuffer(8192);
          const words = new Uint32Array(memory);
          const heap = createTlsf(memory, { base: SRAM, slLog2: 3 });
          const live = sizes.map((s) => heap.malloc(s % 700)).filter((p) => p !== 0);
          live
            .filter((_, i) => i % 2 === 0)
            .forEach((p) => {
              heap.free(p);
            });
          for (const [index, value] of damage) words[index] = value;
          const result = heap.check();
          expect(typeof result.ok).toBe('boolean');
          for (const message of result.errors) expect(message.length).toBeGreaterThan(10);
          expect(() => heap.stats()).not.toThrow();
          heap.findBlock(SRAM + 4096);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('inspection helpers', () => {
  test('the O(1) freeBytes and largestFreeBlock() agree with a walk, over two pools and random operations', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom('malloc', 'free', 'realloc', 'memalign'),
            size: fc.integer({ min: 0, max: 3000 }),
            pick: fc.nat(),
          }),
          { maxLength: 80 },
        ),
        (operations) => {
          const heap = createTlsf(new ArrayBuffer(16384), { base: SRAM });
          heap.addPool(new ArrayBuffer(8192), { base: CCM });
          const live: number[] = [];
          for (const { kind, size, pick } of operations) {
            if (kind === 'free' && live.length > 0) heap.free(live.splice(pick % live.length, 1)[0]!);
            else if (kind === 'realloc' && live.length > 0) {
              const index = pick % live.length;
              const moved = heap.realloc(live[index]!, size + 1);
              if (moved !== 0) live[index] = moved;
            } else {
              const ptr = kind === 'memalign' ? heap.memalign(64, size) : heap.malloc(size);
              if (ptr !== 0) live.push(ptr);
            }
            const stats = heap.stats();
            expect(heap.freeBytes).toBe(stats.freeBytes);
            expect(heap.largestFreeBlock()).toBe(stats.largestFree);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  test('walk, findBlock and metadata ranges', () => {
    const heap = createTlsf(new ArrayBuffer(8192), { base: SRAM });
    const a = heap.malloc(100);
    const b = heap.malloc(30);
    heap.free(a);
    const blocks: { addr: number; size: number; used: boolean }[] = [];
    heap.walk((block) => blocks.push({ addr: block.addr, size: block.size, used: block.used }));
    expect(blocks[0]).toEqual({ addr: a, size: 100, used: false });
    expect(blocks[1]).toEqual({ addr: b, size: heap.usableSize(b), used: true });
    expect(blocks[2]!.used).toBe(false);
    expect(blocks.length).toBe(3);
    expect(heap.findBlock(b + 10)).toMatchObject({ addr: b, used: true, contains: true });
    expect(heap.findBlock(SRAM + 8)).toMatchObject({ addr: a, contains: false });
    expect(heap.isMetadata(SRAM)).toBe(true); // control structure
    expect(heap.isMetadata(b - 4)).toBe(true); // header
    expect(heap.isMetadata(b)).toBe(false); // payload
    expect(heap.isMetadata(a)).toBe(true); // free block's next link
    expect(heap.isMetadata(a + 50)).toBe(false);
    expect(heap.isMetadata(a + 96)).toBe(true); // free block's back link
    expect(heap.metadataRanges().filter((r) => r.what === 'sentinel').length).toBe(1);
    expect(heap.largestFreeBlock()).toBe(heap.stats().largestFree);
  });

  test('inspectControl reads the control structure as stored; nextFreeLink follows a list', () => {
    const memory = new ArrayBuffer(16 * 1024);
    const heap = createTlsf(memory, { base: SRAM, slLog2: 3 });
    const a = heap.malloc(40);
    heap.malloc(8);
    const b = heap.malloc(40);
    heap.malloc(8);
    heap.free(a);
    heap.free(b);
    const control = inspectControl(heap);
    const words = new Uint32Array(memory);
    const layout = heap.layout;
    expect(control).toMatchObject({
      address: SRAM,
      bytes: layout.controlBytes,
      align: 8,
      slLog2: 3,
      flCount: layout.flCount,
      slCount: 8,
    });
    expect(control.firstLevelBitmap).toBe(words[0]);
    expect(control.secondLevelBitmaps).toEqual([...words.subarray(1, 1 + layout.flCount)]);
    const { firstLevelIndex: fl, secondLevelIndex: sl } = mapBlockSize(layout, heap.usableSize(heap.malloc(40)) + 4);
    const list: number[] = [];
    for (let node = inspectControl(heap).heads[fl]![sl]!; node !== 0; node = nextFreeLink(heap, node)) list.push(node);
    expect(list).toEqual([a - 4]); // b was filed last and taken again by malloc(40) just above
    expect(control.heads.flat().filter((head) => head !== 0).length).toBeGreaterThan(0);
  });

  test('largestFreeBlock agrees with the walk as the heap churns', () => {
    const heap = createTlsf(new ArrayBuffer(64 * 1024), { base: SRAM, slLog2: 2 });
    const live: number[] = [];
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      if (live.length > 0 && seed % 3 === 0) {
        heap.free(live.splice(seed % live.length, 1)[0]!);
      } else {
        const p = heap.malloc(seed % 1500);
        if (p !== 0) live.push(p);
      }
      if (i % 50 === 0) expect(heap.largestFreeBlock()).toBe(heap.stats().largestFree);
    }
  });
});
