/**
 * Seeded, deterministic allocation traces for comparing allocators on identical work.
 *
 * A trace is a flat Int32Array of (kind, slot, size) triples. `slot` names a live allocation,
 * so a replayer keeps one pointer per slot and every allocator sees the same sequence whatever
 * addresses it hands out. The live count random-walks around a target: an allocation is chosen
 * with probability target / (target + live), so it drifts back towards the target from both sides.
 */

export const OP_MALLOC = 0;
export const OP_FREE = 1;
export const OP_REALLOC = 2;

export type TraceName = 'steady' | 'small' | 'mixed-realloc';

export interface TraceSpec {
  name: TraceName;
  description: string;
  operations: number;
  targetLive: number;
  /** Fraction of operations that resize a live block (the rest allocate or free). */
  reallocShare: number;
  minSize: number;
  maxSize: number;
  distribution: 'log-uniform' | 'uniform';
  seed: number;
}

export interface Trace extends TraceSpec {
  /** (kind, slot, size) triples. */
  ops: Int32Array;
  /** Highest slot number used + 1. */
  slotCount: number;
  /** Highest sum of live requested bytes at any point. */
  peakLiveBytes: number;
  counts: { malloc: number; free: number; realloc: number };
}

export const TRACE_SPECS: readonly TraceSpec[] = [
  {
    name: 'steady',
    description: 'log-uniform 8..2048 B, ~200 live, 1M ops',
    operations: 1_000_000,
    targetLive: 200,
    reallocShare: 0,
    minSize: 8,
    maxSize: 2048,
    distribution: 'log-uniform',
    seed: 0x5eed_0001,
  },
  {
    name: 'small',
    description: 'uniform 8..64 B, ~1000 live, 1M ops',
    operations: 1_000_000,
    targetLive: 1000,
    reallocShare: 0,
    minSize: 8,
    maxSize: 64,
    distribution: 'uniform',
    seed: 0x5eed_0002,
  },
  {
    name: 'mixed-realloc',
    description: 'log-uniform 16..4096 B, ~128 live, 20% realloc, 500k ops',
    operations: 500_000,
    targetLive: 128,
    reallocShare: 0.2,
    minSize: 16,
    maxSize: 4096,
    distribution: 'log-uniform',
    seed: 0x5eed_0003,
  },
];

/** xorshift32: tiny, fast, and the same sequence on every machine. Returns [0, 1). */
export function randomSource(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4_294_967_296;
  };
}

export function makeTrace(spec: TraceSpec | TraceName, operations?: number): Trace {
  const resolved = typeof spec === 'string' ? TRACE_SPECS.find((s) => s.name === spec) : spec;
  if (resolved === undefined)
    throw new Error(`unknown trace ${String(spec)}; known: ${TRACE_SPECS.map((s) => s.name).join(', ')}`);
  const count = operations ?? resolved.operations;
  const random = randomSource(resolved.seed);
  const logMin = Math.log(resolved.minSize);
  const logSpan = Math.log(resolved.maxSize + 1) - logMin;
  const drawSize =
    resolved.distribution === 'uniform'
      ? () => resolved.minSize + Math.floor(random() * (resolved.maxSize - resolved.minSize + 1))
      : () => Math.min(resolved.maxSize, Math.floor(Math.exp(logMin + random() * logSpan)));

  const ops = new Int32Array(count * 3);
  const liveSlots: number[] = []; // slots currently allocated, in no order
  const sizeOfSlot: number[] = [];
  const freeSlots: number[] = [];
  let slotCount = 0;
  let liveBytes = 0;
  let peakLiveBytes = 0;
  const counts = { malloc: 0, free: 0, realloc: 0 };

  for (let i = 0; i < count; i++) {
    const live = liveSlots.length;
    let kind: number;
    if (live > 0 && random() < resolved.reallocShare) kind = OP_REALLOC;
    else kind = live === 0 || random() < resolved.targetLive / (resolved.targetLive + live) ? OP_MALLOC : OP_FREE;

    let slot: number;
    let size = 0;
    if (kind === OP_MALLOC) {
      slot = freeSlots.length > 0 ? freeSlots.pop()! : slotCount++;
      size = drawSize();
      liveSlots.push(slot);
      sizeOfSlot[slot] = size;
      liveBytes += size;
      counts.malloc++;
    } else {
      const index = Math.floor(random() * live);
      slot = liveSlots[index]!;
      if (kind === OP_FREE) {
        liveSlots[index] = liveSlots[live - 1]!;
        liveSlots.pop();
        freeSlots.push(slot);
        liveBytes -= sizeOfSlot[slot]!;
        counts.free++;
      } else {
        size = drawSize();
        liveBytes += size - sizeOfSlot[slot]!;
        sizeOfSlot[slot] = size;
        counts.realloc++;
      }
    }
    if (liveBytes > peakLiveBytes) peakLiveBytes = liveBytes;
    ops[3 * i] = kind;
    ops[3 * i + 1] = slot;
    ops[3 * i + 2] = size;
  }
  return { ...resolved, operations: count, ops, slotCount, peakLiveBytes, counts };
}

/** The malloc/free/realloc calls replayTlsf makes: this build's Tlsf, or another build's (allocator-ab.ts). */
export interface ReplayHeap {
  malloc(size: number): number;
  free(ptr: number): void;
  realloc(ptr: number, size: number): number;
}

/**
 * Replays a trace on a TLSF heap; returns the failed allocations. Its own function (the other allocators'
 * replays in allocator.ts are their own too), so its call sites only ever see one heap class.
 */
export function replayTlsf(ops: Int32Array, heap: ReplayHeap, pointers: Uint32Array): number {
  let failures = 0;
  for (let i = 0; i < ops.length; i += 3) {
    const kind = ops[i]!;
    const slot = ops[i + 1]!;
    if (kind === OP_MALLOC) {
      const ptr = heap.malloc(ops[i + 2]!);
      if (ptr === 0) failures++;
      pointers[slot] = ptr;
    } else if (kind === OP_FREE) {
      heap.free(pointers[slot]!);
    } else {
      const ptr = heap.realloc(pointers[slot]!, ops[i + 2]!);
      if (ptr === 0) failures++;
      else pointers[slot] = ptr;
    }
  }
  return failures;
}
