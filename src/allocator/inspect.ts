/**
 * Reading a heap without changing it: the one bounded block walk, and everything built on it
 * (walk, stats, check, findBlock, metadata ranges), the largest free block from the bitmaps, and
 * the control structure as data (inspectControl) for views that draw it. None of this is on the
 * malloc/free paths; all of it tolerates corrupt memory and never loops forever.
 */
import {
  BLOCK_HEADER_SIZE,
  FREE_BIT,
  MIN_BLOCK_SIZE,
  PREV_FREE_BIT,
  mapBlockSize,
  type TlsfLayout,
} from './constants.js';
import { TlsfError, hex } from './errors.js';
import { POOL_RECORD_BYTES } from './region.js';
import type { Tlsf } from './tlsf.js';
import type { BlockInfo, CheckResult, MetadataRange, PoolInfo, TlsfStats } from './types.js';

const SIZE_MASK = ~3;

/** A pool as the heap keeps it: its block area and the buffer its words are in. */
export interface PoolView extends PoolInfo {
  /** Address of the pool record in the region's last 16 bytes. */
  record: number;
  /** Target address of words[0]. */
  memoryBase: number;
  words: Int32Array;
}

/** What inspection needs of a heap's internals (Tlsf.view()). */
export interface HeapView {
  pools: readonly PoolView[];
  layout: TlsfLayout;
  controlAddress: number;
  /** The words holding the control structure, and the indices of flBitmap, slBitmap[0], heads[0][0] in them. */
  controlWords: Int32Array;
  flWord: number;
  slWord: number;
  headWord: number;
  peakUsed: number;
  /** Why a pool's record does not match the heap (overwritten), or undefined. */
  recordProblem(pool: PoolView): string | undefined;
}

/** Why a walk of one pool stopped. */
export type WalkEnd =
  | { kind: 'sentinel'; lastFree: boolean; lastBlock: number }
  | { kind: 'stopped' }
  | { kind: 'too-many' | 'unreadable' | 'bad-size'; at: number; word: number };

/** A word anywhere in the heap's pools: -1 when misaligned or outside every pool. */
export function peek(view: HeapView, address: number): number {
  if (!Number.isFinite(address) || (address & 3) !== 0) return -1;
  const addr = address >>> 0;
  for (const pool of view.pools) {
    if (addr >= pool.start && addr + 4 <= pool.end) return pool.words[(addr - pool.memoryBase) >> 2]! >>> 0;
  }
  return -1;
}

/**
 * THE block walk: visits the blocks of `pool` from its first block to its sentinel, in address order.
 * Bounded by the number of minimum-size blocks the pool can hold, so a cycle cannot keep it going;
 * stops at the first header that is unreadable or whose size is impossible (below the minimum, not a
 * multiple of the alignment, or past the sentinel), and says why. `visit` returns true to stop early.
 */
export function walkPool(
  view: HeapView,
  pool: PoolView,
  // biome-ignore lint/suspicious/noConfusingVoidType: visitors may return nothing (go on) or true (stop)
  visit: (header: number, word: number, size: number) => boolean | void,
): WalkEnd {
  const alignMask = view.layout.align - 1;
  let block = pool.firstBlock;
  let steps = Math.floor((pool.sentinel - pool.firstBlock) / MIN_BLOCK_SIZE) + 1;
  let lastFree = false;
  let lastBlock = 0;
  while (block !== pool.sentinel) {
    if (steps-- <= 0) return { kind: 'too-many', at: block, word: peek(view, block) };
    const word = peek(view, block);
    if (word < 0) return { kind: 'unreadable', at: block, word };
    const size = word & SIZE_MASK;
    if (size < MIN_BLOCK_SIZE || (size & alignMask) !== 0 || block + size > pool.sentinel) {
      return { kind: 'bad-size', at: block, word };
    }
    if (visit(block, word, size) === true) return { kind: 'stopped' };
    lastFree = (word & FREE_BIT) !== 0;
    lastBlock = block;
    block += size;
  }
  return { kind: 'sentinel', lastFree, lastBlock };
}

function blockInfo(header: number, word: number, size: number): BlockInfo {
  const used = (word & FREE_BIT) === 0;
  return { addr: header + BLOCK_HEADER_SIZE, size: size - BLOCK_HEADER_SIZE, used, header, blockSize: size };
}

