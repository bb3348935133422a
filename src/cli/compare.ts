import { HEAP_KINDS, type HeapKind } from '../allocator/index.js';
import type { ElfImage, RunReport } from '../board/index.js';
import { imageOf, percentile99, replayCosts, type CallSample } from './call-cost.js';
import { cycleModel, estimateCycles, type CycleModel } from './cycle-model.js';
import { targetLabel } from './budget.js';
import { execute, prepareRun, type PreparedRun, type RunRequest } from './engine.js';
import { EXIT_CHECK_FAILED, EXIT_OK, InputError, quoteInput } from './errors.js';
import { parseHeapKind } from './heap-choice.js';
import { callerSymbol, callText } from './learn-run.js';
import { bisectMinHeap } from './min-heap.js';
import { writeJson, type CliIo } from './options.js';
import { REPORT_SCHEMA_VERSION } from './report.js';
import type { Palette } from './terminal.js';
import { formatBytes, formatPercent } from './units.js';

// `tlsf-sim compare`: the same target under each heap, one table. The board runs each heap for real; the work
// per call comes from replaying the run's call log on a host heap of the same kind, which counts every call
// (allocator/heap-contract.ts), and whose every returned address must match the run's.

export interface CompareFlags {
  allocators?: string;
  json?: boolean;
  markdown?: boolean;
  minHeap?: boolean;
}

/** Work of one kind of call over a run, in free-list nodes visited and metadata words touched. */
export interface CallWork {
  calls: number;
  maxNodes: number;
  p99Nodes: number;
  meanNodes: number;
  maxWords: number;
  /**
   * Estimated cycles of the costliest call's metadata work on the board's core (cycle-model.ts; the counts are
   * exact). Without the bytes calloc zeroes and realloc copies: that is the same job under every heap, and one
   * large calloc would hide the difference between them.
   */
  maxCycles: number;
  /** The call with the most nodes visited (the first such): its number, text and caller. */
  maxCall: { call: number; text: string; caller: string | null } | null;
}

export interface HeapComparison {
  allocator: HeapKind;
  result: RunReport['result'];
  message: string | null;
  peakUsed: number;
  peakRequested: number;
  peakSpan: number;
  fragmentationAtPeak: number;
  /** Smallest heap the target completes on, by bisection over real runs; null when not searched or not ok. */
  minHeap: number | null;
  /** Per-call work from the replay on a counting heap of the same kind; null when the replay diverged. */
  work: { allocations: CallWork; frees: CallWork } | null;
  replayMatches: boolean;
}

export function parseAllocatorList(text: string): HeapKind[] {
  const names = text.split(',').map((name) => name.trim());
  if (names.some((name) => name === '')) {
    throw new InputError(`--allocators: empty name in ${quoteInput(text)}; give names separated by commas`);
  }
  const kinds = names.map((name) => parseHeapKind(name, '--allocators'));
  const repeated = kinds.find((kind, index) => kinds.indexOf(kind) !== index);
  if (repeated) throw new InputError(`--allocators: ${repeated} is named twice`);
  return kinds;
}

function summarise(samples: CallSample[], image: ElfImage | null, model: CycleModel): CallWork {
  const nodes = samples.map((sample) => sample.work.nodesVisited).sort((a, b) => a - b);
  let worst: CallSample | null = null;
  let maxWords = 0;
  for (const sample of samples) {
    if (worst === null || sample.work.nodesVisited > worst.work.nodesVisited) worst = sample;
    maxWords = Math.max(maxWords, sample.work.wordsRead + sample.work.wordsWritten);
  }
  return {
    calls: samples.length,
    maxNodes: nodes[nodes.length - 1] ?? 0,
    p99Nodes: percentile99(nodes),
    meanNodes: nodes.length === 0 ? 0 : nodes.reduce((sum, value) => sum + value, 0) / nodes.length,
    maxWords,
    maxCycles: Math.max(0, ...samples.map((sample) => estimateCycles({ ...sample.work, bytesCopied: 0 }, model))),
    maxCall: worst
      ? { call: worst.event.call, text: callText(worst.event), caller: callerSymbol(image, worst.event.caller) }
      : null,
  };
}

/** Replays the run on a counting host heap of the same kind and summarises each call's counted work. */
function workOf(
  prepared: PreparedRun,
  report: RunReport,
  allocator: HeapKind,
): Pick<HeapComparison, 'work' | 'replayMatches'> {
  const costs = replayCosts(prepared, report, allocator);
  if (!costs.matches) return { work: null, replayMatches: false };
  const image = imageOf(prepared);
  const model = cycleModel(prepared.board.cpu);
  return {
    work: { allocations: summarise(costs.allocations, image, model), frees: summarise(costs.frees, image, model) },
    replayMatches: true,
  };
}

type Measured = HeapComparison & { board: string };

