import { InputError } from './errors.js';

import { parseByteCount } from '../board/sizes.js';

/**
 * Parses a byte count in the grammar of src/board/sizes.ts (`32768`, `0x8000`, `32K`, `32KiB`, `1.5K`, `1M`).
 * `what` names the option or field, so the message says which value was bad.
 */
export function parseSize(text: string, what = 'size'): number {
  const parsed = parseByteCount(text);
  if ('problem' in parsed) throw new InputError(`${what}: ${parsed.problem}`);
  return parsed.bytes;
}

/** A size that must also be greater than zero (heap sizes, limits on peak use). */
export function parsePositiveSize(text: string, what = 'size'): number {
  const bytes = parseSize(text, what);
  if (bytes <= 0) throw new InputError(`${what}: "${text}" must be greater than zero`);
  return bytes;
}

/**
 * Parses a fraction in [0, 1]: `30%`, `12.5%` or `0.3`. A bare number above 1 is refused rather than guessed
 * at: "30" could mean 30 % or a typo for 0.30, and a CI gate must not silently pick one.
 */
export function parseFraction(text: string, what = 'fraction'): number {
  const trimmed = String(text).trim();
  const percent = /^(\d+(?:\.\d+)?|\.\d+)\s*%$/.exec(trimmed);
  let value: number;
  if (percent) {
    value = Number(percent[1]) / 100;
  } else if (/^(\d+(?:\.\d+)?|\.\d+)$/.test(trimmed)) {
    value = Number(trimmed);
    if (value > 1) {
      throw new InputError(`${what}: "${text}" is ambiguous; write a percentage (${trimmed}%) or a fraction between 0 and 1`);
    }
  } else {
    throw new InputError(`${what}: "${text}" is not a percentage or fraction (write e.g. 30% or 0.3)`);
  }
  if (value < 0 || value > 1) throw new InputError(`${what}: "${text}" is outside 0%..100%`);
  return value;
}

/**
 * Parses a non-negative integer count such as an instruction budget: `2000000000`, `2e9`, `2_000_000`, `0x10`.
 */
export function parseCount(text: string, what = 'count'): number {
  const trimmed = String(text).trim().replace(/_/g, '');
  let value: number;
  if (/^0x[0-9a-f]+$/i.test(trimmed)) value = parseInt(trimmed.slice(2), 16);
  else if (/^\d+(\.\d+)?(e\d+)?$/i.test(trimmed)) value = Number(trimmed);
  else throw new InputError(`${what}: "${text}" is not a whole number`);
  if (!Number.isSafeInteger(value)) throw new InputError(`${what}: "${text}" is not a whole number`);
  return value;
}

/** Parses a count that must be one of a few allowed values (alignment 4/8/16, second-level bits 1..5). */
export function parseChoice<T extends number>(text: string, allowed: readonly T[], what: string): T {
  const value = parseCount(text, what);
  if (!allowed.includes(value as T)) {
    throw new InputError(`${what}: "${text}" must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/** Name rule of the firmware parameter block: a C identifier that fits name[28] with its NUL. */
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,26}$/;

/**
 * Parses one `--param name=value`. Values are int32 (the parameter block's type) and accept size syntax,
 * so `--param buffer=4K` works. Returns [name, value].
 */
export function parseParam(text: string): [string, number] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new InputError(`--param: "${text}" is not name=value`);
  const name = text.slice(0, eq).trim();
  const rawValue = text.slice(eq + 1).trim();
  if (!PARAM_NAME.test(name)) {
    throw new InputError(`--param: "${name}" is not a parameter name (letters, digits, _; at most 27 characters)`);
  }
  const value = parseParamValue(rawValue, `--param ${name}`);
  return [name, value];
}

export function parseParamValue(raw: string | number, what: string): number {
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw) || raw < -0x8000_0000 || raw > 0x7fff_ffff) {
      throw new InputError(`${what}: ${raw} is not a 32-bit signed integer`);
    }
    return raw;
  }
  const negative = raw.startsWith('-');
  let magnitude: number;
  try {
    magnitude = parseSize(negative ? raw.slice(1) : raw, what);
  } catch {
    throw new InputError(`${what}: "${raw}" is not an integer (write e.g. 200, -3, 0x10 or 4K)`);
  }
  const value = negative ? -magnitude : magnitude;
  if (value < -0x8000_0000 || value > 0x7fff_ffff) {
    throw new InputError(`${what}: "${raw}" does not fit a 32-bit signed parameter`);
  }
  return value;
}

/** Collects repeated `--param` options into one record; a later value for the same name wins. */
export function collectParam(text: string, previous: Record<string, number> = {}): Record<string, number> {
  const [name, value] = parseParam(text);
  return { ...previous, [name]: value };
}

/** `12345` → `12,345 B`; `98304` → `96 KiB`-style figures are shown beside exact bytes by the report. */
export function formatBytes(bytes: number): string {
  return `${bytes.toLocaleString('en-US')} B`;
}

/** Short human size: 98304 → "96 KiB", 1536 → "1.5 KiB", 100 → "100 B". */
export function formatKiB(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${trimNumber(bytes / 1024)} KiB`;
  return `${trimNumber(bytes / (1024 * 1024))} MiB`;
}

function trimNumber(value: number): string {
  return Number(value.toFixed(2)).toString();
}

export function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

export function formatHex(address: number): string {
  return `0x${(address >>> 0).toString(16).padStart(8, '0')}`;
}
