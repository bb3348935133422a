import { closeSync, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TLSF_DEFAULTS } from '../allocator/index.js';
import {
  DEFAULT_BOARD,
  DEFAULT_MAX_INSTRUCTIONS,
  listBoards,
  loadBoard,
  Machine,
  parseElf,
  runFirmware,
  type BoardProfile,
  type RunOptions,
  type RunReport,
} from '../board/index.js';
import type { RunTarget } from './budget.js';
import { targetLabel } from './budget.js';
import { heapCostOf, type HeapCostReport } from './call-cost.js';
import { classifyRunError, InputError, quoteInput, testFaultHook } from './errors.js';
import { MAX_CONFIG_BYTES, MAX_ELF_BYTES, openInputFile, readInputFile } from './input-file.js';
import { didYouMean } from './suggest.js';
import type { RunSettings } from './report.js';
import { boardRunParameters, type RunParameters } from './run-parameters.js';
import { ProgressBar } from './terminal.js';
import { readTraceFile, type Trace } from './trace.js';
import { layoutTraceRun, TRACE_PLAYER_SCENARIO } from './trace-encoding.js';
import { prepareHostRun, runTraceOnHost } from './host-run.js';
import { scenarioElfForBoard } from './build/scenario-elf.js';
import { DEFAULT_HEAP_KIND } from './heap-choice.js';
import { heapFactory } from './heap-factories.js';

export { DEFAULT_SCENARIO } from './budget.js';

export { DEFAULT_MAX_INSTRUCTIONS };
// The allocator's own defaults, so the CLI's and the library's cannot drift apart.
export const DEFAULT_ALIGN = TLSF_DEFAULTS.align;
export const DEFAULT_SL_LOG2 = TLSF_DEFAULTS.slLog2;

export interface ScenarioParam {
  name: string;
  default: number;
  help: string;
}
export interface Scenario {
  name: string;
  elf: string;
  description: string;
  models?: string;
  basis?: string;
  params: ScenarioParam[];
  /** Smallest heap (bytes) on which it completes with default parameters on the default board, rounded up to 256. */
  minHeap?: number;
  /** minHeap plus the image's .data/.bss and the default stack. */
  minRam?: number;
}

/** The package root: found by walking up, because the CLI runs both from dist/src/cli and (under vitest) src/cli. */
export function packageRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(directory, 'package.json');
    if (existsSync(candidate)) {
      try {
        if ((JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string }).name === 'tlsf-sim') return directory;
      } catch {
        // an unrelated or broken package.json on the way up: keep looking
      }
    }
    const parent = dirname(directory);
    if (parent === directory) throw new Error('cannot find the tlsf-sim package root (package.json) above the CLI');
    directory = parent;
  }
}

export function firmwareDirectory(): string {
  return join(packageRoot(), 'firmware-sim');
}

let scenarioCache: Scenario[] | undefined;

