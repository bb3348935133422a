import { appendFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { comparisonCell, formatComparison, grownSites, type Comparison } from './baseline.js';
import type { CheckOutcome } from './checks.js';
import {
  markdownCharts,
  toGithubAnnotations,
  toJUnit,
  toMarkdown,
  type MarkdownChart,
  type MarkdownComparison,
  type RunTiming,
} from './ci.js';
import { COMPARED_FIGURES, type RunDocument } from './compared-figures.js';
import { InputError } from './errors.js';
import { writeJson, type CliIo } from './options.js';
import { ramBudgetMarkdown, REPORT_SCHEMA_VERSION } from './report.js';
import type { Palette } from './terminal.js';

// The check report: one document (the `check --json` output) from which every other output of a check is
// drawn (text, JUnit, markdown, annotations). `check` builds it from its runs, `merge` from shard reports, and
// both write it through writeCheckOutputs, so a merged report is the unsharded one by construction.

export interface CheckDocument {
  schemaVersion: number;
  command: 'check';
  result: 'pass' | 'fail';
  budgetFile: string | null;
  passed: number;
  failed: number;
  /** What was checked: a fingerprint of the entries and limits, and how many entries the whole budget has. */
  budget: { digest: string; entries: number };
  /** Present on a shard's report only: which shard, and the budget entries it ran. */
  shard?: { index: number; count: number; entries: number[] };
  /** Present when checked against a baseline: the file as named, and a fingerprint of its runs. */
  baseline?: { file: string; digest: string };
  /** Every check, each with `entry`, the budget entry it belongs to. */
  checks: CheckOutcome[];
  /** Every run document, each with `entry` (and `baseline`, its comparison, when checked against one). */
  runs: RunDocument[];
}

export type CheckDocumentParts = Omit<CheckDocument, 'schemaVersion' | 'command' | 'result' | 'passed' | 'failed'>;

export function checkDocument(parts: CheckDocumentParts): CheckDocument {
  const failed = parts.checks.filter((outcome) => !outcome.pass).length;
  const document: CheckDocument = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    command: 'check',
    result: failed === 0 ? 'pass' : 'fail',
    budgetFile: parts.budgetFile,
    passed: parts.checks.length - failed,
    failed,
    budget: parts.budget,
    // Optional parts sit before the lists, so a document reads top-down whatever it holds.
    ...(parts.shard ? { shard: parts.shard } : {}),
    ...(parts.baseline ? { baseline: parts.baseline } : {}),
    checks: parts.checks,
    runs: parts.runs,
  };
  return document;
}

/** `packet-pool on stm32f411re`, the label of a run in text, JUnit and annotations. */
export function runLabel(target: string, board: string): string {
  return `${target} on ${board}`;
}

/** The PASS/FAIL lines of one run, and its figures against the baseline when there is one. */
export function formatRunChecks(
  outcomes: CheckOutcome[],
  run: RunDocument,
  labelWidth: number,
  colours: Palette,
  withBaseline: boolean,
): string {
  const lines = outcomes.map((outcome) => {
    const mark = outcome.pass ? colours.green('PASS') : colours.red('FAIL');
    const label = runLabel(outcome.target, outcome.board).padEnd(labelWidth);
    return `${mark}  ${label}  ${outcome.check.padEnd(17)} ${outcome.summary}`;
  });
  if (withBaseline) {
    const comparison = formatComparison(run.baseline as Comparison | null);
    lines.push(`      ${''.padEnd(labelWidth)}  ${'vs baseline'.padEnd(17)} ${comparison}`);
  }
  return lines.map((line) => `${line}\n`).join('');
}

export function labelWidthOf(labels: string[]): number {
  return Math.max(0, ...labels.map((label) => label.length));
}

/** The checks of each run, by budget entry. */
function checksByEntry(document: CheckDocument): Map<number, CheckOutcome[]> {
  const byEntry = new Map<number, CheckOutcome[]>();
  for (const outcome of document.checks) {
    const entry = outcome.entry ?? -1;
    byEntry.set(entry, [...(byEntry.get(entry) ?? []), outcome]);
  }
  return byEntry;
}

