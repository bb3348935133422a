import { mkdirSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { reportFileName, writeReportPage } from './html/report-command.js';
import type { UsedChart } from './html/used-chart.js';
import {
  compareRuns,
  expectedCost,
  growthOutcomes,
  loadBaseline,
  matchBaseline,
  sitesOf,
  withPeakSites,
  type Comparison,
} from './baseline.js';
import type { HeapCostReport } from './call-cost.js';
import { findDefaultBudgetFile, loadBudgetFile, type BudgetJob } from './budget.js';
import {
  checkDocument,
  formatRunChecks,
  labelWidthOf,
  runLabel,
  writeCheckOutputs,
  type CheckDocument,
} from './check-report.js';
import { evaluateChecks, type CheckOutcome, type Limits, type RunFigures } from './checks.js';
import type { RunDocument } from './compared-figures.js';
import { execute, loadWithoutRunning, prepareRun } from './engine.js';
import { EXIT_CHECK_FAILED, EXIT_OK, InputError } from './errors.js';
import { parseJobs, runAll } from './parallel.js';
import { formatRunReport, runReportJson } from './report.js';
import { assignShards, budgetDigest, parseShardSpec, shardEntries } from './shard.js';
import {
  boardList,
  coloursFor,
  fileFlag,
  limitsFromFlags,
  runParametersFrom,
  runRequestFrom,
  targetFrom,
  writeJson,
  type CheckFlags,
  type CliIo,
  type RunFlags,
} from './options.js';

// The commands that run firmware, loaded by program.ts only when one of them is invoked, so that
// --help, --version and explain start without loading the emulator binding.

function displayPath(path: string, cwd: string): string {
  const shown = relative(cwd, path);
  return shown === '' || shown.startsWith('..') || isAbsolute(shown) ? path : shown;
}

export function runCommand(argument: string | undefined, flags: RunFlags & { html?: string }, io: CliIo): number {
  const htmlFile = fileFlag(flags.html, '--html');
  const prepared = prepareRun({
    ...runRequestFrom(targetFrom(argument, io), flags),
    recordEvents: htmlFile !== undefined,
  });
  const report = execute(prepared);
  if (htmlFile !== undefined) writeReportPage(resolve(io.cwd, htmlFile), prepared, report);
  if (flags.json) writeJson(io, runReportJson(report, prepared.settings));
  else io.stdout.write(formatRunReport(report, prepared.settings, coloursFor(io, flags)));
  return report.result === 'ok' ? EXIT_OK : EXIT_CHECK_FAILED;
}

/** `check`'s flags for CI at scale, beside the limits and outputs of CheckFlags. */
export interface ScaleFlags {
  /** A previous `check --json` or `run --json` report to compare with (baseline.ts). */
  baseline?: string;
  /** `i/n` or `auto` (shard.ts). */
  shard?: string;
  /** Runs at once (parallel.ts); default: the number of CPUs. */
  jobs?: string;
}

/** Bad input met while resolving or running a budget entry names the file and the entry it came from. */
function inJob<T>(job: BudgetJob, step: () => T): T {
  try {
    return step();
  } catch (error) {
    throw withOrigin(job, error);
  }
}

function withOrigin(job: BudgetJob, error: unknown): unknown {
  if (error instanceof InputError && job.origin !== undefined) return new InputError(`${job.origin}: ${error.message}`);
  return error;
}

/** The jobs a check runs, from a target and flags or from the budget file, and the budget file's name. */
function checkJobs(
  argument: string | undefined,
  flags: CheckFlags,
  flagLimits: Limits,
  io: CliIo,
): { jobs: BudgetJob[]; budgetFile?: string } {
  if (argument !== undefined) {
    if (flags.budget !== undefined) throw new InputError('check: give a scenario/ELF/trace or --budget FILE, not both');
    const request = runRequestFrom(targetFrom(argument, io), flags);
    const boards = request.board === undefined ? [undefined] : boardList(request.board);
    return { jobs: boards.map((board) => ({ ...request, board, limits: flagLimits })) };
  }
  const budgetPath = fileFlag(flags.budget, '--budget');
  const found = budgetPath === undefined ? findDefaultBudgetFile(io.cwd) : resolve(io.cwd, budgetPath);
  // Shown relative to the working directory: GitHub annotations want a path relative to the checkout.
  const budgetFile = found === undefined ? undefined : displayPath(found, io.cwd);
  if (!budgetFile) {
    throw new InputError(
      'check: nothing to check: give a scenario, ELF or trace with limit flags, or --budget FILE, or put tlsf-budget.json / tlsf-budget.yaml in the current directory',
    );
  }
  // Flags given with a budget file apply to every entry (handy for a one-off experiment): limits tighten the
  // file's, run parameters replace the entry's (--guard / --align-check so switch a check on everywhere).
  // Boards and firmware parameters belong to an entry: given on the command line they would be ignored.
  const overrides = runParametersFrom(flags);
  if (overrides.board !== undefined || overrides.params !== undefined) {
    throw new InputError(
      'check: --board and --param go with a target; with a budget file, set board and params in its entries',
    );
  }
  const jobs = loadBudgetFile(found!).map((job) => ({
    ...job,
    ...overrides,
    limits: { ...job.limits, ...flagLimits },
  }));
  return { jobs, budgetFile };
}

/** The figures the limits read, from a run document (whose absent figures are null, not undefined). */
function runFigures(run: RunDocument): RunFigures {
  return {
    result: run.result as string,
    ops: run.ops as RunFigures['ops'],
    peakUsed: run.peakUsed as number,
    peakSpan: run.peakSpan as number,
    largestFreeAtPeak: run.largestFreeAtPeak as number,
    fragmentation: run.fragmentation as number,
    fragmentationAtPeak: (run.fragmentationAtPeak as number | null) ?? undefined,
    message: (run.message as string | null) ?? undefined,
    stackPeak: (run.stackPeak as number | null) ?? undefined,
    staticBytes: (run.ram as { static?: number } | null)?.static,
    maxCallCycles: maxCallCycles(run.heapCost as HeapCostReport | null | undefined),
  };
}

/** The costliest call of either kind, from a run document's heapCost (null: not counted). */
function maxCallCycles(cost: HeapCostReport | null | undefined): number | null | undefined {
  if (cost === undefined) return undefined;
  return cost === null ? null : Math.max(cost.malloc.max, cost.free.max);
}

/**
 * A finished run's checks: its limits, and against its baseline run (null: the baseline lacks it; undefined:
 * no baseline given) its comparison, carried on the run, and its growth checks.
 */
/** The target as check names it: with the heap when it is not TLSF, so entries differing only in that stay apart. */
function checkTarget(target: string, allocator: string | undefined): string {
  return allocator && allocator !== 'tlsf' ? `${target} (${allocator})` : target;
}

function judgeRun(
  run: RunDocument,
  limits: Limits,
  old: RunDocument | null | undefined,
): { run: RunDocument; outcomes: CheckOutcome[] } {
  const target = checkTarget(run.target as string, run.allocator as string | undefined);
  const board = run.board as string;
  const outcomes = evaluateChecks(target, board, runFigures(run), limits);
  let comparison: Comparison | null | undefined;
  if (old !== undefined) {
    comparison = old === null ? null : compareRuns(run, old);
    run.baseline = comparison;
    if (limits.maxGrowth !== undefined) outcomes.push(...growthOutcomes(target, board, comparison, limits.maxGrowth));
  }
  const entry = run.entry as number;
  const withSites = withPeakSites(outcomes, comparison?.sites ?? sitesOf(run));
  return { run, outcomes: withSites.map((outcome) => ({ ...outcome, entry })) };
}

export async function checkCommand(
  argument: string | undefined,
  flags: CheckFlags & ScaleFlags & { htmlDir?: string },
  io: CliIo,
): Promise<number> {
  const flagLimits = limitsFromFlags(flags);
  const htmlDirectory = fileFlag(flags.htmlDir, '--html-dir');
  const junitFile = fileFlag(flags.junit, '--junit');
  const markdownFile = fileFlag(flags.markdown, '--markdown');
  const baselineFile = fileFlag(flags.baseline, '--baseline');
  const shardSpec = flags.shard === undefined ? undefined : parseShardSpec(flags.shard, io.env);
  const jobCount = parseJobs(flags.jobs);
  if (flagLimits.maxGrowth !== undefined && baselineFile === undefined) {
    throw new InputError('--max-growth needs --baseline FILE: the check or run report to hold growth against');
  }
  const { jobs: given, budgetFile } = checkJobs(argument, flags, flagLimits, io);
  // A per-call cycle budget needs every call's cost counted.
  const jobs = given.map((job) => (job.limits.maxCallCycles === undefined ? job : { ...job, callCost: true }));
  // A gate that runs nothing passes vacuously, which is never what a CI job wants.
  if (jobs.length === 0) throw new InputError('check: nothing to check: no runs');

  // Resolve every job before running any, so a typo in the last entry fails fast with exit 2 (on every shard).
  // HTML pages and the markdown's used-bytes charts are drawn from each run's call log.
  const recordEvents = htmlDirectory !== undefined || markdownFile !== undefined;
  const prepared = jobs.map((job) => inJob(job, () => prepareRun({ ...job, recordEvents })));
  // Each image loaded onto its board too (no run): an ELF linked for another board is exit 2 before any PASS line.
  for (const [index, run] of prepared.entries()) inJob(jobs[index]!, () => loadWithoutRunning(run));
  if (htmlDirectory !== undefined) {
    try {
      mkdirSync(resolve(io.cwd, htmlDirectory), { recursive: true });
    } catch (error) {
      throw new InputError(
        `--html-dir ${htmlDirectory}: cannot create it: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
  }
  const pageNames = new Set<string>();
  const charts: UsedChart[] = [];
  const baseline = baselineFile === undefined ? undefined : loadBaseline(resolve(io.cwd, baselineFile), baselineFile);
  const identities = prepared.map(({ settings }) => ({
    target: settings.target,
    board: settings.boardName,
    allocator: settings.allocator,
    params: settings.params,
  }));
  const baselineRuns = baseline === undefined ? [] : matchBaseline(baseline, identities);
  if (baseline === undefined && jobs.some((job) => job.limits.maxGrowth !== undefined)) {
    io.stderr.write('tlsf-sim: note: max-growth is not checked without --baseline FILE\n');
  }
  const digest = budgetDigest(prepared.map((run, index) => ({ ...run.settings, limits: jobs[index]!.limits })));
  let selected = jobs.map((_job, index) => index);
  let shard: CheckDocument['shard'];
  if (shardSpec !== undefined) {
    const costs = identities.map((_identity, index) => expectedCost(baselineRuns[index]));
    selected = shardEntries(assignShards(costs, shardSpec.count), shardSpec);
    shard = { ...shardSpec, entries: selected };
  }

  const checks: CheckOutcome[] = [];
  const runs: RunDocument[] = [];
  const colours = coloursFor(io, flags);
  const labelWidth = labelWidthOf(
    selected.map((entry) => {
      const run = prepared[entry]!;
      return runLabel(checkTarget(run.label, run.settings.allocator), run.board.name);
    }),
  );
  await runAll(
    selected.map((entry) => ({ ...jobs[entry]!, recordEvents })),
    selected.map((entry) => prepared[entry]!),
    {
      jobs: jobCount,
      charts: markdownFile !== undefined,
      onReport:
        htmlDirectory === undefined
          ? undefined
          : (index, report) => {
              const run = prepared[selected[index]!]!;
              const name = reportFileName(checkTarget(run.label, run.settings.allocator), report.board, pageNames);
              writeReportPage(join(resolve(io.cwd, htmlDirectory), name), run, report);
            },
      describeError: (index, error) => withOrigin(jobs[selected[index]!]!, error),
      onResult: (index, report, extras) => {
        if (extras.chart) charts.push(extras.chart);
        const entry = selected[index]!;
        const old = baseline === undefined ? undefined : (baselineRuns[entry] ?? null);
        const judged = judgeRun({ ...report, entry }, jobs[entry]!.limits, old);
        checks.push(...judged.outcomes);
        runs.push(judged.run);
        if (!flags.json) {
          io.stdout.write(formatRunChecks(judged.outcomes, judged.run, labelWidth, colours, baseline !== undefined));
        }
      },
    },
  );
  const document = checkDocument({
    budgetFile: budgetFile ?? null,
    budget: { digest, entries: jobs.length },
    shard,
    baseline: baseline === undefined ? undefined : { file: baseline.file, digest: baseline.digest },
    checks,
    runs,
  });
  writeCheckOutputs(
    document,
    { json: flags.json === true, junitFile, markdownFile, writeRunLines: false, colours, charts },
    io,
  );
  return document.failed === 0 ? EXIT_OK : EXIT_CHECK_FAILED;
}
