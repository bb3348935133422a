import { hex } from '../allocator/index.js';
import { InputError, quoteInput } from './errors.js';

import { parseByteCount } from '../board/sizes.js';

/**
 * Parses a byte count in the grammar of src/board/sizes.ts (`32768`, `0x8000`, `32K`, `32KiB`, `1.5K`, `1M`).
 * `what` names the option or field, so the message says which value was bad.
 */
export function parseSize(text: string, what = 'size'): number {
  // No size is this long; refusing here keeps the board parser from echoing a huge value whole.
  if (String(text).length > 40) {
    throw new InputError(`${what}: ${quoteInput(String(text))} is not a size (write e.g. 32768, 32K, 32KiB or 0x8000)`);
  }
  const parsed = parseByteCount(text);
  if ('problem' in parsed) throw new InputError(`${what}: ${parsed.problem}`);
  return parsed.bytes;
}

/** A size that must also be greater than zero (heap sizes, limits on peak use). */
export function parsePositiveSize(text: string, what = 'size'): number {
  const bytes = parseSize(text, what);
  if (bytes <= 0) throw new InputError(`${what}: ${quoteInput(String(text))} must be greater than zero`);
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
      const percent = trimmed.length <= 20 ? trimmed : 'N';
      throw new InputError(
        `${what}: ${quoteInput(String(text))} is ambiguous; write a percentage (${percent}%) or a fraction between 0 and 1`,
      );
    }
  } else {
    throw new InputError(
      `${what}: ${quoteInput(String(text))} is not a percentage or fraction (write e.g. 30% or 0.3)`,
    );
  }
  if (value < 0 || value > 1) throw new InputError(`${what}: ${quoteInput(String(text))} is outside 0%..100%`);
  return value;
}

/**
 * Parses a whole count: an instruction budget, a call number, a width: `2000000000`, `2e9`, `2_000_000`,
 * `0x10`. The one count parser of the CLI; `range` bounds it (inclusive) where the option has bounds.
 */
export function parseCount(text: string, what = 'count', range: { min?: number; max?: number } = {}): number {
  const trimmed = String(text).trim().replace(/_/g, '');
  let value = Number.NaN;
  if (/^0x[0-9a-f]+$/i.test(trimmed)) value = parseInt(trimmed.slice(2), 16);
  else if (/^\d+(\.\d+)?(e\d+)?$/i.test(trimmed)) value = Number(trimmed);
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = range;
  // A whole number too large to count exactly (1e30) is out of range, not malformed.
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) value = Number.POSITIVE_INFINITY;
  if (!Number.isSafeInteger(value) && value !== Number.POSITIVE_INFINITY) {
    const bounds = range.min === undefined && range.max === undefined ? '' : ` from ${min} to ${max}`;
    throw new InputError(`${what}: ${quoteInput(String(text))} is not a whole number${bounds}`);
  }
  if (value < min || value > max) {
    throw new InputError(`${what}: ${quoteInput(String(text))} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/** The longest --timeout accepted: a day. Longer is a typo (a unit missed), not a run anyone waits for. */
export const MAX_TIMEOUT_MS = 24 * 60 * 60 * 1000;

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/**
 * Parses a wall-clock duration into milliseconds: `90s`, `10m`, `1.5h`, `500ms`; a plain number is seconds.
 * Refused when not above zero (a run that may not start) or above MAX_TIMEOUT_MS.
 */
export function parseDuration(text: string, what = 'duration'): number {
  const match = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|min|m|h)?$/i.exec(String(text).trim());
  if (!match)
    throw new InputError(
      `${what}: ${quoteInput(String(text))} is not a duration (write e.g. 90s, 10m, 500ms, or seconds)`,
    );
  const milliseconds = Math.round(Number(match[1]) * DURATION_UNITS_MS[(match[2] ?? 's').toLowerCase()]!);
  if (milliseconds <= 0) throw new InputError(`${what}: ${quoteInput(String(text))} must be longer than zero`);
  if (milliseconds > MAX_TIMEOUT_MS)
    throw new InputError(`${what}: ${quoteInput(String(text))} is longer than a day (the most accepted)`);
  return milliseconds;
}

/** Parses a count that must be one of a few allowed values (alignment 4/8/16, second-level bits 1..5). */
export function parseChoice<T extends number>(text: string, allowed: readonly T[], what: string): T {
  const value = parseCount(text, what);
  if (!allowed.includes(value as T)) {
    throw new InputError(`${what}: ${quoteInput(String(text))} must be one of ${allowed.join(', ')}`);
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
  if (eq <= 0) throw new InputError(`--param: ${quoteInput(String(text))} is not name=value`);
  const name = text.slice(0, eq).trim();
  const rawValue = text.slice(eq + 1).trim();
  if (!PARAM_NAME.test(name)) {
    throw new InputError(
      `--param: ${quoteInput(String(name))} is not a parameter name (letters, digits, _; at most 27 characters)`,
    );
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
  const digits = (negative ? raw.slice(1) : raw).trim();
  // Plain digits beyond 4 GiB are a whole number too large, not something that is not a number.
  if (/^\d+$/.test(digits) && Number(digits) > 0x8000_0000) {
    throw new InputError(`${what}: ${quoteInput(String(raw))} does not fit a 32-bit signed parameter`);
  }
  let magnitude: number;
  try {
    magnitude = parseSize(negative ? raw.slice(1) : raw, what);
  } catch {
    throw new InputError(`${what}: ${quoteInput(String(raw))} is not an integer (write e.g. 200, -3, 0x10 or 4K)`);
  }
  const value = negative ? -magnitude : magnitude;
  if (value < -0x8000_0000 || value > 0x7fff_ffff) {
    throw new InputError(`${what}: ${quoteInput(String(raw))} does not fit a 32-bit signed parameter`);
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

/** The allocator's `hex` (0x%08x), under the name replay.ts imports; new code imports `hex` itself. */
export const formatHex = hex;
