// The stack: painted before the run so that its high-water mark can be read after it, and checked for going
// below its limit. On every run the checks cost nothing per instruction (SP at heap calls, between slices and
// where the run stopped, and the paint's lowest word); a run they suspect is run again with a write watch below
// the limit, which finds the instruction. Why not a watch on every run: docs/board.md, The stack.
import { hex } from '../allocator/index.js';
import type { ElfImage } from './elf.js';
import type { StackBounds } from './image-loader.js';
import { symbolFor, where } from './code-locations.js';
import type { RunOutcome } from './run-outcome.js';
import type { StackOverflowInfo } from './run-types.js';

/** The paint: FreeRTOS fills its task stacks with the same byte, so it is a known "untouched" value. */
export const STACK_PAINT = 0xa5a5a5a5;
const SHF_ALLOC = 0x2;
/** The most one store-multiple writes below SP before SP moves (vpush of 16 doubleword registers). */
const PUSH_REACH = 128;

/** A write just below SP, as a push makes before SP moves. */
function isPushBelow(address: number, size: number, sp: number): boolean {
  return address + size <= sp && address >= sp - PUSH_REACH;
}

export class StackMonitor {
  readonly top: number;
  readonly limit: number;
  readonly size: number;
  /** Set when a check saw SP below the limit, or the paint's lowest word was touched. */
  suspect = false;
  overflow: StackOverflowInfo | undefined;
  /** A watched write just below an SP still at or above the limit: maybe the push that goes below it. */
  private pendingPush: { pc: number; address: number; size: number } | null = null;
  private readonly view: DataView;
  private readonly groupBase: number;
  /** Parts of the stack range that hold the image (never painted, never read as stack use). */
  private readonly imageRanges: [number, number][];

  /**
   * `ownStack(sp)`: SP lies in memory the firmware may have made a stack of its own (a live heap block, a static
   * array), as a coroutine library does. SP there is no overflow while the main stack's lowest word still holds
   * the paint: a stack that ran over its limit wrote it on the way down (a frame that jumps past it lands in
   * free memory, not a live block).
   */
  constructor(
    bounds: StackBounds,
    private readonly image: ElfImage,
    private readonly outcome: RunOutcome,
    private readonly ownStack: (sp: number) => boolean,
  ) {
    this.top = bounds.top;
    this.limit = bounds.limit;
    this.size = bounds.size;
    this.view = new DataView(bounds.group.memory);
    this.groupBase = bounds.group.base;
    const inStack = (low: number, high: number) => low < this.top && this.limit < high;
    this.imageRanges = [
      ...image.segments.flatMap(
        (segment) =>
          [
            [segment.vaddr, segment.vaddr + segment.memSize],
            [segment.paddr, segment.paddr + segment.fileSize],
          ] as [number, number][],
      ),
      ...image.sections
        .filter((section) => (section.flags & SHF_ALLOC) !== 0)
        .map((section) => [section.addr, section.addr + section.size] as [number, number]),
    ].filter(([low, high]) => high > low && inStack(low, high));
  }

  private holdsImage(address: number): boolean {
    for (const [low, high] of this.imageRanges) if (address + 4 > low && address < high) return true;
    return false;
  }

  /** Fills the stack with the paint after the image is loaded; firmware finds garbage there on hardware too. */
  paint(): void {
    for (let address = this.limit; address < this.top; address += 4) {
      if (!this.holdsImage(address)) this.view.setUint32(address - this.groupBase, STACK_PAINT, true);
    }
  }

  /** Bytes from the top to the deepest word that no longer holds the paint: the high-water mark, to the word. */
  peak(): number {
    for (let address = this.limit; address < this.top; address += 4) {
      if (this.holdsImage(address)) continue;
      if (this.view.getUint32(address - this.groupBase, true) !== STACK_PAINT) return this.top - address;
    }
    return 0;
  }

  private onOwnStack(sp: number): boolean {
    return !this.bottomTouched() && this.ownStack(sp);
  }

