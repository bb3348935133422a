// Instructions executed so far: the slices already finished plus the count of the one running. A slice is counted
// either by the native block counter (native-block-counter.ts: a C hook adds each block's instructions as it
// starts) or by Unicorn's own count, whose counter is read through a typed-array view when Engine.instructionCounter
// located it (docs/board.md, Counting instructions).
import type { Engine } from './engine.js';
import type { BoardMemory } from './memory-map.js';
import { COUNTER_FLAG, COUNTER_WORD, NativeBlockCounter } from './native-block-counter.js';

/** How a run's instructions were counted (RunReport.counting). */
export type CountingMode = 'native-blocks' | 'unicorn-count' | 'approximate';

/** First halfwords of 32-bit Thumb instructions are 0xE800 and above (top five bits 0b11101/0b11110/0b11111). */
const THUMB32_FIRST = 0xe800;
/**
 * With native counting, the last instructions before the budget run under Unicorn's count, which stops exactly;
 * more than a translated block's worth (QEMU caps a block at 512 instructions), since native slices stop only at
 * block starts.
 */
const FINAL_STRETCH = 4096;

export class InstructionCount {
  /** Low and high words of Unicorn's 64-bit counter; null when it was not found (counts are per slice). */
  private readonly counterLow: Uint32Array | null;
  private native: NativeBlockCounter | null = null;
  private nativeWords: Uint32Array | null = null;
  /** Whether the running slice is counted by the native counter (else by Unicorn's count). */
  private nativeSlice = false;
  private readPc: () => number = () => 0;
  private codeHalfword: (address: number) => number = () => -1;
  private base = 0;
  /**
   * Whether a slice was counted as its whole count without knowing how many ran: always without a counter, and
   * with native counting when the budget's last stretch ran without Unicorn's located counter.
   */
  approximateSlices = false;

  constructor(private readonly engine: Engine) {
    const counter = engine.instructionCounter();
    this.counterLow = counter ? new Uint32Array(counter.buffer, counter.byteOffset, 4) : null;
  }

  /**
   * Counts slices with the native counter from now on: returns its state, which the board's native block hook
   * (native-block-hook.ts) must then be given, or null when the native helpers are not available. `readPc` gives
   * the guest PC inside hooks and after a stop.
   */
  attachNative(memory: BoardMemory, readPc: () => number): NativeBlockCounter | null {
    const native = NativeBlockCounter.create(this.engine, memory.codeRegions());
    if (!native) return null;
    this.native = native;
    this.nativeWords = native.words;
    this.readPc = readPc;
    this.codeHalfword = (address) => memory.codeHalfword(address);
    return native;
  }

  /**
   * Runs one slice from `pc` and returns the uc_err: natively counted while more than FINAL_STRETCH instructions
   * of the budget remain (stopping at a block start near `sliceCount`), else under Unicorn's count, which stops
   * exactly at it.
   */
  runSlice(pc: number, sliceCount: number, remaining: number): number {
    if (this.native && remaining > FINAL_STRETCH) {
      this.startNativeSlice(Math.min(sliceCount, remaining - FINAL_STRETCH));
      return this.engine.start(pc, 0xffff_ffff, 0);
    }
    // Unicorn compiles its counting hook into blocks as it translates them and does not flush them when this start
    // adds the hook: blocks translated for native slices would never count.
    if (this.nativeSlice) this.engine.flushTranslations();
    this.startUnicornSlice();
    return this.engine.start(pc, 0xffff_ffff, sliceCount);
  }

  /** Runs the block at `pc` alone (natively: a slice stopped at the next block's start); returns the uc_err. */
  runSingleBlock(pc: number): number {
    return this.runSlice(pc, 1, this.native ? FINAL_STRETCH + 1 : 1);
  }

  /** What the slice just run executed (a native slice may pass its count by up to a block). */
  executedInSlice(sliceCount: number): number {
    if (this.nativeSlice) return this.now() - this.base;
    return this.counterLow ? Math.min(this.now() - this.base, sliceCount) : sliceCount;
  }

