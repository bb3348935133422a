import { describe, expect, test } from 'vitest';
import { createTlsf, TlsfError, type Tlsf } from '../src/allocator/index.js';

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
