import { checkDocument, writeCheckOutputs, type CheckDocument } from './check-report.js';
import type { CheckOutcome } from './checks.js';
import type { RunDocument } from './compared-figures.js';
import { EXIT_CHECK_FAILED, EXIT_OK, InputError, quoteInput } from './errors.js';
import { coloursFor, fileFlag, type CliIo } from './options.js';
import { readJsonReport } from './report-file.js';

// `tlsf-sim merge`: the `check --json` reports of a budget's shards back into the report the unsharded check
// gives, with its exit code. Every report must be of the same budget (same entries, limits and baseline) and
// together they must hold each entry exactly once; anything else is bad input naming the file.

export interface MergeFlags {
  json?: boolean;
  junit?: string;
  markdown?: string;
  color?: boolean;
}

/** More entries than a 1 MiB budget file can expand to: a report claiming more is not one tlsf-sim wrote. */
const MAX_ENTRIES = 10_000_000;

interface ShardReport {
  path: string;
  document: CheckDocument;
}

function isEntryIndex(value: unknown, entries: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < entries;
}

/** A shard report, its shape checked far enough that merging cannot go wrong silently. */
function readShardReport(path: string): ShardReport {
  const raw = readJsonReport(path, 'report');
  const malformed = (what: string): InputError => new InputError(`report ${path}: ${what}`);
  if (raw.command !== 'check') {
    const command = typeof raw.command === 'string' ? quoteInput(raw.command) : 'none';
    throw malformed(`not a \`check --json\` report (command ${command})`);
  }
  const budget = raw.budget as CheckDocument['budget'] | undefined;
  if (
    budget === null ||
    typeof budget !== 'object' ||
    typeof budget.digest !== 'string' ||
    !Number.isInteger(budget.entries) ||
    budget.entries < 1 ||
    budget.entries > MAX_ENTRIES
  ) {
    throw malformed('has no budget fingerprint (made by a tlsf-sim without shards?)');
  }
  if (!Array.isArray(raw.checks) || !Array.isArray(raw.runs)) throw malformed('has no checks or runs list');
  raw.runs.forEach((run: unknown, index) => {
    if (run === null || typeof run !== 'object' || !isEntryIndex((run as RunDocument).entry, budget.entries)) {
      throw malformed(`runs[${index}] has no budget entry number`);
    }
  });
  const ran = new Set((raw.runs as RunDocument[]).map((run) => run.entry));
  raw.checks.forEach((outcome: unknown, index) => {
    const fields = outcome as Partial<CheckOutcome> | null;
    const isCheck = fields !== null && typeof fields === 'object' && typeof fields.pass === 'boolean';
    if (!isCheck || !isEntryIndex(fields.entry, budget.entries)) {
      throw malformed(`checks[${index}] is not a check of a budget entry`);
    }
    if (!ran.has(fields.entry)) {
      throw malformed(`checks[${index}] belongs to budget entry ${fields.entry}, which this report did not run`);
    }
  });
  const shard = raw.shard as CheckDocument['shard'];
  if (shard !== undefined) {
    const wellFormed =
      shard !== null &&
      typeof shard === 'object' &&
      Number.isInteger(shard.index) &&
      Number.isInteger(shard.count) &&
      Array.isArray(shard.entries);
    if (!wellFormed) {
      throw malformed('has a malformed "shard" field');
    }
    if (shard.entries.length !== ran.size || !shard.entries.every((entry) => ran.has(entry))) {
      throw malformed(`shard ${shard.index}/${shard.count} lists entries it has no runs for`);
    }
  }
  return { path, document: raw as unknown as CheckDocument };
}

function describeShard(report: ShardReport): string {
  const shard = report.document.shard;
  return shard ? `${report.path} (shard ${shard.index}/${shard.count})` : report.path;
}

