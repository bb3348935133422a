import { createRequire } from 'node:module';
import { InputError, quoteInput } from './errors.js';

// JSON and YAML user files (budget files) read into a tree whose mappings are Maps. A Map key is only a key:
// `__proto__`, `constructor` or `toString` in a file cannot reach an object's prototype or be read back
// through one, so every key the validator does not know is seen, and refused.

export type TreeValue = string | number | boolean | null | TreeValue[] | TreeMap;
export type TreeMap = Map<string, TreeValue>;

/** Deeper than any sensible budget file, shallow enough that walking it cannot exhaust the stack. */
const MAX_DEPTH = 64;
/** Aliases a YAML file may expand: a handful is plenty for shared limits; thousands is an expansion bomb. */
const MAX_YAML_ALIASES = 100;
/** How a value looks, for "expected X, got Y" messages. */
export function describeValue(value: TreeValue): string {
  if (value === null) return 'nothing (null or an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Map) return 'a mapping';
  if (typeof value === 'string') return quoteInput(value);
  return String(value);
}

/** Parses a JSON or YAML text (by the file's extension) into a tree; `what` names the file in errors. */
export function parseDocumentTree(text: string, format: 'json' | 'yaml', what: string): TreeValue {
  let parsed: unknown;
  if (format === 'json') {
    try {
      // JSON.parse stores `__proto__` as an own property, never as the prototype; toTree copies own keys.
      // A byte order mark (Windows editors save UTF-8 with one) is no JSON token: RFC 8259 lets a reader skip it.
      parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
    } catch (error) {
      throw new InputError(`${what} is not valid JSON: ${firstLine(error)}`);
    }
    // JSON.parse keeps the last of two equal keys; the first value would be lost without a word.
    const duplicate = duplicateJsonKey(text);
    if (duplicate !== undefined)
      throw new InputError(`${what}: key ${quoteInput(duplicate)} appears twice in one object`);
  } else {
    // yaml is loaded only for YAML files: it is a noticeable share of the CLI's start-up time.
    const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    let document: ReturnType<typeof yaml.parseDocument>;
    try {
      // merge: false keeps `<<` an ordinary (and so unknown) key; tags outside the core schema are warnings.
      document = yaml.parseDocument(text, { merge: false, uniqueKeys: true, logLevel: 'silent' });
    } catch (error) {
      throw new InputError(`${what} is not valid YAML: ${firstLine(error)}`);
    }
    const problem = document.errors[0] ?? document.warnings[0];
    if (problem) throw new InputError(`${what} is not valid YAML: ${firstLine(problem)}`);
    try {
      parsed = document.toJS({ mapAsMap: true, maxAliasCount: MAX_YAML_ALIASES });
    } catch (error) {
      throw new InputError(`${what} is not valid YAML: ${firstLine(error)}`);
    }
  }
  return toTree(parsed, what, '', 0);
}

/** A value already parsed (plain objects, arrays, Maps) as a tree; `what` names its source in errors. */
export function toDocumentTree(value: unknown, what: string): TreeValue {
  return toTree(value, what, '', 0);
}

/** The first key given twice in one object of a text JSON.parse accepted, if any. */
function duplicateJsonKey(text: string): string | undefined {
  // One entry per open bracket: the keys seen so far in an object, null for an array.
  const open: (Set<string> | null)[] = [];
  let atKey = false;
  for (let index = 0; index < text.length; index++) {
    const character = text[index];
    if (character === '"') {
      let end = index + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (atKey) {
        const key = JSON.parse(text.slice(index, end + 1)) as string;
        const keys = open.at(-1)!;
        if (keys.has(key)) return key;
        keys.add(key);
        atKey = false;
      }
      index = end;
    } else if (character === '{') {
      open.push(new Set());
      atKey = true;
    } else if (character === '[') {
      open.push(null);
    } else if (character === '}' || character === ']') {
      open.pop();
      atKey = false;
    } else if (character === ',') {
      atKey = open.at(-1) instanceof Set;
    }
  }
  return undefined;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // yaml's messages end their first line with "at line 3, column 5:" before a quoted excerpt.
  const line = (message.split('\n')[0] ?? '').replace(/:$/, '');
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

function toTree(value: unknown, what: string, path: string, depth: number): TreeValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new InputError(`${what}: ${path || 'the document'}: ${value} is not a usable number`);
    return value;
  }
  if (depth >= MAX_DEPTH)
    throw new InputError(`${what}: ${path || 'the document'} is nested more than ${MAX_DEPTH} levels deep`);
  if (Array.isArray(value)) return value.map((item, index) => toTree(item, what, `${path}[${index}]`, depth + 1));
  if (value instanceof Map) {
    const map: TreeMap = new Map();
    for (const [key, item] of value) {
      if (typeof key !== 'string') {
        throw new InputError(
          `${what}: ${path || 'the document'} has a key that is not a string (${firstLine(String(key))})`,
        );
      }
      map.set(key, toTree(item, what, joinPath(path, key), depth + 1));
    }
    return map;
  }
  if (typeof value === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(value))) {
    const map: TreeMap = new Map();
    for (const key of Object.keys(value)) {
      map.set(key, toTree((value as Record<string, unknown>)[key], what, joinPath(path, key), depth + 1));
    }
    return map;
  }
  // YAML tags such as !!binary or !!set produce values no budget field takes.
  throw new InputError(
    `${what}: ${path || 'the document'} holds a value of an unsupported type (${Object.prototype.toString.call(value)})`,
  );
}

export function joinPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}
