// Telling firmware that can never continue from firmware that is merely long, without a hook per instruction
// or per block: the run loop asks these questions between slices of instructions (docs/board.md, Hangs).
// No interrupt is modelled, so a core that branches to itself or waits for an interrupt or event stays there.
import type { BoardMemory } from './memory-map.js';

const B_SELF = 0xe7fe; // b .
const BW_SELF = [0xf7ff, 0xbffe] as const; // b.w .
const WFI = 0xbf30;
const WFE = 0xbf20;
const SEV = 0xbf40;
const HINT_W = 0xf3af; // first halfword of the 32-bit hints (wfi.w, wfe.w, sev.w)
const WFI_W = 0x8003;
const WFE_W = 0x8002;
const SEV_W = 0x8004;

/** Whether the instruction at `pc` is an unconditional-looking branch to itself (`b .` or `b.w .`). */
export function branchesToSelf(memory: BoardMemory, pc: number): boolean {
  const at = pc & ~1;
  const first = memory.codeHalfword(at);
  return first === B_SELF || (first === BW_SELF[0] && memory.codeHalfword(at + 2) === BW_SELF[1]);
}

/**
 * The hint instruction that ends just before `pc` (where Unicorn leaves the PC after wfi/wfe), and its
 * address; null when the instruction there is not one of them.
 */
export function hintBefore(memory: BoardMemory, pc: number): { hint: 'wfi' | 'wfe' | 'sev'; address: number } | null {
  const at = pc & ~1;
  const short = memory.codeHalfword(at - 2);
  if (short === WFI) return { hint: 'wfi', address: at - 2 };
  if (short === WFE) return { hint: 'wfe', address: at - 2 };
  if (short === SEV) return { hint: 'sev', address: at - 2 };
  if (memory.codeHalfword(at - 4) === HINT_W) {
    if (short === WFI_W) return { hint: 'wfi', address: at - 4 };
    if (short === WFE_W) return { hint: 'wfe', address: at - 4 };
    if (short === SEV_W) return { hint: 'sev', address: at - 4 };
  }
  return null;
}

/** The PCs at the ends of the last slices, to say honestly which code a run that never ended was in. */
export class SliceTrail {
  private readonly pcs: Uint32Array;
  private filled = 0;
  private next = 0;

  constructor(length = 8) {
    this.pcs = new Uint32Array(length);
  }

  add(pc: number): void {
    this.pcs[this.next] = pc;
    this.next = (this.next + 1) % this.pcs.length;
    if (this.filled < this.pcs.length) this.filled++;
  }

  /** The sampled PCs, oldest first. */
  samples(): number[] {
    const samples: number[] = [];
    const length = this.pcs.length;
    for (let i = 0; i < this.filled; i++) samples.push(this.pcs[(this.next - this.filled + i + length) % length]!);
    return samples;
  }
}
