// What a run takes and what it gives back (docs/design.md section 2): RunOptions in, RunReport out, and the
// error a bad firmware image or option raises before the run starts.
import type { BoardProfile } from './profiles.js';
import type { EngineChoice } from './engine-locate.js';
import type { CountingMode } from './instruction-count.js';

export type RunResult =
  | 'ok'
  | 'out-of-memory'
  | 'fault'
  | 'heap-corruption'
  | 'stack-overflow'
  | 'assertion'
  | 'hang'
  | 'timeout'
  | 'exit-failure';

/** Why a run that never finished was stopped: 'hang' for the first two, 'timeout' for the limits. */
export type StopReason = 'branch-to-self' | 'wait-for-interrupt' | 'instruction-budget' | 'wall-clock';

/** Where a 'hang' or 'timeout' run was stopped. */
export interface StoppedAt {
  pc: number;
  symbol?: string;
  reason: StopReason;
}

export interface FaultInfo {
  kind: string;
  /** The faulting address (memory access, bad pointer, overwritten header); absent when there is none. */
  address?: number;
  size: number;
  pc: number;
  symbol?: string;
  nearestBlock?: string;
}

/** Set for 'stack-overflow': where the stack went below its limit, and how far. */
export interface StackOverflowInfo {
  /** The instruction that wrote below the limit (or, when no write was seen there, where SP was found below it). */
  pc: number;
  symbol?: string;
  /** SP at that instruction. */
  sp: number;
  /** The lowest address the stack may use (top - stackSize). */
  limit: number;
  /** The address written below the limit, when a write was seen. */
  address?: number;
  /** How deep the stack went, in bytes from its top: top - min(sp, address). */
  depth: number;
}

export interface HeapEvent {
  call: number; // allocation call number (1-based, across all heap services)
  op: 'malloc' | 'free' | 'realloc' | 'calloc' | 'memalign' | 'mark';
  args: number[];
  result: number;
  instructions: number;
  caller: number; // return address of the call: the caller argument when plausible, else lr
  label?: string;
}

/**
 * The live blocks of one allocating call site at the peak of used bytes (docs/board.md, "Peak sites"). The
 * site of a block is the reported caller of the call that allocated it, or of the realloc that last moved or
 * resized it.
 */
export interface PeakSite {
  /** "symbol+0xoffset", or the address in hex when no function of the ELF contains it. */
  site: string;
  /** The function containing the return address (the hex address when none does). */
  symbol: string;
  /** The return address's offset in that function (0 when none contains it). */
  offset: number;
  /** The return address of the allocating call, Thumb bit cleared. */
  address: number;
  file?: string;
  line?: number;
  blocks: number;
  /** Block sizes, headers included, as peakUsed counts them: the bytes of all sites sum to peakUsed. */
  bytes: number;
}

export interface FlashPatch {
  symbol?: string;
  address?: number;
  endSymbol?: string;
  bytes: Uint8Array;
}

export interface RunOptions {
  elf: Uint8Array;
  elfName?: string;
  board: BoardProfile;
  heapSize?: number;
  /**
   * Extension: the stack's size in bytes (a multiple of 8), below the initial SP. Default: the ELF's
   * __stack_size. A heap that ends where the stack begins ends at the new limit instead (docs/board.md, The stack).
   */
  stackSize?: number;
  align?: 4 | 8 | 16;
  slLog2?: number;
  params?: Record<string, number>;
  maxInstructions?: number;
  guard?: boolean;
  onProgress?: (instructions: number) => void;
  recordEvents?: boolean;
  extraBanks?: string[];
  /**
   * Extension: model the core's unaligned-access HardFault inside the heap's range (Armv6-M: any unaligned
   * halfword/word access; Armv7-M/v8-M: LDRD/STRD/LDM/STM/PUSH/POP/VLDR/VSTR). Costs a host call per heap
   * access (see docs/board.md). Default false.
   */
  alignmentCheck?: boolean;
  /**
   * Extension: bytes placed in the loaded image (flash or RAM) before the run, at a symbol or an address, and
   * not past `endSymbol` when given; e.g. the encoded trace for trace-player at __tlsf_trace_start.
   */
  flashPatches?: FlashPatch[];
  /**
   * Extension: instructions per uc_emu_start slice, i.e. the onProgress granularity. Default: slices growing from
   * 1 M to 100 M, so that a hang is seen within milliseconds.
   */
  sliceInstructions?: number;
  /**
   * Wall-clock limit in milliseconds (default DEFAULT_TIMEOUT_MS, 10 minutes), checked between slices: the run
   * stops with 'timeout' at this limit or the instruction budget, whichever comes first.
   */
  timeoutMs?: number;
}

export interface RunReport {
  result: RunResult;
  exitCode: number;
  output: string;
  board: string;
  firmware: string;
  ops: { malloc: number; free: number; realloc: number; calloc: number; memalign: number; failed: number };
  peakUsed: number;
  peakRequested: number;
  peakSpan: number;
  largestFreeAtPeak: number;
  largestFree: number;
  fragmentation: number;
  controlBytes: number;
  /** 1 - largestFreeAtPeak / free bytes at the peak, captured with largestFreeAtPeak (0 when nothing was free). */
  fragmentationAtPeak: number;
  /** Live blocks at the peak of used bytes, grouped by allocating call site, by bytes (largest first). */
  peakSites: PeakSite[];
  heapBase: number;
  heapSize: number;
  instructions: number;
  cycles: number;
  seconds: number;
  hostMs: number;
  /**
   * The Unicorn library that ran the firmware: its path, version and where it was found (engine-locate.ts).
   * Always set by the board; absent only in the CLI's host replays of a trace, which run no emulator.
   */
  engine?: EngineChoice;
  /** How the instructions were counted (instruction-count.ts); set with `engine`. */
  counting?: CountingMode;
  message?: string;
  fault?: FaultInfo;
  assertion?: { file: string; line: number; expression: string };
  /** Set for 'hang' and 'timeout': the PC (and function) where the run was stopped, and why. */
  stoppedAt?: StoppedAt;
  /** Extension: the per-call log when recordEvents was set. */
  events?: HeapEvent[];
  /** Extension: firmware accesses to the heap seen by the alignment/guard hook (when either is on). */
  checkedAccesses?: number;
  /** Extension: the stack's size (bytes below the initial SP the firmware may use) and limit (its lowest address). */
  stackSize: number;
  stackLimit: number;
  /** Extension: the stack's high-water mark, exact to the word (from the paint; see docs/board.md, The stack). */
  stackPeak: number;
  /** Extension: static RAM of the image (.data, .bss, TLS and other allocated RAM sections outside heap and stack). */
  staticBytes: number;
  /** Extension: the RAM of the banks holding the image's data, the heap and the stack. */
  ramBytes: number;
  /** Set for 'stack-overflow'. */
  stackOverflow?: StackOverflowInfo;
  /** Extension: true when this Unicorn build's instruction counter could not be located and counts are per 1M-instruction slice. */
  instructionsApproximate?: boolean;
}

export const DEFAULT_MAX_INSTRUCTIONS = 2e9;
/** Generous enough never to cut a real run short (the longest built-in scenarios take seconds). */
export const DEFAULT_TIMEOUT_MS = 600_000;

export class FirmwareError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FirmwareError';
  }
}
