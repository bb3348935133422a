import { halfFitWorstCaseBytes } from '../allocator/index.js';
import type { HeapEvent, RunReport } from '../board/index.js';
import { execute, prepareRun, type PreparedRun, type RunRequest } from './engine.js';
import { EXIT_CHECK_FAILED, EXIT_OK, InputError } from './errors.js';
import type { CliIo } from './options.js';
import { REPORT_SCHEMA_VERSION } from './report.js';
import { worstCaseBounds, type WorstCaseBounds } from './robson.js';
import type { Palette } from './terminal.js';
import { formatBytes, formatKiB, formatPercent } from './units.js';

export interface Attempt {
  heapSize: number;
  result: string;
  report?: RunReport;
  error?: string;
}

/** The bytes a heap call asks for (0 for free and marks). */
function requestedBytes(event: HeapEvent): number {
  const [first = 0, second = 0] = event.args;
  if (event.op === 'malloc') return first;
  if (event.op === 'realloc' || event.op === 'memalign') return second;
  if (event.op === 'calloc') return first * second;
  return 0;
}

/**
 * The largest single request of a run (n in the bounds): from the trace itself, or from the board's per-call
 * event log of the first run.
 */
export function largestRequestOf(prepared: PreparedRun, report: RunReport): number | undefined {
  if (prepared.trace) return prepared.trace.largestRequest;
  if (!report.events) return undefined;
  let largest = 0;
  for (const event of report.events) {
    const size = requestedBytes(event);
    if (size > largest) largest = size;
  }
  return largest;
}

/** The smallest non-zero request of a run (l in o1heap's sizing formula), from the board's event log. */
function smallestRequestOf(report: RunReport): number | undefined {
  let smallest = Number.POSITIVE_INFINITY;
  for (const event of report.events ?? []) {
    const size = requestedBytes(event);
    if (size > 0 && size < smallest) smallest = size;
  }
  return Number.isFinite(smallest) ? smallest : undefined;
}

function attempt(request: RunRequest, heapSize: number): Attempt {
  try {
    const report = execute(prepareRun({ ...request, heapSize }), false);
    return { heapSize, result: report.result, report };
  } catch (error) {
    // Below some size the board refuses the heap outright (no room for the control structure): that size fails.
    if (error instanceof InputError) return { heapSize, result: 'rejected', error: error.message };
    throw error;
  }
}

export interface MinHeapSearch {
  attempts: Attempt[];
  /** The smallest heap (a multiple of the alignment) on which the run completed. */
  minimum: number;
  passing: RunReport;
  failing: Attempt | undefined;
  /** Whether `progress` was called (so a progress line needs clearing). */
  showedProgress: boolean;
}

/**
 * Bisects the heap size between 0 and the size `full` completed on. `progress` hears the bracket after each run
 * once the search has taken over a second (min-heap draws it on a terminal).
 */
export function bisectMinHeap(
  request: RunRequest,
  full: RunReport,
  align: number,
  progress?: (low: number, high: number) => void,
): MinHeapSearch {
  const attempts: Attempt[] = [{ heapSize: full.heapSize, result: full.result, report: full }];
  let passingUnits = Math.floor(full.heapSize / align);
  let passing: RunReport = full;
  let failingUnits = 0;
  let failing: Attempt | undefined;
  const startedAt = Date.now();
  let drawn = false;
  while (passingUnits - failingUnits > 1) {
    const middleUnits = Math.floor((passingUnits + failingUnits) / 2);
    const outcome = attempt(request, middleUnits * align);
    attempts.push(outcome);
    if (outcome.result === 'ok') {
      passingUnits = middleUnits;
      passing = outcome.report!;
    } else {
      failingUnits = middleUnits;
      failing = outcome;
    }
    if (progress && Date.now() - startedAt > 1000) {
      progress(failingUnits * align, passingUnits * align);
      drawn = true;
    }
  }
  return { attempts, minimum: passingUnits * align, passing, failing, showedProgress: drawn };
}

