import { describe, expect, test } from 'vitest';
import { createTlsf } from '../src/allocator/index.js';
import { OP_FREE, OP_MALLOC, OP_REALLOC, TRACE_SPECS, makeTrace } from '../bench/traces.js';

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
        const bad = (why: string): never => { throw new Error(`op ${i / 3} (${kind}, ${slot}, ${size}): ${why}`); };
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
