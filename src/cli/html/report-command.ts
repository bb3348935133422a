import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseElf, type ElfImage } from '../../board/index.js';
import { heapCostOf } from '../call-cost.js';
import type { CostedRunReport, PreparedRun, RunRequest } from '../engine.js';
import { EXIT_CHECK_FAILED, EXIT_OK, InputError } from '../errors.js';
import { DEFAULT_HEAP_KIND } from '../heap-choice.js';
import { callerSymbol, startLearnRun } from '../learn-run.js';
import type { CliIo } from '../options.js';
import { runReportJson } from '../report.js';
import { formatBytes } from '../units.js';
import { reportPageHtml } from './html-page.js';
import { loadedPageBundle, loadPageBundle } from './page-bundle.js';
import { packEvents, REPORT_DATA_FORMAT, sitesOf, type ReportMeta } from './report-data.js';

// `tlsf-sim report` and the pages `run --html` and `check --html-dir` write: one self-contained HTML file per
// run, its data the run's report and call log (report-data.ts), its views drawn by the bundled page.

export const DEFAULT_REPORT_FILE = 'tlsf-report.html';

/**
 * The page's data for a run made with recordEvents. The page always shows the cost of each heap call: the log
 * it carries is all the counting replay needs, so a run that did not ask for --call-cost gets it here.
 */
export function reportPageData(
  prepared: PreparedRun,
  report: CostedRunReport,
  image: ElfImage | null,
): { meta: ReportMeta; packed: Uint8Array } {
  const heapCost =
    report.heapCost !== undefined
      ? report.heapCost
      : heapCostOf(prepared, report, prepared.settings.allocator ?? DEFAULT_HEAP_KIND);
  const events = report.events ?? [];
  const callers = sitesOf(events);
  const { bytes, labels } = packEvents(events, callers);
  const meta: ReportMeta = {
    format: REPORT_DATA_FORMAT,
    target: prepared.label,
    board: {
      name: prepared.board.name,
      cpu: prepared.board.cpu,
      clockHz: prepared.board.clockHz,
      ram: prepared.board.ram.map((bank) => ({ name: bank.name, base: bank.base, size: bank.size, heap: bank.heap })),
    },
    setup: {
      heapBase: report.heapBase,
      heapSize: report.heapSize,
      align: prepared.settings.align as 4 | 8 | 16,
      slLog2: prepared.settings.slLog2,
      extraBanks: prepared.options.extraBanks ?? [],
    },
    run: runReportJson({ ...report, heapCost }, prepared.settings),
    sites: callers.map((address) => ({ address, symbol: callerSymbol(image, address) })),
    eventCount: events.length,
    labels,
    generator: 'tlsf-sim report',
  };
  return { meta, packed: bytes };
}

function imageOf(prepared: PreparedRun): ElfImage | null {
  try {
    return parseElf(prepared.options.elf, prepared.options.elfName);
  } catch {
    return null; // the run already parsed it; symbols are a nicety here
  }
}

/**
 * Writes the page of a finished run (made with recordEvents); returns its size in bytes. Without a bundle, the
 * one program.ts loaded before a synchronous command (run --html, check --html-dir) started.
 */
export function writeReportPage(
  path: string,
  prepared: PreparedRun,
  report: CostedRunReport,
  bundle = loadedPageBundle(),
  image = imageOf(prepared),
): number {
  const { meta, packed } = reportPageData(prepared, report, image);
  const html = reportPageHtml(meta, packed, bundle);
  try {
    writeFileSync(path, html);
  } catch (error) {
    throw new InputError(
      `cannot write the HTML report ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  return Buffer.byteLength(html);
}

/**
 * A file name for one run of several (check --html-dir): target and board, safe on any file system, made
 * unique against `taken` (the same target and board twice in a budget file) with a counter.
 */
export function reportFileName(target: string, board: string, taken: Set<string>): string {
  const safe = (text: string): string =>
    text
      .replace(/\.[a-z0-9]+$/i, '')
      .replace(/[^A-Za-z0-9._-]+/g, '_')
      .replace(/^[._]+/, '')
      .slice(0, 80) || 'run';
  const stem = `${safe(target)}-${safe(board)}`;
  let name = `${stem}.html`;
  for (let counter = 2; taken.has(name); counter++) name = `${stem}-${counter}.html`;
  taken.add(name);
  return name;
}

export interface ReportFlags {
  output?: string;
}

export async function reportCommand(request: RunRequest, flags: ReportFlags, io: CliIo): Promise<number> {
  const bundle = await loadPageBundle();
  const run = startLearnRun(request);
  const path = resolve(io.cwd, flags.output ?? DEFAULT_REPORT_FILE);
  const bytes = writeReportPage(path, run.prepared, run.report, bundle, run.image);
  const calls = run.events.filter((event) => event.op !== 'mark').length;
  const what = `${run.prepared.label} on ${run.report.board}: ${run.report.result}, ${calls.toLocaleString('en-US')} heap calls`;
  io.stdout.write(`${what}; wrote ${flags.output ?? DEFAULT_REPORT_FILE} (${formatBytes(bytes)})\n`);
  return run.report.result === 'ok' ? EXIT_OK : EXIT_CHECK_FAILED;
}