/** The reports as one document, after checking they are one budget's and cover it exactly once. */
export function mergeReports(paths: string[]): CheckDocument {
  const reports = paths.map(readShardReport);
  const first = reports[0]!;
  const reference = first.document;
  const owner = new Map<number, ShardReport>();
  for (const report of reports) {
    const document = report.document;
    if (document.budget.digest !== reference.budget.digest || document.budget.entries !== reference.budget.entries) {
      throw new InputError(
        `report ${report.path} is of a different budget than ${first.path} (entries, limits or run options differ)`,
      );
    }
    if ((document.budgetFile ?? null) !== (reference.budgetFile ?? null)) {
      const theirs = document.budgetFile ?? '(none)';
      throw new InputError(
        `report ${report.path} checked budget file ${theirs}, ${first.path} checked ${reference.budgetFile ?? '(none)'}`,
      );
    }
    const sameBaseline =
      (document.baseline?.file ?? null) === (reference.baseline?.file ?? null) &&
      (document.baseline?.digest ?? null) === (reference.baseline?.digest ?? null);
    if (!sameBaseline) {
      const theirs = document.baseline?.file ?? '(none)';
      const ours = reference.baseline?.file ?? '(none)';
      throw new InputError(
        `report ${report.path} was compared with baseline ${theirs}, ${first.path} with ${ours} (or another version of it)`,
      );
    }
    if (document.shard && reference.shard && document.shard.count !== reference.shard.count) {
      const theirs = `${document.shard.index}/${document.shard.count}`;
      throw new InputError(
        `report ${report.path} is shard ${theirs}, ${first.path} is one of ${reference.shard.count} shards`,
      );
    }
    for (const run of document.runs) {
      const entry = run.entry as number;
      const other = owner.get(entry);
      if (other !== undefined) {
        throw new InputError(
          `report ${describeShard(report)} overlaps ${describeShard(other)}: both ran budget entry ${entry}`,
        );
      }
      owner.set(entry, report);
    }
  }
  const missing: number[] = [];
  for (let entry = 0; entry < reference.budget.entries; entry++) if (!owner.has(entry)) missing.push(entry);
  if (missing.length > 0) {
    const shown = missing.slice(0, 10).join(', ') + (missing.length > 10 ? ', …' : '');
    const count = reference.shard?.count;
    const present = reports.map((report) => report.document.shard?.index).filter((index) => index !== undefined);
    const absent =
      count === undefined
        ? []
        : Array.from({ length: count }, (_, index) => index + 1).filter((index) => !present.includes(index));
    const absentText = absent.map((index) => `${index}/${count}`).join(', ');
    const hint = absent.length > 0 ? `; missing shard${absent.length === 1 ? '' : 's'} ${absentText}` : '';
    const reportCount = `${reports.length} report${reports.length === 1 ? '' : 's'}`;
    throw new InputError(`merge: budget entries ${shown} are in none of the ${reportCount}${hint}`);
  }
  const runs = reports
    .flatMap((report) => report.document.runs)
    .sort((a, b) => (a.entry as number) - (b.entry as number));
  // Stable: a run's checks keep their order, runs come in entry order.
  const checks = reports.flatMap((report) => report.document.checks).sort((a, b) => a.entry! - b.entry!);
  return checkDocument({
    budgetFile: reference.budgetFile ?? null,
    budget: reference.budget,
    baseline: reference.baseline,
    checks,
    runs,
  });
}

export function mergeCommand(paths: string[], flags: MergeFlags, io: CliIo): number {
  const junitFile = fileFlag(flags.junit, '--junit');
  const markdownFile = fileFlag(flags.markdown, '--markdown');
  for (const path of paths) fileFlag(path, 'merge');
  const document = mergeReports(paths);
  const colours = coloursFor(io, flags);
  writeCheckOutputs(document, { json: flags.json === true, junitFile, markdownFile, writeRunLines: true, colours }, io);
  return document.failed === 0 ? EXIT_OK : EXIT_CHECK_FAILED;
}
