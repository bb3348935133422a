import { formatBytes, formatPercent } from './units.js';

// The figures of a run report that a baseline comparison shows and `max-growth` can hold, defined once: the
// growth limit's parser (checks.ts), the comparison (baseline.ts), the sweep table and every output read this
// table, so a figure the run report gains (a stack peak, RAM in use) is one entry here.

/** A run document as `run --json` writes it (docs/report.schema.json), read without trusting its shape. */
export type RunDocument = Record<string, unknown>;

export type FigureUnit = 'bytes' | 'fraction' | 'count';

export interface ComparedFigure {
  /** The JSON key of the figure in comparisons and `max-growth` mappings: `peakUsed`. */
  key: string;
  /** The budget-file spelling: `peak-used`. */
  name: string;
  /** For humans: `peak used`. */
  label: string;
  unit: FigureUnit;
  /** Held by a bare `--max-growth PCT`; the others only when a `max-growth` mapping names them. */
  byDefault: boolean;
  /** The figure in a run document; undefined when that report does not carry it. */
  read(run: RunDocument): number | undefined;
}

function numberField(run: RunDocument, key: string): number | undefined {
  const value = run[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export const COMPARED_FIGURES: readonly ComparedFigure[] = [
  {
    key: 'peakUsed',
    name: 'peak-used',
    label: 'peak used',
    unit: 'bytes',
    byDefault: true,
    read: (run) => numberField(run, 'peakUsed'),
  },
  {
    key: 'peakSpan',
    name: 'peak-span',
    label: 'peak span',
    unit: 'bytes',
    byDefault: true,
    read: (run) => numberField(run, 'peakSpan'),
  },
  {
    // The worse of the end's and the peak's, as the max-fragmentation limit holds it.
    key: 'fragmentation',
    name: 'fragmentation',
    label: 'fragmentation',
    unit: 'fraction',
    byDefault: false,
    read: (run) => {
      const end = numberField(run, 'fragmentation');
      if (end === undefined) return undefined;
      return Math.max(end, numberField(run, 'fragmentationAtPeak') ?? 0);
    },
  },
  {
    key: 'failed',
    name: 'failed',
    label: 'failed allocations',
    unit: 'count',
    byDefault: false,
    read: (run) => {
      const ops = run.ops;
      return ops !== null && typeof ops === 'object' ? numberField(ops as RunDocument, 'failed') : undefined;
    },
  },
  {
    key: 'instructions',
    name: 'instructions',
    label: 'instructions',
    unit: 'count',
    byDefault: false,
    read: (run) => numberField(run, 'instructions'),
  },
  {
    key: 'stackPeak',
    name: 'stack-peak',
    label: 'stack peak',
    unit: 'bytes',
    byDefault: false,
    read: (run) => numberField(run, 'stackPeak'),
  },
  {
    // What --max-ram holds: static + heap peak span + stack peak (report.ts, ramBudget).
    key: 'ramNeeded',
    name: 'ram-needed',
    label: 'RAM needed',
    unit: 'bytes',
    byDefault: false,
    read: (run) => {
      const ram = run.ram;
      return ram !== null && typeof ram === 'object' ? numberField(ram as RunDocument, 'needed') : undefined;
    },
  },
];

export function findComparedFigure(key: string): ComparedFigure | undefined {
  return COMPARED_FIGURES.find((figure) => figure.key === key || figure.name === key);
}

export function formatFigureValue(value: number, unit: FigureUnit): string {
  if (unit === 'bytes') return formatBytes(value);
  if (unit === 'fraction') return formatPercent(value);
  return value.toLocaleString('en-US');
}

/** A signed difference in the figure's unit: `+2,048 B`, `-0.4%` (points), `+1,200`. */
export function formatFigureDelta(delta: number, unit: FigureUnit): string {
  const sign = delta > 0 ? '+' : delta < 0 ? '-' : '±';
  return `${sign}${formatFigureValue(Math.abs(delta), unit)}`;
}

/**
 * How much a figure grew, as the `max-growth` limit measures it: relative to the old value for bytes and
 * counts, in percentage points for fractions (fragmentation from 0% to 3% is 3 points, not infinitely more).
 * Growth from zero of a byte or count figure is Infinity: any limit fails it.
 */
export function growthOf(oldValue: number, newValue: number, unit: FigureUnit): number {
  if (unit === 'fraction') return newValue - oldValue;
  if (oldValue === 0) return newValue === 0 ? 0 : Infinity;
  return (newValue - oldValue) / oldValue;
}

export function formatGrowth(growth: number, unit: FigureUnit): string {
  if (growth === Infinity) return 'from zero';
  const sign = growth > 0 ? '+' : growth < 0 ? '-' : '±';
  return `${sign}${(Math.abs(growth) * 100).toFixed(1)}${unit === 'fraction' ? ' points' : '%'}`;
}
