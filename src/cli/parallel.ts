import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { RunReport } from '../board/index.js';
import { execute, type PreparedRun, type RunRequest } from './engine.js';
import { usedChart, type UsedChart } from './html/used-chart.js';
import type { RunDocument } from './compared-figures.js';
import { InputError } from './errors.js';
import { runReportJson } from './report.js';
import { ProgressBar } from './terminal.js';
import { parseCount } from './units.js';

// Runs many independent runs (a budget's entries, a sweep's values) on several emulators at once: worker
// threads, each with its own Unicorn instance, fed one run at a time so a long run does not hold up a queue.
// Results are handed over in the order of the runs whatever order they finish in, so every output is the
// one a single emulator would give.

/** More workers than this would only multiply memory (each holds an emulator and its board's RAM). */
export const MAX_JOBS = 64;

export function defaultJobs(): number {
  return Math.max(1, Math.min(availableParallelism(), MAX_JOBS));
}

export function parseJobs(text: string | undefined): number {
  if (text === undefined) return defaultJobs();
  return parseCount(text, '--jobs', { min: 1, max: MAX_JOBS });
}

/** What a run gives besides its report document: the used-bytes chart of `check --markdown`, when asked for. */
export interface RunExtras {
  chart?: UsedChart;
}

/** One run into its report document: what a worker does, and what the main thread does when it runs alone. */
export function runToDocument(
  prepared: PreparedRun,
  showProgress: boolean,
  wantChart = false,
  onReport?: (report: RunReport) => void,
): { run: RunDocument; extras: RunExtras } {
  const report = execute(prepared, showProgress);
  onReport?.(report);
  const extras: RunExtras = wantChart ? { chart: usedChart(prepared, report) } : {};
  return { run: runReportJson(report, prepared.settings), extras };
}

/** An error as it crosses from a worker: enough to rebuild an InputError (exit 2) or an internal error (exit 3). */
export interface TransferredError {
  name: string;
  message: string;
  stack?: string;
  input: boolean;
}

export interface WorkerReply {
  index: number;
  run?: RunDocument;
  extras?: RunExtras;
  error?: TransferredError;
}

function rebuildError(transferred: TransferredError): Error {
  if (transferred.input) return new InputError(transferred.message);
  const error = new Error(transferred.message);
  error.name = transferred.name;
  if (transferred.stack) error.stack = transferred.stack;
  return error;
}

export interface RunAllOptions {
  jobs: number;
  /** Called once per run, in the order of the runs, as soon as it and every run before it are done. */
  onResult?: (index: number, run: RunDocument, extras: RunExtras) => void;
  /** Compute each run's used-bytes chart (the runs must record their call log). */
  charts?: boolean;
  /**
   * Sees each run's full report (with its call log) in this thread, e.g. to write its HTML page; the runs then
   * go one at a time here, since a worker's report does not come back whole.
   */
  onReport?: (index: number, report: RunReport) => void;
  /** Gives an error context (which budget entry it came from) before it ends the command. */
  describeError?: (index: number, error: unknown) => unknown;
}

/**
 * Runs every request and returns their documents in order. On an error, the runs before it are still
 * delivered and the error of the earliest failing run is thrown, as a single emulator working in order would.
 */
export async function runAll(
  requests: RunRequest[],
  prepared: PreparedRun[],
  options: RunAllOptions,
): Promise<RunDocument[]> {
  const describe = options.describeError ?? ((_index: number, error: unknown) => error);
  const workers = options.onReport ? 1 : Math.min(options.jobs, requests.length);
  if (workers <= 1) {
    const runs: RunDocument[] = [];
    requests.forEach((_request, index) => {
      let result: { run: RunDocument; extras: RunExtras };
      try {
        const onReport = options.onReport ? (report: RunReport) => options.onReport!(index, report) : undefined;
        result = runToDocument(prepared[index]!, true, options.charts === true, onReport);
      } catch (error) {
        throw describe(index, error);
      }
      runs.push(result.run);
      options.onResult?.(index, result.run, result.extras);
    });
    return runs;
  }
  return runInWorkers(requests, workers, options.charts === true, options.onResult, describe);
}

function runInWorkers(
  requests: RunRequest[],
  workerCount: number,
  charts: boolean,
  onResult: RunAllOptions['onResult'],
  describe: (index: number, error: unknown) => unknown,
): Promise<RunDocument[]> {
  const results = new Array<RunDocument | undefined>(requests.length);
  const extras = new Array<RunExtras>(requests.length);
  const errors = new Map<number, unknown>();
  let next = 0;
  let delivered = 0;
  let busy = 0;
  const pool: Worker[] = [];
  /** The run each worker is on, so a worker that dies is charged with its run. */
  const running = new Map<Worker, number>();
  // The runs' own progress stays in the workers; the bar counts finished runs.
  const bar = ProgressBar.forStderr(`${requests.length} runs on ${workerCount} emulators`);
  let finished = 0;
  return new Promise<RunDocument[]>((resolvePromise, rejectPromise) => {
    const finish = (): void => {
      bar.finish();
      for (const worker of pool) void worker.terminate();
      if (errors.size > 0) {
        const first = Math.min(...errors.keys());
        rejectPromise(errors.get(first));
      } else {
        resolvePromise(results as RunDocument[]);
      }
    };
    const deliver = (): void => {
      while (delivered < requests.length && results[delivered] !== undefined) {
        // Off the terminal line before the run's own lines go to stdout; the next update redraws it.
        bar.finish();
        onResult?.(delivered, results[delivered]!, extras[delivered] ?? {});
        delivered++;
      }
      bar.update(finished / requests.length);
    };
    const dispatch = (worker: Worker): void => {
      // After an error no new run starts; the runs already started finish so the earliest error is known.
      if (next >= requests.length || errors.size > 0) {
        if (busy === 0) finish();
        return;
      }
      const index = next++;
      busy++;
      running.set(worker, index);
      worker.postMessage({ index, request: requests[index], charts });
    };
    for (let count = 0; count < workerCount; count++) {
      const worker = new Worker(new URL('./parallel-worker.js', import.meta.url));
      worker.on('message', (reply: WorkerReply) => {
        busy--;
        finished++;
        running.delete(worker);
        if (reply.error) errors.set(reply.index, describe(reply.index, rebuildError(reply.error)));
        else {
          results[reply.index] = reply.run;
          extras[reply.index] = reply.extras ?? {};
        }
        // Runs before a failed one are still delivered, as one emulator working in order would have; the
        // loop stops at the first run without a result, so nothing after a failure is.
        deliver();
        dispatch(worker);
      });
      worker.on('error', (error) => {
        // A worker that dies takes its run with it: an internal error of that run.
        const index = running.get(worker);
        if (index !== undefined) {
          busy--;
          running.delete(worker);
          errors.set(index, describe(index, error));
        }
        if (busy === 0) finish();
      });
      pool.push(worker);
      dispatch(worker);
    }
  });
}