/** Every block of every pool in address order; TlsfError('corrupt') at a broken header. */
export function walkHeap(view: HeapView, visit: (block: BlockInfo) => void): void {
  for (const pool of view.pools) {
    const end = walkPool(view, pool, (header, word, size) => visit(blockInfo(header, word, size)));
    if (end.kind !== 'sentinel' && end.kind !== 'stopped') {
      throw new TlsfError('corrupt', `walk: broken block header ${hex(end.word)} at ${hex(end.at)}`, end.at);
    }
  }
}

export function heapStats(view: HeapView): TlsfStats {
  let usedBytes = 0;
  let freeBytes = 0;
  let usedBlocks = 0;
  let freeBlocks = 0;
  let largestFree = 0;
  let poolBytes = 0;
  let lastPoolStart = Number.NaN;
  for (const pool of view.pools) {
    if (pool.start !== lastPoolStart) poolBytes += pool.end - pool.start; // pieces of one region share start
    lastPoolStart = pool.start;
    walkPool(view, pool, (_header, word, size) => {
      if ((word & FREE_BIT) !== 0) {
        freeBytes += size;
        freeBlocks++;
        if (size > largestFree) largestFree = size;
      } else {
        usedBytes += size;
        usedBlocks++;
      }
    });
  }
  return {
    usedBytes,
    freeBytes,
    usedBlocks,
    freeBlocks,
    largestFree,
    peakUsed: view.peakUsed,
    controlBytes: view.layout.controlBytes,
    poolBytes,
    overheadBytes: poolBytes - freeBytes - (usedBytes - usedBlocks * BLOCK_HEADER_SIZE),
    fragmentation: freeBytes === 0 ? 0 : 1 - largestFree / freeBytes,
    pools: poolList(view),
  };
}

export function poolList(view: HeapView): PoolInfo[] {
  return view.pools.map((pool) => ({
    start: pool.start,
    end: pool.end,
    firstBlock: pool.firstBlock,
    sentinel: pool.sentinel,
  }));
}

/**
 * Size of the largest free block (header included), without walking the heap: the highest non-empty
 * class from the bitmaps, then a scan of that one list (blocks in a class differ by less than its
 * width, so the list is short in practice; the scan is bounded all the same).
 */
export function largestFreeBlock(view: HeapView): number {
  const { controlWords: words, layout } = view;
  const levelBits = words[view.flWord]! & validBits(layout.flCount);
  if (levelBits === 0) return 0;
  const fl = 31 - Math.clz32(levelBits);
  const rowBits = words[view.slWord + fl]! & validBits(layout.slCount);
  if (rowBits === 0) return 0; // bitmaps disagree: corrupt (check() says where)
  const sl = 31 - Math.clz32(rowBits);
  let node = words[view.headWord + (fl << layout.slLog2) + sl]!;
  let largest = 0;
  let budget = 0;
  for (const pool of view.pools) budget += (pool.sentinel - pool.firstBlock) / MIN_BLOCK_SIZE;
  while (node !== 0 && budget-- > 0) {
    const word = peek(view, node);
    if (word < 0) break;
    const size = word & SIZE_MASK;
    if (size > largest) largest = size;
    node = peek(view, node + 4);
    if (node <= 0) break;
  }
  return largest;
}

function validBits(count: number): number {
  return count >= 32 ? -1 : (1 << count) - 1;
}

/** The control structure as data: bitmaps and list heads as stored, where it is and its geometry. */
export interface ControlInspection {
  /** Target address and bytes of the control structure (flBitmap, slBitmap[flCount], heads[flCount][slCount]). */
  address: number;
  bytes: number;
  align: number;
  slLog2: number;
  flCount: number;
  slCount: number;
  firstLevelBitmap: number;
  /** One word per first-level row, as stored. */
  secondLevelBitmaps: number[];
  /** heads[fl][sl]: the header address of the first free block of each class, or 0, as stored. */
  heads: number[][];
}

/**
 * The control structure of `heap` as data, so that views which draw it (the CLI's map and step) need
 * not know its layout: the bitmaps and list heads as stored, its address, size and the configuration.
 */
export function inspectControl(heap: Tlsf): ControlInspection {
  const view = heap.view();
  const { controlWords: words, layout } = view;
  const secondLevelBitmaps: number[] = [];
  const heads: number[][] = [];
  for (let fl = 0; fl < layout.flCount; fl++) {
    secondLevelBitmaps.push(words[view.slWord + fl]! >>> 0);
    const row: number[] = [];
    for (let sl = 0; sl < layout.slCount; sl++) row.push(words[view.headWord + (fl << layout.slLog2) + sl]! >>> 0);
    heads.push(row);
  }
  return {
    address: view.controlAddress,
    bytes: layout.controlBytes,
    align: layout.align,
    slLog2: layout.slLog2,
    flCount: layout.flCount,
    slCount: layout.slCount,
    firstLevelBitmap: words[view.flWord]! >>> 0,
    secondLevelBitmaps,
    heads,
  };
}

