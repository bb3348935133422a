import { MAX_POOL_BYTES, TLSF_DEFAULTS, type HeapKind } from '../allocator/index.js';
import type { BoardProfile, HeapAllocator, HeapEvent, RunReport } from '../board/index.js';
import { PeakTracker } from '../board/peak-tracker.js';
import type { PreparedRun, RunRequest, ScenarioParam } from './engine.js';
import { heapFactory } from './heap-factories.js';
import { InputError, quoteInput } from './errors.js';
import type { RunSettings } from './report.js';
import { targetLabel } from './target.js';
import type { Trace } from './trace.js';
import { assignSlots, TRACE_PLAYER_SCENARIO } from './trace-encoding.js';
import { formatBytes } from './units.js';

// `--host`: a trace replayed straight on the TLSF allocator in this process, for traces larger than any board.
// It makes the heap calls the trace-player firmware makes, in the same order (ids renumbered into the same
// slots, what is left freed slot by slot after each pass), and computes the figures as the board does, so a
// trace that fits a board gives the same figures both ways at the same heap size and alignment.

/** The host heap's target address: where SRAM starts on every Cortex-M, aligned for any --align. */
export const HOST_HEAP_BASE = 0x2000_0000;
/** The default host heap is at least this: larger than every built-in board's RAM, cheap until touched. */
export const MIN_DEFAULT_HOST_HEAP = 64 * 1024 * 1024;
/** A TLSF pool must stay below 2 GiB (allocator constants). */
export const MAX_HOST_HEAP = MAX_POOL_BYTES;
/** Allowance per live block for its header, rounding and the minimum block size, in the default heap. */
const BLOCK_ALLOWANCE = 32;
const MIB = 1024 * 1024;
const HOST_NAME = 'host';
/** Operations between two looks at the clock for --timeout. */
const CLOCK_EVERY = 4096;

/**
 * The default host heap: twice what the trace holds at its peak (live bytes plus an allowance per live block),
 * so fragmentation has room, rounded up to a MiB; at least MIN_DEFAULT_HOST_HEAP, at most MAX_HOST_HEAP.
 */
export function defaultHostHeap(trace: Trace): number {
  const { slotCount } = assignSlots(trace);
  const wanted = Math.ceil((2 * (trace.peakLiveBytes + BLOCK_ALLOWANCE * slotCount)) / MIB) * MIB;
  return Math.min(Math.max(wanted, MIN_DEFAULT_HOST_HEAP), MAX_HOST_HEAP);
}

/** A board profile describing the host heap, so views that rebuild the heap (map, step) find its memory. */
function hostBoard(heapSize: number): BoardProfile {
  return {
    name: HOST_NAME,
    description: 'a host heap (tlsf-sim run --host): the TLSF allocator without the emulator',
    cpu: 'cortex-m4',
    clockHz: 0,
    flash: { base: 0, size: 0 },
    ram: [{ name: 'host heap', base: HOST_HEAP_BASE, size: heapSize, heap: true }],
    source: 'none: not a board',
  } as BoardProfile;
}

/** Parameters of the trace player that mean something on the host; `verify` fills patterns only on the board. */
interface HostReplayParams {
  repeat: number;
  tolerateOom: boolean;
}

function hostParams(params: Record<string, number>, known: ScenarioParam[]): HostReplayParams {
  const names = known.map((param) => param.name);
  for (const name of Object.keys(params)) {
    if (!names.includes(name)) {
      throw new InputError(
        `${TRACE_PLAYER_SCENARIO} has no parameter ${quoteInput(name)}; its parameters: ${names.join(', ')}`,
      );
    }
  }
  const value = (name: string): number => params[name] ?? known.find((param) => param.name === name)?.default ?? 0;
  // The player's own clamp, so --param repeat=0 means the same on both.
  return { repeat: Math.min(Math.max(value('repeat'), 1), 1_000_000), tolerateOom: value('tolerate_oom') !== 0 };
}

/** The options that only make sense on a board, refused with --host rather than silently dropped. */
const BOARD_ONLY: [keyof RunRequest, string][] = [
  ['board', '--board'],
  ['extraBanks', '--bank'],
  ['guard', '--guard'],
  ['alignmentCheck', '--align-check'],
  ['maxInstructions', '--max-instructions'],
  ['stackSize', '--stack'],
];

