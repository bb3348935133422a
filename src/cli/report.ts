import type { CallCostSummary, HeapCostReport } from './call-cost.js';
import type { RunParameters } from './run-parameters.js';
import type { Palette } from './terminal.js';
import { relative, sep } from 'node:path';
import { hex } from '../allocator/index.js';
import { formatBytes, formatKiB, formatPercent } from './units.js';
import type { EngineChoice, PeakSite, RunReport, StoppedAt } from '../board/index.js';

/** The fields every run report has had since the first board. */
type CoreFigures =
  | 'exitCode'
  | 'output'
  | 'board'
  | 'firmware'
  | 'ops'
  | 'peakUsed'
  | 'peakRequested'
  | 'peakSpan'
  | 'largestFreeAtPeak'
  | 'largestFree'
  | 'fragmentation'
  | 'controlBytes'
  | 'heapBase'
  | 'heapSize'
  | 'instructions'
  | 'cycles'
  | 'seconds'
  | 'hostMs';

/**
 * The board's RunReport as the CLI reads it (docs/design.md section 2), derived from the board's type: the
 * fields added since the first board are optional (a report read back from an older JSON file lacks them), the
 * result any string, and the CLI's own heapCost added. The formatting can so be tested with plain objects.
 */
export type RunReportFigures = Pick<RunReport, CoreFigures> &
  Partial<Omit<RunReport, CoreFigures | 'result'>> & {
    result: string;
    /** The work of every heap call (--call-cost): undefined when not asked for, null when the replay diverged. */
    heapCost?: HeapCostReport | null;
  };

type EngineFigures = Pick<EngineChoice, 'path' | 'version'> & { source: string };

/** Where the engine's library came from, as the text report names it (engine-locate.ts's sources). */
const ENGINE_SOURCE_TEXT: Record<string, string> = {
  UNICORN_LIB: 'UNICORN_LIB',
  project: 'pip',
  python: 'Python package',
  homebrew: 'Homebrew',
  'source-build': 'source build',
  system: 'system',
};

/** "Unicorn 2.1.4 (pip, .cache/unicorn-py/unicorn/lib/libunicorn.so.2)": paths under `base` shown relative to it. */
export function describeEngine(engine: EngineFigures, base = process.cwd()): string {
  const inside = relative(base, engine.path);
  const path =
    inside !== '' && !inside.startsWith('..') && !inside.startsWith(sep) && !/^[a-z]:/i.test(inside)
      ? inside
      : engine.path;
  return `Unicorn ${engine.version} (${ENGINE_SOURCE_TEXT[engine.source] ?? engine.source}, ${path})`;
}

const STOP_REASON_TEXT: Record<StoppedAt['reason'], string> = {
  'branch-to-self': 'branches to itself',
  'wait-for-interrupt': 'waits for an interrupt that nothing can raise',
  'instruction-budget': 'instruction budget used up',
  'wall-clock': 'wall-clock limit (--timeout) reached',
};

/**
 * How the run was configured: the run parameters as the run used them (defaults filled in), with what and
 * where it ran, echoed into reports so a JSON file is self-describing.
 */
export type RunSettings = RunParameters &
  Required<Pick<RunParameters, 'align' | 'slLog2' | 'params' | 'guard' | 'alignmentCheck'>> & {
    target: string;
    targetKind: 'scenario' | 'elf' | 'trace';
    boardName: string;
    cpu?: string;
    clockHz?: number;
  };

/** Bumped only when a field is removed or changes meaning; adding fields keeps the version. */
export const REPORT_SCHEMA_VERSION = 1;

/**
 * The `run --json` document. Fields are listed explicitly (not spread from the board's report) so that the
 * documented schema (docs/report.schema.json) stays stable whatever the board adds internally.
 */
