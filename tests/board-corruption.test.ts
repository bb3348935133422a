// Heap corruption without --guard: an overwritten block header is named as such, with the block below it as
// the likely overrunner, instead of passing on what the allocator concluded from the damaged header ("already
// free (double free?)"); a fault address is an address or absent, never a request size.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TlsfError } from '../src/allocator/index.js';
import {
  loadBoard,
  runFirmware,
  tlsfHeap,
  type HeapFactory,
  type RunOptions,
  type RunReport,
} from '../src/board/index.js';

const fixtureDir = join(import.meta.dirname, 'fixtures', 'elf');
const TEST = { roundTrip: 0, doubleFree: 6, overflow: 8, overrunByOne: 24 } as const;

function run(
  board: string,
  test: number,
  params: Record<string, number> = {},
  extra: Partial<RunOptions> = {},
  heap: HeapFactory = tlsfHeap,
): RunReport {
  return runFirmware(
    {
      elf: readFileSync(join(fixtureDir, `fixture-${board}.elf`)),
      board: loadBoard(board),
      params: { test, ...params },
      maxInstructions: 5e6,
      ...extra,
    },
    heap,
  );
}

const hexOf = (text: string, pattern: RegExp): number => Number.parseInt(pattern.exec(text)![1]!, 16);

describe('an overwritten block header', () => {
  for (const board of ['tiny', 'stm32f411re']) {
    it(`${board}: a 1-byte overrun into the next header is reported at the free as that, naming the overrunner`, () => {
      // The fixture mallocs a and b (100 bytes each), writes 'A' one past a's usable end, then frees b.
      const report = run(board, TEST.overrunByOne);
      expect(report.result).toBe('heap-corruption');
      const message = report.message!;
      expect(message).not.toMatch(/double free/);
      expect(message).toMatch(
        /^heap corrupted: free\(0x[0-9a-f]+\) called from 0x[0-9a-f]+ \(main_dispatch\+0x[0-9a-f]+\): the header of block 0x[0-9a-f]+ was overwritten \(it holds 0x00000041, expected a used block of 104 bytes\); the block below it \(0x[0-9a-f]+, 100 bytes requested, allocated by call #1 from main_dispatch\+0x[0-9a-f]+\) is the likely overrunner$/,
      );
      const freed = hexOf(message, /free\((0x[0-9a-f]+)\)/);
      expect(hexOf(message, /the header of block (0x[0-9a-f]+)/)).toBe(freed);
      expect(report.fault).toMatchObject({ kind: 'overwritten-header', address: freed - 4, size: 4 });
      expect(report.fault!.nearestBlock).toMatch(
        /^right after the end of block 0x[0-9a-f]+ \(100 bytes\) allocated by call #1/,
      );
    });
  }

  it('a zero byte (a string terminator) in the header is named too', () => {
    const report = run('stm32f411re', TEST.overrunByOne, { status: 0x100 }); // the byte written is (uint8_t)0x100
    expect(report.result).toBe('heap-corruption');
    expect(report.message).toMatch(
      /the header of block 0x[0-9a-f]+ was overwritten \(it holds 0x00000000, expected a used block of 104 bytes\); the block below it/,
    );
  });

  it('the heap check after a run that freed neither block names the overwritten header too', () => {
    const report = run('stm32f411re', TEST.overrunByOne, { count: 0 }); // count 0: exit with both blocks live
    expect(report.result).toBe('heap-corruption');
    expect(report.message).toMatch(
      /^heap check after the run failed: the header of block 0x[0-9a-f]+ was overwritten \(it holds 0x00000041, expected a used block of 104 bytes\); the block below it \(0x[0-9a-f]+, 100 bytes requested, allocated by call #1 from main_dispatch\+0x[0-9a-f]+\) is the likely overrunner; /,
    );
  });

  it('freeing the overrunner itself names the damaged header after it, not the freed block', () => {
    // Test 8 writes 8 bytes past a's end (over b's header), then frees a first.
    const report = run('stm32f411re', TEST.overflow);
    expect(report.result).toBe('heap-corruption');
    const message = report.message!;
    const freed = hexOf(message, /free\((0x[0-9a-f]+)\)/);
    const damaged = hexOf(message, /the header of block (0x[0-9a-f]+)/);
    expect(damaged).toBeGreaterThan(freed);
    expect(hexOf(message, /the block below it \((0x[0-9a-f]+)/)).toBe(freed);
    expect(message).toMatch(/it holds 0xeeeeeeee/);
  });

  it('a genuine double free is still a double free', () => {
    const report = run('stm32f407vg', TEST.doubleFree);
    expect(report.result).toBe('fault');
    expect(report.fault!.kind).toBe('double-free');
  });
});

describe('fault.address on corruption found inside malloc', () => {
  /** The TLSF heap, except that the second malloc throws `error` (as a corrupted free list would make it). */
  const failingSecondMalloc =
    (error: Error): HeapFactory =>
    (memory, options) => {
      const heap = tlsfHeap(memory, options);
      let calls = 0;
      return {
        malloc: (size) => {
          calls++;
          if (calls === 2) throw error;
          return heap.malloc(size);
        },
        free: (address) => heap.free(address),
        realloc: (address, size) => heap.realloc(address, size),
        calloc: (count, size) => heap.calloc(count, size),
        memalign: (alignment, size) => heap.memalign(alignment, size),
        usableSize: (address) => heap.usableSize(address),
        addPool: (pool, poolOptions) => heap.addPool(pool, poolOptions),
        check: () => heap.check(),
        walk: (visit) => heap.walk(visit),
        stats: () => heap.stats(),
      };
    };

  it('is the block the allocator names, not the request size', () => {
    const error = new TlsfError('corrupt', 'malloc: free block 0x20000400 links outside the pool', 0x20000400);
    const report = run('stm32f411re', TEST.roundTrip, {}, {}, failingSecondMalloc(error));
    expect(report.result).toBe('heap-corruption');
    expect(report.fault).toMatchObject({ kind: 'corrupted-heap', address: 0x20000400 });
    // The round trip's second request is 40 bytes: the call is named with its size, in decimal.
    expect(report.message).toMatch(
      /^heap corrupted: malloc\(40\) called from 0x[0-9a-f]+ \(main_dispatch\+0x[0-9a-f]+\) failed: malloc: free block 0x20000400 links outside the pool/,
    );
  });

  it('is absent when the allocator names no address', () => {
    const report = run('stm32f411re', TEST.roundTrip, {}, {}, failingSecondMalloc(new Error('broken')));
    expect(report.result).toBe('heap-corruption');
    expect(report.fault!.kind).toBe('corrupted-heap');
    expect(report.fault).not.toHaveProperty('address');
  });
});
