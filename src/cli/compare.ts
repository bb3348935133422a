import { countsCost, HEAP_KINDS, type HeapCost, type HeapKind } from '../allocator/index.js';
import { parseElf, type ElfImage, type HeapEvent, type RunReport } from '../board/index.js';
import { targetLabel } from './budget.js';
import { execute, prepareRun, type PreparedRun, type RunRequest } from './engine.js';
import { EXIT_CHECK_FAILED, EXIT_OK, InputError, quoteInput } from './errors.js';
import { parseHeapKind } from './heap-choice.js';
import { callerSymbol, callText } from './learn-run.js';
import { bisectMinHeap } from './min-heap.js';
import { writeJson, type CliIo } from './options.js';
import { REPORT_SCHEMA_VERSION } from './report.js';
import { replayOfRun } from './replay.js';
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
  /** Per-call work from the replay; null for TLSF, which does not count yet, or when the replay diverged. */
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

function percentile99(sorted: number[]): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!;
}

function summarise(samples: { event: HeapEvent; cost: HeapCost }[], image: ElfImage | null): CallWork {
  const nodes = samples.map((sample) => sample.cost.nodesVisited).sort((a, b) => a - b);
  let worst: { event: HeapEvent; cost: HeapCost } | null = null;
  let maxWords = 0;
  for (const sample of samples) {
    if (worst === null || sample.cost.nodesVisited > worst.cost.nodesVisited) worst = sample;
    maxWords = Math.max(maxWords, sample.cost.wordsRead + sample.cost.wordsWritten);
  }
  return {
    calls: samples.length,
    maxNodes: nodes[nodes.length - 1] ?? 0,
    p99Nodes: percentile99(nodes),
    meanNodes: nodes.length === 0 ? 0 : nodes.reduce((sum, value) => sum + value, 0) / nodes.length,
    maxWords,
    maxCall: worst
      ? { call: worst.event.call, text: callText(worst.event), caller: callerSymbol(image, worst.event.caller) }
      : null,
  };
}

/** Replays the run on a host heap of the same kind and collects each call's counted work. */
type Replayed = { work: HeapComparison['work']; matches: boolean };

function workOf(prepared: PreparedRun, report: RunReport, allocator: HeapKind): Replayed {
  const replay = replayOfRun(prepared, report, allocator);
  const heap = replay.heap;
  const allocations: { event: HeapEvent; cost: HeapCost }[] = [];
  const frees: { event: HeapEvent; cost: HeapCost }[] = [];
  for (let event = replay.step(); event !== null; event = replay.step()) {
    if (event.op === 'mark' || !countsCost(heap)) continue;
    if (event.op === 'free' && event.args[0] === 0) continue; // free(NULL) never reaches a heap's code
    (event.op === 'free' ? frees : allocations).push({ event, cost: { ...heap.lastCallCost() } });
  }
  const matches = replay.divergence === null;
  if (!countsCost(heap) || !matches) return { work: null, matches };
  let image: ElfImage | null = null;
  try {
    image = parseElf(prepared.options.elf, prepared.options.elfName);
  } catch {
    image = null; // the run parsed it already; symbols only name the costliest call
  }
  return { work: { allocations: summarise(allocations, image), frees: summarise(frees, image) }, matches };
}

type Measured = HeapComparison & { board: string };

function compareOne(request: RunRequest, allocator: HeapKind, searchMinHeap: boolean): Measured {
  // --sl is TLSF's own: it applies to the TLSF run and is left out of the others rather than refused.
  const own: RunRequest = { ...request, allocator, slLog2: allocator === 'tlsf' ? request.slLog2 : undefined };
  const prepared = prepareRun({ ...own, recordEvents: true });
  const report = execute(prepared, false);
  const { work, matches } = workOf(prepared, report, allocator);
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
    replayMatches: matches,
  };
}

function workText(work: CallWork | undefined): string {
  return work ? `${work.maxNodes} / ${work.p99Nodes} / ${work.meanNodes.toFixed(1)}` : 'not counted';
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
    '  nodes: free-list nodes each call examined (exact counts, from a replay of the run on the same heap); ' +
      'TLSF does not count yet',
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
