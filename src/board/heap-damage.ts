// Finding the block header a firmware overwrote, from what the board knows independently of the heap's own
// metadata: every live block's address and usable size (the block table). A used block's header must say
// "used, usable + 4 bytes", and the header right after it must not claim that its previous block is free.
// Only run once the allocator has refused a call or its check failed: a walk of the live blocks with a few
// word reads each.
import type { BlockTable } from './block-table.js';
import type { BoardMemory } from './memory-map.js';

const HEADER_SIZE = 4;
const FREE_BIT = 1;
const PREV_FREE_BIT = 2;
const SIZE_MASK = ~3;
const MIN_BLOCK_SIZE = 16;

export interface DamagedHeader {
  /** Address of the overwritten header word. */
  header: number;
  /** The block whose header it is (its payload address). */
  block: number;
  /** What the header holds now. */
  word: number;
  /** What it should say. */
  expected: string;
  /** The live block whose payload ends right at the header (the likely overrunner), if any. */
  below?: number;
}

/**
 * The damaged header to report: the one of `focus` (the block a failing call was about) or of the block right
 * after it when either is damaged, else the lowest damaged header in the heap; null when every header next to
 * a live block is consistent.
 * `sentinels` are the heap's end-of-pool markers (zero-size used blocks), which no live block owns; null when the
 * heap cannot list them, and then any zero word after a live block passes for one.
 */
export function findDamagedHeader(
  blocks: BlockTable,
  memory: BoardMemory,
  sentinels: readonly number[] | null,
  focus?: number,
): DamagedHeader | null {
  const live = blocks.live();
  const endingAt = new Map<number, number>();
  const liveAt = new Map<number, number>();
  for (const block of live) {
    endingAt.set(block.address + block.usable, block.address);
    liveAt.set(block.address, block.usable);
  }
  const withBelow = (damage: DamagedHeader): DamagedHeader => {
    const below = endingAt.get(damage.header);
    if (below !== undefined) damage.below = below;
    return damage;
  };

  /** The header of the live block at `address`, checked against its recorded size. */
  const ownHeader = (address: number, usable: number): DamagedHeader | null => {
    const header = address - HEADER_SIZE;
    const word = memory.wordAt(header);
    const below = endingAt.get(header);
    const consistent =
      (word & SIZE_MASK) === usable + HEADER_SIZE &&
      (word & FREE_BIT) === 0 &&
      (below === undefined || (word & PREV_FREE_BIT) === 0);
    return consistent
      ? null
      : withBelow({ header, block: address, word, expected: `a used block of ${usable + HEADER_SIZE} bytes` });
  };

  /** The header right after the live block at `address` when no live block owns it: a free block or a sentinel. */
  const nextHeader = (address: number, usable: number): DamagedHeader | null => {
    const header = address + usable;
    if (liveAt.has(header + HEADER_SIZE)) return null; // checked as that block's own header
    const word = memory.wordAt(header);
    const size = word & SIZE_MASK;
    let consistent: boolean;
    if ((word & PREV_FREE_BIT) !== 0) consistent = false;
    else if ((word & FREE_BIT) === 0) consistent = word === 0 && (sentinels === null || sentinels.includes(header));
    else {
      // A free block's size must lead to a header whose P flag says "previous free", and the free block's last
      // word (the back link) must point back at it. A wrong back link under a plausible size is a write into
      // the free block, not into its header: not this diagnosis.
      consistent =
        size >= MIN_BLOCK_SIZE &&
        memory.regionOf(header, size + HEADER_SIZE)?.kind === 'ram' &&
        ((memory.wordAt(header + size) & PREV_FREE_BIT) !== 0 || memory.wordAt(header + size - HEADER_SIZE) === header);
    }
    const expected = 'a free block or the end of the heap, after a used block (P flag clear)';
    return consistent ? null : withBelow({ header, block: header + HEADER_SIZE, word, expected });
  };

  if (focus !== undefined) {
    const usable = liveAt.get(focus);
    if (usable !== undefined) {
      const damage = ownHeader(focus, usable) ?? nextHeader(focus, usable);
      if (damage) return damage;
    }
  }
  for (const block of live) {
    const damage = ownHeader(block.address, block.usable) ?? nextHeader(block.address, block.usable);
    if (damage) return damage;
  }
  return null;
}
