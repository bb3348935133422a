import { writeFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { classifyTarget, findDefaultBudgetFile, loadBudgetFile, targetLabel, type BudgetJob, type RunTarget } from './budget.js';
import { evaluateChecks, type CheckOutcome, type Limits } from './checks.js';
import { toGithubAnnotations, toJUnit, toMarkdown, type RunTiming } from './ci.js';
import { DEFAULT_SCENARIO, execute, jobToRequest, prepareRun, resolveBoard, type RunRequest } from './engine.js';
import { EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK, InputError } from './errors.js';
import { formatRunReport, runReportJson, REPORT_SCHEMA_VERSION } from './report.js';
import { colourEnabled, palette, type Palette } from './terminal.js';
import { collectParam, parseChoice, parseCount, parseFraction, parsePositiveSize, parseSize } from './units.js';
import { explainCommand } from './explain.js';
import { minHeapCommand } from './min-heap.js';
import { boardsCommand, scenariosCommand } from './lists.js';
import { benchCommand, type BenchFlags } from './bench.js';

/** Where a command writes; tests substitute strings, the real CLI passes process streams. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export function defaultIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

interface RunFlags {
  board?: string;
  heap?: string;
  align?: string;
  sl?: string;
  param?: Record<string, number>;
  maxInstructions?: string;
  guard?: boolean;
  bank?: string[];
  json?: boolean;
  color?: boolean;
}

function addRunOptions(command: Command, boardHelp = 'board name or board JSON file (default: stm32f411re; see `tlsf-sim boards`)'): Command {
  return command
    .option('-b, --board <name>', boardHelp)
    .option('--heap <size>', 'heap size from __heap_start (32768, 32K, 32KiB, 0x8000); default: what the linker script leaves')
    .option('--align <n>', 'allocator alignment: 4, 8 or 16 (default 8)')
    .option('--sl <n>', 'second-level index bits, 1..5 (default 5: 32 classes per power of two)')
    .option('-p, --param <name=value>', 'set a firmware parameter (repeatable)', collectParam)
    .option('--max-instructions <n>', 'instruction budget before the run stops as a timeout (default 2e9)')
    .option('--guard', 'trap firmware writes into allocator metadata (slower)')
    .option('--bank <name>', 'add a whole RAM bank (e.g. CCM) to the heap as a second pool (repeatable)', (value: string, previous: string[] = []) => [...previous, value]);
}

function runRequestFrom(target: RunTarget, flags: RunFlags): RunRequest {
  return {
    target,
    board: flags.board,
    heapSize: flags.heap === undefined ? undefined : parsePositiveSize(flags.heap, '--heap'),
    align: flags.align === undefined ? undefined : parseChoice(flags.align, [4, 8, 16] as const, '--align'),
    slLog2: flags.sl === undefined ? undefined : parseChoice(flags.sl, [1, 2, 3, 4, 5] as const, '--sl'),
    params: flags.param ?? {},
    maxInstructions: flags.maxInstructions === undefined ? undefined : parseCount(flags.maxInstructions, '--max-instructions'),
    guard: flags.guard,
    extraBanks: flags.bank,
  };
}

function targetFrom(argument: string | undefined, io: CliIo): RunTarget {
  return argument === undefined ? { kind: 'scenario', name: DEFAULT_SCENARIO } : classifyTarget(argument, io.cwd);
}

function coloursFor(io: CliIo, flags: { color?: boolean }): Palette {
  return palette(colourEnabled(io.stdout, io.env, flags.color === false));
}

function writeJson(io: CliIo, document: unknown): void {
  io.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
}

function runCommand(argument: string | undefined, flags: RunFlags, io: CliIo): number {
  const prepared = prepareRun(runRequestFrom(targetFrom(argument, io), flags));
  const report = execute(prepared);
  if (flags.json) writeJson(io, runReportJson(report, prepared.settings));
  else io.stdout.write(formatRunReport(report, prepared.settings, coloursFor(io, flags)));
  return report.result === 'ok' ? EXIT_OK : EXIT_CHECK_FAILED;
}

interface CheckFlags extends RunFlags {
  budget?: string;
  maxPeak?: string;
  maxSpan?: string;
  maxFragmentation?: string;
  minFree?: string;
  oom?: boolean;
  junit?: string;
  markdown?: string;
}

function limitsFromFlags(flags: CheckFlags): Limits {
  const limits: Limits = {};
  if (flags.maxPeak !== undefined) limits.maxPeak = parsePositiveSize(flags.maxPeak, '--max-peak');
  if (flags.maxSpan !== undefined) limits.maxSpan = parsePositiveSize(flags.maxSpan, '--max-span');
  if (flags.maxFragmentation !== undefined) limits.maxFragmentation = parseFraction(flags.maxFragmentation, '--max-fragmentation');
  if (flags.minFree !== undefined) limits.minFree = parseSize(flags.minFree, '--min-free');
  if (flags.oom === false) limits.noOom = true;
  return limits;
}

function writeOutputFile(path: string, text: string, what: string): void {
  try {
    writeFileSync(path, text);
  } catch (error) {
    throw new InputError(`cannot write ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

function checkCommand(argument: string | undefined, flags: CheckFlags, io: CliIo): number {
  const flagLimits = limitsFromFlags(flags);
  let jobs: BudgetJob[];
  let budgetFile: string | undefined;
  if (argument !== undefined) {
    if (flags.budget) throw new InputError('check: give a scenario/ELF/trace or --budget FILE, not both');
    const request = runRequestFrom(targetFrom(argument, io), flags);
    const boards = flags.board ? flags.board.split(',').map((name) => name.trim()).filter(Boolean) : [undefined];
    jobs = boards.map((board) => ({
      target: request.target, board, heapSize: request.heapSize, align: request.align, slLog2: request.slLog2,
      params: request.params ?? {}, maxInstructions: request.maxInstructions, limits: flagLimits,
    }));
  } else {
    budgetFile = flags.budget ?? findDefaultBudgetFile(io.cwd);
    if (!budgetFile) {
      throw new InputError('check: nothing to check: give a scenario, ELF or trace with limit flags, or --budget FILE, or put tlsf-budget.json / tlsf-budget.yaml in the current directory');
    }
    // Limits given on the command line tighten every entry of the file (handy for a one-off experiment).
    jobs = loadBudgetFile(budgetFile).map((job) => ({ ...job, limits: { ...job.limits, ...flagLimits } }));
  }

  // Resolve every job before running any, so a typo in the last entry fails fast with exit 2.
  const prepared = jobs.map((job) => prepareRun({ ...jobToRequest(job), guard: flags.guard, extraBanks: flags.bank }));
  const outcomes: CheckOutcome[] = [];
  const runs: Record<string, unknown>[] = [];
  const timings: RunTiming[] = [];
  const colours = coloursFor(io, flags);
  const labelWidth = Math.max(...prepared.map((run) => `${targetLabel(run.target)} on ${run.board.name}`.length));
  prepared.forEach((run, index) => {
    const report = execute(run);
    const runOutcomes = evaluateChecks(targetLabel(run.target), report.board, report, jobs[index]!.limits);
    outcomes.push(...runOutcomes);
    runs.push(runReportJson(report, run.settings));
    timings.push({ target: targetLabel(run.target), board: report.board, seconds: report.hostMs / 1000, output: report.output });
    if (!flags.json) {
      for (const outcome of runOutcomes) {
        const mark = outcome.pass ? colours.green('PASS') : colours.red('FAIL');
        io.stdout.write(`${mark}  ${`${outcome.target} on ${outcome.board}`.padEnd(labelWidth)}  ${outcome.check.padEnd(17)} ${outcome.summary}\n`);
      }
    }
  });
  const failed = outcomes.filter((outcome) => !outcome.pass).length;
  if (flags.junit) writeOutputFile(flags.junit, toJUnit(outcomes, timings), 'JUnit report');
  if (flags.markdown) writeOutputFile(flags.markdown, toMarkdown(outcomes), 'markdown summary');
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

/** Builds the commander program; `result.exitCode` is set by whichever action ran. */
export function buildProgram(io: CliIo, version: string, result: { exitCode: number }): Command {
  const program = new Command();
  program
    .name('tlsf-sim')
    .description('A TLSF heap over the SRAM of an emulated Cortex-M microcontroller')
    .version(version)
    .option('--no-color', 'plain output even on a terminal (NO_COLOR also works)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });

  const globalColour = (): { color?: boolean } => ({ color: program.opts<{ color?: boolean }>().color });

  addRunOptions(
    program
      .command('run')
      .description('run a scenario, a firmware ELF or a malloc-lab trace on a board and report the heap figures')
      .argument('[target]', `scenario name, firmware .elf, or trace .rep (default: ${DEFAULT_SCENARIO})`),
  )
    .option('--json', 'print one JSON document (docs/report.schema.json)')
    .action((target: string | undefined, flags: RunFlags) => {
      result.exitCode = runCommand(target, { ...flags, ...globalColour() }, io);
    });

  addRunOptions(
    program
      .command('check')
      .description('CI gate: run and hold the heap to limits; exit 0 when all hold, 1 when any is broken, 2 on bad input')
      .argument('[target]', 'scenario, .elf or .rep; without it, checks the budget file'),
    'board name, or a comma-separated list to check on several boards',
  )
    .option('--budget <file>', 'budget file (default: tlsf-budget.json / .yaml / .yml in the current directory)')
    .option('--max-peak <size>', 'peak used bytes (headers included) may not exceed this')
    .option('--max-span <size>', 'peak span (heap start to highest used byte) may not exceed this')
    .option('--max-fragmentation <pct>', 'fragmentation may not exceed this (30% or 0.3)')
    .option('--min-free <size>', 'largest free block at the peak must be at least this')
    .option('--no-oom', 'no allocation may fail')
    .option('--junit <file>', 'write JUnit XML, one testcase per check')
    .option('--markdown <file>', 'write a markdown summary table (e.g. "$GITHUB_STEP_SUMMARY")')
    .option('--json', 'print one JSON document with every check and run')
    .action((target: string | undefined, flags: CheckFlags) => {
      result.exitCode = checkCommand(target, { ...flags, ...globalColour() }, io);
    });

  addRunOptions(
    program
      .command('min-heap')
      .description('the smallest heap (to the alignment) on which the workload completes, by bisection over real runs')
      .argument('[target]', `scenario, .elf or .rep (default: ${DEFAULT_SCENARIO})`),
  )
    .option('--json', 'print one JSON document')
    .action((target: string | undefined, flags: RunFlags) => {
      const request = runRequestFrom(targetFrom(target, io), flags);
      if (request.heapSize !== undefined) throw new InputError('min-heap: --heap makes no sense here; min-heap searches the heap size itself');
      result.exitCode = minHeapCommand(request, { json: flags.json === true }, io, coloursFor(io, globalColour()));
    });

  program
    .command('explain')
    .description('how TLSF files a request of <size> bytes: size classes, indices, bitmap search')
    .argument('<size>', 'requested bytes (e.g. 100, 1.5K, 0x600)')
    .option('--sl <n>', 'second-level index bits, 1..5', '5')
    .option('--align <n>', 'allocator alignment: 4, 8 or 16', '8')
    .option('--json', 'print one JSON document')
    .action((size: string, flags: { sl: string; align: string; json?: boolean }) => {
      result.exitCode = explainCommand(
        parseSize(size, 'size'),
        parseChoice(flags.align, [4, 8, 16] as const, '--align'),
        parseChoice(flags.sl, [1, 2, 3, 4, 5] as const, '--sl'),
        flags.json === true,
        io,
      );
    });

  program
    .command('boards')
    .description('list the built-in boards: CPU, clock, flash and SRAM banks')
    .option('--json', 'print one JSON document')
    .action((flags: { json?: boolean }) => {
      result.exitCode = boardsCommand(flags.json === true, io);
    });

  program
    .command('scenarios')
    .description('list the built-in workload scenarios with what they model and their parameters')
    .option('--json', 'print one JSON document')
    .action((flags: { json?: boolean }) => {
      result.exitCode = scenariosCommand(flags.json === true, io);
    });

  program
    .command('bench')
    .description("run the project's benchmarks (allocator and board)")
    .addOption(new Option('--only <area>', 'run one area').choices(['allocator', 'board']))
    .option('--quick', 'allocator traces scaled to 10% and 3 runs, for a quick look')
    .option('-b, --board <name>', 'board for the board benchmark (default: stm32f411re)')
    .action(async (flags: BenchFlags) => {
      if (flags.board !== undefined) resolveBoard(flags.board);
      result.exitCode = await benchCommand(flags, io);
    });

  return program;
}

/** Parses argv, runs the command and returns the process exit code (0 ok, 1 check failed, 2 bad input). */
export async function main(argv: string[], io: CliIo = defaultIo(), version = '0.0.0'): Promise<number> {
  const result = { exitCode: EXIT_OK };
  const program = buildProgram(io, version, result);
  try {
    await program.parseAsync(argv);
    return result.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version end through exitOverride too; they are not errors.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_OK;
      return EXIT_BAD_INPUT;
    }
    if (error instanceof InputError) {
      io.stderr.write(`tlsf-sim: ${error.message}\n`);
      return EXIT_BAD_INPUT;
    }
    io.stderr.write(`tlsf-sim: internal error: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT_BAD_INPUT;
  }
}
