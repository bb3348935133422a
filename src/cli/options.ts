import type { RunTarget } from './budget.js';
import { classifyTarget, DEFAULT_SCENARIO } from './budget.js';
import type { Limits } from './checks.js';
import type { RunRequest } from './engine.js';
import { colourEnabled, palette, type Palette } from './terminal.js';
import { parseChoice, parseCount, parseDuration, parseFraction, parsePositiveSize, parseSize } from './units.js';

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

export interface RunFlags {
  board?: string;
  heap?: string;
  align?: string;
  sl?: string;
  param?: Record<string, number>;
  maxInstructions?: string;
  timeout?: string;
  guard?: boolean;
  alignCheck?: boolean;
  bank?: string[];
  json?: boolean;
  color?: boolean;
}

export function runRequestFrom(target: RunTarget, flags: RunFlags): RunRequest {
  return {
    target,
    board: flags.board,
    heapSize: flags.heap === undefined ? undefined : parsePositiveSize(flags.heap, '--heap'),
    align: flags.align === undefined ? undefined : parseChoice(flags.align, [4, 8, 16] as const, '--align'),
    slLog2: flags.sl === undefined ? undefined : parseChoice(flags.sl, [1, 2, 3, 4, 5] as const, '--sl'),
    params: flags.param ?? {},
    maxInstructions: flags.maxInstructions === undefined ? undefined : parseCount(flags.maxInstructions, '--max-instructions'),
    timeoutMs: flags.timeout === undefined ? undefined : parseDuration(flags.timeout, '--timeout'),
    guard: flags.guard,
    alignmentCheck: flags.alignCheck,
    extraBanks: flags.bank,
  };
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

export interface CheckFlags extends RunFlags {
  budget?: string;
  maxPeak?: string;
  maxSpan?: string;
  maxFragmentation?: string;
  minFree?: string;
  oom?: boolean;
  junit?: string;
  markdown?: string;
}

export function limitsFromFlags(flags: CheckFlags): Limits {
  const limits: Limits = {};
  if (flags.maxPeak !== undefined) limits.maxPeak = parsePositiveSize(flags.maxPeak, '--max-peak');
  if (flags.maxSpan !== undefined) limits.maxSpan = parsePositiveSize(flags.maxSpan, '--max-span');
  if (flags.maxFragmentation !== undefined) limits.maxFragmentation = parseFraction(flags.maxFragmentation, '--max-fragmentation');
  if (flags.minFree !== undefined) limits.minFree = parseSize(flags.minFree, '--min-free');
  if (flags.oom === false) limits.noOom = true;
  return limits;
}

