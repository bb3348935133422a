import { InputError, quoteInput } from './errors.js';
import { readInputFile } from './input-file.js';
import { REPORT_SCHEMA_VERSION } from './report.js';

// JSON reports written by an earlier tlsf-sim (a baseline, a shard's report to merge) read back as input:
// one guarded reader, so every such file is refused the same way, naming the file.

/**
 * Largest report read back: 256 MiB. A check report carries each run's firmware output, which for a large
 * matrix of chatty firmware runs to megabytes, never to this.
 */
export const MAX_REPORT_BYTES = 256 * 1024 * 1024;

/** A JSON document of this schema version from `path`, as a plain object; exit 2 naming the file otherwise. */
export function readJsonReport(path: string, what: string): Record<string, unknown> {
  const text = readInputFile(path, { what, maxBytes: MAX_REPORT_BYTES }).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new InputError(`${what} ${path} is not JSON: ${(error as Error).message.slice(0, 120)}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InputError(`${what} ${path} is not a tlsf-sim JSON report (expected an object)`);
  }
  const document = parsed as Record<string, unknown>;
  const version = document.schemaVersion;
  if (version !== REPORT_SCHEMA_VERSION) {
    const shown =
      typeof version === 'number' ? String(version) : version === undefined ? 'none' : quoteInput(String(version));
    throw new InputError(
      `${what} ${path} has schema version ${shown}; this tlsf-sim reads version ${REPORT_SCHEMA_VERSION} (make it with the same tlsf-sim)`,
    );
  }
  return document;
}

/** The runs of a `check --json` or `run --json` report, each checked to name its target and board. */
export function reportRuns(document: Record<string, unknown>, path: string, what: string): Record<string, unknown>[] {
  let runs: unknown[];
  if (document.command === 'run') runs = [document];
  else if (document.command === 'check' && Array.isArray(document.runs)) runs = document.runs;
  else {
    const command = typeof document.command === 'string' ? quoteInput(document.command) : 'none';
    throw new InputError(
      `${what} ${path} is not a check or run report (command ${command}); give the file \`check --json\` or \`run --json\` wrote`,
    );
  }
  runs.forEach((run, index) => {
    const where = document.command === 'run' ? '' : ` runs[${index}]`;
    if (run === null || typeof run !== 'object' || Array.isArray(run)) {
      throw new InputError(`${what} ${path}${where} is not a run report`);
    }
    const fields = run as Record<string, unknown>;
    if (typeof fields.target !== 'string' || typeof fields.board !== 'string') {
      throw new InputError(`${what} ${path}${where} has no target or board`);
    }
    const params = fields.params;
    if (params !== undefined && (params === null || typeof params !== 'object' || Array.isArray(params))) {
      throw new InputError(`${what} ${path}${where}.params is not a mapping of name: value`);
    }
  });
  return runs as Record<string, unknown>[];
}
