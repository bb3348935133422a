// Instructions executed so far: the slices already finished plus Unicorn's own counter for the one running,
// read through a typed-array view when Engine.instructionCounter located it (docs/board.md, Counting).
import type { Engine } from './engine.js';

export class InstructionCount {
  /** Low and high words of Unicorn's 64-bit counter; null when it was not found (counts are per slice). */
  private readonly counterLow: Uint32Array | null;
  private base = 0;

  constructor(engine: Engine) {
    const counter = engine.instructionCounter();
    this.counterLow = counter ? new Uint32Array(counter.buffer, counter.byteOffset, 4) : null;
  }

  get exact(): boolean {
    return this.counterLow !== null;
  }

  /** Instructions before the running slice. */
  get finished(): number {
    return this.base;
  }

  /** Instructions executed so far (exact when the counter was located). */
  now(): number {
    const low = this.counterLow;
    if (!low) return this.base;
    return this.base + low[0]! + low[1]! * 0x1_0000_0000;
  }

  /** A slice ran `count` instructions: fold them into the base and clear the counter for the next slice. */
  sliceDone(count: number): void {
    this.base += count;
    if (this.counterLow) {
      this.counterLow[0] = 0;
      this.counterLow[1] = 0;
    }
  }
}