export function runReportJson(report: RunReportFigures, settings: RunSettings): Record<string, unknown> {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    command: 'run',
    target: settings.target,
    targetKind: settings.targetKind,
    host: settings.host === true,
    board: report.board,
    firmware: report.firmware,
    result: report.result,
    exitCode: report.exitCode,
    message: report.message ?? null,
    ops: { ...report.ops },
    peakUsed: report.peakUsed,
    peakRequested: report.peakRequested,
    peakSpan: report.peakSpan,
    largestFreeAtPeak: report.largestFreeAtPeak,
    largestFree: report.largestFree,
    fragmentation: report.fragmentation,
    fragmentationAtPeak: report.fragmentationAtPeak ?? null,
    peakSites: peakSitesJson(report.peakSites ?? []),
    controlBytes: report.controlBytes,
    heapBase: report.heapBase,
    heapSize: report.heapSize,
    allocator: settings.allocator ?? 'tlsf',
    align: settings.align,
    slLog2: settings.slLog2,
    params: settings.params,
    guard: settings.guard,
    alignmentCheck: settings.alignmentCheck,
    instructions: report.instructions,
    cycles: report.cycles,
    seconds: report.seconds,
    hostMs: Math.round(report.hostMs * 1000) / 1000,
    engine: report.engine
      ? { path: report.engine.path, version: report.engine.version, source: report.engine.source }
      : null,
    counting: report.counting ?? null,
    heapCost: report.heapCost ?? null,
    fault: report.fault ?? null,
    stoppedAt: report.stoppedAt ?? null,
    assertion: report.assertion ?? null,
    ...ramBudgetJson(report),
    output: report.output,
  };
}

/** What the heap line says about the allocator: TLSF's knobs, or which other heap ran. */
function heapKindText(settings: RunSettings): string {
  const allocator = settings.allocator ?? 'tlsf';
  return allocator === 'tlsf'
    ? `align ${settings.align}, SL 2^${settings.slLog2}`
    : `${allocator} heap, align ${settings.align}`;
}

const CONTROL_TEXT = {
  tlsf: 'TLSF bitmaps and free-list heads',
  'first-fit': 'free-list start node and end marker',
  'best-fit': 'free-list head unit and end unit',
  'half-fit': 'bin bitmap and 32 bin heads',
} as const;

/** The peak sites with the documented fields only, in the board's order (bytes, largest first). */
function peakSitesJson(sites: readonly PeakSite[]): Record<string, unknown>[] {
  return sites.map((entry) => {
    const json: Record<string, unknown> = {
      site: entry.site,
      symbol: entry.symbol,
      offset: entry.offset,
      address: entry.address,
    };
    if (entry.file !== undefined) json.file = entry.file;
    if (entry.line !== undefined) json.line = entry.line;
    json.blocks = entry.blocks;
    json.bytes = entry.bytes;
    return json;
  });
}

/** How many sites the text report lists under "peak holders"; the JSON has them all. */
const PEAK_HOLDERS_SHOWN = 5;

/** The "peak holders" lines: the sites holding the most bytes at the peak, and what the others hold together. */
function peakHolderLines(sites: readonly PeakSite[], peakUsed: number): string[] {
  if (sites.length === 0) return [];
  const share = (bytes: number) => (peakUsed > 0 ? formatPercent(bytes / peakUsed) : '-');
  const blockCount = (blocks: number) => `${count(blocks)} block${blocks === 1 ? '' : 's'}`;
  const shown = sites.slice(0, PEAK_HOLDERS_SHOWN);
  const nameWidth = Math.min(40, Math.max(...shown.map((entry) => entry.site.length)));
  const blocksWidth = Math.max(...shown.map((entry) => blockCount(entry.blocks).length));
  const bytesWidth = Math.max(...shown.map((entry) => formatBytes(entry.bytes).length));
  const lines = [
    '  peak holders    allocating call sites at the peak: blocks, bytes (headers included), share of peak used',
  ];
  for (const entry of shown) {
    const place = entry.file !== undefined && entry.line !== undefined ? `  ${entry.file}:${entry.line}` : '';
    lines.push(
      `    ${entry.site.padEnd(nameWidth)}  ${blockCount(entry.blocks).padStart(blocksWidth)}  ` +
        `${formatBytes(entry.bytes).padStart(bytesWidth)}  ${share(entry.bytes).padStart(6)}${place}`,
    );
  }
  const rest = sites.slice(PEAK_HOLDERS_SHOWN);
  if (rest.length > 0) {
    const restBytes = rest.reduce((sum, entry) => sum + entry.bytes, 0);
    const restBlocks = rest.reduce((sum, entry) => sum + entry.blocks, 0);
    lines.push(
      `    (${rest.length} more site${rest.length === 1 ? '' : 's'}: ${blockCount(restBlocks)}, ` +
        `${formatBytes(restBytes)}, ${share(restBytes)})`,
    );
  }
  return lines;
}

