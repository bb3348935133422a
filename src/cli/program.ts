import { Command, CommanderError, Option } from 'commander';
// constants.ts alone: the allocator's defaults without loading the allocator.
import { TLSF_DEFAULTS } from '../allocator/constants.js';
import type { BenchFlags } from './bench.js';
import type { CompareFlags } from './compare.js';
import type { MapFlags } from './map-command.js';
import type { StepFlags } from './step-command.js';
import { DEFAULT_SCENARIO } from './budget.js';
import { LIMITS } from './checks.js';
import {
  EXIT_BAD_INPUT,
  EXIT_INTERNAL,
  EXIT_OK,
  escapeControlCharacters,
  InputError,
  internalErrorText,
  isInputError,
  quoteInput,
} from './errors.js';
import {
  coloursFor,
  defaultIo,
  fileFlag,
  runRequestFrom,
  targetFrom,
  type CheckFlags,
  type CliIo,
  type RunFlags,
} from './options.js';
import { collectSweepParam, type SweepParams } from './sweep-range.js';
import { collectParam, parseChoice, parseSize } from './units.js';

export type { CliIo } from './options.js';

/** Collects repeated --bank names; a bank name is a short identifier, so a long one is refused before it is echoed. */
function collectBankName(value: string, previous: string[] = []): string[] {
  if (value.trim() === '' || value.length > 32)
    throw new InputError(`--bank: ${quoteInput(value)} is not a RAM bank name`);
  return [...previous, value];
}

/** A repeatable option's collector as commander types it, whatever it collects into. */
type Collector = (value: string, previous: never) => never;
const asCollector = <Collected>(collect: (value: string, previous?: Collected) => Collected): Collector =>
  collect as unknown as Collector;

function addRunOptions(
  command: Command,
  boardHelp = 'board name or board JSON file (default: stm32f411re; see `tlsf-sim boards`)',
  param: { help: string; collect: Collector } = {
    help: 'set a firmware parameter (repeatable)',
    collect: asCollector(collectParam),
  },
): Command {
  return command
    .option('-b, --board <name>', boardHelp)
    .option('--allocator <name>', 'the heap serving malloc: tlsf (default), first-fit, best-fit or half-fit')
    .option(
      '--heap <size>',
      'heap size from __heap_start (32768, 32K, 32KiB, 0x8000); default: what the linker script leaves',
    )
    .option(
      '--stack <size>',
      'stack size below the initial SP (8K); the heap then ends where it begins; default: the linked __stack_size',
    )
    .option('--align <n>', `allocator alignment: 4, 8 or 16 (default ${TLSF_DEFAULTS.align})`)
    .option(
      '--sl <n>',
      `second-level index bits, 1..5 (default ${TLSF_DEFAULTS.slLog2}: ${2 ** TLSF_DEFAULTS.slLog2} classes per power of two)`,
    )
    .option('-p, --param <name=value>', param.help, param.collect)
    .option('--max-instructions <n>', 'instruction budget before the run stops as a timeout (default 2e9)')
    .option('--timeout <duration>', 'wall-clock limit of one run: 90s, 10m, 500ms, or seconds (default 10m)')
    .option('--guard', 'trap firmware writes into allocator metadata (slower)')
    .option(
      '--align-check',
      'fault on unaligned heap accesses the core would trap (Armv6-M: any halfword/word; Armv7-M: LDRD/STRD/LDM/STM) (slower)',
    )
    .option(
      '--bank <name>',
      'add a whole RAM bank (e.g. CCM) to the heap as a second pool (repeatable)',
      collectBankName,
    )
    .option(
      '--host',
      'replay a .rep trace on a host heap of any size (--heap; default 64 MiB or more), without the emulator',
    );
}

/** On run and check only: the commands whose reports show the cost (compare counts it on its own). */
const CALL_COST_HELP =
  "count every heap call's work and estimate its cycles on the board's core (replays the calls after the run)";

/** sweep's flags: the run options, with --param collected into a range and fixed values. */
type SweepCommandFlags = Omit<RunFlags, 'param'> & { param?: SweepParams; jobs?: string; markdown?: string };