/** The next-free link of the free block whose header is at `header` (0: end of list); -1 when unreadable. */
export function nextFreeLink(heap: Tlsf, header: number): number {
  return peek(heap.view(), header + 4);
}

/**
 * The block containing `addr`, else the nearest one in the same pool (for fault reports).
 * Tolerates corrupt memory: stops at the first broken header.
 */
export type NearestBlock = BlockInfo & { contains: boolean; distance: number };

export function findBlockIn(view: HeapView, addr: number): NearestBlock | undefined {
  if (!Number.isInteger(addr)) return undefined; // NaN would compare false everywhere and name a block at distance NaN
  let best: NearestBlock | undefined;
  for (const pool of view.pools) {
    if (addr < pool.start - 0x1000 || addr >= pool.end + 0x1000) continue;
    const end = walkPool(view, pool, (header, word, size) => {
      const contains = addr >= header && addr < header + size;
      const distance = contains ? 0 : addr < header ? header - addr : addr - (header + size) + 1;
      if (best === undefined || distance < best.distance)
        best = { ...blockInfo(header, word, size), contains, distance };
      return contains;
    });
    if (end.kind === 'stopped') return best;
  }
  return best;
}

/**
 * Every byte range that is allocator metadata right now: the control structure, pool records, every
 * header, free blocks' links and back links, sentinels. For a guard that traps firmware writes into them.
 */
export function metadataRangesOf(view: HeapView): MetadataRange[] {
  const ranges: MetadataRange[] = [
    { start: view.controlAddress, end: view.controlAddress + view.layout.controlBytes, what: 'control' },
  ];
  let lastRecord = Number.NaN;
  for (const pool of view.pools) {
    walkPool(view, pool, (header, word, size) => {
      ranges.push({ start: header, end: header + 4, what: 'header' });
      if ((word & FREE_BIT) !== 0) {
        ranges.push({ start: header + 4, end: header + 12, what: 'free-links' });
        ranges.push({ start: header + size - 4, end: header + size, what: 'back-link' });
      }
    });
    ranges.push({ start: pool.sentinel, end: pool.sentinel + 4, what: 'sentinel' });
    if (pool.record !== lastRecord) {
      ranges.push({ start: pool.record, end: pool.record + POOL_RECORD_BYTES, what: 'control' });
    }
    lastRecord = pool.record;
  }
  return ranges;
}

/**
 * Walks every pool and every free list and reports each broken invariant, naming addresses.
 * Never throws and never loops forever: every loop is bounded by the pool size or block count.
 */
export function checkHeap(view: HeapView): CheckResult {
  const errors: string[] = [];
  const report = (message: string): void => {
    if (errors.length < 1000) errors.push(message);
  };
  const { layout } = view;
  const alignMask = layout.align - 1;
  const freeInWalk = new Map<number, number>();
  let lastRecord = Number.NaN;
  for (const pool of view.pools) {
    if (pool.record !== lastRecord) {
      // pieces of one region share its record
      const problem = view.recordProblem(pool);
      if (problem !== undefined) report(`${problem} (overwritten?)`);
      lastRecord = pool.record;
    }
    const where = `pool ${hex(pool.start)}`;
    let previousFree = false;
    let previousBlock = 0;
    const end = walkPool(view, pool, (block, word, size) => {
      const free = (word & FREE_BIT) !== 0;
      const prevFreeFlag = (word & PREV_FREE_BIT) !== 0;
      if (((block + BLOCK_HEADER_SIZE) & alignMask) !== 0) {
        report(`${where}: block at ${hex(block)} has a payload not aligned to ${layout.align}`);
      }
      if (prevFreeFlag !== previousFree) {
        report(
          `${where}: block at ${hex(block)} has P=${prevFreeFlag ? 1 : 0} but the previous block${previousBlock ? ` ${hex(previousBlock)}` : ''} is ${previousFree ? 'free' : 'used'}`,
        );
      }
      if (free) {
        if (previousFree)
          report(`${where}: adjacent free blocks at ${hex(previousBlock)} and ${hex(block)} (not coalesced)`);
        const backLink = peek(view, block + size - 4);
        if (backLink !== block)
          report(
            `${where}: free block at ${hex(block)} has back link ${hex(backLink)} in its last word, expected itself`,
          );
        freeInWalk.set(block, size);
      }
      previousFree = free;
      previousBlock = block;
    });
    if (end.kind === 'too-many') report(`${where}: more blocks than fit in the pool (cycle?) at ${hex(end.at)}`);
    else if (end.kind === 'unreadable') report(`${where}: block at ${hex(end.at)} is misaligned or outside the pool`);
    else if (end.kind === 'bad-size') {
      report(`${where}: block at ${hex(end.at)} has impossible size ${end.word & SIZE_MASK} (header ${hex(end.word)})`);
    } else if (end.kind === 'sentinel') {
      const sentinelWord = peek(view, pool.sentinel);
      if (sentinelWord < 0 || (sentinelWord & SIZE_MASK) !== 0 || (sentinelWord & FREE_BIT) !== 0) {
        report(`${where}: sentinel at ${hex(pool.sentinel)} is ${hex(sentinelWord)}, expected a used zero-size block`);
      } else if (((sentinelWord & PREV_FREE_BIT) !== 0) !== end.lastFree) {
        report(
          `${where}: sentinel at ${hex(pool.sentinel)} has P=${sentinelWord & PREV_FREE_BIT ? 1 : 0} but the last block ${hex(end.lastBlock)} is ${end.lastFree ? 'free' : 'used'}`,
        );
      }
    }
  }
  checkFreeLists(view, freeInWalk, report);
  return { ok: errors.length === 0, errors };
}