function compareOne(request: RunRequest, allocator: HeapKind, searchMinHeap: boolean): Measured {
  // --sl is TLSF's own: it applies to the TLSF run and is left out of the others rather than refused.
  const own: RunRequest = { ...request, allocator, slLog2: allocator === 'tlsf' ? request.slLog2 : undefined };
  const prepared = prepareRun({ ...own, recordEvents: true });
  const report = execute(prepared, false);
  const { work, replayMatches } = workOf(prepared, report, allocator);
  let minHeap: number | null = null;
  if (searchMinHeap && report.result === 'ok' && request.heapSize === undefined) {
    minHeap = bisectMinHeap(own, report, prepared.settings.align).minimum;
  }
  return {
    board: report.board,
    allocator,
    result: report.result,
    message: report.message ?? null,
    peakUsed: report.peakUsed,
    peakRequested: report.peakRequested,
    peakSpan: report.peakSpan,
    fragmentationAtPeak: report.fragmentationAtPeak,
    minHeap,
    work,
    replayMatches,
  };
}

function workText(work: CallWork | undefined): string {
  return work ? `${work.maxNodes} / ${work.p99Nodes} / ${work.meanNodes.toFixed(1)}` : '-';
}

function rows(results: HeapComparison[]): string[][] {
  return results.map((entry) => [
    entry.allocator,
    entry.result,
    formatBytes(entry.peakUsed),
    formatBytes(entry.peakSpan),
    formatPercent(entry.fragmentationAtPeak),
    entry.minHeap === null ? '-' : formatBytes(entry.minHeap),
    workText(entry.work?.allocations),
    workText(entry.work?.frees),
    entry.work ? String(Math.max(entry.work.allocations.maxWords, entry.work.frees.maxWords)) : '-',
    entry.work ? `${entry.work.allocations.maxCycles} / ${entry.work.frees.maxCycles}` : '-',
  ]);
}

const HEADERS = [
  'allocator',
  'result',
  'peak used',
  'peak span',
  'frag. at peak',
  'min heap',
  'alloc nodes max/p99/mean',
  'free nodes max/p99/mean',
  'max words/call',
  'max cycles alloc/free',
];

export function compareCommand(request: RunRequest, flags: CompareFlags, io: CliIo, colours: Palette): number {
  if (request.allocator !== undefined) {
    throw new InputError('compare runs several heaps: name them with --allocators a,b (not --allocator)');
  }
  const allocators = flags.allocators === undefined ? [...HEAP_KINDS] : parseAllocatorList(flags.allocators);
  const searchMinHeap = flags.minHeap !== false && request.heapSize === undefined;
  const label = targetLabel(request.target);
  const measured = allocators.map((allocator) => {
    if (io.stderr.isTTY) io.stderr.write(`\rcompare ${label}: ${allocator}...\u001b[K`);
    return compareOne(request, allocator, searchMinHeap);
  });
  if (io.stderr.isTTY) io.stderr.write('\r\u001b[K');
  const board = measured[0]!.board;
  const results: HeapComparison[] = measured.map(({ board: _board, ...entry }) => entry);
  const exitCode = results.every((entry) => entry.result === 'ok' && entry.replayMatches) ? EXIT_OK : EXIT_CHECK_FAILED;

  if (flags.json) {
    writeJson(io, { schemaVersion: REPORT_SCHEMA_VERSION, command: 'compare', target: label, board, heaps: results });
    return exitCode;
  }
  const table = [HEADERS, ...rows(results)];
  if (flags.markdown) {
    const rule = `|${HEADERS.map((_, column) => (column < 2 ? '---' : '---:')).join('|')}|`;
    const lines = table.map((row) => `| ${row.join(' | ')} |`);
    io.stdout.write(`${[lines[0], rule, ...lines.slice(1)].join('\n')}\n`);
    return exitCode;
  }
  const widths = HEADERS.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  const out = (line: string): void => void io.stdout.write(`${line.trimEnd()}\n`);
  const heaps = `${results.length} heap${results.length === 1 ? '' : 's'}`;
  out(`${colours.bold(label)} on ${board}, the same firmware under ${heaps}`);
  // Names and results to the left, figures to the right.
  const cellText = (cell: string, column: number): string =>
    column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!);
  for (const row of table) out(`  ${row.map(cellText).join('  ')}`);
  out(
    '  nodes: free-list nodes each call examined; words: metadata words read and written (exact counts, from a ' +
      'replay of the run on the same heap)',
  );
  out(
    `  cycles: estimated from the counted metadata work on ${board}'s core (not measured; bytes zeroed or copied left out)`,
  );
  for (const entry of results) {
    if (entry.result !== 'ok' && entry.message) out(`  ${entry.allocator}: ${entry.message}`);
    if (!entry.replayMatches) {
      out(`  ${entry.allocator}: ${colours.red('the replay diverged from the run')}; its work is not shown`);
    }
    const allocations = entry.work?.allocations;
    const worst = allocations?.maxCall;
    if (worst && allocations!.maxNodes > 1) {
      const from = worst.caller ? ` from ${worst.caller}` : '';
      const nodes = allocations!.maxNodes;
      out(`  ${entry.allocator}: costliest allocation #${worst.call} ${worst.text}${from}, ${nodes} nodes`);
    }
  }
  return exitCode;
}
