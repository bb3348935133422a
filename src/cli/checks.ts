import { COMPARED_FIGURES, findComparedFigure } from './compared-figures.js';
import { describeValue, type TreeValue } from './document-tree.js';
import { InputError, quoteInput } from './errors.js';
import { formatBytes, formatPercent, parseCount, parseFraction, parsePositiveSize, parseSize } from './units.js';

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
  /** The stack's high-water mark and the image's static RAM (RunReport.stackPeak, staticBytes). */
  stackPeak?: number;
  staticBytes?: number;
  /**
   * Estimated cycles of the costliest heap call (RunReport heapCost, --call-cost): undefined when the cost was
   * not counted, null when the replay that counts it diverged from the run.
   */
  maxCallCycles?: number | null;
}

/** The RAM a run really needed: static data, the heap up to its highest used byte, and the stack's peak. */
export function ramNeeded(figures: Pick<RunFigures, 'staticBytes' | 'peakSpan' | 'stackPeak'>): number {
  return (figures.staticBytes ?? 0) + figures.peakSpan + (figures.stackPeak ?? 0);
}

/**
 * The fragmentation a limit is held to: the worse of the peak's and the end's. The end alone misses a
 * workload that frees everything before exiting; the peak alone misses damage done after it.
 */
export function worstFragmentation(figures: Pick<RunFigures, 'fragmentation' | 'fragmentationAtPeak'>): number {
  return Math.max(figures.fragmentation, figures.fragmentationAtPeak ?? 0);
}

type LimitUnit = 'bytes' | 'fraction' | 'count' | 'cycles';

/**
 * One limit a gate can hold a run to. Everything about a limit is here: its flag and budget key, how a value
 * is read, what it is compared with and how the outcome reads, so a new limit is one entry in LIMITS.
 */
interface LimitDefinition<Name extends string, Key extends string, Value extends number | boolean> {
  /** The check's name, its flag without `--` and its kebab-case budget key: `max-peak`. */
  name: Name;
  /** The Limits field and camelCase budget key: `maxPeak`. */
  key: Key;
  /** The commander option: `--max-peak <size>`, or `--no-oom` for a switch. */
  option: string;
  help: string;
  unit: LimitUnit;
  /** Reads a limit as a flag or budget file gives it; `where` names the flag or field in errors. */
  parse(value: string | number | boolean, where: string): Value;
  /** The figure of the run the limit is held to. */
  measure(figures: RunFigures): number;
  /** The limit as a figure in the same unit (a switch: the figure it allows). */
  limitFigure(limit: Value): number;
  passes(measured: number, limit: number, figures: RunFigures): boolean;
  /** One line for humans: "peak used 12,288 B <= max 24,576 B". */
  describe(measured: number, limit: number, pass: boolean, figures: RunFigures): string;
}

function defineLimit<const Name extends string, const Key extends string, Value extends number | boolean>(
  definition: LimitDefinition<Name, Key, Value>,
): LimitDefinition<Name, Key, Value> {
  return definition;
}

/** A value limit reads a size or fraction given as text, or as a number in a budget file. */
function valueText(value: string | number | boolean, where: string): string {
  if (typeof value === 'boolean') throw new InputError(`${where}: expected a value, got ${value}`);
  return String(value);
}

/**
 * Growth allowed against a baseline, a fraction per compared figure (compared-figures.ts, by key). Unlike the
 * other limits it is not held to one run's figures but to a run and its baseline (baseline.ts).
 */
export type GrowthLimits = Record<string, number>;

/**
 * `max-growth`: a percentage for the figures held by default (peak used and peak span), or in a budget file a
 * mapping of figure to percentage (`{ peak-used: 5%, instructions: 20% }`).
 */
interface GrowthLimitDefinition {
  name: 'max-growth';
  key: 'maxGrowth';
  option: string;
  help: string;
  unit: 'fraction';
  againstBaseline: true;
  parse(value: TreeValue, where: string): GrowthLimits;
}

function parseGrowthLimits(value: TreeValue, where: string): GrowthLimits {
  const limits: GrowthLimits = {};
  if (value instanceof Map) {
    if (value.size === 0) throw new InputError(`${where} is empty; give a figure: percentage or leave it out`);
    for (const [name, allowed] of value) {
      const figure = findComparedFigure(name);
      if (!figure) {
        const known = COMPARED_FIGURES.map((candidate) => candidate.name).join(', ');
        throw new InputError(`${where}: unknown figure ${quoteInput(name)}; figures: ${known}`);
      }
      if (typeof allowed !== 'string' && typeof allowed !== 'number') {
        throw new InputError(`${where}.${name}: expected a percentage, got ${describeValue(allowed)}`);
      }
      limits[figure.key] = parseFraction(String(allowed), `${where}.${name}`);
    }
    return limits;
  }
  if (typeof value !== 'string' && typeof value !== 'number') {
    const got = describeValue(value);
    throw new InputError(`${where}: expected a percentage or a mapping of figure: percentage, got ${got}`);
  }
  const allowed = parseFraction(String(value), where);
  for (const figure of COMPARED_FIGURES) if (figure.byDefault) limits[figure.key] = allowed;
  return limits;
}

