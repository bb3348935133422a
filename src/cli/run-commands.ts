import { appendFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { findDefaultBudgetFile, loadBudgetFile, targetLabel, type BudgetJob, type RunTarget } from './budget.js';
import { evaluateChecks, type CheckOutcome } from './checks.js';
import { toGithubAnnotations, toJUnit, toMarkdown, type RunTiming } from './ci.js';
import { execute, prepareRun } from './engine.js';
import { EXIT_CHECK_FAILED, EXIT_OK, InputError } from './errors.js';
import { formatRunReport, ramBudgetMarkdown, runReportJson, REPORT_SCHEMA_VERSION, type RunReportFigures } from './report.js';
import { boardList, coloursFor, fileFlag, limitsFromFlags, runParametersFrom, runRequestFrom, targetFrom, writeJson, type CheckFlags, type CliIo, type RunFlags } from './options.js';

// The commands that run firmware, loaded by program.ts only when one of them is invoked, so that
// --help, --version and explain start without loading the emulator binding.

function displayPath(path: string, cwd: string): string {
  const shown = relative(cwd, path);
  return shown === '' || shown.startsWith('..') || isAbsolute(shown) ? path : shown;
}

export function runCommand(argument: string | undefined, flags: RunFlags, io: CliIo): number {
  const prepared = prepareRun(runRequestFrom(targetFrom(argument, io), flags));
  const report = execute(prepared);
  if (flags.json) writeJson(io, runReportJson(report, prepared.settings));
  else io.stdout.write(formatRunReport(report, prepared.settings, coloursFor(io, flags)));
  return report.result === 'ok' ? EXIT_OK : EXIT_CHECK_FAILED;
}

/** Bad input met while resolving or running a budget entry names the file and the entry it came from. */
function inJob<T>(job: BudgetJob, step: () => T): T {
  try {
    return step();
  } catch (error) {
    if (error instanceof InputError && job.origin !== undefined) throw new InputError(`${job.origin}: ${error.message}`);
    throw error;
  }
}

function writeOutputFile(path: string, text: string, what: string, append = false): void {
  try {
    if (append) appendFileSync(path, text);
    else writeFileSync(path, text);
  } catch (error) {
    throw new InputError(`cannot write ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

export function checkCommand(argument: string | undefined, flags: CheckFlags, io: CliIo): number {
  const flagLimits = limitsFromFlags(flags);
  const junitFile = fileFlag(flags.junit, '--junit');
  const markdownFile = fileFlag(flags.markdown, '--markdown');
  let jobs: BudgetJob[];
  let budgetFile: string | undefined;
  if (argument !== undefined) {
    if (flags.budget !== undefined) throw new InputError('check: give a scenario/ELF/trace or --budget FILE, not both');
    const request = runRequestFrom(targetFrom(argument, io), flags);
    const boards = request.board === undefined ? [undefined] : boardList(request.board);
    jobs = boards.map((board) => ({ ...request, board, limits: flagLimits }));
  } else {
    const budgetPath = fileFlag(flags.budget, '--budget');
    const found = budgetPath === undefined ? findDefaultBudgetFile(io.cwd) : resolve(io.cwd, budgetPath);
    // Shown relative to the working directory: GitHub annotations want a path relative to the checkout.
    budgetFile = found === undefined ? undefined : displayPath(found, io.cwd);
    if (!budgetFile) {
      throw new InputError('check: nothing to check: give a scenario, ELF or trace with limit flags, or --budget FILE, or put tlsf-budget.json / tlsf-budget.yaml in the current directory');
    }
    // Flags given with a budget file apply to every entry (handy for a one-off experiment): limits tighten the
    // file's, run parameters replace the entry's (--guard / --align-check so switch a check on everywhere).
    // Boards and firmware parameters belong to an entry: given on the command line they would be ignored.
    const overrides = runParametersFrom(flags);
    if (overrides.board !== undefined || overrides.params !== undefined) {
      throw new InputError('check: --board and --param go with a target; with a budget file, set board and params in its entries');
    }
    jobs = loadBudgetFile(found!).map((job) => ({ ...job, ...overrides, limits: { ...job.limits, ...flagLimits } }));
  }
  // A gate that runs nothing passes vacuously, which is never what a CI job wants.
  if (jobs.length === 0) throw new InputError('check: nothing to check: no runs');

  // Resolve every job before running any, so a typo in the last entry fails fast with exit 2.
  const prepared = jobs.map((job) => inJob(job, () => prepareRun(job)));
  const outcomes: CheckOutcome[] = [];
  const runs: Record<string, unknown>[] = [];
  const timings: RunTiming[] = [];
  const budgets: { target: string; report: RunReportFigures }[] = [];
  const colours = coloursFor(io, flags);
  const labelWidth = Math.max(...prepared.map((run) => `${targetLabel(run.target)} on ${run.board.name}`.length));
  prepared.forEach((run, index) => {
    const report = inJob(jobs[index]!, () => execute(run));
    const runOutcomes = evaluateChecks(targetLabel(run.target), report.board, report, jobs[index]!.limits);
    outcomes.push(...runOutcomes);
    runs.push(runReportJson(report, run.settings));
    budgets.push({ target: targetLabel(run.target), report });
    timings.push({ target: targetLabel(run.target), board: report.board, seconds: report.hostMs / 1000, output: report.output });
    if (!flags.json) {
      for (const outcome of runOutcomes) {
        const mark = outcome.pass ? colours.green('PASS') : colours.red('FAIL');
        io.stdout.write(`${mark}  ${`${outcome.target} on ${outcome.board}`.padEnd(labelWidth)}  ${outcome.check.padEnd(17)} ${outcome.summary}\n`);
      }
    }
  });
  const failed = outcomes.filter((outcome) => !outcome.pass).length;
  if (junitFile) writeOutputFile(junitFile, toJUnit(outcomes, timings), 'JUnit report');
  if (markdownFile) {
    // The job summary file collects every step's output, so it is appended to; any other file is replaced.
    const isStepSummary = io.env.GITHUB_STEP_SUMMARY !== undefined && resolve(io.cwd, markdownFile) === resolve(io.cwd, io.env.GITHUB_STEP_SUMMARY);
    writeOutputFile(markdownFile, toMarkdown(outcomes) + ramBudgetMarkdown(budgets), 'markdown summary', isStepSummary);
  }
  if (io.env.GITHUB_ACTIONS === 'true') {
    const annotationStream = flags.json ? io.stderr : io.stdout;
    for (const line of toGithubAnnotations(outcomes, budgetFile)) annotationStream.write(`${line}\n`);
  }
  if (flags.json) {
    writeJson(io, {
      schemaVersion: REPORT_SCHEMA_VERSION,
      command: 'check',
      result: failed === 0 ? 'pass' : 'fail',
      budgetFile: budgetFile ?? null,
      passed: outcomes.length - failed,
      failed,
      checks: outcomes,
      runs,
    });
  } else {
    const verdict = failed === 0
      ? colours.green(`${outcomes.length} check${outcomes.length === 1 ? '' : 's'} passed`)
      : colours.red(`${failed} of ${outcomes.length} checks failed`);
    io.stdout.write(`${verdict} (${prepared.length} run${prepared.length === 1 ? '' : 's'}${budgetFile ? `, ${budgetFile}` : ''})\n`);
  }
  return failed === 0 ? EXIT_OK : EXIT_CHECK_FAILED;
}