  /** Whether the stack's lowest painted word lost the paint. */
  private bottomTouched(): boolean {
    for (let address = this.limit; address < this.top; address += 4) {
      if (!this.holdsImage(address)) return this.view.getUint32(address - this.groupBase, true) !== STACK_PAINT;
    }
    return false;
  }

  /** After the run: a stack used down to its last word may have gone further; a watched run decides. */
  settle(): number {
    const peak = this.peak();
    if (peak >= this.size) this.suspect = true;
    return peak;
  }

  /** The range a watched run watches for writes while SP is below the limit: the RAM below the stack. */
  watchRange(): { begin: number; end: number } | null {
    return this.limit > this.groupBase ? { begin: this.groupBase, end: this.limit - 1 } : null;
  }

  /**
   * SP seen below the limit without a watched write that took it there (at a heap call, between slices, where
   * a fault stopped the run): the run stops as a stack overflow at `pc`, or at the push that went below.
   * False, and nothing stops, when SP is on a stack of the firmware's own.
   */
  spBelowLimit(sp: number, pc: number, seenAt: string, address?: number): boolean {
    if (this.onOwnStack(sp)) return false;
    this.suspect = true;
    if (this.pendingPush) {
      const push = this.pendingPush;
      this.overflowAt(push.pc, sp, push.address, push.size);
      return true;
    }
    const info = this.overflowInfo(pc, sp, address);
    const wrote = address !== undefined ? `, accessing ${hex(address)}` : '';
    this.outcome.stop(
      'stack-overflow',
      `stack-overflow: sp ${hex(sp)} is below the stack's limit ${hex(this.limit)} ` +
        `${seenAt} ${where(this.image, pc)}${wrote}; ${this.describe(info.depth)}`,
    );
    return true;
  }

  /**
   * A watched write below the limit. While SP is below the limit too, it is the overflow. A push writes below
   * SP before SP moves, so a write just below an SP still at or above the limit is held as the likely first
   * push of an overflow: the next watched write (or SP check) with SP below the limit reports it; a write
   * with SP above the limit that is not just below SP (a heap or data write) drops it.
   */
  onWatchedWrite(address: number, size: number, sp: number, pc: number): void {
    if (this.overflow) return;
    if (sp < this.limit && !this.onOwnStack(sp)) {
      const push = this.pendingPush;
      if (push) this.overflowAt(push.pc, sp, push.address, push.size);
      else this.overflowAt(pc, sp, address, size);
    } else if (isPushBelow(address, size, sp)) {
      this.pendingPush = { pc, address, size };
    } else {
      this.pendingPush = null;
    }
  }

  /**
   * A fault at a write just below SP and below the limit while SP is still at or above it (--guard stops at
   * the push before SP moves): that push is the overflow. False when the write does not look like one.
   */
  pushBelowLimit(sp: number, pc: number, address: number, size: number): boolean {
    if (!isPushBelow(address, size, sp) || address >= this.limit) return false;
    this.suspect = true;
    this.overflowAt(pc, sp, address, size);
    return true;
  }

  private overflowAt(pc: number, sp: number, address: number, size: number): void {
    const info = this.overflowInfo(pc, sp, address);
    const bytes = `${size} byte${size === 1 ? '' : 's'}`;
    this.outcome.stop(
      'stack-overflow',
      `stack-overflow: ${where(this.image, pc)} wrote ${bytes} at ${hex(address)} ` +
        `with sp ${hex(sp)}, below the stack's limit ${hex(this.limit)}; ${this.describe(info.depth)}`,
    );
  }

  private overflowInfo(pc: number, sp: number, address: number | undefined): StackOverflowInfo {
    const depth = this.top - Math.min(sp, address ?? sp);
    const info: StackOverflowInfo = { pc: pc & ~1, sp, limit: this.limit, depth };
    if (address !== undefined) info.address = address;
    const symbol = symbolFor(this.image, pc);
    if (symbol) info.symbol = symbol;
    this.overflow = info;
    return info;
  }

  private describe(depth: number): string {
    return (
      `the stack went ${depth} bytes deep, ${depth - this.size} past its ${this.size} bytes from ${hex(this.top)} ` +
      '(raise it with --stack / stackSize)'
    );
  }
}