function runTimings(document: CheckDocument): RunTiming[] {
  return document.runs.map((run) => {
    const timing: RunTiming = {
      target: String(run.target),
      board: String(run.board),
      seconds: (typeof run.hostMs === 'number' ? run.hostMs : 0) / 1000,
      output: typeof run.output === 'string' ? run.output : undefined,
      entry: run.entry as number,
    };
    if (document.baseline) {
      const comparison = run.baseline as Comparison | null;
      timing.properties = [['baseline', document.baseline.file]];
      if (comparison === null) timing.properties.push(['baseline-entry', 'new: not in the baseline']);
      for (const figure of COMPARED_FIGURES) {
        const cell = comparisonCell(comparison, figure.key, run);
        if (cell) timing.properties.push([figure.name, cell]);
      }
    }
    return timing;
  });
}

function markdownComparison(document: CheckDocument): Parameters<typeof toMarkdown>[1] {
  if (!document.baseline) return undefined;
  const growthFailed = new Set(
    document.checks
      .filter((outcome) => outcome.check === 'max-growth' && !outcome.pass)
      .map((outcome) => outcome.entry),
  );
  const runs: MarkdownComparison[] = document.runs.map((run) => {
    const comparison = run.baseline as Comparison | null;
    return {
      target: String(run.target),
      board: String(run.board),
      cells: COMPARED_FIGURES.map((figure) => comparisonCell(comparison, figure.key, run)),
      changed: COMPARED_FIGURES.map((figure) => {
        const compared = comparison?.figures[figure.key];
        return compared !== undefined && compared.delta !== 0;
      }),
      failed: growthFailed.has(run.entry as number),
      isNew: comparison === null,
      grownSites: comparison?.sites ? grownSites(comparison.sites) : undefined,
    };
  });
  return { baselineFile: document.baseline.file, headers: COMPARED_FIGURES.map((figure) => figure.label), runs };
}

function writeOutputFile(path: string, text: string, what: string, append = false): void {
  try {
    if (append) appendFileSync(path, text);
    else writeFileSync(path, text);
  } catch (error) {
    throw new InputError(`cannot write ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

export interface CheckOutputs {
  json: boolean;
  junitFile?: string;
  markdownFile?: string;
  /** The text lines of each run were written as the runs finished (check); merge writes them all here. */
  writeRunLines: boolean;
  colours: Palette;
  /** Used bytes over each run, drawn under the markdown table (check; a merge of shards has none). */
  charts?: MarkdownChart[];
}

/** Everything a check writes once its runs are done: files, annotations, then the JSON or the verdict line. */
export function writeCheckOutputs(document: CheckDocument, outputs: CheckOutputs, io: CliIo): void {
  if (outputs.writeRunLines && !outputs.json) {
    const byEntry = checksByEntry(document);
    const width = labelWidthOf(document.runs.map((run) => runLabel(String(run.target), String(run.board))));
    for (const run of document.runs) {
      const outcomes = byEntry.get(run.entry as number) ?? [];
      io.stdout.write(formatRunChecks(outcomes, run, width, outputs.colours, document.baseline !== undefined));
    }
  }
  if (outputs.junitFile) {
    writeOutputFile(outputs.junitFile, toJUnit(document.checks, runTimings(document)), 'JUnit report');
  }
  if (outputs.markdownFile) {
    // The job summary file collects every step's output, so it is appended to; any other file is replaced.
    const summary = io.env.GITHUB_STEP_SUMMARY;
    const isStepSummary = summary !== undefined && resolve(io.cwd, outputs.markdownFile) === resolve(io.cwd, summary);
    const markdown =
      toMarkdown(document.checks, markdownComparison(document)) +
      ramBudgetMarkdown(document.runs) +
      markdownCharts(outputs.charts ?? []);
    writeOutputFile(outputs.markdownFile, markdown, 'markdown summary', isStepSummary);
  }
  if (io.env.GITHUB_ACTIONS === 'true') {
    const annotationStream = outputs.json ? io.stderr : io.stdout;
    for (const line of toGithubAnnotations(document.checks, document.budgetFile ?? undefined)) {
      annotationStream.write(`${line}\n`);
    }
  }
  if (outputs.json) {
    writeJson(io, document);
    return;
  }
  const total = document.checks.length;
  const verdict =
    document.failed === 0
      ? outputs.colours.green(`${total} check${total === 1 ? '' : 's'} passed`)
      : outputs.colours.red(`${document.failed} of ${total} checks failed`);
  const runs = document.runs.length;
  const shard = document.shard
    ? `shard ${document.shard.index}/${document.shard.count}: ${runs} of ${document.budget.entries} runs`
    : `${runs} run${runs === 1 ? '' : 's'}`;
  io.stdout.write(`${verdict} (${shard}${document.budgetFile ? `, ${document.budgetFile}` : ''})\n`);
}