function formatClock(hz: number): string {
  return hz >= 1e6 ? `${Number((hz / 1e6).toFixed(2))} MHz` : `${Number((hz / 1e3).toFixed(2))} kHz`;
}

function formatSeconds(seconds: number): string {
  if (seconds >= 1) return `${seconds.toFixed(2)} s`;
  if (seconds >= 1e-3) return `${(seconds * 1e3).toFixed(2)} ms`;
  return `${(seconds * 1e6).toFixed(1)} µs`;
}

const count = (value: number): string => value.toLocaleString('en-US');

/** The human report of one run: a headline with the result, then one figure a line, then the firmware's output. */
export function formatRunReport(report: RunReportFigures, settings: RunSettings, colours: Palette): string {
  const ok = report.result === 'ok';
  const resultText = ok ? colours.green(report.result) : colours.red(report.result);
  const boardFacts = [settings.cpu, settings.clockHz ? formatClock(settings.clockHz) : undefined]
    .filter(Boolean)
    .join(', ');
  const lines: string[] = [];
  lines.push(
    `${colours.bold(settings.target)} on ${report.board}${boardFacts ? ` (${boardFacts})` : ''}: ${resultText}`,
  );
  if (!ok && report.message) lines.push(`  ${colours.red('stopped')}         ${report.message}`);
  if (report.stoppedAt) {
    const stop = report.stoppedAt;
    lines.push(
      `  stopped at      pc ${hex(stop.pc)}${stop.symbol ? ` in ${stop.symbol}` : ''}: ${STOP_REASON_TEXT[stop.reason] ?? stop.reason}`,
    );
  }
  if (report.fault) {
    const fault = report.fault;
    const where = fault.address === undefined ? '' : ` at ${hex(fault.address)}`;
    lines.push(
      `  fault           ${fault.kind}, ${fault.size} bytes${where}, pc ${hex(fault.pc)}${fault.symbol ? ` in ${fault.symbol}` : ''}`,
    );
    if (fault.nearestBlock) lines.push(`                  ${fault.nearestBlock}`);
  }
  if (report.assertion) {
    lines.push(`  assertion       ${report.assertion.file}:${report.assertion.line}: ${report.assertion.expression}`);
  }
  lines.push(...formatStackOverflow(report));
  const paramText = Object.entries(settings.params)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  lines.push(
    `  heap            ${hex(report.heapBase)}, ${formatKiB(report.heapSize)} (${formatBytes(report.heapSize)}), ${heapKindText(settings)}`,
  );
  if (paramText) lines.push(`  parameters      ${paramText}`);
  const ops = report.ops;
  lines.push(
    `  operations      malloc ${count(ops.malloc)}, free ${count(ops.free)}, realloc ${count(ops.realloc)}, calloc ${count(ops.calloc)}, memalign ${count(ops.memalign)}, failed ${ops.failed ? colours.yellow(count(ops.failed)) : '0'}`,
  );
  lines.push(`  peak used       ${formatBytes(report.peakUsed).padEnd(12)} used blocks, headers included`);
  lines.push(`  peak requested  ${formatBytes(report.peakRequested).padEnd(12)} live bytes the firmware asked for`);
  lines.push(`  peak span       ${formatBytes(report.peakSpan).padEnd(12)} heap start to the highest used byte`);
  lines.push(
    `  largest free    ${formatBytes(report.largestFreeAtPeak).padEnd(12)} at peak, ${formatBytes(report.largestFree)} at the end`,
  );
  const atPeak =
    report.fragmentationAtPeak === undefined ? '' : `, ${formatPercent(report.fragmentationAtPeak)} at peak`;
  lines.push(
    `  fragmentation   ${formatPercent(report.fragmentation)} at the end${atPeak} (1 - largest free / free bytes)`,
  );
  lines.push(
    `  control bytes   ${formatBytes(report.controlBytes).padEnd(12)} ${CONTROL_TEXT[settings.allocator ?? 'tlsf']}`,
  );
  lines.push(...formatRamBudget(report));
  lines.push(...peakHolderLines(report.peakSites ?? [], report.peakUsed));
  lines.push(...heapCostLines(report.heapCost));
  const clock = settings.clockHz ? ` at ${formatClock(settings.clockHz)}` : '';
  if (settings.host) {
    const took = `${report.hostMs.toFixed(0)} ms`;
    lines.push(
      `  ran on          the host: the ${settings.allocator ?? 'tlsf'} heap replayed the trace without the emulator, no instruction counts (${took})`,
    );
  } else {
    lines.push(
      `  instructions    ${count(report.instructions)}, ~${count(report.cycles)} cycles, ~${formatSeconds(report.seconds)}${clock} (host ${report.hostMs.toFixed(0)} ms)`,
    );
    if (report.engine) {
      const counting = report.counting ? `, counting ${report.counting}` : '';
      lines.push(`  engine          ${describeEngine(report.engine)}${counting}`);
    }
  }
  const output = report.output.replace(/\s+$/, '');
  if (output) {
    lines.push(settings.host ? '  replay output:' : '  firmware output:');
    for (const line of output.split(/\r?\n/)) lines.push(`    ${colours.dim('|')} ${line}`);
  }
  return `${lines.join('\n')}\n`;
}

