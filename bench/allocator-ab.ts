/**
 * A/B measurement of this heap alone, for comparing builds of src/allocator (docs/allocator.md,
 * "Range checks: cost"). One process replays one trace against the heap of one build, so builds never
 * share a process and its JIT state.
 *
 *   node dist/bench/allocator-ab.js <allocator index.js> <trace> <warm replays> <timed replays> [ops] [--detached]
 *
 * Prints one line: `<trace> <ns/op best> <ns/op median>` (CPU time per replay, fresh heap each time).
 * --detached first detaches a throw-away ArrayBuffer, as AssemblyScript's memory.grow does in
 * bench/allocator.ts: once any buffer in the process has been detached, V8's optimized code checks
 * on every typed-array access that the buffer is still attached, which costs this heap about 10%
 * (docs/allocator.md, Range checks: cost). Compare builds in the state the full benchmark runs in.
 * For instruction counts, run it under valgrind twice with different timed-replay counts and divide
 * the difference in Ir by the extra operations: start-up, compilation and warm-up cancel out.
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { makeTrace, replayTlsf, type ReplayHeap, type TraceName } from './traces.js';

const HEAP_BYTES = 4 * 1024 * 1024;
const SRAM_BASE = 0x2000_0000;

async function main(): Promise<void> {
  const detached = process.argv.includes('--detached');
  const [modulePath, traceName, warmText, timedText, opsText] = process.argv.slice(2).filter((a) => a !== '--detached');
  if (detached) {
    const buffer = new ArrayBuffer(8);
    structuredClone(buffer, { transfer: [buffer] });
  }
  if (modulePath === undefined || traceName === undefined) {
    throw new Error('usage: allocator-ab.js <allocator index.js> <trace> <warm> <timed> [ops] [--detached]');
  }
  const allocator = (await import(pathToFileURL(resolve(modulePath)).href)) as {
    createTlsf(memory: ArrayBuffer, options: { base: number }): ReplayHeap;
  };
  const trace = makeTrace(traceName as TraceName, opsText === undefined ? undefined : Number(opsText));
  const operations = trace.ops.length / 3;
  const once = (): number => {
    const heap = allocator.createTlsf(new ArrayBuffer(HEAP_BYTES), { base: SRAM_BASE });
    return replayTlsf(trace.ops, heap, new Uint32Array(trace.slotCount));
  };
  for (let r = 0; r < Number(warmText ?? 3); r++) once();
  const times: number[] = [];
  for (let r = 0; r < Number(timedText ?? 5); r++) {
    const started = process.cpuUsage();
    once();
    const used = process.cpuUsage(started);
    times.push(((used.user + used.system) * 1000) / operations);
  }
  times.sort((a, b) => a - b);
  const median = times.length === 0 ? 0 : times[Math.floor(times.length / 2)]!;
  console.log(`${traceName} ${(times[0] ?? 0).toFixed(2)} ${median.toFixed(2)}`);
}

await main();
