import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { createTlsf, mapRequest, type Tlsf } from '../src/allocator/index.js';
import { type Command, commandArbitrary } from './support/heap-commands.js';

// Random operation sequences against a reference model: the model is the map of live pointers to
// what was asked for and the byte pattern written into them. After every step the heap must pass
// check(), agree with the model block for block, and every live block must still hold its pattern.

interface Live {
  size: number;
  seed: number;
  alignment: number;
}

interface Region {
  base: number;
  bytes: Uint8Array;
}

function runModel(heap: Tlsf, regions: Region[], commands: Command[]): void {
  const live = new Map<number, Live>();
  let seedCounter = 1;
  const locate = (ptr: number): { bytes: Uint8Array; index: number } => {
    const region = regions.find((r) => ptr >= r.base && ptr < r.base + r.bytes.length)!;
    return { bytes: region.bytes, index: ptr - region.base };
  };
  const writePattern = (ptr: number, from: number, entry: Live): void => {
    const { bytes, index } = locate(ptr);
    for (let k = from; k < entry.size; k++) bytes[index + k] = (entry.seed + k * 7) & 255;
  };
  const pick = (n: number): number | undefined => {
    if (live.size === 0) return undefined;
    return [...live.keys()][n % live.size];
  };
  const assertFailureIsReal = (blockSearch: number): void => {
    // TLSF guarantee: when malloc fails, no free block of the rounded-up search size exists.
    expect(heap.stats().largestFree).toBeLessThan(blockSearch);
  };

  for (const command of commands) {
    switch (command.op) {
      case 'malloc': {
        const ptr = heap.malloc(command.size);
        if (ptr === 0) {
          assertFailureIsReal(mapRequest(command.size, { align: heap.align, slLog2: heap.slLog2 }).searchSize);
        } else {
          expect(live.has(ptr)).toBe(false);
          const entry = { size: command.size, seed: seedCounter++, alignment: heap.align };
          live.set(ptr, entry);
          writePattern(ptr, 0, entry);
        }
        break;
      }
      case 'calloc': {
        const total = command.count * command.size;
        const ptr = heap.calloc(command.count, command.size);
        if (ptr === 0) {
          assertFailureIsReal(mapRequest(total, { align: heap.align, slLog2: heap.slLog2 }).searchSize);
        } else {
          const { bytes, index } = locate(ptr);
          for (let k = 0; k < total; k++) expect(bytes[index + k]).toBe(0);
          const entry = { size: total, seed: seedCounter++, alignment: heap.align };
          live.set(ptr, entry);
          writePattern(ptr, 0, entry);
        }
        break;
      }
      case 'memalign': {
        const alignment = 1 << command.alignLog2;
        const ptr = heap.memalign(alignment, command.size);
        if (ptr !== 0) {
          expect(ptr % alignment).toBe(0);
          const entry = { size: command.size, seed: seedCounter++, alignment: Math.max(alignment, heap.align) };
          live.set(ptr, entry);
          writePattern(ptr, 0, entry);
        }
        break;
      }
      case 'free': {
        const ptr = pick(command.pick);
        if (ptr === undefined) {
          heap.free(0);
        } else {
          heap.free(ptr);
          live.delete(ptr);
        }
        break;
      }
      case 'realloc': {
        const ptr = pick(command.pick);
        if (ptr === undefined) break;
        const old = live.get(ptr)!;
        const moved = heap.realloc(ptr, command.size);
        if (command.size === 0) {
          expect(moved).toBe(0);
          live.delete(ptr);
        } else if (moved === 0) {
          // Failure leaves the old block as it was (checked with the others below).
          assertFailureIsReal(mapRequest(command.size, { align: heap.align, slLog2: heap.slLog2 }).searchSize);
        } else {
          live.delete(ptr);
          const entry = { size: command.size, seed: old.seed, alignment: heap.align };
          // The kept prefix must have survived the resize or the move.
          const { bytes, index } = locate(moved);
          const kept = Math.min(old.size, command.size);
          for (let k = 0; k < kept; k++) {
            if (bytes[index + k] !== ((old.seed + k * 7) & 255)) {
              throw new Error(`realloc(${ptr}) -> ${moved}: byte ${k} lost`);
            }
          }
          live.set(moved, entry);
          writePattern(moved, kept, entry);
        }
        break;
      }
    }

    // The heap agrees with itself...
    const result = heap.check();
    if (!result.ok) throw new Error(`after ${JSON.stringify(command)}:\n${result.errors.join('\n')}`);
    // ...and with the model, block for block.
    const pools = heap.stats().pools;
    const used: { addr: number; size: number }[] = [];
    heap.walk((block) => {
      if (block.used) used.push({ addr: block.addr, size: block.size });
    });
    used.sort((a, b) => a.addr - b.addr);
    expect(used.length).toBe(live.size);
    let usedBytes = 0;
    let previousEnd = -Infinity;
    for (const block of used) {
      usedBytes += block.size + 4;
      const entry = live.get(block.addr);
      expect(entry).toBeDefined();
      expect(block.size).toBeGreaterThanOrEqual(entry!.size);
      expect(block.addr % entry!.alignment).toBe(0);
      expect(block.addr - 4).toBeGreaterThanOrEqual(previousEnd); // no overlap (header included)
      previousEnd = block.addr + block.size;
      const pool = pools.find((p) => block.addr >= p.firstBlock && block.addr < p.sentinel);
      expect(pool).toBeDefined();
      expect(block.addr + block.size).toBeLessThanOrEqual(pool!.sentinel);
      expect(heap.usableSize(block.addr)).toBe(block.size);
      const { bytes, index } = locate(block.addr);
      for (let k = 0; k < entry!.size; k++) {
        if (bytes[index + k] !== ((entry!.seed + k * 7) & 255)) {
          throw new Error(`after ${JSON.stringify(command)}: block ${block.addr} byte ${k} changed`);
        }
      }
    }
    expect(heap.usedBytes).toBe(usedBytes);
    expect(heap.stats().usedBytes).toBe(usedBytes);
    expect(heap.peakUsed).toBeGreaterThanOrEqual(usedBytes);
  }

  for (const ptr of live.keys()) heap.free(ptr);
  expect(heap.check().ok).toBe(true);
  expect(heap.stats().freeBlocks).toBe(heap.stats().pools.length);
}

