import { describe, expect, test } from 'vitest';
import { createTlsf, mapRequest, TlsfError, type Tlsf } from '../src/allocator/index.js';

// Holes an outside audit of the documented contract (docs/allocator.md) found by driving the heap as a
// user would: each test failed on the code before its fix.

const SRAM = 0x2000_0000;

function thrown(run: () => unknown): TlsfError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TlsfError);
    return error as TlsfError;
  }
  throw new Error('expected a TlsfError, nothing was thrown');
}

/** Everything a rejected call must leave as it was: the managed bytes and the O(1) counters. */
function state(heap: Tlsf, bytes: Uint8Array): string {
  return JSON.stringify([Array.from(bytes), heap.usedBytes, heap.freeBytes, heap.peakUsed]);
}

describe('addPool refuses bytes that another pool already manages', () => {
  test('the same bytes of one buffer under another base', () => {
    const buffer = new ArrayBuffer(8192);
    const heap = createTlsf(buffer, { base: SRAM, length: 4096 });
    const before = state(heap, new Uint8Array(buffer));
    const error = thrown(() => heap.addPool(buffer, { base: 0x4000_0000, offset: 2048, length: 4096 }));
    expect(error.code).toBe('overlap');
    expect(error.message).toMatch(/bytes 2048\.\.6144 of a buffer whose bytes 0\.\.4096 are already the pool at 0x20000000/);
    expect(state(heap, new Uint8Array(buffer))).toBe(before);
    expect(heap.check().ok).toBe(true);
    expect(heap.poolList()).toHaveLength(1);
  });

  test('the rest of that buffer, or another buffer at any base, is still accepted', () => {
    const buffer = new ArrayBuffer(8192);
    const heap = createTlsf(buffer, { base: SRAM, length: 4096 });
    heap.addPool(buffer, { base: 0x4000_0000, offset: 4096 });
    heap.addPool(new ArrayBuffer(4096), { base: 0x5000_0000 });
    expect(heap.poolList()).toHaveLength(3);
    expect(heap.check().ok).toBe(true);
  });
});

// "Nothing is written before the checks of a step pass" (docs/allocator.md, Corruption: range checks), and the
// O(1) counters move only when a call completes: a call that finds damage at its first step changes nothing.
describe('a call that finds damage at its first step changes nothing, counters included', () => {
  const heaps: [string, () => { heap: Tlsf; bytes: Uint8Array; base: number }][] = [
    [
      'one buffer (the flat paths)',
      () => {
        const buffer = new ArrayBuffer(8192);
        return { heap: createTlsf(buffer, { base: SRAM }), bytes: new Uint8Array(buffer), base: SRAM };
      },
    ],
    [
      'one buffer above 2^31 (the checked paths)',
      () => {
        const buffer = new ArrayBuffer(8192);
        return { heap: createTlsf(buffer, { base: 0x8000_0000 }), bytes: new Uint8Array(buffer), base: 0x8000_0000 };
      },
    ],
    [
      'two buffers (the generic paths)',
      () => {
        const buffer = new ArrayBuffer(8192);
        const heap = createTlsf(buffer, { base: SRAM });
        heap.addPool(new ArrayBuffer(64), { base: 0x1000_0000 }); // one small block: the tests' blocks are in SRAM
        return { heap, bytes: new Uint8Array(buffer), base: SRAM };
      },
    ],
  ];

  for (const [name, make] of heaps) {
    test(`free whose back link was overwritten after the block before it was freed: ${name}`, () => {
      const { heap, bytes, base } = make();
      const view = new DataView(bytes.buffer);
      const a = heap.malloc(100);
      const b = heap.malloc(100);
      heap.malloc(100); // keeps b's next neighbour in use
      heap.free(a); // b's header now says the block before it is free; its back link is the word before b's header
      view.setUint32(b - 8 - base, 0x10, true);
      const before = state(heap, bytes);
      const error = thrown(() => heap.free(b));
      expect(error.code).toBe('corrupt');
      expect(error.message).toContain('back link');
      expect(state(heap, bytes)).toBe(before);
    });

    test(`free into a list whose head was overwritten: ${name}`, () => {
      const { heap, bytes, base } = make();
      const view = new DataView(bytes.buffer);
      heap.malloc(100);
      const b = heap.malloc(100);
      heap.malloc(100); // b has no free neighbour: free files it alone
      const { firstLevelIndex, secondLevelIndex } = mapRequest(heap.usableSize(b), heap);
      const headAddress =
        heap.controlAddress + 4 * (1 + heap.layout.flCount + firstLevelIndex * heap.layout.slCount + secondLevelIndex);
      view.setUint32(headAddress - base, 0x10, true);
      const before = state(heap, bytes);
      const counters = [heap.usedBytes, heap.freeBytes, heap.peakUsed];
      const error = thrown(() => heap.free(b));
      expect(error.code).toBe('corrupt');
      expect(error.message).toContain("free list's head 0x00000010");
      expect([heap.usedBytes, heap.freeBytes, heap.peakUsed]).toEqual(counters);
      if (name.startsWith('one buffer (the flat')) {
        // Documented exception (docs/allocator.md, "What a call that throws leaves"): the flat paths write the
        // block's header and back link (and the next block's P flag) before they check the head, so the block
        // is left free on no list, and check() says so.
        expect(heap.check().errors).toContain(`free block 0x${(b - 4).toString(16)} of 104 bytes is on no free list`);
        return;
      }
      expect(state(heap, bytes)).toBe(before);
      view.setUint32(headAddress - base, 0, true); // repaired, the same free goes through
      heap.free(b);
      expect(heap.check()).toEqual({ ok: true, errors: [] });
    });

    test(`realloc shrinking into a free next block whose link was overwritten: ${name}`, () => {
      const { heap, bytes, base } = make();
      const view = new DataView(bytes.buffer);
      const a = heap.malloc(200);
      const x = heap.malloc(100);
      heap.malloc(100);
      heap.free(x); // a's next neighbour is free; its next-free link is the first word of x's payload
      view.setUint32(x - base, 0x10, true);
      const before = state(heap, bytes);
      const error = thrown(() => heap.realloc(a, 40));
      expect(error.code).toBe('corrupt');
      expect(error.message).toContain('next-free link 0x00000010');
      expect(state(heap, bytes)).toBe(before);
    });
  }
});