  /** Throws when a block ran where the native counter has no code region: it was not counted. */
  checkNative(): void {
    const unknown = this.native?.unknownBlocks ?? 0;
    if (unknown > 0) {
      throw new Error(
        `native instruction counter: ${unknown} translated block(s) ran outside the flash, RAM and service page it knows; the instruction count is wrong (run with TLSF_SIM_COUNTER=unicorn)`,
      );
    }
  }

  get mode(): CountingMode {
    if (this.native) return 'native-blocks';
    return this.counterLow ? 'unicorn-count' : 'approximate';
  }

  get exact(): boolean {
    return this.native !== null || this.counterLow !== null;
  }

  /** Whether slices can be counted natively (the run loop then gives the engine no instruction count). */
  get nativeAvailable(): boolean {
    return this.native !== null;
  }

  /** Whether Unicorn's counter was located (else a slice it counts is taken to have run its whole count). */
  get unicornCounterFound(): boolean {
    return this.counterLow !== null;
  }

  /** Whether the running (or last) slice is counted natively. */
  get sliceIsNative(): boolean {
    return this.nativeSlice;
  }

  /** Instructions before the running slice. */
  get finished(): number {
    return this.base;
  }

  /** Starts a natively counted slice: the counter stops the run at the first block start past `limit`. */
  private startNativeSlice(limit: number): void {
    this.native!.startSlice(limit);
    this.nativeSlice = true;
  }

  /** Starts a slice counted by Unicorn's count (the native counter, if any, pauses). */
  private startUnicornSlice(): void {
    this.native?.pause(true);
    this.nativeSlice = false;
    if (!this.counterLow) this.approximateSlices = true;
  }

  /**
   * Whether the slice just run stopped because its count ran out, rather than at wfi or another stop of the
   * core's own. `executed` and `sliceCount` are what a Unicorn-counted slice ran and was given.
   */
  sliceRanOut(executed: number, sliceCount: number): boolean {
    if (this.nativeSlice) return this.native!.stoppedByLimit;
    return this.counterLow !== null && executed >= sliceCount;
  }

  /** Instructions executed so far (exact unless the mode is approximate). */
  now(): number {
    if (this.nativeSlice) return this.base + this.nativeNow();
    const low = this.counterLow;
    if (!low) return this.base;
    return this.base + low[0]! + low[1]! * 0x1_0000_0000;
  }

  /**
   * The native count of the running slice, matching Unicorn's count: an instruction counts once it started (its
   * code hook would have run), so inside a memory or interrupt hook, and after a stop that left the PC on an
   * instruction of the current block (a fault), the count is the block's start plus the instructions up to and
   * including the one at the PC. Elsewhere (a block hook before the block's own count, a stop at a block start or
   * after a block's last instruction) every counted block ran whole.
   */
  private nativeNow(): number {
    const words = this.nativeWords!;
    const total = words[COUNTER_WORD.total]!;
    const blockSize = words[COUNTER_WORD.blockSize]!;
    if (blockSize === 0 || (words[COUNTER_WORD.flags]! & COUNTER_FLAG.stoppedByLimit) !== 0) return total;
    const blockStart = words[COUNTER_WORD.blockStart]!;
    const pc = this.readPc() & ~1;
    if (pc < blockStart || pc >= blockStart + blockSize) return total;
    let instructions = 1;
    for (let address = blockStart; address < pc; instructions++) {
      address += this.codeHalfword(address) >= THUMB32_FIRST ? 4 : 2;
    }
    return words[COUNTER_WORD.before]! + instructions;
  }

  /** A slice ran `count` instructions: fold them into the base and clear the counter for the next slice. */
  sliceDone(count: number): void {
    this.base += count;
    if (this.counterLow) {
      this.counterLow[0] = 0;
      this.counterLow[1] = 0;
    }
    if (this.nativeSlice) this.native!.startSlice(0);
  }
}
