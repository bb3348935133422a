import { parseElf, symbolize, type ElfImage, type HeapEvent, type RunReport } from '../board/index.js';
import { hex } from '../allocator/index.js';
import { execute, prepareRun, type PreparedRun, type RunRequest } from './engine.js';
import { describeDivergence, type HeapReplay, replayOfRun, type SizeClass } from './replay.js';
import type { Palette } from './terminal.js';
import { formatBytes } from './units.js';

// The run behind the learner views `map` and `step`: the workload run with the board's event log, that log
// replayed on a host heap (replay.ts), and the text both views share to name calls, callers and classes. Every
// fact the views show comes from comparing walks of that heap before and after a call, and from its stored
// bitmaps and list heads, never from inside the allocator.

export interface LearnRun {
  prepared: PreparedRun;
  report: RunReport;
  events: HeapEvent[];
  image: ElfImage | null;
  replay: HeapReplay;
  /** Events that are heap calls (not marks), for counting and range checks. */
  lastCall: number;
}

export function startLearnRun(request: RunRequest): LearnRun {
  const prepared = prepareRun({ ...request, recordEvents: true });
  const report = execute(prepared);
  const events = report.events ?? [];
  let image: ElfImage | null = null;
  try {
    image = parseElf(prepared.options.elf, prepared.options.elfName);
  } catch {
    image = null; // the run already parsed it; symbols are a nicety here
  }
  const replay = replayOfRun(prepared, report);
  const lastCall = events.reduce((last, event) => (event.op === 'mark' ? last : Math.max(last, event.call)), 0);
  return { prepared, report, events, image, replay, lastCall };
}

/**
 * The current runtime/heap.c passes its own return address in the services' caller argument, so the log names
 * the function that called malloc (docs/design.md §3). Firmware linked with an older shim, or another C library
 * forwarding to the slots without that argument, still shows the wrapper as the caller; naming it would only
 * repeat the operation, so it is left out.
 */
const SHIM_SYMBOL =
  /^_?(malloc|free|realloc|calloc|memalign|aligned_alloc|posix_memalign|valloc|pvalloc|reallocf|_malloc_r|_free_r|_realloc_r|_calloc_r|_memalign_r)(\+0x[0-9a-f]+)?$/;

export function callerSymbol(image: ElfImage | null, caller: number): string | null {
  return image ? (symbolize(image, caller & ~1) ?? null) : null;
}

/** " from symbol+0x12" for a firmware caller; empty when the logged caller is the C shim. */
export function fromText(symbol: string | null, caller: number): string {
  // A host replay (--host) has no caller: 0.
  if (caller === 0 || (symbol !== null && SHIM_SYMBOL.test(symbol))) return '';
  return ` from ${symbol ?? hex(caller & ~1)}`;
}

export function callText(event: HeapEvent): string {
  const [a = 0, b = 0] = event.args;
  switch (event.op) {
    case 'malloc':
      return `malloc(${a})`;
    case 'free':
      return `free(${hex(a)})`;
    case 'realloc':
      return `realloc(${a === 0 ? 'NULL' : hex(a)}, ${b})`;
    case 'calloc':
      return `calloc(${a}, ${b})`;
    case 'memalign':
      return `memalign(${a}, ${b})`;
    case 'mark':
      return `mark("${event.label ?? ''}")`;
  }
}

export const classText = (sizeClass: SizeClass): string => `(${sizeClass.fl}, ${sizeClass.sl})`;

export function headline(run: LearnRun, colours: Palette): string {
  const { report, prepared } = run;
  const ok = report.result === 'ok';
  const result = ok ? colours.green(report.result) : colours.red(report.result);
  const calls = run.events.filter((event) => event.op !== 'mark').length;
  return `${colours.bold(prepared.label)} on ${report.board}: ${result}, ${calls.toLocaleString('en-US')} heap calls; heap ${hex(report.heapBase)}, ${formatBytes(report.heapSize)}, align ${prepared.settings.align}, ${prepared.settings.allocator && prepared.settings.allocator !== 'tlsf' ? `${prepared.settings.allocator} heap` : `SL 2^${prepared.settings.slLog2}`}`;
}

export function replayLine(run: LearnRun, replayedCalls: number): string {
  if (run.replay.divergence) return `  replay: ${describeDivergence(run.replay.divergence)}`;
  return `  replay: ${replayedCalls.toLocaleString('en-US')} calls replayed on a host heap built like the board's; every returned address matches the run`;
}