const atMost = (measured: number, limit: number): boolean => measured <= limit;
const atLeast = (measured: number, limit: number): boolean => measured >= limit;

/** Every limit, in the order checks are evaluated and printed. */
export const LIMITS = [
  defineLimit({
    name: 'max-peak',
    key: 'maxPeak',
    option: '--max-peak <size>',
    unit: 'bytes',
    help: 'peak used bytes (headers included) may not exceed this',
    parse: (value, where) => parsePositiveSize(valueText(value, where), where),
    measure: (figures) => figures.peakUsed,
    limitFigure: (limit) => limit,
    passes: atMost,
    describe: (measured, limit, pass) =>
      `peak used ${formatBytes(measured)} ${pass ? '<=' : '>'} max ${formatBytes(limit)}`,
  }),
  defineLimit({
    name: 'max-span',
    key: 'maxSpan',
    option: '--max-span <size>',
    unit: 'bytes',
    help: 'peak span (heap start to highest used byte) may not exceed this',
    parse: (value, where) => parsePositiveSize(valueText(value, where), where),
    measure: (figures) => figures.peakSpan,
    limitFigure: (limit) => limit,
    passes: atMost,
    describe: (measured, limit, pass) =>
      `peak span ${formatBytes(measured)} ${pass ? '<=' : '>'} max ${formatBytes(limit)}`,
  }),
  defineLimit({
    name: 'max-stack',
    key: 'maxStack',
    option: '--max-stack <size>',
    unit: 'bytes',
    help: "the stack's high-water mark may not exceed this",
    parse: (value, where) => parsePositiveSize(valueText(value, where), where),
    measure: (figures) => figures.stackPeak ?? 0,
    limitFigure: (limit) => limit,
    passes: atMost,
    describe: (measured, limit, pass) =>
      `stack peak ${formatBytes(measured)} ${pass ? '<=' : '>'} max ${formatBytes(limit)}`,
  }),
  defineLimit({
    name: 'max-ram',
    key: 'maxRam',
    option: '--max-ram <size>',
    unit: 'bytes',
    help: 'static RAM + heap peak span + stack peak may not exceed this',
    parse: (value, where) => parsePositiveSize(valueText(value, where), where),
    measure: ramNeeded,
    limitFigure: (limit) => limit,
    passes: atMost,
    describe: (measured, limit, pass, figures) =>
      `RAM needed ${formatBytes(measured)} (static ${formatBytes(figures.staticBytes ?? 0)} + heap span ${formatBytes(figures.peakSpan)} + stack ${formatBytes(figures.stackPeak ?? 0)}) ${pass ? '<=' : '>'} max ${formatBytes(limit)}`,
  }),
  defineLimit({
    name: 'max-fragmentation',
    key: 'maxFragmentation',
    option: '--max-fragmentation <pct>',
    unit: 'fraction',
    help: 'fragmentation may not exceed this (30% or 0.3)',
    parse: (value, where) => parseFraction(valueText(value, where), where),
    measure: worstFragmentation,
    limitFigure: (limit) => limit,
    passes: atMost,
    describe: (measured, limit, pass, figures) => {
      const when =
        figures.fragmentationAtPeak === undefined
          ? ''
          : figures.fragmentationAtPeak > figures.fragmentation
            ? ' (at peak)'
            : ' (at the end)';
      return `fragmentation ${formatPercent(measured)}${when} ${pass ? '<=' : '>'} max ${formatPercent(limit)}`;
    },
  }),
  defineLimit({
    name: 'min-free',
    key: 'minFree',
    option: '--min-free <size>',
    unit: 'bytes',
    help: 'largest free block at the peak must be at least this',
    parse: (value, where) => parseSize(valueText(value, where), where),
    measure: (figures) => figures.largestFreeAtPeak,
    limitFigure: (limit) => limit,
    passes: atLeast,
    describe: (measured, limit, pass) =>
      `largest free block at peak ${formatBytes(measured)} ${pass ? '>=' : '<'} min ${formatBytes(limit)}`,
  }),
  defineLimit({
    name: 'no-oom',
    key: 'noOom',
    option: '--no-oom',
    unit: 'count',
    help: 'no allocation may fail',
    parse: (value, where) => {
      if (typeof value !== 'boolean')
        throw new InputError(`${where} must be true or false, not ${JSON.stringify(value)}`);
      return value;
    },
    measure: (figures) => figures.ops.failed,
    // No failed allocation is allowed.
    limitFigure: () => 0,
    passes: (measured, limit, figures) => measured <= limit && figures.result !== 'out-of-memory',
    describe: (measured, limit, _pass, figures) =>
      `failed allocations ${measured}${figures.result === 'out-of-memory' ? ' (run stopped out of memory)' : ''}, allowed ${limit}`,
  }),
  defineLimit({
    name: 'max-call-cycles',
    key: 'maxCallCycles',
    option: '--max-call-cycles <n>',
    unit: 'cycles',
    help: "no heap call may take more than this many cycles on the board's core (an estimate from exact counts)",
    parse: (value, where) => parseCount(valueText(value, where), where, { min: 1 }),
    // -1: not counted (a replay that diverged), which cannot pass: the budget would hold nothing.
    measure: (figures) => figures.maxCallCycles ?? -1,
    limitFigure: (limit) => limit,
    passes: (measured, limit) => measured >= 0 && measured <= limit,
    describe: (measured, limit, pass) =>
      measured >= 0
        ? `costliest heap call ~${measured.toLocaleString('en-US')} cycles ${pass ? '<=' : '>'} max ${limit.toLocaleString('en-US')}`
        : `heap call cost not counted (the replay of the calls diverged from the run), max ${limit.toLocaleString('en-US')} cycles`,
  }),
  {
    name: 'max-growth',
    key: 'maxGrowth',
    option: '--max-growth <pct>',
    unit: 'fraction',
    againstBaseline: true,
    help: 'peak used and peak span may grow at most this much against --baseline (5%)',
    parse: parseGrowthLimits,
  } satisfies GrowthLimitDefinition as GrowthLimitDefinition,
];