describe('model-based: random operation sequences', () => {
  test('one pool, every alignment and slLog2', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4 as const, 8 as const, 16 as const),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 12, max: 40 }),
        fc.constantFrom(0, 0x2000_0000, 0x2001_0000, 0x7fff_0000, 0xc000_0000),
        fc.array(commandArbitrary, { minLength: 1, maxLength: 80 }),
        (align, slLog2, kib, base, commands) => {
          const memory = new ArrayBuffer(kib * 1024 + 64);
          const heap = createTlsf(memory, { base, align, slLog2, offset: 64 - (kib % 3) * 4 });
          runModel(heap, [{ base, bytes: new Uint8Array(memory) }], commands);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('two pools in separate buffers (SRAM + CCM or SDRAM), shared memory', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4 as const, 8 as const),
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom(0x1000_0000, 0xd000_0000), // CCM, or external SDRAM above 2^31
        fc.array(commandArbitrary, { minLength: 1, maxLength: 80 }),
        (align, slLog2, secondBase, commands) => {
          const sram = new SharedArrayBuffer(24 * 1024);
          const ccm = new ArrayBuffer(8 * 1024);
          const heap = createTlsf(sram, { base: 0x2000_0000, align, slLog2 });
          heap.addPool(ccm, { base: secondBase });
          runModel(
            heap,
            [
              { base: 0x2000_0000, bytes: new Uint8Array(sram) },
              { base: secondBase, bytes: new Uint8Array(ccm) },
            ],
            commands,
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  test('strict mode agrees with the fast path', () => {
    fc.assert(
      fc.property(fc.array(commandArbitrary, { minLength: 1, maxLength: 60 }), (commands) => {
        const memory = new ArrayBuffer(16 * 1024);
        const heap = createTlsf(memory, { base: 0x2000_0000, strict: true, slLog2: 2 });
        runModel(heap, [{ base: 0x2000_0000, bytes: new Uint8Array(memory) }], commands);
      }),
      { numRuns: 50 },
    );
  });
});
