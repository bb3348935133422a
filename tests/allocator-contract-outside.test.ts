import { describe, expect, test } from 'vitest';
import { type BlockInfo, createTlsf, mapRequest, TlsfError, type Tlsf } from '../src/allocator/index.js';

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
    expect(error.message).toMatch(
      /bytes 2048\.\.6144 of a buffer whose bytes 0\.\.4096 are already the pool at 0x20000000/,
    );
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

// The audit's trace driver, kept: seeded random and adversarial traces over varied heaps (every alignment and
// slLog2, strict or not, ArrayBuffer / SharedArrayBuffer / WebAssembly.Memory, bases from 0 to the top of the
// address space, unaligned offsets, extra pools in the same or other buffers), checked after every step against a
// shadow model of the live blocks, and every rejected call checked to change nothing.
describe('seeded traces against a shadow model', () => {
  interface Live {
    size: number;
    alignment: number;
    fill: number;
  }
  interface Region {
    bytes: Uint8Array;
    base: number;
    start: number;
    end: number;
  }

  function random(seed: number): () => number {
    let state = seed | 0;
    return () => {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function runTrace(seed: number, steps: number): void {
    const next = random(seed);
    const below = (n: number): number => Math.floor(next() * n);
    const pick = <T>(values: T[]): T => values[below(values.length)]!;
    const kind = pick(['array', 'shared', 'wasm']);
    const buffer = (bytes: number): ArrayBuffer | SharedArrayBuffer =>
      kind === 'array'
        ? new ArrayBuffer(bytes)
        : kind === 'shared'
          ? new SharedArrayBuffer(bytes)
          : new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) }).buffer;
    const align = pick([4, 8, 16] as const);
    const size = pick([1024, 4096, 20000]);
    const base = pick([0, 0x2000_0000, 0x7fff_f000 - size, 0x8000_0000, 2 ** 32 - 0x8000]);
    const offset = pick([0, 1, 3, 12]);
    const first = buffer(size + offset + 64);
    const heap = createTlsf(first, { base, offset, length: size, align, slLog2: 1 + below(5), strict: next() < 0.2 });
    const regions: Region[] = [{ bytes: new Uint8Array(first), base, start: base + offset, end: base + offset + size }];
    for (let i = below(3); i > 0; i--) {
      const length = pick([48, 300, 4099]);
      const other = buffer(length + 8);
      const poolBase = 0x6000_0000 + i * 0x10_0000 + 4 * below(2);
      heap.addPool(other, { base: poolBase, offset: i % 2, length });
      regions.push({
        bytes: new Uint8Array(other),
        base: poolBase,
        start: poolBase + (i % 2),
        end: poolBase + (i % 2) + length,
      });
    }
    const where = (addr: number): Region => regions.find((r) => addr >= r.start && addr < r.end)!;
    const live = new Map<number, Live>();
    let fills = 1;
    const fill = (addr: number, from: number, entry: Live): void => {
      const region = where(addr);
      for (let k = from; k < entry.size; k++) region.bytes[addr - region.base + k] = (entry.fill + k * 13) & 255;
    };
    const intact = (addr: number, entry: Live, length = entry.size): boolean => {
      const region = where(addr);
      for (let k = 0; k < length; k++) {
        if (region.bytes[addr - region.base + k] !== ((entry.fill + k * 13) & 255)) return false;
      }
      return true;
    };
    const rejected = (code: string, run: () => unknown): void => {
      const bytesBefore = regions.map((r) => r.bytes.slice());
      const countersBefore = [heap.usedBytes, heap.freeBytes, heap.peakUsed];
      const error = thrown(run);
      expect(error.code).toBe(code);
      expect(error.message).not.toContain('\n');
      expect(regions.every((r, i) => Buffer.compare(r.bytes, bytesBefore[i]!) === 0)).toBe(true);
      expect([heap.usedBytes, heap.freeBytes, heap.peakUsed]).toEqual(countersBefore);
    };
    const added = (addr: number, bytes: number, alignment: number, zeroed = false): void => {
      if (addr === 0) return;
      expect(live.has(addr)).toBe(false);
      const region = where(addr);
      expect(addr + Math.max(bytes, 1)).toBeLessThanOrEqual(region.end);
      expect(addr % Math.max(align, alignment)).toBe(0);
      if (zeroed)
        expect(region.bytes.subarray(addr - region.base, addr - region.base + bytes).every((b) => b === 0)).toBe(true);
      const entry = { size: bytes, alignment, fill: fills++ };
      live.set(addr, entry);
      fill(addr, 0, entry);
    };
    const requestSize = (): number =>
      pick([0, 1, 7, 24, 64, 200, 600, below(size), 2 ** 31, 2 ** 32 - 1, 2 ** 32 + 8, Number.MAX_SAFE_INTEGER]);
    let peak = heap.peakUsed;

    for (let step = 0; step < steps; step++) {
      const addresses = [...live.keys()];
      const some = addresses.length > 0 ? pick(addresses) : 0;
      const roll = next();
      if (roll < 0.3) {
        const request = requestSize();
        added(heap.malloc(request), request, align);
      } else if (roll < 0.5 && some !== 0) {
        expect(intact(some, live.get(some)!)).toBe(true);
        heap.free(some);
        live.delete(some);
      } else if (roll < 0.65) {
        const request = next() < 0.15 ? 0 : requestSize();
        const old = live.get(some);
        const moved = heap.realloc(some, request);
        if (some === 0) added(moved, request, align);
        else if (request === 0) {
          expect(moved).toBe(0);
          live.delete(some);
        } else if (moved === 0) expect(intact(some, old!)).toBe(true);
        else {
          expect(intact(moved, old!, Math.min(old!.size, request))).toBe(true);
          live.delete(some);
          const entry = { size: request, alignment: moved === some ? old!.alignment : align, fill: old!.fill };
          live.set(moved, entry);
          fill(moved, Math.min(old!.size, request), entry);
        }
      } else if (roll < 0.72) {
        const count = pick([0, 1, 3, 100, 65537, 2 ** 31]);
        const each = pick([0, 4, 33, 65536, 2 ** 31]);
        const addr = heap.calloc(count, each);
        if (count * each > 0xffff_ffff) expect(addr).toBe(0);
        added(addr, count * each, align, true);
      } else if (roll < 0.8) {
        const alignment = pick([0, 3, 12, 1, 8, 64, 4096, 2 ** 20, 2 ** 31, 2 ** 32]);
        const request = pick([0, 8, 100, 1000]);
        const addr = heap.memalign(alignment, request);
        const powerOfTwo = alignment > 0 && alignment <= 2 ** 31 && (alignment & (alignment - 1)) === 0;
        if (!powerOfTwo) expect(addr).toBe(0);
        added(addr, request, powerOfTwo ? alignment : 1);
      } else if (some !== 0) {
        const blocks: BlockInfo[] = [];
        heap.walk((block) => blocks.push(block));
        const freeBlock = blocks.find((b) => !b.used);
        const misuse = below(6);
        if (misuse === 0) rejected('misaligned', () => heap.free(some + 2));
        else if (misuse === 1) rejected('bad-size', () => heap.malloc(pick([-1, 0.5, Number.NaN, Infinity])));
        else if (misuse === 2) rejected('bad-size', () => heap.realloc(some, pick([-8, 2.5, Number.NaN])));
        else if (misuse === 3) rejected('bad-size', () => heap.calloc(pick([-1, 1.5]), 4));
        else if (misuse === 4 && freeBlock) rejected('double-free', () => heap.free(freeBlock.addr));
        else rejected('out-of-pool', () => heap.free(0x5000_0000));
      }

      // The model and the heap agree, block for block and byte for byte.
      expect(heap.check()).toEqual({ ok: true, errors: [] });
      const blocks: BlockInfo[] = [];
      heap.walk((block) => blocks.push(block));
      const used = blocks.filter((b) => b.used);
      const free = blocks.filter((b) => !b.used);
      expect(new Set(used.map((b) => b.addr))).toEqual(new Set(live.keys()));
      const short = used.filter((b) => b.size < live.get(b.addr)!.size || heap.usableSize(b.addr) !== b.size);
      expect(short).toEqual([]);
      const stats = heap.stats();
      const sum = (list: BlockInfo[]): number => list.reduce((total, b) => total + b.blockSize, 0);
      expect([stats.usedBytes, stats.freeBytes, stats.usedBlocks, stats.freeBlocks]).toEqual([
        sum(used),
        sum(free),
        used.length,
        free.length,
      ]);
      expect(stats.largestFree).toBe(Math.max(0, ...free.map((b) => b.blockSize)));
      expect(heap.largestFreeBlock()).toBe(stats.largestFree);
      expect([heap.usedBytes, heap.freeBytes]).toEqual([stats.usedBytes, stats.freeBytes]);
      expect(stats.peakUsed).toBeGreaterThanOrEqual(Math.max(peak, stats.usedBytes));
      peak = stats.peakUsed;
      expect(stats.poolBytes).toBe(regions.reduce((total, r) => total + r.end - r.start, 0));
    }
    for (const [addr, entry] of live) expect(intact(addr, entry)).toBe(true);
  }

  test('60 traces of 150 steps', () => {
    for (let seed = 1; seed <= 60; seed++) runTrace(seed, 150);
  });
});

describe('realloc of a null pointer', () => {
  test('is malloc, and a bad size is named as a realloc error', () => {
    const heap = createTlsf(new ArrayBuffer(4096), { base: SRAM });
    const p = heap.realloc(0, 100);
    expect(p).not.toBe(0);
    expect(heap.usableSize(p)).toBeGreaterThanOrEqual(100);
    expect(heap.realloc(0, 2 ** 31)).toBe(0);
    for (const size of [-1, Number.NaN, 1.5]) {
      const error = thrown(() => heap.realloc(0, size));
      expect(error.code).toBe('bad-size');
      expect(error.message).toBe(`realloc: size must be a non-negative integer, got ${size}`);
    }
  });
});
