import type { RunTarget } from './budget.js';
import { camelCase, classifyTarget, DEFAULT_SCENARIO, rejectRepeatedBoard } from './budget.js';
import { LIMITS, setLimit, type Limits } from './checks.js';
import type { RunRequest } from './engine.js';
import { InputError, quoteInput } from './errors.js';
import {
  readRunParameter,
  RUN_PARAMETER_FIELDS,
  type RunParameterFlags,
  type RunParameters,
} from './run-parameters.js';
import { colourEnabled, palette, type Palette } from './terminal.js';

// Option values as commander hands them over, and their translation into validated requests and limits.
// Shared by program.ts (which parses) and the command modules it loads on demand.

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

/** Flags as commander hands them over: run-parameter flags share their names with budget-file keys. */
export interface RunFlags extends RunParameterFlags {
  board?: string;
  param?: Record<string, number>;
  bank?: string[];
  json?: boolean;
  color?: boolean;
}

/** A name-valued flag given as an empty string is a mistake, not a request for the default. */
function requireName(value: string, flag: string): string {
  if (value.trim() === '') throw new InputError(`${flag}: empty name; give a name or leave ${flag} out`);
  return value;
}

/** `--board a,b`: every name present; `--board ,` or `--board a,,b` is bad input, not a shorter list. */
export function boardList(text: string, flag = '--board'): string[] {
  const names = text.split(',').map((name) => name.trim());
  if (names.some((name) => name === '')) {
    throw new InputError(`${flag}: empty board name in ${quoteInput(text)}; give names separated by commas`);
  }
  rejectRepeatedBoard(names, flag);
  return names;
}

/** The run parameters the flags set, each read and checked by its RUN_PARAMETER_FIELDS reader. */
export function runParametersFrom(flags: RunFlags): RunParameters {
  const parameters: RunParameters = {};
  if (flags.board !== undefined) parameters.board = requireName(flags.board, '--board');
  if (flags.param !== undefined) parameters.params = flags.param;
  if (flags.bank !== undefined) parameters.extraBanks = flags.bank.map((bank) => requireName(bank, '--bank'));
  for (const field of RUN_PARAMETER_FIELDS) {
    const value = flags[field.key];
    if (value !== undefined) readRunParameter(parameters, field.key, value, field.flag);
  }
  return parameters;
}

export function runRequestFrom(target: RunTarget, flags: RunFlags): RunRequest {
  return { target, params: {}, ...runParametersFrom(flags) };
}

export function targetFrom(argument: string | undefined, io: CliIo): RunTarget {
  return argument === undefined ? { kind: 'scenario', name: DEFAULT_SCENARIO } : classifyTarget(argument, io.cwd);
}

export function coloursFor(io: CliIo, flags: { color?: boolean }): Palette {
  return palette(colourEnabled(io.stdout, io.env, flags.color === false));
}

export function writeJson(io: CliIo, document: unknown): void {
  io.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
}

/** `check`'s own flags; the limit flags (`--max-peak` as `maxPeak`, `--no-oom` as `oom`) come from LIMITS. */
export interface CheckFlags extends RunFlags {
  budget?: string;
  junit?: string;
  markdown?: string;
}

/** A file-valued flag given as an empty string would silently write or read nothing. */
export function fileFlag(value: string | undefined, flag: string): string | undefined {
  if (value !== undefined && value.trim() === '') throw new InputError(`${flag}: empty file name`);
  return value;
}

export function limitsFromFlags(flags: CheckFlags): Limits {
  const limits: Limits = {};
  const given = flags as Record<string, unknown>;
  for (const definition of LIMITS) {
    const flag = definition.option.split(' ')[0]!;
    // commander's property for a flag: --max-peak as maxPeak; a negated switch --no-oom as oom: false.
    const negated = flag.startsWith('--no-');
    const value = given[camelCase(flag.slice(negated ? '--no-'.length : '--'.length))];
    if (negated && value === false) setLimit(limits, definition, true, flag);
    else if (!negated && value !== undefined) setLimit(limits, definition, value as string, flag);
  }
  return limits;
}