/** A trace run on the host: resolved like a board run, so every command (run, check, min-heap, map, step) takes it. */
export function prepareHostRun(
  request: RunRequest,
  trace: Trace,
  playerParams: ScenarioParam[],
  defaults: { align: 4 | 8 | 16; slLog2: number },
): PreparedRun {
  for (const [key, flag] of BOARD_ONLY) {
    const value = request[key];
    if (value !== undefined && value !== false) {
      throw new InputError(`${flag} does not apply with --host, which replays the trace without a board`);
    }
  }
  const heapSize = request.heapSize ?? defaultHostHeap(trace);
  if (heapSize > MAX_HOST_HEAP) {
    throw new InputError(`--heap ${heapSize}: a host heap must stay below 2 GiB (${MAX_HOST_HEAP} bytes at most)`);
  }
  const params = { ...(request.params ?? {}) };
  hostParams(params, playerParams);
  const board = hostBoard(heapSize);
  const label = targetLabel(request.target);
  const parameters = {
    heapSize,
    align: request.align ?? defaults.align,
    slLog2: request.slLog2 ?? defaults.slLog2,
    params,
    guard: false,
    alignmentCheck: false,
  };
  const allocator = request.allocator ?? 'tlsf';
  const settings: RunSettings = {
    ...parameters,
    allocator,
    host: true,
    target: label,
    targetKind: 'trace',
    boardName: HOST_NAME,
  };
  if (request.timeoutMs !== undefined) settings.timeoutMs = request.timeoutMs;
  if (request.callCost === true) settings.callCost = true;
  return {
    label,
    target: request.target,
    board,
    trace,
    host: { playerParams },
    options: {
      ...parameters,
      timeoutMs: request.timeoutMs,
      elf: new Uint8Array(0),
      elfName: '(host replay)',
      board,
      recordEvents: request.recordEvents === true || request.callCost === true,
    },
    settings,
  };
}

class TraceStopped extends Error {
  constructor(
    readonly result: 'out-of-memory' | 'timeout',
    message: string,
  ) {
    super(message);
  }
}

/** The heap services as the board serves them: the call, its count, the figures and the event log. */
class HeapCalls {
  readonly ops = { malloc: 0, free: 0, realloc: 0, calloc: 0, memalign: 0, failed: 0 };
  /** The figures of design.md section 2 by the board's own rules (peaks at each call, fragmentation at the peak). */
  readonly peaks: PeakTracker;
  /** What the tracker is told again when a block is released. */
  private readonly live = new Map<number, { requested: number; usable: number }>();
  private call = 0;

  constructor(
    readonly heap: HeapAllocator,
    heapSize: number,
    readonly events: HeapEvent[] | null,
  ) {
    this.peaks = new PeakTracker(heap, HOST_HEAP_BASE, heapSize);
  }

  private allocated(address: number, requested: number): void {
    const usable = this.heap.usableSize(address);
    this.live.set(address, { requested, usable });
    this.peaks.allocated(address, requested, usable);
  }

  private released(address: number): void {
    const block = this.live.get(address);
    this.live.delete(address);
    if (block) this.peaks.released(block.requested, block.usable);
  }

  malloc(size: number): number {
    this.call++;
    this.ops.malloc++;
    const result = this.heap.malloc(size);
    if (result === 0) this.ops.failed++;
    else this.allocated(result, size);
    this.record('malloc', [size], result);
    return result;
  }

  /** free(NULL) never reaches the board (the runtime's shim returns first), so it is not a call here either. */
  free(address: number): void {
    if (address === 0) return;
    this.call++;
    this.ops.free++;
    this.peaks.settle();
    this.heap.free(address);
    this.released(address);
    this.record('free', [address], 0);
  }

  realloc(address: number, size: number): number {
    this.call++;
    this.ops.realloc++;
    let result: number;
    if (address === 0) {
      result = this.heap.realloc(0, size);
      if (result !== 0) this.allocated(result, size);
    } else {
      this.peaks.settle();
      result = this.heap.realloc(address, size);
      // As on the board: a failed realloc keeps the old block; realloc(p, 0) releases it.
      if (result !== 0 || size === 0) {
        this.released(address);
        if (result !== 0) this.allocated(result, size);
      }
    }
    if (result === 0 && size !== 0) this.ops.failed++;
    this.record('realloc', [address, size], result);
    return result;
  }

  mark(label: string): void {
    this.record('mark', [0], 0, label);
  }

  private record(op: HeapEvent['op'], args: number[], result: number, label?: string): void {
    if (!this.events) return;
    const event: HeapEvent = { call: this.call, op, args, result, instructions: 0, caller: 0 };
    if (label !== undefined) event.label = label;
    this.events.push(event);
  }
}

/**
 * The trace player's loop (trace-player.c) on the host: the same calls in the same order. Returns the number of
 * operations replayed and failed (with tolerate_oom); throws TraceStopped where the player would stop.
 */