describe('strict mode reports a double free as one', () => {
  // docs/allocator.md, Misuse: a block swallowed by a neighbour when freed keeps its F bit, so freeing it again
  // is still a double free; strict mode only adds a walk, it must not lose that diagnosis.
  for (const strict of [false, true]) {
    test(`a block merged into the free block before it, freed again (strict: ${strict})`, () => {
      const buffer = new ArrayBuffer(4096);
      const heap = createTlsf(buffer, { base: SRAM, strict });
      const a = heap.malloc(40);
      const b = heap.malloc(40);
      heap.malloc(40);
      heap.free(a);
      heap.free(b); // merges into a's block
      const before = state(heap, new Uint8Array(buffer));
      for (const run of [() => heap.free(b), () => heap.realloc(b, 8), () => heap.usableSize(b)]) {
        const error = thrown(run);
        expect(error.code).toBe('double-free');
        expect(error.message).toMatch(/\(0x20000[0-9a-f]{3}\): block is already free \(double free\?\)$/);
      }
      expect(state(heap, new Uint8Array(buffer))).toBe(before);
    });
  }

  test('strict mode still calls a pointer into the middle of a used block not-a-block', () => {
    const heap = createTlsf(new ArrayBuffer(4096), { base: SRAM, strict: true });
    const a = heap.malloc(200);
    expect(thrown(() => heap.free(a + 64)).code).toBe('not-a-block');
  });
});

describe('one-line errors that name the problem', () => {
  test('memalign names itself in a bad-size error, whatever the alignment', () => {
    const heap = createTlsf(new ArrayBuffer(4096), { base: SRAM });
    for (const alignment of [4, 8, 64]) {
      const error = thrown(() => heap.memalign(alignment, -1));
      expect(error.code).toBe('bad-size');
      expect(error.message).toBe('memalign: size must be a non-negative integer, got -1');
    }
  });

  test('a string is quoted, so that "0x20000000" does not read as an address', () => {
    const heap = createTlsf(new ArrayBuffer(4096), { base: SRAM });
    const asAny = heap as unknown as { free(p: unknown): void; malloc(s: unknown): number };
    expect(thrown(() => asAny.free('0x20000000')).message).toBe('free("0x20000000"): not a 32-bit address');
    expect(thrown(() => asAny.malloc('8')).message).toBe('malloc: size must be a non-negative integer, got "8"');
    const options = { align: '8' } as unknown as { align: 8 };
    expect(thrown(() => createTlsf(new ArrayBuffer(4096), options)).message).toBe('align must be 4, 8 or 16, got "8"');
    expect(thrown(() => asAny.malloc('x'.repeat(500))).message.length).toBeLessThan(140);
  });

  test('a detached buffer is named as such, not as a length out of range', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 2 });
    const old = memory.buffer;
    memory.grow(1);
    const error = thrown(() => createTlsf(old));
    expect(error.code).toBe('bad-option');
    expect(error.message).toMatch(/^memory has no bytes \(a detached buffer\?/);
  });

  test('null options from a JavaScript caller mean the defaults', () => {
    const heap = createTlsf(new ArrayBuffer(4096), null as unknown as undefined);
    expect(heap.align).toBe(8);
    expect(heap.check().ok).toBe(true);
  });
});


describe('near misses at the edges of the API', () => {
  test('a WebAssembly.Memory or a typed array is named, with what to pass instead', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const asMemory = memory as unknown as ArrayBuffer;
    expect(thrown(() => createTlsf(asMemory)).message).toMatch(/got a WebAssembly\.Memory: pass its \.buffer$/);
    const bytes = new Uint8Array(4096) as unknown as ArrayBuffer;
    expect(thrown(() => createTlsf(bytes)).message).toMatch(/got a Uint8Array: pass its \.buffer/);
    expect(createTlsf(memory.buffer, { base: 0 }).check().ok).toBe(true);
  });

  test('findBlock of something that is not an address finds nothing', () => {
    const heap = createTlsf(new ArrayBuffer(4096), { base: SRAM });
    heap.malloc(100);
    expect(heap.findBlock(Number.NaN)).toBeUndefined();
    expect(heap.findBlock(SRAM + 0.5)).toBeUndefined();
    expect(heap.findBlock(SRAM)?.contains).toBe(false); // the control structure: the nearest block, as documented
  });
});
