import type { HeapKind } from '../allocator/heap-contract.js';
import type { RunOptions } from '../board/index.js';
import { InputError, quoteInput } from './errors.js';
import { parseHeapKind } from './heap-choice.js';
import { parseChoice, parseCount, parseDuration, parsePositiveSize } from './units.js';

// The settings of one run that a user chooses, defined once: command-line flags, budget-file entries, the
// run request, the budget job and the report's echo of the settings are all this type or built from it, and
// every value is read by the one reader in RUN_PARAMETER_FIELDS below, whichever way it was given.

/** The board-side run options a user sets; their meaning and types are the board's (RunOptions). */
export const BOARD_RUN_PARAMETERS = [
  'heapSize',
  'stackSize',
  'align',
  'slLog2',
  'params',
  'maxInstructions',
  'timeoutMs',
  'guard',
  'alignmentCheck',
  'extraBanks',
] as const satisfies readonly (keyof RunOptions)[];

export type BoardRunParameters = Pick<RunOptions, (typeof BOARD_RUN_PARAMETERS)[number]>;

export interface RunParameters extends BoardRunParameters {
  /** A board name or board JSON file; undefined: the default board. */
  board?: string;
  /** Replay a trace on a host heap, without the emulator (host-run.ts). */
  host?: boolean;
  /** The heap serving malloc; undefined: TLSF. */
  allocator?: HeapKind;
  /** Count the work of every heap call (call-cost.ts): the run records its calls and replays them at the end. */
  callCost?: boolean;
}

/** Copies the board-side parameters out of a request (which may carry more, e.g. a budget job's limits). */
export function boardRunParameters(parameters: RunParameters): BoardRunParameters {
  const picked: Record<string, unknown> = {};
  for (const key of BOARD_RUN_PARAMETERS) if (parameters[key] !== undefined) picked[key] = parameters[key];
  return picked as BoardRunParameters;
}

/** A single value as given: a flag's text, or a budget file's scalar. */
export type ScalarInput = string | number | boolean;

/**
 * One scalar run parameter: its budget-file key, which is also the property commander gives its flag
 * (`--max-instructions` arrives as `maxInstructions`), the flag, and the RunParameters field it fills.
 */
interface ScalarParameterField<Key extends string, Field extends keyof RunParameters> {
  key: Key;
  flag: string;
  field: Field;
  /** What the value must look like, for "expected ..." messages. */
  expects: string;
  read(value: ScalarInput, where: string): RunParameters[Field];
}

/** A size, count, choice or duration: a string, or a number as JSON and YAML write them. */
function textField<const Key extends string, Field extends keyof RunParameters>(
  field: Omit<ScalarParameterField<Key, Field>, 'read'> & { parse(text: string, where: string): RunParameters[Field] },
): ScalarParameterField<Key, Field> {
  const { parse, ...described } = field;
  return {
    ...described,
    read(value, where) {
      if (typeof value === 'boolean') throw new InputError(`${where}: expected ${field.expects}, got ${value}`);
      return parse(String(value), where);
    },
  };
}

/** An on/off setting: a flag without a value, or true/false in a budget file. */
function switchField<const Key extends string, Field extends 'guard' | 'alignmentCheck' | 'host' | 'callCost'>(
  field: Omit<ScalarParameterField<Key, Field>, 'read' | 'expects'>,
): ScalarParameterField<Key, Field> {
  return { ...field, expects: 'true or false', read: readSwitch };
}

function readSwitch(value: ScalarInput, where: string): boolean {
  if (typeof value === 'boolean') return value;
  throw new InputError(`${where} must be true or false, got ${typeof value === 'string' ? quoteInput(value) : value}`);
}

/** A stack size: positive and a multiple of 8 bytes, the AAPCS alignment of SP (as `build --stack`). */
function parseStackSize(text: string, where: string): number {
  const bytes = parsePositiveSize(text, where);
  if (bytes % 8 !== 0)
    throw new InputError(`${where}: ${quoteInput(text)} must be a multiple of 8 bytes (the AAPCS stack alignment)`);
  return bytes;
}

/** Every scalar run parameter, in the order the docs list them. A new one: a field above and a line here. */
export const RUN_PARAMETER_FIELDS = [
  textField({
    key: 'allocator',
    flag: '--allocator',
    field: 'allocator',
    expects: 'tlsf, first-fit, best-fit or half-fit',
    parse: parseHeapKind,
  }),
  textField({
    key: 'heap',
    flag: '--heap',
    field: 'heapSize',
    expects: 'a size such as 32K',
    parse: parsePositiveSize,
  }),
  textField({ key: 'stack', flag: '--stack', field: 'stackSize', expects: 'a size such as 8K', parse: parseStackSize }),
  textField({
    key: 'align',
    flag: '--align',
    field: 'align',
    expects: '4, 8 or 16',
    parse: (text, where) => parseChoice(text, [4, 8, 16] as const, where),
  }),
  textField({
    key: 'sl',
    flag: '--sl',
    field: 'slLog2',
    expects: 'a number 1..5',
    parse: (text, where) => parseChoice(text, [1, 2, 3, 4, 5] as const, where),
  }),
  textField({
    key: 'maxInstructions',
    flag: '--max-instructions',
    field: 'maxInstructions',
    expects: 'a count such as 2e9',
    // At least one instruction: a budget of 0 would stop before the first (the board refuses it).
    parse: (text, where) => parseCount(text, where, { min: 1 }),
  }),
  textField({
    key: 'timeout',
    flag: '--timeout',
    field: 'timeoutMs',
    expects: 'a duration such as 90s or 10m',
    parse: parseDuration,
  }),
  switchField({ key: 'guard', flag: '--guard', field: 'guard' }),
  switchField({ key: 'alignCheck', flag: '--align-check', field: 'alignmentCheck' }),
  switchField({ key: 'host', flag: '--host', field: 'host' }),
  switchField({ key: 'callCost', flag: '--call-cost', field: 'callCost' }),
];

/** The flags of the scalar run parameters as commander hands them over (`--max-instructions` as maxInstructions). */
export type RunParameterFlags = { [Field in (typeof RUN_PARAMETER_FIELDS)[number] as Field['key']]?: ScalarInput };

/** Reads one scalar parameter into `into`; false when `key` is not a scalar run parameter. */
export function readRunParameter(into: RunParameters, key: string, value: ScalarInput, where: string): boolean {
  const field = RUN_PARAMETER_FIELDS.find((candidate) => candidate.key === key);
  if (!field) return false;
  (into as Record<string, unknown>)[field.field] = field.read(value, where);
  return true;
}