function replayTrace(
  calls: HeapCalls,
  trace: Trace,
  name: string,
  params: HostReplayParams,
  deadline: number,
): { replayed: number; failed: number } {
  const { slots, slotCount } = assignSlots(trace);
  const blockOf = new Float64Array(Math.max(slotCount, 1));
  let replayed = 0;
  let failed = 0;
  const outOfMemory = (size: number, line: number): void => {
    if (!params.tolerateOom) {
      const stats = calls.heap.stats();
      throw new TraceStopped(
        'out-of-memory',
        `the trace could not continue: allocating ${size} bytes failed ` +
          `(${name}:${line}; ${stats.freeBytes} bytes free, largest free block ${stats.largestFree})`,
      );
    }
    failed++;
  };
  for (let pass = 0; pass < params.repeat; pass++) {
    for (let index = 0; index < trace.ops.length; index++) {
      if (index % CLOCK_EVERY === 0 && Date.now() > deadline) {
        const done = replayed.toLocaleString('en-US');
        throw new TraceStopped('timeout', `wall-clock limit (--timeout) reached after ${done} operations`);
      }
      const op = trace.ops[index]!;
      const slot = slots[index]!;
      if (op.kind === 'free') {
        calls.free(blockOf[slot]!);
        blockOf[slot] = 0;
      } else {
        const result = op.kind === 'alloc' ? calls.malloc(op.size) : calls.realloc(blockOf[slot]!, op.size);
        if (result === 0 && op.size !== 0) {
          outOfMemory(op.size, op.line);
          continue;
        }
        blockOf[slot] = result;
      }
      replayed++;
    }
    if (pass === 0) calls.mark('first replay done');
    // Whatever the trace left allocated is freed between replays and at the end, slot by slot like the player.
    for (let slot = 0; slot < slotCount; slot++) {
      calls.free(blockOf[slot]!);
      blockOf[slot] = 0;
    }
  }
  calls.mark('end');
  return { replayed, failed };
}

function createHostHeap(
  heapSize: number,
  align: 4 | 8 | 16,
  slLog2: number | undefined,
  allocator: HeapKind,
): HeapAllocator {
  let memory: ArrayBuffer;
  try {
    memory = new ArrayBuffer(heapSize);
  } catch {
    throw new InputError(`--heap ${heapSize}: this machine cannot allocate a host heap of ${formatBytes(heapSize)}`);
  }
  try {
    return heapFactory(allocator)(memory, { base: HOST_HEAP_BASE, offset: 0, length: heapSize, align, slLog2 });
  } catch (error) {
    throw new InputError(`host heap of ${heapSize} bytes: ${(error as Error).message}`);
  }
}

/** Replays the prepared trace on a fresh host heap; the report is a board report with `host: true`. */
export function runTraceOnHost(prepared: PreparedRun): RunReport & { host: true } {
  const started = performance.now();
  const { options, trace } = prepared;
  if (!trace || !prepared.host) throw new Error('runTraceOnHost needs a prepared host trace run');
  const heapSize = options.heapSize!;
  const params = hostParams(options.params ?? {}, prepared.host.playerParams);
  const heap = createHostHeap(
    heapSize,
    options.align ?? TLSF_DEFAULTS.align,
    options.slLog2,
    prepared.settings.allocator ?? 'tlsf',
  );
  const calls = new HeapCalls(heap, heapSize, options.recordEvents ? [] : null);
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  const output = [
    `host replay: ${trace.ops.length} operations on ${trace.idCount} ids ` +
      `(${assignSlots(trace).slotCount} live at once), ${params.repeat} replay(s); ` +
      `heap ${heapSize} bytes at 0x${HOST_HEAP_BASE.toString(16)}`,
  ];
  let stopped: TraceStopped | undefined;
  try {
    const { replayed, failed } = replayTrace(calls, trace, prepared.label, params, deadline);
    output.push(`host replay: ${replayed} operations replayed, ${failed} failed`);
  } catch (error) {
    if (!(error instanceof TraceStopped)) throw error;
    stopped = error;
  }
  const peaks = calls.peaks;
  peaks.settle();

  let result: RunReport['result'] = stopped?.result ?? 'ok';
  let message = stopped?.message;
  if (result === 'ok') {
    const check = heap.check();
    if (!check.ok) {
      result = 'heap-corruption';
      message = `heap check after the replay failed: ${check.errors.slice(0, 3).join('; ')}`;
    }
  }
  const stats = heap.stats();
  // No allocation at all: the peak's heap is the empty heap, as on the board.
  const noPeak = peaks.peakUsedSeen === 0;
  const report: RunReport & { host: true } = {
    result,
    exitCode: result === 'ok' ? 0 : 1,
    output: `${output.join('\n')}\n`,
    board: HOST_NAME,
    firmware: options.elfName ?? '',
    ops: calls.ops,
    peakUsed: stats.peakUsed,
    peakRequested: peaks.peakRequested,
    peakSpan: peaks.peakSpanEnd,
    largestFreeAtPeak: noPeak ? stats.largestFree : peaks.largestFreeAtPeak,
    largestFree: stats.largestFree,
    fragmentation: stats.fragmentation,
    fragmentationAtPeak: noPeak ? stats.fragmentation : peaks.fragmentationAtPeak,
    controlBytes: stats.controlBytes,
    // No board: no stack and no image in RAM; ramBytes 0 tells the reports nothing of the kind was measured.
    stackSize: 0,
    stackLimit: 0,
    stackPeak: 0,
    staticBytes: 0,
    ramBytes: 0,
    // A trace names no call sites (its calls come from the player, not from code).
    peakSites: [],
    heapBase: HOST_HEAP_BASE,
    heapSize,
    instructions: 0,
    cycles: 0,
    seconds: 0,
    hostMs: performance.now() - started,
    host: true,
  };
  if (message !== undefined) report.message = message;
  if (calls.events) report.events = calls.events;
  return report;
}
