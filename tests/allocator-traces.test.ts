import { describe, expect, test } from 'vitest';
import { createTlsf } from '../src/allocator/index.js';
import { OP_FREE, OP_MALLOC, OP_REALLOC, TRACE_SPECS, makeTrace, type Trace } from '../bench/traces.js';
import { cTlsfModelSpan } from '../bench/allocator.js';

// The benchmark's traces must be the same on every machine and mean what their names say.

describe('benchmark traces', () => {
  for (const spec of TRACE_SPECS) {
    test(`${spec.name}: deterministic, in range, and replayable on the heap`, () => {
      const operations = 30_000;
      const first = makeTrace(spec.name, operations);
      const again = makeTrace(spec.name, operations);
      expect(Buffer.from(first.ops.buffer).equals(Buffer.from(again.ops.buffer))).toBe(true);

      const live = new Map<number, number>();
      let liveBytes = 0;
      let peak = 0;
      let peakLive = 0;
      for (let i = 0; i < first.ops.length; i += 3) {
        const [kind, slot, size] = [first.ops[i]!, first.ops[i + 1]!, first.ops[i + 2]!];
        const bad = (why: string): never => {
          throw new Error(`op ${i / 3} (${kind}, ${slot}, ${size}): ${why}`);
        };
        if (kind !== OP_FREE && (size < spec.minSize || size > spec.maxSize)) bad('size out of range');
        if (kind === OP_MALLOC) {
          if (live.has(slot)) bad('slot already live');
          live.set(slot, size);
          liveBytes += size;
        } else if (kind === OP_FREE) {
          if (!live.has(slot)) bad('free of a dead slot');
          liveBytes -= live.get(slot)!;
          live.delete(slot);
        } else {
          if (kind !== OP_REALLOC) bad('unknown kind');
          if (!live.has(slot)) bad('realloc of a dead slot');
          liveBytes += size - live.get(slot)!;
          live.set(slot, size);
        }
        peak = Math.max(peak, liveBytes);
        peakLive = Math.max(peakLive, live.size);
      }
      expect(peak).toBe(first.peakLiveBytes);
      // The live count hovers around the target.
      expect(peakLive).toBeGreaterThan(spec.targetLive * 0.9);
      expect(peakLive).toBeLessThan(spec.targetLive * 1.6);
      const reallocShare = first.counts.realloc / operations;
      expect(Math.abs(reallocShare - spec.reallocShare)).toBeLessThan(0.02);

      const heap = createTlsf(new ArrayBuffer(1 << 20), { base: 0x2000_0000 });
      const pointers = new Uint32Array(first.slotCount);
      let failed = 0;
      for (let i = 0; i < first.ops.length; i += 3) {
        const [kind, slot, size] = [first.ops[i]!, first.ops[i + 1]!, first.ops[i + 2]!];
        if (kind === OP_MALLOC) pointers[slot] = heap.malloc(size);
        else if (kind === OP_FREE) heap.free(pointers[slot]!);
        else pointers[slot] = heap.realloc(pointers[slot]!, size);
        if (kind !== OP_FREE && pointers[slot] === 0) failed++;
      }
      expect(failed).toBe(0);
      expect(heap.check().errors).toEqual([]);
    });
  }
});

describe('the C TLSF span model of the benchmark', () => {
  // The model's span must be what a classic 32-bit C TLSF leaves: a 3188-byte control structure,
  // then blocks of max(12, request rounded to 4) + 4 bytes, reuse of freed blocks, realloc in place
  // only forwards.
  const CONTROL = 3188;
  const traceOf = (ops: number[], slotCount: number): Trace => ({
    ...makeTrace('steady', 1),
    ops: Int32Array.from(ops),
    slotCount,
  });

  test('packs mallocs after the control structure with 4-byte headers and 12-byte minimum payloads', () => {
    const ops = [OP_MALLOC, 0, 1, OP_MALLOC, 1, 12, OP_MALLOC, 2, 13, OP_MALLOC, 3, 100];
    expect(cTlsfModelSpan(traceOf(ops, 4), 1 << 20)).toBe(CONTROL + 16 + 16 + 20 + 104);
  });

  test('reuses a freed block, grows realloc in place into a free next block, and moves it otherwise', () => {
    const reuse = [OP_MALLOC, 0, 100, OP_MALLOC, 1, 8, OP_FREE, 0, 0, OP_MALLOC, 2, 100];
    expect(cTlsfModelSpan(traceOf(reuse, 3), 1 << 20)).toBe(CONTROL + 104 + 16);
    const inPlace = [OP_MALLOC, 0, 100, OP_MALLOC, 1, 100, OP_FREE, 1, 0, OP_REALLOC, 0, 300];
    expect(cTlsfModelSpan(traceOf(inPlace, 2), 1 << 20)).toBe(CONTROL + 304);
    const moved = [OP_MALLOC, 0, 100, OP_MALLOC, 1, 8, OP_REALLOC, 0, 200];
    expect(cTlsfModelSpan(traceOf(moved, 2), 1 << 20)).toBe(CONTROL + 104 + 16 + 204);
  });
});
