import { existsSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { Limits } from './checks.js';
import { InputError } from './errors.js';
import { MAX_CONFIG_BYTES, readInputFile } from './input-file.js';

export { classifyTarget, targetLabel } from './target.js';
import { parseChoice, parseCount, parseFraction, parseParamValue, parsePositiveSize, parseSize } from './units.js';

/** What a run executes: a built-in scenario by name, a firmware ELF, or a malloc-lab trace. */
export type RunTarget =
  | { kind: 'scenario'; name: string }
  | { kind: 'elf'; path: string }
  | { kind: 'trace'; path: string };

/** One run of a budget file, with its limits: an entry with `boards: [a, b]` expands into one job per board. */
export interface BudgetJob {
  target: RunTarget;
  /** Undefined: the default board. */
  board?: string;
  heapSize?: number;
  align?: 4 | 8 | 16;
  slLog2?: number;
  params: Record<string, number>;
  maxInstructions?: number;
  /** Trap firmware writes into allocator metadata (budget field `guard`). */
  guard?: boolean;
  /** Model the unaligned-access HardFault in the heap (budget field `alignCheck`). */
  alignmentCheck?: boolean;
  limits: Limits;
}

/** What `run`, `check` and `min-heap` run when given no target: the README's demo. */
export const DEFAULT_SCENARIO = 'packet-pool';

export const DEFAULT_BUDGET_FILES = ['tlsf-budget.json', 'tlsf-budget.yaml', 'tlsf-budget.yml'];

/** Finds tlsf-budget.json / .yaml / .yml in a directory; undefined when there is none. */
export function findDefaultBudgetFile(directory: string): string | undefined {
  for (const name of DEFAULT_BUDGET_FILES) {
    const candidate = resolve(directory, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

const ENTRY_FIELDS = ['scenario', 'elf', 'trace', 'board', 'boards', 'heap', 'align', 'sl', 'params', 'maxInstructions', 'guard', 'alignCheck', 'limits', 'name'];
const LIMIT_FIELDS = ['maxPeak', 'maxSpan', 'maxFragmentation', 'minFree', 'noOom'];

/** `max-peak` and `maxPeak` both work: flags are kebab-case, JSON habit is camelCase. */
function camelCase(key: string): string {
  return key.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function normaliseKeys(value: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) result[camelCase(key)] = field;
  return result;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads and validates a budget file; every error names the file and the field. */
export function loadBudgetFile(path: string): BudgetJob[] {
  const text = readInputFile(path, { what: 'budget file', maxBytes: MAX_CONFIG_BYTES }).toString('utf8');
  let document: unknown;
  try {
    // yaml is loaded only for YAML files: it is a noticeable share of the CLI's start-up time.
    document = extname(path).toLowerCase() === '.json'
      ? JSON.parse(text)
      : (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text);
  } catch (error) {
    throw new InputError(`budget file ${path} is not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message.split('\n')[0]}`);
  }
  return parseBudget(document, path);
}

/**
 * Validates a parsed budget document. Accepted shapes: a list of entries, or
 * `{ defaults?: {board, heap, limits, ...}, checks: [entries] }`. Relative ELF and trace paths are resolved
 * against the budget file's directory, so the file works from any working directory.
 */
export function parseBudget(document: unknown, path: string): BudgetJob[] {
  const baseDirectory = dirname(resolve(path));
  let entries: unknown;
  let defaults: Record<string, unknown> = {};
  if (Array.isArray(document)) {
    entries = document;
  } else if (isRecord(document)) {
    const top = normaliseKeys(document);
    for (const key of Object.keys(top)) {
      if (key !== 'defaults' && key !== 'checks') {
        throw new InputError(`${path}: unknown top-level field "${key}" (expected "defaults" and "checks")`);
      }
    }
    if (top.defaults !== undefined) {
      if (!isRecord(top.defaults)) throw new InputError(`${path}: "defaults" must be a mapping`);
      defaults = normaliseKeys(top.defaults);
      for (const key of Object.keys(defaults)) {
        if (!ENTRY_FIELDS.includes(key) || ['scenario', 'elf', 'trace', 'name'].includes(key)) {
          throw new InputError(`${path}: defaults.${key} is not a field defaults can set`);
        }
      }
    }
    entries = top.checks;
    if (entries === undefined) throw new InputError(`${path}: missing field "checks" (a list of scenarios or ELF files to check)`);
  } else {
    throw new InputError(`${path}: a budget file must be a list of checks or a mapping with "checks"`);
  }
  if (!Array.isArray(entries)) throw new InputError(`${path}: "checks" must be a list`);
  if (entries.length === 0) throw new InputError(`${path}: "checks" is empty; nothing would be checked`);

  const jobs: BudgetJob[] = [];
  entries.forEach((rawEntry, index) => {
    const where = `${path}: checks[${index}]`;
    if (!isRecord(rawEntry)) throw new InputError(`${where} must be a mapping`);
    const entry = normaliseKeys(rawEntry);
    for (const key of Object.keys(entry)) {
      if (!ENTRY_FIELDS.includes(key)) {
        const hint = LIMIT_FIELDS.includes(key) ? ` (put it under "limits")` : '';
        throw new InputError(`${where}: unknown field "${key}"${hint}`);
      }
    }
    const merged: Record<string, unknown> = { ...defaults, ...entry };
    // An entry's own board list replaces the default board rather than clashing with it.
    if (entry.board !== undefined || entry.boards !== undefined) {
      merged.board = entry.board;
      merged.boards = entry.boards;
    }
    const mergedLimits = {
      ...(isRecord(defaults.limits) ? normaliseKeys(defaults.limits) : {}),
      ...(isRecord(entry.limits) ? normaliseKeys(entry.limits) : {}),
    };
    if (entry.limits !== undefined && !isRecord(entry.limits)) throw new InputError(`${where}.limits must be a mapping`);

    const target = parseEntryTarget(entry, where, baseDirectory);
    const boards = parseBoards(merged, where);
    const limits = parseLimits(mergedLimits, `${where}.limits`);
    const common = {
      target,
      heapSize: merged.heap === undefined ? undefined : parsePositiveSize(stringOf(merged.heap), `${where}.heap`),
      align: merged.align === undefined ? undefined : parseChoice(stringOf(merged.align), [4, 8, 16] as const, `${where}.align`),
      slLog2: merged.sl === undefined ? undefined : parseChoice(stringOf(merged.sl), [1, 2, 3, 4, 5] as const, `${where}.sl`),
      maxInstructions: merged.maxInstructions === undefined ? undefined : parseCount(stringOf(merged.maxInstructions), `${where}.maxInstructions`),
      params: parseParams(merged.params, `${where}.params`),
      guard: parseFlag(merged.guard, `${where}.guard`),
      alignmentCheck: parseFlag(merged.alignCheck, `${where}.alignCheck`),
      limits,
    };
    for (const board of boards) jobs.push({ ...common, board });
  });
  return jobs;
}

function parseFlag(value: unknown, where: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new InputError(`${where} must be true or false, got ${JSON.stringify(value)}`);
}

function stringOf(value: unknown): string {
  return typeof value === 'number' ? String(value) : typeof value === 'string' ? value : JSON.stringify(value);
}

function parseEntryTarget(entry: Record<string, unknown>, where: string, baseDirectory: string): RunTarget {
  const given = (['scenario', 'elf', 'trace'] as const).filter((key) => entry[key] !== undefined);
  if (given.length !== 1) {
    throw new InputError(`${where}: needs exactly one of "scenario", "elf" or "trace"${given.length ? ` (has ${given.join(' and ')})` : ''}`);
  }
  const key = given[0]!;
  const value = entry[key];
  if (typeof value !== 'string' || value.trim() === '') throw new InputError(`${where}.${key} must be a non-empty string`);
  if (key === 'scenario') return { kind: 'scenario', name: value };
  return { kind: key, path: resolve(baseDirectory, value) };
}

function parseBoards(merged: Record<string, unknown>, where: string): (string | undefined)[] {
  if (merged.board !== undefined && merged.boards !== undefined) {
    throw new InputError(`${where}: give "board" or "boards", not both`);
  }
  if (merged.boards !== undefined) {
    if (!Array.isArray(merged.boards) || merged.boards.length === 0 || !merged.boards.every((b) => typeof b === 'string' && b !== '')) {
      throw new InputError(`${where}.boards must be a non-empty list of board names`);
    }
    return merged.boards as string[];
  }
  if (merged.board !== undefined) {
    if (typeof merged.board !== 'string' || merged.board === '') throw new InputError(`${where}.board must be a board name`);
    return [merged.board];
  }
  return [undefined];
}

function parseParams(raw: unknown, where: string): Record<string, number> {
  if (raw === undefined) return {};
  if (!isRecord(raw)) throw new InputError(`${where} must be a mapping of name: value`);
  const params: Record<string, number> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'number' && typeof value !== 'string') throw new InputError(`${where}.${name} must be a number`);
    params[name] = parseParamValue(value, `${where}.${name}`);
  }
  return params;
}

/** Validates a limits mapping (already camel-cased). */
export function parseLimits(raw: Record<string, unknown>, where: string): Limits {
  const limits: Limits = {};
  for (const [key, value] of Object.entries(raw)) {
    const field = `${where}.${key}`;
    switch (key) {
      case 'maxPeak':
      case 'maxSpan':
        limits[key] = parsePositiveSize(stringOf(value), field);
        break;
      case 'minFree':
        limits.minFree = parseSize(stringOf(value), field);
        break;
      case 'maxFragmentation':
        limits.maxFragmentation = parseFraction(stringOf(value), field);
        break;
      case 'noOom':
        if (typeof value !== 'boolean') throw new InputError(`${field} must be true or false, not ${JSON.stringify(value)}`);
        limits.noOom = value;
        break;
      default:
        throw new InputError(`${where}: unknown limit "${key}" (known: ${LIMIT_FIELDS.join(', ')})`);
    }
  }
  return limits;
}