/** Free lists against the bitmaps and against the free blocks the walk found. */
function checkFreeLists(view: HeapView, freeInWalk: Map<number, number>, report: (message: string) => void): void {
  const { controlWords: words, layout } = view;
  const seen = new Set<number>();
  const flBitmap = words[view.flWord]!;
  if (layout.flCount < 32 && flBitmap >>> layout.flCount !== 0)
    report(`control: flBitmap ${hex(flBitmap)} has bits above row ${layout.flCount - 1}`);
  for (let fl = 0; fl < layout.flCount; fl++) {
    const rowBits = words[view.slWord + fl]!;
    if (((flBitmap >>> fl) & 1) !== (rowBits !== 0 ? 1 : 0)) {
      report(`control: flBitmap bit ${fl} is ${(flBitmap >>> fl) & 1} but slBitmap[${fl}] is ${hex(rowBits)}`);
    }
    if (layout.slCount < 32 && rowBits >>> layout.slCount !== 0)
      report(`control: slBitmap[${fl}] ${hex(rowBits)} has bits above class ${layout.slCount - 1}`);
    for (let sl = 0; sl < layout.slCount; sl++) {
      const head = words[view.headWord + (fl << layout.slLog2) + sl]! >>> 0;
      const bit = (rowBits >>> sl) & 1;
      if (bit !== (head !== 0 ? 1 : 0)) {
        report(`control: list (${fl},${sl}) head is ${hex(head)} but its slBitmap bit is ${bit}`);
      }
      let node = head;
      let prev = 0;
      let budget = freeInWalk.size + 1;
      while (node !== 0) {
        if (budget-- <= 0) {
          report(`list (${fl},${sl}): longer than the number of free blocks (cycle?) at ${hex(node)}`);
          break;
        }
        const size = freeInWalk.get(node);
        if (size === undefined) {
          report(`list (${fl},${sl}): ${hex(node)} is not a free block of any pool`);
          break;
        }
        if (seen.has(node)) {
          report(`list (${fl},${sl}): ${hex(node)} is on a free list twice`);
          break;
        }
        seen.add(node);
        const own = mapBlockSize(layout, size);
        if (own.firstLevelIndex !== fl || own.secondLevelIndex !== sl) {
          report(
            `list (${fl},${sl}): free block ${hex(node)} of ${size} bytes belongs in list (${own.firstLevelIndex},${own.secondLevelIndex})`,
          );
        }
        const backLink = peek(view, node + 8);
        if (backLink !== prev)
          report(`list (${fl},${sl}): ${hex(node)} has prev link ${hex(backLink)}, expected ${hex(prev)}`);
        prev = node;
        node = peek(view, node + 4);
        if (node < 0) {
          report(`list (${fl},${sl}): next link of ${hex(prev)} is unreadable`);
          break;
        }
      }
    }
  }
  for (const block of freeInWalk.keys()) {
    if (!seen.has(block)) report(`free block ${hex(block)} of ${freeInWalk.get(block)} bytes is on no free list`);
  }
}