/** Builds the commander program; `result.exitCode` is set by whichever action ran. */
export function buildProgram(io: CliIo, version: string, result: { exitCode: number }): Command {
  const program = new Command();
  program
    .name('tlsf-sim')
    .description('A TLSF heap over the SRAM of an emulated Cortex-M microcontroller')
    .version(version)
    .option('--no-color', 'plain output even on a terminal (NO_COLOR also works)')
    .option('--verbose', 'print the stack of an internal error (TLSF_SIM_DEBUG=1 also works)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      // One line, like every other error: the hint goes on the error's own line, not under it.
      outputError: (text, write) => write(`${escapeControlCharacters(text.trimEnd())} (run with --help for usage)\n`),
      // commander's own errors quote the unknown option or command whole: keep each line short.
      writeErr: (text) =>
        io.stderr.write(
          text.replace(
            /[^\n]{200,}/g,
            (line) => `${line.slice(0, 120)}… (${line.length.toLocaleString('en-US')} characters)`,
          ),
        ),
    });

  const globalColour = (): { color?: boolean } => ({ color: program.opts<{ color?: boolean }>().color });

  addRunOptions(
    program
      .command('run')
      .description('run a scenario, a firmware ELF or a malloc-lab trace on a board and report the heap figures')
      .argument('[target]', `scenario name, firmware .elf, or trace .rep (default: ${DEFAULT_SCENARIO})`),
  )
    .option('--call-cost', CALL_COST_HELP)
    .option('--json', 'print one JSON document (docs/report.schema.json)')
    .option('--html <file>', 'also write the run as one self-contained HTML page (as `tlsf-sim report`)')
    .action(async (target: string | undefined, flags: RunFlags & { html?: string }) => {
      if (flags.html !== undefined) await (await import('./html/page-bundle.js')).loadPageBundle();
      const { runCommand } = await import('./run-commands.js');
      result.exitCode = runCommand(target, { ...flags, ...globalColour() }, io);
    });

  const check = addRunOptions(
    program
      .command('check')
      .description(
        'CI gate: run and hold the heap to limits; exit 0 when all hold, 1 when any is broken, 2 on bad input',
      )
      .argument('[target]', 'scenario, .elf or .rep; without it, checks the budget file'),
    'board name, or a comma-separated list to check on several boards',
  ).option('--budget <file>', 'budget file (default: tlsf-budget.json / .yaml / .yml in the current directory)');
  for (const limit of LIMITS) check.option(limit.option, limit.help);
  check.option('--call-cost', CALL_COST_HELP);
  check
    .option('--junit <file>', 'write JUnit XML, one testcase per check')
    .option('--markdown <file>', 'write a markdown summary table (e.g. "$GITHUB_STEP_SUMMARY")')
    .option('--json', 'print one JSON document with every check and run')
    // CI at scale (baseline.ts, parallel.ts, shard.ts): growth against a previous report, runs at once, slices.
    .option(
      '--baseline <file>',
      'compare with a previous `check --json` or `run --json` report (old -> new per figure)',
    )
    .option('--jobs <n>', 'runs at once, each on its own emulator (default: the number of CPUs)')
    .option('--shard <i/n>', 'run slice i of n of the entries (1/3, 2/3, 3/3), or auto: CI_NODE_INDEX/CI_NODE_TOTAL')
    .option(
      '--html-dir <dir>',
      'write one HTML report page per run into <dir> (for CI artifacts; the runs then go one at a time)',
    )
    .action(
      async (
        target: string | undefined,
        flags: CheckFlags & import('./run-commands.js').ScaleFlags & { htmlDir?: string },
      ) => {
        if (flags.htmlDir !== undefined) await (await import('./html/page-bundle.js')).loadPageBundle();
        const { checkCommand } = await import('./run-commands.js');
        result.exitCode = await checkCommand(target, { ...flags, ...globalColour() }, io);
      },
    );

  program
    .command('merge')
    .description(
      "merge the `check --json` reports of a budget's shards into the unsharded check's report and exit code",
    )
    .argument('<reports...>', "the shards' `check --shard i/n --json` outputs")
    .option('--junit <file>', 'write JUnit XML, one testcase per check')
    .option('--markdown <file>', 'write a markdown summary table (e.g. "$GITHUB_STEP_SUMMARY")')
    .option('--json', 'print the merged JSON document')
    .action(async (reports: string[], flags: import('./merge-command.js').MergeFlags) => {
      const { mergeCommand } = await import('./merge-command.js');
      result.exitCode = mergeCommand(reports, { ...flags, ...globalColour() }, io);
    });

  addRunOptions(
    program
      .command('min-heap')
      .description('the smallest heap (to the alignment) on which the workload completes, by bisection over real runs')
      .argument('[target]', `scenario, .elf or .rep (default: ${DEFAULT_SCENARIO})`),
  )
    .option('--json', 'print one JSON document')
    .action(async (target: string | undefined, flags: RunFlags) => {
      const request = runRequestFrom(targetFrom(target, io), flags);
      if (request.heapSize !== undefined)
        throw new InputError('min-heap: --heap makes no sense here; min-heap searches the heap size itself');
      const { minHeapCommand } = await import('./min-heap.js');
      result.exitCode = minHeapCommand(request, { json: flags.json === true }, io, coloursFor(io, globalColour()));
    });

  addRunOptions(
    program
      .command('sweep')
      .description(
        'run a target across a range of one firmware parameter: figures per value, the largest that completes, a fit of peak use',
      )
      .argument('[target]', `scenario, .elf or .rep (default: ${DEFAULT_SCENARIO})`),
    undefined,
    {
      help: 'the parameter to sweep, name=FROM:TO[:STEP]; or a fixed name=value (repeatable)',
      collect: asCollector(collectSweepParam),
    },
  )
    .option('--jobs <n>', 'runs at once, each on its own emulator (default: the number of CPUs)')
    .option('--markdown <file>', 'write the table as markdown')
    .option('--json', 'print one JSON document')
    .action(async (target: string | undefined, flags: SweepCommandFlags) => {
      const { param, ...runFlags } = flags;
      const request = runRequestFrom(targetFrom(target, io), runFlags);
      const { sweepCommand } = await import('./sweep-command.js');
      const { parseJobs } = await import('./parallel.js');
      const markdown = fileFlag(flags.markdown, '--markdown');
      const colours = coloursFor(io, globalColour());
      result.exitCode = await sweepCommand(
        request,
        param,
        { json: flags.json, markdown },
        parseJobs(flags.jobs),
        io,
        colours,
      );
    });

  addRunOptions(
    program
      .command('map')
      .description('draw the heap at one moment of a run: an ASCII map, every block, the free lists and bitmaps')
      .argument('[target]', `scenario, .elf or .rep (default: ${DEFAULT_SCENARIO})`),
  )
    .option('--at <point>', 'end (default), peak, or call:N (just after heap call N)')
    .option('--width <chars>', 'map characters per line (default 64)')
    .option('--scale <bytes>', 'bytes per map character (default: the alignment, doubled until the map fits 16 lines)')
    .option('--json', 'print one JSON document: blocks, bitmaps, free lists')
    .option('--svg <file>', 'also write the heap map as an SVG file (blocks to scale, hover for their facts)')
    .action(async (target: string | undefined, flags: RunFlags & MapFlags) => {
      const request = runRequestFrom(targetFrom(target, io), flags);
      const { mapCommand, parseMapPoint } = await import('./map-command.js');
      parseMapPoint(flags.at ?? 'end'); // a bad --at fails before the run
      result.exitCode = mapCommand(request, flags, io, coloursFor(io, globalColour()));
    });

  addRunOptions(
    program
      .command('step')
      .description(
        'step through heap calls: how TLSF placed each block (class, search, split, merge), with a one-line heap map',
      )
      .argument('[target]', `scenario, .elf or .rep (default: ${DEFAULT_SCENARIO})`),
  )
    .option('--from <call>', 'first heap call to show (default 1)')
    .option('--count <n>', 'how many calls to show (default 20)')
    .option('--width <chars>', 'characters of the one-line heap map (default 64)')
    .option('--json', 'print one JSON document with every step')
    .action(async (target: string | undefined, flags: RunFlags & StepFlags) => {
      const request = runRequestFrom(targetFrom(target, io), flags);
      const { stepCommand } = await import('./step-command.js');
      result.exitCode = stepCommand(request, flags, io, coloursFor(io, globalColour()));
    });

  addRunOptions(
    program
      .command('compare')
      .description(
        'the same target under each heap (tlsf, first-fit, best-fit, half-fit): one table of peaks, smallest heap and work per call',
      )
      .argument('[target]', `scenario, .elf or .rep (default: ${DEFAULT_SCENARIO})`),
  )
    .option('--allocators <names>', 'comma-separated heaps to compare (default: all four)')
    .option('--no-min-heap', 'skip the smallest-heap search (one bisection of real runs per heap)')
    .option('--markdown', 'print the table as markdown')
    .option('--json', 'print one JSON document')
    .action(async (target: string | undefined, flags: RunFlags & CompareFlags) => {
      const request = runRequestFrom(targetFrom(target, io), flags);
      const { compareCommand } = await import('./compare.js');
      result.exitCode = compareCommand(request, flags, io, coloursFor(io, globalColour()));
    });
  // The HTML report page (src/cli/html): timeline, where the bytes are, heap map and TLSF step-through.
  addRunOptions(
    program
      .command('report')
      .description(
        'write one self-contained HTML page of a run: timeline, bytes by call site, heap map, TLSF step-through',
      )
      .argument('[target]', `scenario, .elf or .rep (default: ${DEFAULT_SCENARIO})`),
  )
    .option('-o, --output <file>', 'the HTML file to write (default tlsf-report.html)')
    .action(async (target: string | undefined, flags: RunFlags & { output?: string }) => {
      const request = runRequestFrom(targetFrom(target, io), flags);
      const { reportCommand } = await import('./html/report-command.js');
      result.exitCode = await reportCommand(request, { output: fileFlag(flags.output, '--output') }, io);
    });

  program
    .command('explain')
    .description('how TLSF files a request of <size> bytes: size classes, indices, bitmap search')
    .argument('<size>', 'requested bytes (e.g. 100, 1.5K, 0x600)')
    .option('--sl <n>', 'second-level index bits, 1..5', String(TLSF_DEFAULTS.slLog2))
    .option('--align <n>', 'allocator alignment: 4, 8 or 16', String(TLSF_DEFAULTS.align))
    .option('--json', 'print one JSON document')
    .action(async (size: string, flags: { sl: string; align: string; json?: boolean }) => {
      const { explainCommand } = await import('./explain.js');
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
    .action(async (flags: { json?: boolean }) => {
      const { boardsCommand } = await import('./lists.js');
      result.exitCode = boardsCommand(flags.json === true, io);
    });

  program
    .command('scenarios')
    .description('list the built-in workload scenarios with what they model and their parameters')
    .option('--json', 'print one JSON document')
    .action(async (flags: { json?: boolean }) => {
      const { scenariosCommand } = await import('./lists.js');
      result.exitCode = scenariosCommand(flags.json === true, io);
    });

  program
    .command('bench')
    .description("run the project's benchmarks (allocator and board)")
    .addOption(new Option('--only <area>', 'run one area').choices(['allocator', 'board']))
    .option('--quick', 'allocator traces scaled to 10% and 3 runs, for a quick look')
    .option('-b, --board <name>', 'board for the board benchmark (default: stm32f411re)')
    .action(async (flags: BenchFlags) => {
      const { resolveBoard } = await import('./engine.js');
      if (flags.board !== undefined) resolveBoard(flags.board);
      const { benchCommand } = await import('./bench.js');
      result.exitCode = await benchCommand(flags, io);
    });

  // Firmware builds (src/cli/build): `build` compiles a user's sources for a board, `flags` prints its flags.
  const addFirmwareFlagOptions = (command: Command): Command =>
    command
      .option('-b, --board <name>', 'board name or board JSON file (required)')
      .option(
        '--stack <size>',
        'stack size linked into the image (default: 4 KiB; 2 KiB on boards with 16 KiB of RAM or less)',
      )
      .option('-O, --optimize <level>', 'optimisation level: 0, 1, 2, 3, s, g, z or fast (default s)')
      .option('--libc <name>', 'C library: newlib-nano (default) or picolibc')
      .option('--no-float-io', 'leave floating-point printf/scanf out (saves flash; %g then prints nothing)')
      .option(
        '--float-abi <abi>',
        'soft, softfp or hard (default: hard on boards whose core has an FPU: cortex-m4f, cortex-m7; else soft)',
      );
  const collect = (value: string, previous: string[] = []) => [...previous, value];
  addFirmwareFlagOptions(
    program
      .command('build')
      .description(
        'compile and link C/C++ sources with the tlsf-sim runtime for a board (arm-none-eabi-gcc); flags after -- go to the compiler',
      )
      .argument('<sources...>', '.c, .cpp/.cc/.cxx, .s/.S, .o or .a files'),
  )
    .option('-o, --output <file>', 'the ELF to write (default: the first source with .elf)')
    .option('-I, --include <dir>', 'add an include directory (repeatable)', collect)
    .option('-D, --define <name[=value]>', 'define a preprocessor macro (repeatable)', collect)
    .option('-l, --lib <name>', 'link a library (repeatable)', collect)
    .option('--verbose', 'print the compiler commands it runs')
    .action(async (sources: string[], ownFlags: import('./build/build-command.js').BuildFlags) => {
      // --verbose is also the program's own option (stack of an internal error), which commander gives to the
      // program wherever it stands; here it means the compiler commands too.
      const flags = {
        ...ownFlags,
        verbose: ownFlags.verbose === true || program.opts<{ verbose?: boolean }>().verbose === true,
      };
      // Commander hands the words after `--` over as more sources; they are compiler flags.
      const rawArgs = (program as unknown as { rawArgs?: string[] }).rawArgs ?? [];
      const dash = rawArgs.indexOf('--');
      const extraFlags = dash >= 0 ? rawArgs.slice(dash + 1) : [];
      const { buildCommand } = await import('./build/build-command.js');
      result.exitCode = await buildCommand(sources.slice(0, sources.length - extraFlags.length), flags, extraFlags, io);
    });
  addFirmwareFlagOptions(
    program
      .command('flags')
      .description("print `tlsf-sim build`'s compiler flags for Make or CMake (all as Make variables, or one list)"),
  )
    .option('--cflags', 'C compiler flags')
    .option('--cxxflags', 'C++ compiler flags (the C flags plus -fno-exceptions -fno-rtti)')
    .option('--ldflags', 'linker flags (board linker script, C library, float I/O)')
    .option('--sources', 'the runtime sources to compile with your own')
    .option('--cxx', 'the program has C++ sources: add the C++ runtime to --sources')
    .action(async (flags: import('./build/flags-command.js').FlagsFlags) => {
      const { flagsCommand } = await import('./build/flags-command.js');
      result.exitCode = await flagsCommand(flags, io);
    });

  return program;
}

/**
 * Parses argv, runs the command and returns the process exit code: 0 ok, 1 check failed or run incomplete,
 * 2 bad input or usage, 3 internal error (a bug or an emulator failure).
 */
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
    if (error instanceof InputError || isInputError(error)) {
      io.stderr.write(`tlsf-sim: ${escapeControlCharacters((error as Error).message)}\n`);
      return EXIT_BAD_INPUT;
    }
    const withStack = program.opts<{ verbose?: boolean }>().verbose === true || io.env.TLSF_SIM_DEBUG === '1';
    io.stderr.write(`tlsf-sim: ${internalErrorText(error, withStack)}\n`);
    return EXIT_INTERNAL;
  }
}
