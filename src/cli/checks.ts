import { formatBytes, formatPercent } from './units.js';

/**
 * The figures of a run that limits are checked against: a structural subset of the board's RunReport, so the
 * check engine can be tested without an emulator.
 */
export interface RunFigures {
  result: string;
  ops: { failed: number };
  peakUsed: number;
  peakSpan: number;
  largestFreeAtPeak: number;
  fragmentation: number;
  /** At the moment of peak use (RunReport.fragmentationAtPeak); absent from figures that predate it. */
  fragmentationAtPeak?: number;
  message?: string;
}

/**
 * The fragmentation a limit is held to: the worse of the peak's and the end's. The end alone misses a
 * workload that frees everything before exiting; the peak alone misses damage done after it.
 */
export function worstFragmentation(figures: Pick<RunFigures, 'fragmentation' | 'fragmentationAtPeak'>): number {
  return Math.max(figures.fragmentation, figures.fragmentationAtPeak ?? 0);
}

/**
 * RAM limits a CI gate holds a workload to. Every field is optional; a run is always also required to complete
 * (result `ok`), because figures from a run that faulted half way describe nothing.
 */
export interface Limits {
  /** Peak bytes in used blocks, headers included (RunReport.peakUsed) must not exceed this. */
  maxPeak?: number;
  /** Peak span (heap start to the highest used byte, control structure included) must not exceed this. */
  maxSpan?: number;
  /** Fragmentation (1 - largest free block / free bytes), in [0, 1], the worse of peak and end, must not exceed this. */
  maxFragmentation?: number;
  /**
   * The largest free block at the moment of peak use must be at least this: the biggest allocation that would
   * still have succeeded at the worst moment of the run, i.e. the headroom that is actually usable.
   */
  minFree?: number;
  /** No allocation may fail: no malloc/realloc/calloc/memalign returned NULL, and the run did not stop out of memory. */
  noOom?: boolean;
}

export type CheckName = 'completes' | 'max-peak' | 'max-span' | 'max-fragmentation' | 'min-free' | 'no-oom';

export interface CheckOutcome {
  /** What was run: scenario name, ELF or trace path. */
  target: string;
  board: string;
  check: CheckName;
  pass: boolean;
  /** The measured figure: bytes, a fraction in [0,1], a count of failed allocations, or a result string. */
  measured: number | string;
  /** The limit it was held to, in the same unit. */
  limit: number | string;
  unit: 'bytes' | 'fraction' | 'count' | 'result';
  /** One line for humans: "peak used 12,288 B <= 24,576 B". */
  summary: string;
}

export function hasAnyLimit(limits: Limits): boolean {
  return (
    limits.maxPeak !== undefined ||
    limits.maxSpan !== undefined ||
    limits.maxFragmentation !== undefined ||
    limits.minFree !== undefined ||
    limits.noOom === true
  );
}

/** Evaluates every limit against one run's figures; the first outcome is always `completes`. */
export function evaluateChecks(target: string, board: string, figures: RunFigures, limits: Limits): CheckOutcome[] {
  const outcomes: CheckOutcome[] = [];
  const completed = figures.result === 'ok';
  outcomes.push({
    target,
    board,
    check: 'completes',
    pass: completed,
    measured: figures.result,
    limit: 'ok',
    unit: 'result',
    summary: completed
      ? 'run completes: ok'
      : `run completes: ${figures.result}${figures.message ? ` (${figures.message})` : ''}, expected ok`,
  });
  if (limits.maxPeak !== undefined) {
    const pass = figures.peakUsed <= limits.maxPeak;
    outcomes.push({
      target, board, check: 'max-peak', pass, measured: figures.peakUsed, limit: limits.maxPeak, unit: 'bytes',
      summary: `peak used ${formatBytes(figures.peakUsed)} ${pass ? '<=' : '>'} max ${formatBytes(limits.maxPeak)}`,
    });
  }
  if (limits.maxSpan !== undefined) {
    const pass = figures.peakSpan <= limits.maxSpan;
    outcomes.push({
      target, board, check: 'max-span', pass, measured: figures.peakSpan, limit: limits.maxSpan, unit: 'bytes',
      summary: `peak span ${formatBytes(figures.peakSpan)} ${pass ? '<=' : '>'} max ${formatBytes(limits.maxSpan)}`,
    });
  }
  if (limits.maxFragmentation !== undefined) {
    const measured = worstFragmentation(figures);
    const where = figures.fragmentationAtPeak === undefined ? '' : figures.fragmentationAtPeak > figures.fragmentation ? ' (at peak)' : ' (at the end)';
    const pass = measured <= limits.maxFragmentation;
    outcomes.push({
      target, board, check: 'max-fragmentation', pass, measured,
      limit: limits.maxFragmentation, unit: 'fraction',
      summary: `fragmentation ${formatPercent(measured)}${where} ${pass ? '<=' : '>'} max ${formatPercent(limits.maxFragmentation)}`,
    });
  }
  if (limits.minFree !== undefined) {
    const pass = figures.largestFreeAtPeak >= limits.minFree;
    outcomes.push({
      target, board, check: 'min-free', pass, measured: figures.largestFreeAtPeak, limit: limits.minFree, unit: 'bytes',
      summary: `largest free block at peak ${formatBytes(figures.largestFreeAtPeak)} ${pass ? '>=' : '<'} min ${formatBytes(limits.minFree)}`,
    });
  }
  if (limits.noOom) {
    const stoppedOutOfMemory = figures.result === 'out-of-memory';
    const pass = figures.ops.failed === 0 && !stoppedOutOfMemory;
    outcomes.push({
      target, board, check: 'no-oom', pass, measured: figures.ops.failed, limit: 0, unit: 'count',
      summary: `failed allocations ${figures.ops.failed}${stoppedOutOfMemory ? ' (run stopped out of memory)' : ''}, allowed 0`,
    });
  }
  return outcomes;
}