type LimitDefinitions = (typeof LIMITS)[number];

/**
 * RAM limits a CI gate holds a workload to, one optional field per entry of LIMITS. A run is always also
 * required to complete (result `ok`), because figures from a run that faulted half way describe nothing.
 */
export type Limits = {
  [Definition in LimitDefinitions as Definition['key']]?: ReturnType<Definition['parse']>;
};

export type CheckName = 'completes' | LimitDefinitions['name'];

/** The limits held to one run's own figures, which evaluateChecks evaluates. */
type RunLimitDefinitions = Exclude<LimitDefinitions, GrowthLimitDefinition>;

function isRunLimit(definition: LimitDefinitions): definition is RunLimitDefinitions {
  return !('againstBaseline' in definition);
}

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
  unit: LimitUnit | 'result';
  /** One line for humans: "peak used 12,288 B <= 24,576 B". */
  summary: string;
  /** For a `max-growth` check: the compared figure it holds (`peakUsed`). */
  figure?: string;
  /** In a check report: the index of the budget entry (after board expansion) the check belongs to. */
  entry?: number;
}

/** A limit that is given and not switched off (`noOom: false` sets nothing). */
function isSet<Value>(value: Value | false | undefined): value is Value {
  return value !== undefined && value !== false;
}

export function hasAnyLimit(limits: Limits): boolean {
  return LIMITS.some((definition) => isSet(limits[definition.key]));
}

/** The definition a budget key names, in either spelling (`max-peak`, `maxPeak`). */
export function findLimit(key: string): LimitDefinitions | undefined {
  return LIMITS.find((definition) => definition.key === key || definition.name === key);
}

/** Reads one limit into `into`, by its Limits key. */
export function setLimit(into: Limits, definition: LimitDefinitions, value: TreeValue, where: string): void {
  if (isRunLimit(definition) && (value === null || typeof value === 'object')) {
    throw new InputError(`${where}: expected a value, got ${describeValue(value)}`);
  }
  const parse = definition.parse as (value: TreeValue, where: string) => unknown;
  (into as Record<string, unknown>)[definition.key] = parse(value, where);
}

/** Evaluates every limit against one run's figures; the first outcome is always `completes`. */
export function evaluateChecks(target: string, board: string, figures: RunFigures, limits: Limits): CheckOutcome[] {
  const completed = figures.result === 'ok';
  const outcomes: CheckOutcome[] = [
    {
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
    },
  ];
  for (const definition of LIMITS) {
    if (!isRunLimit(definition)) continue;
    const value = limits[definition.key];
    if (!isSet(value)) continue;
    const measured = definition.measure(figures);
    const limit = (definition.limitFigure as (limit: number | boolean) => number)(value);
    const pass = definition.passes(measured, limit, figures);
    outcomes.push({
      target,
      board,
      check: definition.name,
      pass,
      measured,
      limit,
      unit: definition.unit,
      summary: definition.describe(measured, limit, pass, figures),
    });
  }
  return outcomes;
}