// ---- The cost of each heap call (--call-cost) --------------------------------------------------------------

function callCostLine(label: string, summary: CallCostSummary): string {
  const worst = summary.maxCall;
  const costliest = worst
    ? `; costliest #${worst.call} ${worst.text}${worst.caller ? ` from ${worst.caller}` : ''}`
    : '';
  const work = worst?.work;
  const copied = work && work.bytesCopied > 0 ? `, ${formatBytes(work.bytesCopied)} copied` : '';
  const nodes = work ? `${work.nodesVisited} node${work.nodesVisited === 1 ? '' : 's'}` : '';
  const counts = work ? ` (${work.wordsRead} reads, ${work.wordsWritten} writes, ${nodes}${copied})` : '';
  return `  ${label.padEnd(16)}${summary.calls === 0 ? 'no calls' : `max ${count(summary.max)}, p99 ${count(summary.p99)}, mean ${summary.mean.toFixed(1)} cycles${costliest}${counts}`}`;
}

/** Estimated cycles per call beside the exact counts they come from; nothing when the run did not ask. */
function heapCostLines(cost: HeapCostReport | null | undefined): string[] {
  if (cost === undefined) return [];
  if (cost === null) return ['  call cost       not counted: the replay of the calls diverged from the run'];
  const { model } = cost;
  return [
    callCostLine('malloc cost', cost.malloc),
    callCostLine('free cost', cost.free),
    `                  ${model.note}; ${model.cpu}: load ${model.load}, store ${model.store}, branch ${model.branch}, bit scan ${model.bitScan} cycles`,
  ];
}

// ---- The stack and the whole RAM budget (static + heap + stack) -------------------------------------------

/** RAM as one budget: what the banks hold, what each part was given and what the run needed of it. */
export interface RamBudget {
  /** The RAM of the banks holding the image's data, the heap and the stack. */
  total: number;
  /** .data, .bss and thread-locals (allocated RAM sections outside heap and stack). */
  static: number;
  heapSize: number;
  heapPeakSpan: number;
  stackSize: number;
  stackPeak: number;
  /** RAM given to none of the three: total - static - heap size - stack size. */
  free: number;
  /** What the run really needed: static + heap peak span + stack peak (`check --max-ram` holds this). */
  needed: number;
}

