import { InputError, quoteInput } from './errors.js';
import { parseParam, parseParamValue } from './units.js';

// The range a sweep runs (`--param name=FROM:TO[:STEP]`) and the straight line fitted to its results; kept
// apart from sweep-command.ts so that parsing the options does not load the emulator.

/** More values than this is a mistyped range, not a sweep anyone waits for. */
export const MAX_SWEEP_VALUES = 1000;

export interface SweepRange {
  name: string;
  from: number;
  to: number;
  step: number;
}

/** Repeated `--param` values of `sweep`: one `name=FROM:TO[:STEP]` range, any number of fixed `name=value`. */
export interface SweepParams {
  fixed: Record<string, number>;
  ranges: SweepRange[];
}

export function collectSweepParam(text: string, previous: SweepParams = { fixed: {}, ranges: [] }): SweepParams {
  const eq = text.indexOf('=');
  if (eq > 0 && text.slice(eq + 1).includes(':')) {
    const name = text.slice(0, eq).trim();
    // The name is checked as a fixed parameter would be.
    parseParam(`${name}=0`);
    const parts = text
      .slice(eq + 1)
      .split(':')
      .map((part) => part.trim());
    if (parts.length > 3 || parts.some((part) => part === '')) {
      throw new InputError(`--param: ${quoteInput(text)} is not name=FROM:TO or name=FROM:TO:STEP`);
    }
    const [from, to, step] = parts.map((part) => parseParamValue(part, `--param ${name}`));
    const range = { name, from: from!, to: to!, step: step ?? 1 };
    if (range.step <= 0) throw new InputError(`--param ${name}: step ${range.step} must be above zero`);
    if (range.to < range.from) {
      throw new InputError(`--param ${name}: range ${range.from}:${range.to} runs backwards; give FROM <= TO`);
    }
    const count = Math.floor((range.to - range.from) / range.step) + 1;
    if (count > MAX_SWEEP_VALUES) {
      const values = count.toLocaleString('en-US');
      throw new InputError(`--param ${name}: ${values} values; a sweep runs at most ${MAX_SWEEP_VALUES} (raise STEP)`);
    }
    return { fixed: previous.fixed, ranges: [...previous.ranges, range] };
  }
  const [name, value] = parseParam(text);
  return { fixed: { ...previous.fixed, [name]: value }, ranges: previous.ranges };
}

/** The one range to sweep; its parameter may not also be fixed. */
export function sweepRange(params: SweepParams | undefined): SweepRange {
  const ranges = params?.ranges ?? [];
  if (ranges.length === 0) throw new InputError('sweep: give the parameter to sweep as --param name=FROM:TO[:STEP]');
  if (ranges.length > 1) {
    throw new InputError(`sweep: one range at a time; got ${ranges.map((range) => range.name).join(' and ')}`);
  }
  const range = ranges[0]!;
  if (params!.fixed[range.name] !== undefined) {
    throw new InputError(`sweep: --param ${range.name} is given both as a range and a value`);
  }
  return range;
}

export function rangeValues(range: SweepRange): number[] {
  const values: number[] = [];
  for (let value = range.from; value <= range.to; value += range.step) values.push(value);
  return values;
}

/** A straight line through the points by least squares: peak = intercept + slope * value. */
export interface LinearFit {
  slope: number;
  intercept: number;
  /** Coefficient of determination; 1 when the points lie on the line (or all have the same peak). */
  r2: number;
  /** How many points (completed runs) it was fitted to. */
  points: number;
  /** The value at which the line reaches the heap size; null when it does not grow. */
  crossesHeapAt: number | null;
  /**
   * The value at which it reaches the heap less the TLSF control structure, the most the blocks can ever
   * hold: the closer estimate of where runs start to fail.
   */
  crossesUsableAt: number | null;
}

export function fitLine(points: [number, number][], heapSize: number, controlBytes = 0): LinearFit | null {
  const distinct = new Set(points.map(([x]) => x));
  if (distinct.size < 2) return null;
  const count = points.length;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / count;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / count;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const [x, y] of points) {
    sxx += (x - meanX) ** 2;
    sxy += (x - meanX) * (y - meanY);
    syy += (y - meanY) ** 2;
  }
  const slope = sxy / sxx;
  const intercept = meanY - slope * meanX;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  const crossing = (limit: number): number | null => (slope > 0 ? (limit - intercept) / slope : null);
  return {
    slope,
    intercept,
    r2,
    points: count,
    crossesHeapAt: crossing(heapSize),
    crossesUsableAt: crossing(heapSize - controlBytes),
  };
}
