import { writeFileSync } from 'node:fs';
import { COMPARED_FIGURES, formatFigureValue, type RunDocument } from './compared-figures.js';
import { prepareRun, type RunRequest } from './engine.js';
import { EXIT_OK, InputError } from './errors.js';
import { writeJson, type CliIo } from './options.js';
import { runAll } from './parallel.js';
import { REPORT_SCHEMA_VERSION } from './report.js';
import type { Palette } from './terminal.js';
import { fitLine, rangeValues, sweepRange, type LinearFit, type SweepParams, type SweepRange } from './sweep-range.js';
import { formatBytes } from './units.js';

// `tlsf-sim sweep`: one target run across a range of one firmware parameter, to see how much of something
// (packet bursts, RTOS tasks, queue depth) a board's heap holds: the figures per value, the largest value that
// still completes, and a straight line fitted to peak use with where it meets the heap size. The range and
// the fit are in sweep-range.ts, which the option parser loads without the emulator.

export interface SweepPoint {
  value: number;
  result: string;
  message: string | null;
  /** The compared figures (compared-figures.ts) the run report carries, by key. */
  figures: Record<string, number>;
}

export interface SweepDocument {
  schemaVersion: number;
  command: 'sweep';
  target: string;
  board: string;
  param: string;
  from: number;
  to: number;
  step: number;
  /** The other firmware parameters, fixed for every run. */
  params: Record<string, number>;
  heapSize: number;
  /** TLSF's bitmaps and free-list heads, at the start of the heap. */
  controlBytes: number;
  points: SweepPoint[];
  /** The largest value before the first that does not complete; null when the first already fails. */
  largestCompleting: number | null;
  firstFailing: number | null;
  fit: LinearFit | null;
}

export function sweepDocument(range: SweepRange, fixed: Record<string, number>, runs: RunDocument[]): SweepDocument {
  const values = rangeValues(range);
  const points: SweepPoint[] = runs.map((run, index) => {
    const figures: Record<string, number> = {};
    for (const figure of COMPARED_FIGURES) {
      const value = figure.read(run);
      if (value !== undefined) figures[figure.key] = value;
    }
    const message = (run.message as string | null) ?? null;
    return { value: values[index]!, result: String(run.result), message, figures };
  });
  const failing = points.find((point) => point.result !== 'ok');
  const firstFailingIndex = failing === undefined ? points.length : points.indexOf(failing);
  const heapSize = runs[0]!.heapSize as number;
  const controlBytes = runs[0]!.controlBytes as number;
  const completed = points.filter((point) => point.result === 'ok' && point.figures.peakUsed !== undefined);
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    command: 'sweep',
    target: String(runs[0]!.target),
    board: String(runs[0]!.board),
    param: range.name,
    from: range.from,
    to: range.to,
    step: range.step,
    params: fixed,
    heapSize,
    controlBytes,
    points,
    largestCompleting: firstFailingIndex === 0 ? null : points[firstFailingIndex - 1]!.value,
    firstFailing: failing?.value ?? null,
    fit: fitLine(
      completed.map((point) => [point.value, point.figures.peakUsed!]),
      heapSize,
      controlBytes,
    ),
  };
}

function formatNumber(value: number, digits = 1): string {
  return Number(value.toFixed(digits)).toLocaleString('en-US');
}

function summaryLines(document: SweepDocument): string[] {
  const lines: string[] = [];
  const name = document.param;
  const failing = document.points.find((point) => point.value === document.firstFailing);
  if (document.largestCompleting === null) {
    lines.push(`no value completes: ${name}=${document.from} already ends ${failing!.result}`);
  } else if (failing === undefined) {
    lines.push(`every value completes, up to ${name}=${document.largestCompleting}`);
  } else {
    const firstFailing = `first failing: ${name}=${failing.value}, ${failing.result}`;
    lines.push(`largest value that completes: ${name}=${document.largestCompleting} (${firstFailing})`);
  }
  const fit = document.fit;
  if (fit === null) {
    lines.push('no fit: fewer than two values complete');
  } else {
    const slope = `${fit.slope < 0 ? '-' : '+'} ${formatNumber(Math.abs(fit.slope))} B × ${name}`;
    const line = `peak used ≈ ${formatBytes(Math.round(fit.intercept))} ${slope} (r² ${fit.r2.toFixed(3)}, ${fit.points} values)`;
    const crossing =
      fit.crossesHeapAt === null
        ? 'it does not grow with the parameter'
        : `reaches the heap less its control bytes (${formatBytes(document.heapSize - document.controlBytes)}) ` +
          `at ${name} ≈ ${formatNumber(fit.crossesUsableAt!)}, ` +
          `the heap size (${formatBytes(document.heapSize)}) at ≈ ${formatNumber(fit.crossesHeapAt)}`;
    lines.push(`${line}; ${crossing}`);
  }
  return lines;
}