/** The budget, or undefined for a report without the stack figures. */
export function ramBudget(report: RunReportFigures): RamBudget | undefined {
  // ramBytes 0: a trace replayed on the host (--host), with no board RAM to budget.
  if (report.stackSize === undefined || report.stackPeak === undefined || !report.ramBytes) return undefined;
  const statics = report.staticBytes ?? 0;
  return {
    total: report.ramBytes,
    static: statics,
    heapSize: report.heapSize,
    heapPeakSpan: report.peakSpan,
    stackSize: report.stackSize,
    stackPeak: report.stackPeak,
    free: Math.max(0, report.ramBytes - statics - report.heapSize - report.stackSize),
    needed: statics + report.peakSpan + report.stackPeak,
  };
}

/** The JSON fields: stackPeak, stackSize, stackOverflow and ram (docs/report.schema.json). */
function ramBudgetJson(report: RunReportFigures): Record<string, unknown> {
  const measured = report.ramBytes !== 0;
  return {
    stackSize: measured ? (report.stackSize ?? null) : null,
    stackPeak: measured ? (report.stackPeak ?? null) : null,
    stackOverflow: report.stackOverflow ?? null,
    ram: ramBudget(report) ?? null,
  };
}

function formatStackOverflow(report: RunReportFigures): string[] {
  const overflow = report.stackOverflow;
  if (!overflow) return [];
  const wrote = overflow.address === undefined ? '' : `, wrote ${hex(overflow.address)}`;
  return [
    `  stack overflow  pc ${hex(overflow.pc)}${overflow.symbol ? ` in ${overflow.symbol}` : ''}, sp ${hex(overflow.sp)}${wrote}, limit ${hex(overflow.limit)}, ${count(overflow.depth)} bytes deep`,
  ];
}

function formatRamBudget(report: RunReportFigures): string[] {
  const budget = ramBudget(report);
  if (!budget) return [];
  const stackLimit = report.stackLimit === undefined ? '' : ` from ${hex(report.stackLimit)}`;
  return [
    `  stack           ${formatBytes(budget.stackPeak).padEnd(12)} peak of ${formatBytes(budget.stackSize)}${stackLimit}`,
    `  RAM             ${formatKiB(budget.total)}: static ${formatKiB(budget.static)}, heap ${formatKiB(budget.heapSize)}, stack ${formatKiB(budget.stackSize)}, free ${formatKiB(budget.free)}`,
    `  RAM needed      ${formatBytes(budget.needed).padEnd(12)} static ${formatKiB(budget.static)} + heap peak span ${formatKiB(budget.heapPeakSpan)} + stack peak ${formatKiB(budget.stackPeak)}`,
  ];
}

/** The RAM budget of each run as a markdown table, after the checks in `check --markdown`. */
/** The RAM table of `check --markdown`, from the runs' report documents (their `ram` field). */
export function ramBudgetMarkdown(
  runs: readonly { target?: unknown; board?: unknown; peakUsed?: unknown; ram?: unknown }[],
): string {
  const rows = runs.flatMap((run) => {
    const budget = run.ram as RamBudget | null | undefined;
    if (!budget) return [];
    const cell = (text: unknown) => String(text).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
    return [
      `| ${cell(run.target)} | ${cell(run.board)} | ${formatKiB(budget.total)} | ${formatKiB(budget.static)} | ` +
        `${formatKiB(budget.heapSize)} / ${formatKiB(Number(run.peakUsed))} / ${formatKiB(budget.heapPeakSpan)} | ` +
        `${formatKiB(budget.stackSize)} / ${formatKiB(budget.stackPeak)} | ${formatKiB(budget.free)} | ${formatKiB(budget.needed)} |`,
    ];
  });
  if (rows.length === 0) return '';
  return [
    '',
    '#### RAM budget',
    '',
    '| Target | Board | RAM | Static | Heap size / peak used / peak span | Stack size / peak | Free | Needed |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
  ].join('\n');
}