export function listScenarios(): Scenario[] {
  if (scenarioCache) return scenarioCache;
  const path = join(firmwareDirectory(), 'scenarios.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    // The package's own file, not the user's input: a broken install is an internal error (exit 3).
    throw new Error(`cannot read the scenario list ${path}: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new Error(`${path} must be a list of scenarios`);
  scenarioCache = parsed as Scenario[];
  return scenarioCache;
}

export function findScenario(name: string): Scenario {
  const scenarios = listScenarios();
  const wanted = name.toLowerCase();
  const scenario = scenarios.find((candidate) => candidate.name.toLowerCase() === wanted);
  if (!scenario) {
    const names = scenarios.map((candidate) => candidate.name);
    throw new InputError(
      `unknown scenario ${quoteInput(name)}${didYouMean(name, names)}; scenarios: ${names.join(', ')} (or give a firmware ELF or a .rep trace file)`,
    );
  }
  return scenario;
}

export function resolveBoard(name: string | undefined): BoardProfile {
  const wanted = name ?? DEFAULT_BOARD;
  const names = listBoards().map((board) => board.name);
  const builtIn = names.some((candidate) => candidate.toLowerCase() === wanted.trim().toLowerCase());
  if (!builtIn) {
    if (existsSync(wanted)) {
      // A board file: refuse a device, FIFO or huge file before the board module reads it whole.
      closeSync(openInputFile(wanted, { what: 'board file', maxBytes: MAX_CONFIG_BYTES }).fd);
    } else if (!wanted.toLowerCase().endsWith('.json')) {
      throw new InputError(
        `unknown board ${quoteInput(wanted)}${didYouMean(wanted, names)}; built-in boards: ${names.join(', ')} (or give a board JSON file path)`,
      );
    }
  }
  try {
    return loadBoard(wanted);
  } catch (error) {
    throw new InputError((error as Error).message);
  }
}

/**
 * Scenario firmware is linked per board (each board's memory map is in its linker script), so the ELF is
 * firmware-sim/elf/<board>/<scenario>.elf; a `{board}` placeholder in scenarios.json's `elf` is honoured too.
 */
/**
 * The committed ELF of a built-in scenario for a built-in board; for a board given as a JSON file, the scenario
 * linked for that board on first use into the cache (build/scenario-elf.ts), when the cross compiler is here.
 */
export function scenarioElfPath(scenario: Scenario, board: BoardProfile, boardArgument?: string): string {
  const boardDirectory = board.name.toLowerCase();
  const candidates = [
    scenario.elf ? join(firmwareDirectory(), scenario.elf.replace(/\{board\}/g, boardDirectory)) : undefined,
    join(firmwareDirectory(), 'elf', boardDirectory, `${scenario.name}.elf`),
  ].filter((candidate): candidate is string => candidate !== undefined && !candidate.includes('{'));
  const found = candidates.find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
  if (!found && boardArgument !== undefined && isBoardFile(boardArgument)) {
    return scenarioElfForBoard(scenario, boardArgument);
  }
  if (!found) {
    // scenarios.json usually names the per-board path itself: show each place looked in once.
    const looked = [...new Set(candidates.map((candidate) => relative(packageRoot(), candidate)))];
    throw new InputError(
      `scenario ${scenario.name} is not built for board ${board.name} (looked for ${looked.join(', ')}); built-in scenarios are linked per built-in board`,
    );
  }
  return found;
}

/** A firmware image, refused before reading when it is not a regular file or larger than MAX_ELF_BYTES. */
export function readElf(path: string): Uint8Array {
  return readInputFile(path, { what: 'firmware', maxBytes: MAX_ELF_BYTES });
}

/** A run, fully resolved: the ELF bytes, the board, and the options the board's runFirmware takes. */
export interface PreparedRun {
  label: string;
  target: RunTarget;
  board: BoardProfile;
  options: RunOptions;
  settings: RunSettings;
  /** Present when the target is a trace: its own figures (largest request) feed min-heap's bound. */
  trace?: Trace;
  /** Present for `--host`: the trace replays on a host heap (host-run.ts), `board` describes that heap. */
  host?: { playerParams: ScenarioParam[] };
}

/** A run as a command asks for it: what to run and the user's parameters (a budget job is one too). */
export interface RunRequest extends RunParameters, Pick<RunOptions, 'recordEvents'> {
  target: RunTarget;
}

export function prepareRun(request: RunRequest): PreparedRun {
  if (request.host) {
    const target = request.target;
    if (target.kind !== 'trace') {
      const what = target.kind === 'elf' ? 'firmware' : 'a scenario';
      throw new InputError(
        `--host replays a .rep trace without the emulator; ${targetLabel(target)} is ${what}, which needs a board`,
      );
    }
    const playerParams = findScenario(TRACE_PLAYER_SCENARIO).params;
    const defaults = { align: DEFAULT_ALIGN, slLog2: DEFAULT_SL_LOG2 };
    return prepareHostRun(request, readTraceFile(target.path), playerParams, defaults);
  }
  const allocator = request.allocator ?? DEFAULT_HEAP_KIND;
  if (allocator !== 'tlsf') {
    // Nothing the user set may be silently ignored: these belong to the TLSF heap alone.
    if (request.slLog2 !== undefined)
      throw new InputError(`--sl sets TLSF's second level; the ${allocator} heap has none (leave --sl out)`);
    if (request.extraBanks?.length)
      throw new InputError(`--bank: the ${allocator} heap manages one region; extra banks need --allocator tlsf`);
  }
  const board = resolveBoard(request.board);
  const params = { ...(request.params ?? {}) };
  let elf: Uint8Array;
  let elfName: string;
  let trace: Trace | undefined;
  let flashPatches: RunOptions['flashPatches'];
  let heapSize = request.heapSize;
  const target = request.target;
  if (target.kind === 'scenario') {
    const scenario = findScenario(target.name);
    const known = scenario.params.map((param) => param.name);
    for (const name of Object.keys(params)) {
      if (!known.includes(name)) {
        throw new InputError(
          `scenario ${scenario.name} has no parameter ${quoteInput(name)}${didYouMean(name, known)}; its parameters: ${known.join(', ') || '(none)'}`,
        );
      }
    }
    const path = scenarioElfPath(scenario, board, request.board);
    elfName = relative(packageRoot(), path);
    elf = readElf(path);
  } else if (target.kind === 'elf') {
    elfName = target.path;
    elf = readElf(target.path);
  } else {
    trace = readTraceFile(target.path);
    const player = findScenario(TRACE_PLAYER_SCENARIO);
    const path = scenarioElfPath(player, board, request.board);
    elfName = relative(packageRoot(), path);
    elf = readElf(path);
    // The player's table goes outside the heap, so the heap size is what the table leaves (trace-encoding.ts).
    const layout = layoutTraceRun(trace, parseElf(elf, elfName), elfName, request.heapSize);
    flashPatches = layout.flashPatches;
    heapSize = layout.heapSize;
  }
  // The parameters resolved to what the run uses, echoed as they are into the report's settings.
  const parameters = {
    allocator,
    ...boardRunParameters({ ...request, heapSize }),
    align: request.align ?? DEFAULT_ALIGN,
    slLog2: request.slLog2 ?? DEFAULT_SL_LOG2,
    params,
    guard: request.guard ?? false,
    alignmentCheck: request.alignmentCheck ?? false,
  };
  const { allocator: _allocator, ...boardParameters } = parameters;
  // The call cost is counted by replaying the calls, so it needs them recorded.
  const recordEvents = request.recordEvents === true || request.callCost === true;
  const options: RunOptions = { ...boardParameters, elf, elfName, board, recordEvents };
  if (flashPatches) options.flashPatches = flashPatches;
  const settings: RunSettings = {
    ...parameters,
    target: targetLabel(target),
    targetKind: target.kind,
    boardName: board.name,
    cpu: board.cpu,
    clockHz: board.clockHz,
  };
  if (request.callCost === true) settings.callCost = true;
  return { label: targetLabel(target), target, board, options, settings, trace };
}

/**
 * Runs a prepared run with an optional progress bar. Errors the board throws before the firmware starts
 * (heap does not fit the bank, unknown parameter, malformed ELF) are the user's input: exit 2.
 */
/** A run's report, with the work of its heap calls when the run asked for it (--call-cost). */
export type CostedRunReport = RunReport & { heapCost?: HeapCostReport | null };

export function execute(prepared: PreparedRun, showProgress = true): CostedRunReport {
  const report: CostedRunReport = runOnce(prepared, showProgress);
  if (prepared.settings.callCost === true) {
    report.heapCost = heapCostOf(prepared, report, prepared.settings.allocator ?? DEFAULT_HEAP_KIND);
  }
  return report;
}

/**
 * Loads the run's image onto its board without running it, so that what would stop the run before the firmware
 * starts (an ELF linked for another board, a heap that does not fit) is found before a command that runs several
 * prints any result. Host replays load nothing.
 */
export function loadWithoutRunning(prepared: PreparedRun): void {
  if (prepared.host) return;
  let machine: Machine | undefined;
  try {
    machine = new Machine(prepared.options, heapFactory(prepared.settings.allocator ?? DEFAULT_HEAP_KIND));
  } catch (error) {
    throw classifyRunError(error, `${prepared.label} on ${prepared.board.name}`);
  } finally {
    machine?.close();
  }
}

function runOnce(prepared: PreparedRun, showProgress: boolean): RunReport {
  if (prepared.host) return runTraceOnHost(prepared);
  const bar = showProgress ? ProgressBar.forStderr(`${prepared.label} on ${prepared.board.name}`) : undefined;
  const maxInstructions = prepared.options.maxInstructions ?? DEFAULT_MAX_INSTRUCTIONS;
  try {
    testFaultHook();
    return runFirmware(
      {
        ...prepared.options,
        onProgress: bar ? (value: number) => bar.update(value, maxInstructions) : undefined,
      },
      heapFactory(prepared.settings.allocator ?? DEFAULT_HEAP_KIND),
    );
  } catch (error) {
    // The user's input (a heap that does not fit, a malformed ELF) is exit 2; an emulator failure or a bug is not.
    throw classifyRunError(error, `${prepared.label} on ${prepared.board.name}`);
  } finally {
    bar?.finish();
  }
}

export { DEFAULT_BOARD };

/** A --board value naming a board JSON file rather than a built-in board. */
function isBoardFile(boardArgument: string): boolean {
  return /\.json$/i.test(boardArgument) && existsSync(boardArgument);
}
