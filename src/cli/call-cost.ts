import { countsCost, type HeapCost, type HeapKind } from '../allocator/index.js';
import { parseElf, type CpuName, type ElfImage, type HeapEvent, type RunReport } from '../board/index.js';
import { cycleModel, estimateCycles, type CycleModel } from './cycle-model.js';
import type { PreparedRun } from './engine.js';
import { callerSymbol, callText } from './learn-run.js';
import { replayOfRun } from './replay.js';

// The work of every heap call of a run: the run's call log replayed on a host heap of the same kind that counts
// each call (TLSF on its counting heap, allocator/tlsf-counting.ts), every returned address checked against the
// run's. The board's heap counts nothing, so a run pays for this only when its report asks for the cost.

/** One call and what it cost. */
export interface CallSample {
  event: HeapEvent;
  work: HeapCost;
  cycles: number;
}

/** The run's calls, allocating (malloc, calloc, realloc, memalign) and freeing apart. */
export interface ReplayedCosts {
  allocations: CallSample[];
  frees: CallSample[];
  /** False when a replayed call returned other than the run's: the counts would describe another heap. */
  matches: boolean;
}

export function replayCosts(prepared: PreparedRun, report: RunReport, allocator: HeapKind): ReplayedCosts {
  const replay = replayOfRun(prepared, report, allocator, true);

  const heap = replay.heap;
  const model = cycleModel(prepared.board.cpu);
  const allocations: CallSample[] = [];
  const frees: CallSample[] = [];
  for (let event = replay.step(); event !== null; event = replay.step()) {
    if (event.op === 'mark' || !countsCost(heap)) continue;
    if (event.op === 'free' && event.args[0] === 0) continue; // free(NULL) never reaches a heap's code
    const work = { ...heap.lastCallCost() };
    (event.op === 'free' ? frees : allocations).push({ event, work, cycles: estimateCycles(work, model) });
  }
  return { allocations, frees, matches: replay.divergence === null && countsCost(heap) };
}

export function percentile99(sorted: number[]): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!;
}

/** Estimated cycles per call of one kind over a run, and the costliest call with its exact counts. */
export interface CallCostSummary {
  calls: number;
  max: number;
  p99: number;
  mean: number;
  maxCall: { call: number; text: string; caller: string | null; cycles: number; work: HeapCost } | null;
}

/** `heapCost` of a run report. */
export interface HeapCostReport {
  malloc: CallCostSummary;
  free: CallCostSummary;
  model: CycleModel;
}

/** The ELF's symbols name the costliest calls; without them (a host run) the caller is left out. */
export function imageOf(prepared: PreparedRun): ElfImage | null {
  try {
    return parseElf(prepared.options.elf, prepared.options.elfName);
  } catch {
    return null;
  }
}

export function summariseCycles(samples: CallSample[], image: ElfImage | null): CallCostSummary {
  const cycles = samples.map((sample) => sample.cycles).sort((a, b) => a - b);
  let worst: CallSample | null = null;
  for (const sample of samples) if (worst === null || sample.cycles > worst.cycles) worst = sample;
  return {
    calls: samples.length,
    max: cycles[cycles.length - 1] ?? 0,
    p99: percentile99(cycles),
    mean:
      cycles.length === 0 ? 0 : Math.round((cycles.reduce((sum, value) => sum + value, 0) / cycles.length) * 10) / 10,
    maxCall: worst && {
      call: worst.event.call,
      text: callText(worst.event),
      caller: callerSymbol(image, worst.event.caller),
      cycles: worst.cycles,
      work: worst.work,
    },
  };
}

/** A run's heapCost, or null when the replay diverged (its counts would not be this run's). */
export function heapCostOf(prepared: PreparedRun, report: RunReport, allocator: HeapKind): HeapCostReport | null {
  const costs = replayCosts(prepared, report, allocator);
  if (!costs.matches) return null;
  const image = imageOf(prepared);
  return {
    malloc: summariseCycles(costs.allocations, image),
    free: summariseCycles(costs.frees, image),
    model: cycleModel(prepared.board.cpu as CpuName),
  };
}