/**
 * Bisection over real runs. It assumes a larger heap never makes the workload fail, which holds for what
 * matters here (a run that completes at the upper bound) but not strictly for TLSF: a different heap size moves
 * block boundaries. The answer is therefore verified both ways: it completes at the size found, and fails one
 * alignment step below it.
 */
export function minHeapCommand(request: RunRequest, options: { json: boolean }, io: CliIo, colours: Palette): number {
  // The first run, on the whole default heap, also records every call so the largest request is known.
  const first = prepareRun({ ...request, recordEvents: true });
  const align = first.settings.align;
  const full = execute(first);
  const label = `${first.label} on ${full.board}`;
  if (full.result !== 'ok') {
    if (options.json) {
      io.stdout.write(
        `${JSON.stringify(
          {
            schemaVersion: REPORT_SCHEMA_VERSION,
            command: 'min-heap',
            target: first.label,
            board: full.board,
            allocator: first.settings.allocator ?? 'tlsf',
            align,
            slLog2: first.settings.slLog2,
            params: first.settings.params,
            minHeap: null,
            defaultHeap: full.heapSize,
            belowMinimum: { heapSize: full.heapSize, result: full.result, message: full.message ?? null },
            runs: 1,
            atMinimum: null,
            worstCase: null,
          },
          null,
          2,
        )}\n`,
      );
    }
    io.stderr.write(
      `tlsf-sim: ${label} does not complete even on the whole default heap (${formatBytes(full.heapSize)}): ${full.result}${full.message ? ` (${full.message})` : ''}\n`,
    );
    return EXIT_CHECK_FAILED;
  }
  const { attempts, minimum, passing, failing, showedProgress } = bisectMinHeap(request, full, align, (low, high) => {
    if (!io.stderr.isTTY) return;
    io.stderr.write(`\rmin-heap ${label}: between ${formatBytes(low)} and ${formatBytes(high)}\u001b[K`);
  });
  if (showedProgress && io.stderr.isTTY) io.stderr.write('\r\u001b[K');
  const largestRequest = largestRequestOf(first, full);
  const bounds: WorstCaseBounds | undefined =
    largestRequest === undefined ? undefined : worstCaseBounds(passing.peakRequested, largestRequest, align);
  // The half-fit heap comes with its own guarantee (o1heap's sizing formula), stated for the arena it manages.
  const smallestRequest = first.settings.allocator === 'half-fit' ? smallestRequestOf(full) : undefined;
  const halfFitArena =
    bounds && smallestRequest !== undefined
      ? halfFitWorstCaseBytes(bounds.maxLiveBytes, bounds.largestRequest, smallestRequest)
      : undefined;

  if (options.json) {
    io.stdout.write(
      `${JSON.stringify(
        {
          schemaVersion: REPORT_SCHEMA_VERSION,
          command: 'min-heap',
          target: first.label,
          board: passing.board,
          allocator: first.settings.allocator ?? 'tlsf',
          align,
          slLog2: first.settings.slLog2,
          params: first.settings.params,
          minHeap: minimum,
          defaultHeap: full.heapSize,
          belowMinimum: failing
            ? {
                heapSize: failing.heapSize,
                result: failing.result,
                message: failing.report?.message ?? failing.error ?? null,
              }
            : null,
          runs: attempts.length,
          atMinimum: {
            result: passing.result,
            peakUsed: passing.peakUsed,
            peakRequested: passing.peakRequested,
            peakSpan: passing.peakSpan,
            largestFreeAtPeak: passing.largestFreeAtPeak,
            largestFree: passing.largestFree,
            fragmentation: passing.fragmentation,
            fragmentationAtPeak: passing.fragmentationAtPeak,
            controlBytes: passing.controlBytes,
            instructions: passing.instructions,
          },
          worstCase: bounds
            ? { ...bounds, ...(halfFitArena !== undefined ? { halfFitArenaBytes: halfFitArena } : {}) }
            : null,
          ram: wholeNeed(minimum, passing),
        },
        null,
        2,
      )}\n`,
    );
    return EXIT_OK;
  }

  const out = (line = ''): void => void io.stdout.write(`${line}\n`);
  out(
    `${colours.bold(label)}: smallest heap ${colours.bold(formatBytes(minimum))} (${formatKiB(minimum)}), align ${align}, found in ${attempts.length} runs`,
  );
  out(`  ${describeWholeNeed(wholeNeed(minimum, passing))}`);
  if (failing) {
    const why = failing.report?.message ?? failing.error ?? failing.result;
    out(`  at ${formatBytes(failing.heapSize)}: ${failing.result}${why && why !== failing.result ? ` (${why})` : ''}`);
  }
  out(`  at the minimum:`);
  out(`    peak used       ${formatBytes(passing.peakUsed)}  (used blocks, headers included)`);
  out(`    peak requested  ${formatBytes(passing.peakRequested)}  (M: live bytes the workload asked for)`);
  out(`    peak span       ${formatBytes(passing.peakSpan)}  (heap start to highest used byte)`);
  out(`    control bytes   ${formatBytes(passing.controlBytes)}`);
  out(
    `    fragmentation   ${formatPercent(passing.fragmentation)} at the end, ${formatPercent(passing.fragmentationAtPeak)} at peak; largest free block at peak ${formatBytes(passing.largestFreeAtPeak)}`,
  );
  if (bounds) {
    out(
      `  worst case for any request order with M = ${formatBytes(bounds.maxLiveBytes)} and largest block n = ${formatBytes(bounds.largestRequest)} (${bounds.largestRequestUnits} units of ${bounds.unitBytes} B):`,
    );
    out(`    Robson bound    M·(1+⌈log2 n⌉) = ${formatBytes(bounds.robsonBytes)} (${formatKiB(bounds.robsonBytes)}): first fit never needs more, whatever the order;
                                     some order forces about half of it on any allocator that cannot move blocks`);
    out(
      `    best fit / TLSF M·(n−2)        = ${formatBytes(bounds.bestFitBytes)} (${formatKiB(bounds.bestFitBytes)}): the guarantee o1heap quotes for best fit, which TLSF approximates`,
    );
    if (halfFitArena !== undefined) {
      out(
        `    half fit        o1heap's H(M, n, l = ${formatBytes(smallestRequest!)}) = ${formatBytes(halfFitArena)} (${formatKiB(halfFitArena)}): ` +
          'an arena this large never fails, 2·M·(1+⌈log2 n⌉) with headers',
      );
    }
    out(`  this run needed ${formatPercent(minimum / bounds.robsonBytes)} of the Robson bound.`);
  } else {
    out('  worst-case bound: not shown (the board did not report the largest single request)');
  }
  return EXIT_OK;
}

/** The whole RAM the workload needs at the smallest heap: static data, that heap, and the stack's peak. */
export interface WholeNeed {
  total: number;
  static: number;
  heap: number;
  stackPeak: number;
  stackSize: number;
}

export function wholeNeed(minimumHeap: number, atMinimum: RunReport): WholeNeed {
  const statics = atMinimum.staticBytes ?? 0;
  const stackPeak = atMinimum.stackPeak ?? 0;
  return {
    total: statics + minimumHeap + stackPeak,
    static: statics,
    heap: minimumHeap,
    stackPeak,
    stackSize: atMinimum.stackSize ?? 0,
  };
}

/** "needs 47.8 KiB of RAM: static 1.2, heap 46.7, stack 0.9 (KiB; the stack's peak of its 4 KiB)". */
export function describeWholeNeed(need: WholeNeed): string {
  const kib = (bytes: number) => Number((bytes / 1024).toFixed(1)).toString();
  return `needs ${kib(need.total)} KiB of RAM: static ${kib(need.static)}, heap ${kib(need.heap)}, stack ${kib(need.stackPeak)} (KiB; the stack's peak of its ${formatKiB(need.stackSize)})`;
}
