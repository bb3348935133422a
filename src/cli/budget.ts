import { existsSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { findLimit, LIMITS, setLimit, type Limits } from './checks.js';
import { describeValue, parseDocumentTree, toDocumentTree, type TreeMap, type TreeValue } from './document-tree.js';
import { closestName } from './suggest.js';
import { InputError, quoteInput } from './errors.js';
import { MAX_CONFIG_BYTES, readInputFile } from './input-file.js';

export { classifyTarget, targetLabel } from './target.js';
import { readRunParameter, RUN_PARAMETER_FIELDS, type RunParameters } from './run-parameters.js';
import { parseParamValue } from './units.js';

/** What a run executes: a built-in scenario by name, a firmware ELF, or a malloc-lab trace. */
export type RunTarget =
  | { kind: 'scenario'; name: string }
  | { kind: 'elf'; path: string }
  | { kind: 'trace'; path: string };

/** One run of a budget file, with its limits: an entry with `boards: [a, b]` expands into one job per board. */
export interface BudgetJob extends RunParameters {
  target: RunTarget;
  limits: Limits;
  /** Where the job came from, `tlsf-budget.yaml: checks[2]`, so a later error (unknown board) names it. */
  origin?: string;
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

const TARGET_FIELDS = ['scenario', 'elf', 'trace'] as const;
/** Fields `defaults` may set: everything but what makes an entry this entry. */
const DEFAULT_FIELDS = ['board', 'boards', 'params', 'limits', ...RUN_PARAMETER_FIELDS.map((field) => field.key)];
const ENTRY_FIELDS = [...TARGET_FIELDS, 'name', ...DEFAULT_FIELDS];
const LIMIT_FIELDS: readonly string[] = LIMITS.map((definition) => definition.key);

/** `max-peak` and `maxPeak` both work: flags are kebab-case, JSON habit is camelCase. */
export function camelCase(key: string): string {
  return key.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** Reads a file into the tree of document-tree.ts: YAML unless the name ends in .json. */
export function loadBudgetFile(path: string): BudgetJob[] {
  const text = readInputFile(path, { what: 'budget file', maxBytes: MAX_CONFIG_BYTES }).toString('utf8');
  const format = extname(path).toLowerCase() === '.json' ? 'json' : 'yaml';
  return parseBudget(parseDocumentTree(text, format, `budget file ${path}`), path);
}

/**
 * A mapping's fields under their camelCase names, every key checked against the known ones. Keys are read
 * from a Map, never through an object, so `__proto__` is just an unknown key.
 */
function readFields(
  value: TreeValue,
  where: string,
  known: readonly string[],
  unknownHint = (_key: string) => '',
  noun = 'field',
): TreeMap {
  if (!(value instanceof Map)) throw new InputError(`${where} must be a mapping, got ${describeValue(value)}`);
  const fields: TreeMap = new Map();
  for (const [written, field] of value) {
    const key = camelCase(written);
    if (!known.includes(key)) {
      const suggestion = closestName(key, known);
      const hint = unknownHint(key) || (suggestion ? ` (did you mean "${suggestion}"?)` : '');
      throw new InputError(`${where}: unknown ${noun} ${quoteInput(written)}${hint}; known: ${known.join(', ')}`);
    }
    if (fields.has(key))
      throw new InputError(`${where}: ${noun} "${key}" is given twice (as camelCase and kebab-case)`);
    fields.set(key, field);
  }
  return fields;
}

/**
 * Validates a parsed budget document. Accepted shapes: a list of entries, or
 * `{ defaults?: {board, heap, limits, ...}, checks: [entries] }`. Relative ELF and trace paths are resolved
 * against the budget file's directory, so the file works from any working directory. Every value of the
 * wrong shape, unknown key or empty list is an InputError naming the file and the field.
 */
export function parseBudget(parsed: unknown, path: string): BudgetJob[] {
  const document = toDocumentTree(parsed, path);
  const baseDirectory = dirname(resolve(path));
  let entries: TreeValue | undefined;
  let defaults: EntrySettings = { parameters: {}, limits: {} };
  if (Array.isArray(document)) {
    entries = document;
  } else if (document instanceof Map) {
    const top = readFields(document, path, ['defaults', 'checks'], () => '', 'top-level field');
    const rawDefaults = top.get('defaults');
    if (rawDefaults instanceof Map) {
      for (const key of rawDefaults.keys()) {
        if (!DEFAULT_FIELDS.includes(camelCase(key)) && ENTRY_FIELDS.includes(camelCase(key))) {
          throw new InputError(
            `${path}: defaults.${camelCase(key)} is not a field defaults can set (each entry names its own)`,
          );
        }
      }
    }
    if (rawDefaults !== undefined) {
      defaults = readSettings(readFields(rawDefaults, `${path}: defaults`, DEFAULT_FIELDS), `${path}: defaults`);
    }
    entries = top.get('checks');
    if (entries === undefined)
      throw new InputError(`${path}: missing field "checks" (a list of scenarios or ELF files to check)`);
  } else {
    throw new InputError(
      `${path}: a budget file must be a list of checks or a mapping with "checks", got ${describeValue(document)}`,
    );
  }
  if (!Array.isArray(entries)) throw new InputError(`${path}: "checks" must be a list, got ${describeValue(entries)}`);
  if (entries.length === 0) throw new InputError(`${path}: "checks" is empty; nothing would be checked`);

  const jobs: BudgetJob[] = [];
  entries.forEach((rawEntry, index) => {
    const where = `${path}: checks[${index}]`;
    const entry = readFields(rawEntry, where, ENTRY_FIELDS, (key) =>
      LIMIT_FIELDS.includes(key) ? ' (put it under "limits")' : '',
    );
    const target = readTarget(entry, where, baseDirectory);
    const name = entry.get('name');
    if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
      throw new InputError(`${where}.name must be a non-empty string, got ${describeValue(name)}`);
    }
    const own = readSettings(entry, where);
    // An entry's own board list replaces the default board rather than clashing with it; params replace too.
    const boards = own.boards ?? defaults.boards ?? [undefined];
    const params = own.params ?? defaults.params ?? {};
    const parameters = { ...defaults.parameters, ...own.parameters };
    const limits = { ...defaults.limits, ...own.limits };
    for (const board of boards) jobs.push({ ...parameters, target, board, params, limits, origin: where });
  });
  return jobs;
}

/** What an entry or the defaults set, before merging. */
interface EntrySettings {
  parameters: RunParameters;
  boards?: string[];
  params?: Record<string, number>;
  limits: Limits;
}

function readSettings(fields: TreeMap, where: string): EntrySettings {
  const settings: EntrySettings = { parameters: {}, limits: {} };
  for (const [key, value] of fields) {
    const field = `${where}.${key}`;
    if (key === 'board' || key === 'boards' || key === 'params' || key === 'limits') continue;
    if (TARGET_FIELDS.includes(key as (typeof TARGET_FIELDS)[number]) || key === 'name') continue;
    if (!isScalar(value)) {
      const expects = RUN_PARAMETER_FIELDS.find((candidate) => candidate.key === key)?.expects ?? 'a value';
      throw new InputError(`${field}: expected ${expects}, got ${describeValue(value)}`);
    }
    readRunParameter(settings.parameters, key, value, field);
  }
  settings.boards = readBoards(fields, where);
  if (fields.has('params')) settings.params = readParams(fields.get('params')!, `${where}.params`);
  if (fields.has('limits')) settings.limits = readLimits(fields.get('limits')!, `${where}.limits`);
  return settings;
}

function isScalar(value: TreeValue): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function readTarget(entry: TreeMap, where: string, baseDirectory: string): RunTarget {
  const given = TARGET_FIELDS.filter((key) => entry.has(key));
  if (given.length !== 1) {
    const has = given.length ? ` (has ${given.join(' and ')})` : '';
    throw new InputError(`${where}: needs exactly one of "scenario", "elf" or "trace"${has}`);
  }
  const key = given[0]!;
  const value = entry.get(key)!;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InputError(`${where}.${key} must be a non-empty string, got ${describeValue(value)}`);
  }
  if (key === 'scenario') return { kind: 'scenario', name: value };
  return { kind: key, path: resolve(baseDirectory, value) };
}

function readBoards(fields: TreeMap, where: string): string[] | undefined {
  const board = fields.get('board');
  const boards = fields.get('boards');
  if (board !== undefined && boards !== undefined) throw new InputError(`${where}: give "board" or "boards", not both`);
  if (boards !== undefined) {
    if (!Array.isArray(boards) || boards.length === 0) {
      throw new InputError(`${where}.boards must be a non-empty list of board names, got ${describeValue(boards)}`);
    }
    boards.forEach((name, index) => {
      if (typeof name !== 'string' || name.trim() === '') {
        throw new InputError(`${where}.boards[${index}] must be a board name, got ${describeValue(name)}`);
      }
    });
    rejectRepeatedBoard(boards as string[], `${where}.boards`);
    return boards as string[];
  }
  if (board !== undefined) {
    if (typeof board !== 'string' || board.trim() === '') {
      throw new InputError(`${where}.board must be a board name, got ${describeValue(board)}`);
    }
    return [board];
  }
  return undefined;
}

/**
 * The same board twice would run and report every check twice: a typo, refused like a name given twice to
 * `compare --allocators`. Built-in names compare case-insensitively (as `--board` reads them), file paths exactly.
 */
export function rejectRepeatedBoard(names: readonly string[], where: string): void {
  const seen = new Set<string>();
  for (const name of names) {
    const key = /[/\\]|\.json$/i.test(name) ? name : name.toLowerCase();
    if (seen.has(key)) throw new InputError(`${where}: board ${quoteInput(name)} is named twice`);
    seen.add(key);
  }
}

function readParams(raw: TreeValue, where: string): Record<string, number> {
  if (!(raw instanceof Map))
    throw new InputError(`${where} must be a mapping of name: value, got ${describeValue(raw)}`);
  if (raw.size === 0) throw new InputError(`${where} is empty; name a parameter or leave "params" out`);
  // Parameter names are the user's: a null-prototype record keeps `__proto__` an ordinary (unknown) name.
  const params: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const [name, value] of raw) {
    if (typeof value !== 'number' && typeof value !== 'string') {
      throw new InputError(`${where}.${name} must be a number, got ${describeValue(value)}`);
    }
    params[name] = parseParamValue(value, `${where}.${name}`);
  }
  return params;
}

/** Validates a limits mapping; keys in either spelling, errors name the field in camelCase. */
export function readLimits(raw: TreeValue, where: string): Limits {
  if (!(raw instanceof Map))
    throw new InputError(`${where} must be a mapping of limit: value, got ${describeValue(raw)}`);
  if (raw.size === 0) throw new InputError(`${where} is empty; give a limit or leave "limits" out`);
  const limits: Limits = {};
  for (const [key, value] of readFields(raw, where, LIMIT_FIELDS, undefined, 'limit')) {
    const field = `${where}.${key}`;
    // setLimit refuses a mapping or list for every limit but max-growth, which takes one per figure.
    setLimit(limits, findLimit(key)!, value, field);
  }
  return limits;
}