const FIGURE_COLUMNS = COMPARED_FIGURES;

export function formatSweep(document: SweepDocument, colours: Palette): string {
  const fixed = Object.entries(document.params)
    .map(([name, value]) => ` ${name}=${value}`)
    .join('');
  const lines = [
    `${colours.bold(document.target)} on ${document.board}: ${document.param} from ${document.from} to ${document.to}` +
      `${document.step === 1 ? '' : ` step ${document.step}`}${fixed ? `,${fixed}` : ''}; ` +
      `heap ${formatBytes(document.heapSize)}`,
  ];
  const headers = [document.param, 'result', ...FIGURE_COLUMNS.map((figure) => figure.label)];
  const rows = document.points.map((point) => [
    String(point.value),
    point.result,
    ...FIGURE_COLUMNS.map((figure) => {
      const value = point.figures[figure.key];
      return value === undefined ? '' : formatFigureValue(value, figure.unit);
    }),
  ]);
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column]!.length)));
  // The result column reads left to right; numbers line up on the right.
  const pad = (cells: string[]): string =>
    cells
      .map((cell, column) => (column === 1 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ');
  lines.push(`  ${pad(headers)}`);
  rows.forEach((row, index) => {
    const text = pad(row);
    lines.push(`  ${document.points[index]!.result === 'ok' ? text : colours.red(text)}`);
  });
  for (const line of summaryLines(document)) lines.push(`  ${line}`);
  return `${lines.join('\n')}\n`;
}

export function sweepMarkdown(document: SweepDocument): string {
  const headers = [document.param, 'result', ...FIGURE_COLUMNS.map((figure) => figure.label)];
  const lines = [
    `### tlsf-sim sweep: ${document.target} on ${document.board}, ${document.param} ${document.from}..${document.to}`,
    '',
    `| ${headers.join(' | ')} |`,
    `|${headers.map((_, column) => (column === 1 ? '---' : '---:')).join('|')}|`,
  ];
  for (const point of document.points) {
    const cells = FIGURE_COLUMNS.map((figure) => {
      const value = point.figures[figure.key];
      return value === undefined ? '' : formatFigureValue(value, figure.unit);
    });
    lines.push(`| ${point.value} | ${point.result === 'ok' ? 'ok' : `❌ ${point.result}`} | ${cells.join(' | ')} |`);
  }
  lines.push('', ...summaryLines(document).map((line) => `- ${line}`));
  return `${lines.join('\n')}\n`;
}

export interface SweepFlags {
  json?: boolean;
  markdown?: string;
}

export async function sweepCommand(
  request: RunRequest,
  params: SweepParams | undefined,
  flags: SweepFlags,
  jobs: number,
  io: CliIo,
  colours: Palette,
): Promise<number> {
  const range = sweepRange(params);
  const fixed = params?.fixed ?? {};
  const requests: RunRequest[] = rangeValues(range).map((value) => ({
    ...request,
    params: { ...fixed, [range.name]: value },
  }));
  // Every value is resolved before any runs: an unknown parameter fails at once, not after the first run.
  const prepared = requests.map((each) => prepareRun(each));
  const runs = await runAll(requests, prepared, { jobs });
  const document = sweepDocument(range, fixed, runs);
  if (flags.markdown !== undefined) {
    try {
      writeFileSync(flags.markdown, sweepMarkdown(document));
    } catch (error) {
      const why = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new InputError(`cannot write markdown summary ${flags.markdown}: ${why}`);
    }
  }
  if (flags.json) writeJson(io, document);
  else io.stdout.write(formatSweep(document, colours));
  // A sweep explores: values that fail are its findings, not a failure of the command.
  return EXIT_OK;
}
