import {
  classRange,
  CountedHeap,
  inspectControl,
  mapBlockSize,
  nextFreeLink,
  Tlsf,
  tlsfGeometry,
  type HeapKind,
  type TlsfGeometry,
} from '../allocator/index.js';
import type { BoardProfile, HeapEvent, RunReport } from '../board/index.js';
import type { PreparedRun } from './engine.js';
import { InputError } from './errors.js';
import { heapFactory } from './heap-factories.js';
import { formatHex } from './units.js';

// The learner views (map, step) look at the heap between calls, which the board does not keep. They replay
// the run's call log on a fresh host heap built exactly as the board builds its own (same factory, same
// base/offset, alignment and second-level bits; extra banks added as pools), so every block lands at the
// address the firmware got. Each replayed result is compared with the logged one: a mismatch is reported,
// never papered over.

export interface ReplaySetup {
  board: BoardProfile;
  heapBase: number;
  /** The report's heapSize: the main pool plus any extra banks. */
  heapSize: number;
  align: 4 | 8 | 16;
  slLog2: number;
  extraBanks?: string[];
  /** The heap the run used (default TLSF): the replay must use the same one for addresses to match. */
  allocator?: HeapKind;
}

/**
 * The replay of a board run's event log on a host heap laid out as that run's was: the same board, base,
 * size, alignment and banks, under the run's heap or `allocator` when another is to be compared.
 */
export function replayOfRun(
  prepared: PreparedRun,
  report: RunReport,
  allocator: HeapKind | undefined = prepared.settings.allocator,
): HeapReplay {
  const setup: ReplaySetup = {
    board: prepared.board,
    heapBase: report.heapBase,
    heapSize: report.heapSize,
    align: prepared.settings.align as 4 | 8 | 16,
    slLog2: prepared.settings.slLog2,
    extraBanks: prepared.options.extraBanks,
    allocator,
  };
  return new HeapReplay(setup, report.events ?? []);
}

/** TLSF, or one of the heaps it is compared with (they share walk, stats, poolList and the peak counters). */
export type ReplayHeap = Tlsf | CountedHeap;

interface MemoryGroup {
  base: number;
  size: number;
  memory: ArrayBuffer | null;
}

export interface SizeClass {
  fl: number;
  sl: number;
}

export interface HeapBlock {
  /** Header address. */
  header: number;
  /** Payload address: what malloc returned for a used block. */
  address: number;
  /** Whole block, header included. */
  blockSize: number;
  used: boolean;
  /** The list a free block is filed in (by its whole size); null for a used block. */
  sizeClass: SizeClass | null;
  /** Call number that returned this block (malloc, calloc, realloc, memalign); null for free blocks. */
  allocatedBy: number | null;
  /** Index of the pool (0: the main heap, then extra banks in order). */
  pool: number;
}

export interface FreeListState {
  fl: number;
  sl: number;
  classMin: number;
  classMax: number;
  /** Header addresses in list order, head first (the head is what malloc takes). */
  blocks: number[];
  bytes: number;
}

export interface HeapSnapshot {
  blocks: HeapBlock[];
  usedBytes: number;
  freeBytes: number;
  usedBlocks: number;
  freeBlocks: number;
  largestFree: number;
  fragmentation: number;
  /** The first-level bitmap word as stored in the control structure. */
  firstLevelBitmap: number;
  /** One second-level bitmap word per first-level row, as stored. */
  secondLevelBitmaps: number[];
  /** Every non-empty free list, followed from its head in the control structure. */
  freeLists: FreeListState[];
  /** Whether the bitmaps, the lists and the walk agree on which classes hold free blocks. */
  consistent: boolean;
  problems: string[];
}

export interface Divergence {
  call: number;
  op: string;
  logged: number;
  replayed: number | string;
}

/** A fresh heap shaped like the board's, and the run's calls applied to it one at a time. */
export class HeapReplay {
  readonly heap: ReplayHeap;
  readonly geometry: TlsfGeometry;
  readonly mainLength: number;
  private readonly groups: MemoryGroup[];
  private readonly allocatedBy = new Map<number, number>();
  /** Index of the next event to apply. */
  position = 0;
  divergence: Divergence | null = null;

  constructor(
    readonly setup: ReplaySetup,
    readonly events: HeapEvent[],
  ) {
    const { board } = setup;
    this.groups = groupBanks(board);
    this.geometry = tlsfGeometry({ align: setup.align, slLog2: setup.slLog2 });
    const extra = (setup.extraBanks ?? []).map((name) => {
      const bank = board.ram.find((candidate) => candidate.name.toLowerCase() === name.toLowerCase());
      if (!bank) throw new InputError(`--bank ${name}: board ${board.name} has no RAM bank "${name}"`);
      return bank;
    });
    this.mainLength = setup.heapSize - extra.reduce((sum, bank) => sum + bank.size, 0);
    const main = this.groupOf(setup.heapBase);
    const allocator = setup.allocator ?? 'tlsf';
    const heap = heapFactory(allocator)(this.memoryOf(main), {
      base: main.base,
      offset: setup.heapBase - main.base,
      length: this.mainLength,
      align: setup.align,
      slLog2: setup.slLog2,
    });
    // The board's factory is typed as its narrow HeapAllocator; the learner views need the inspection API.
    if (!(heap instanceof Tlsf) && !(heap instanceof CountedHeap))
      throw new Error(`the ${allocator} heap factory did not return one of this project's heaps`);
    this.heap = heap;
    for (const bank of extra) {
      const group = this.groupOf(bank.base);
      heap.addPool(this.memoryOf(group), { base: group.base, offset: bank.base - group.base, length: bank.size });
    }
  }

  /** The TLSF heap, for what only TLSF has (classes, bitmaps); a one-line error for another heap. */
  get tlsf(): Tlsf {
    if (!(this.heap instanceof Tlsf))
      throw new InputError(
        `this view explains TLSF's classes and bitmaps; the run used the ${this.heap.kind} heap (use map, or --allocator tlsf)`,
      );
    return this.heap;
  }

  private groupOf(address: number): MemoryGroup {
    const group = this.groups.find(
      (candidate) => address >= candidate.base && address < candidate.base + candidate.size,
    );
    if (!group)
      throw new Error(`heap address ${formatHex(address)} is in no RAM bank of board ${this.setup.board.name}`);
    return group;
  }

  private memoryOf(group: MemoryGroup): ArrayBuffer {
    group.memory ??= new ArrayBuffer(group.size);
    return group.memory;
  }

  get done(): boolean {
    return this.position >= this.events.length || this.divergence !== null;
  }

  /** Applies the next logged event; returns it, or null when the log is exhausted or the replay diverged. */
  step(): HeapEvent | null {
    if (this.done) return null;
    const event = this.events[this.position]!;
    const heap = this.heap;
    let replayed: number | string = 0;
    try {
      switch (event.op) {
        case 'malloc':
          replayed = heap.malloc(event.args[0]!);
          break;
        case 'calloc':
          replayed = heap.calloc(event.args[0]!, event.args[1]!);
          break;
        case 'realloc':
          replayed = heap.realloc(event.args[0]!, event.args[1]!);
          break;
        case 'memalign': {
          // The board answers a non-power-of-two alignment (or an allocator refusal) with 0 itself.
          const alignment = event.args[0]!;
          if (alignment !== 0 && (alignment & (alignment - 1)) === 0) {
            try {
              replayed = heap.memalign(alignment, event.args[1]!);
            } catch {
              replayed = 0;
            }
          }
          break;
        }
        case 'free':
          if (event.args[0] !== 0) heap.free(event.args[0]!);
          break;
        case 'mark':
          break;
      }
    } catch (error) {
      replayed = `threw ${(error as Error).message}`;
    }
    if (replayed !== event.result) {
      // The call has already acted on the host heap (there is no undo); views say so rather than guess.
      this.divergence = { call: event.call, op: event.op, logged: event.result, replayed };
      return null;
    }
    if (
      event.op === 'free' ||
      (event.op === 'realloc' && event.args[0] !== 0 && (replayed !== 0 || event.args[1] === 0))
    ) {
      this.allocatedBy.delete(event.args[0]!);
    }
    if (event.op !== 'free' && event.op !== 'mark' && event.result !== 0)
      this.allocatedBy.set(event.result, event.call);
    this.position++;
    return event;
  }

  /** Applies events while `keepGoing(next event)` holds. */
  runWhile(keepGoing: (event: HeapEvent) => boolean): void {
    while (!this.done && keepGoing(this.events[this.position]!)) this.step();
  }

  classOf(blockSize: number): SizeClass {
    const { firstLevelIndex, secondLevelIndex } = mapBlockSize(this.geometry, blockSize);
    return { fl: firstLevelIndex, sl: secondLevelIndex };
  }

  /** The heap as it stands: every block by address, the stored bitmaps and the free lists in list order. */
  snapshot(): HeapSnapshot {
    const heap = this.heap;
    const isTlsf = heap instanceof Tlsf;
    const pools = heap.poolList();
    const blocks: HeapBlock[] = [];
    let usedBytes = 0;
    let freeBytes = 0;
    let largestFree = 0;
    heap.walk((block) => {
      const pool = pools.findIndex(
        (candidate) => block.header >= candidate.firstBlock && block.header < candidate.sentinel,
      );
      if (block.used) usedBytes += block.blockSize;
      else {
        freeBytes += block.blockSize;
        largestFree = Math.max(largestFree, block.blockSize);
      }
      blocks.push({
        header: block.header,
        address: block.addr,
        blockSize: block.blockSize,
        used: block.used,
        sizeClass: block.used || !isTlsf ? null : this.classOf(block.blockSize),
        allocatedBy: block.used ? (this.allocatedBy.get(block.addr) ?? null) : null,
        pool: Math.max(pool, 0),
      });
    });
    if (!isTlsf) {
      // The other heaps keep no TLSF bitmaps; their own check() says whether lists and walk agree.
      const { errors } = heap.check();
      return {
        blocks,
        usedBytes,
        freeBytes,
        usedBlocks: blocks.filter((block) => block.used).length,
        freeBlocks: blocks.filter((block) => !block.used).length,
        largestFree,
        fragmentation: freeBytes === 0 ? 0 : 1 - largestFree / freeBytes,
        firstLevelBitmap: 0,
        secondLevelBitmaps: [],
        freeLists: [],
        consistent: errors.length === 0,
        problems: errors,
      };
    }
    const problems: string[] = [];
    // The allocator's own reading of its control structure: its layout lives in src/allocator only.
    const control = inspectControl(heap);
    const { firstLevelBitmap, secondLevelBitmaps } = control;
    const freeHeaders = new Map(blocks.filter((block) => !block.used).map((block) => [block.header, block]));
    const freeLists: FreeListState[] = [];
    let listed = 0;
    for (let fl = 0; fl < control.flCount; fl++) {
      const rowBit = ((firstLevelBitmap >>> fl) & 1) === 1;
      const rowBits = secondLevelBitmaps[fl]!;
      if (rowBit !== (rowBits !== 0))
        problems.push(
          `first-level bit ${fl} is ${rowBit ? 'set' : 'clear'} but row ${fl}'s second-level bitmap is ${formatHex(rowBits)}`,
        );
      for (let sl = 0; sl < control.slCount; sl++) {
        const head = control.heads[fl]![sl]!;
        const bit = ((rowBits >>> sl) & 1) === 1;
        if (bit !== (head !== 0))
          problems.push(`class (${fl}, ${sl}): bitmap bit ${bit ? 'set' : 'clear'} but list head ${formatHex(head)}`);
        if (head === 0) continue;
        const list: number[] = [];
        let bytes = 0;
        for (let node = head; node !== 0 && list.length <= blocks.length; node = nextFreeLink(heap, node) >>> 0) {
          const block = freeHeaders.get(node);
          if (!block) {
            problems.push(`class (${fl}, ${sl}) lists ${formatHex(node)}, which the walk does not find free`);
            break;
          }
          if (block.sizeClass!.fl !== fl || block.sizeClass!.sl !== sl)
            problems.push(
              `block ${formatHex(node)} of ${block.blockSize} B belongs in class (${block.sizeClass!.fl}, ${block.sizeClass!.sl}), listed in (${fl}, ${sl})`,
            );
          list.push(node);
          bytes += block.blockSize;
        }
        listed += list.length;
        freeLists.push({ fl, sl, ...classRange(this.geometry, fl, sl), blocks: list, bytes });
      }
    }
    if (listed !== freeHeaders.size)
      problems.push(`the free lists hold ${listed} blocks, the walk finds ${freeHeaders.size} free`);
    return {
      blocks,
      usedBytes,
      freeBytes,
      usedBlocks: blocks.length - freeHeaders.size,
      freeBlocks: freeHeaders.size,
      largestFree,
      fragmentation: freeBytes === 0 ? 0 : 1 - largestFree / freeBytes,
      firstLevelBitmap,
      secondLevelBitmaps,
      freeLists,
      consistent: problems.length === 0,
      problems,
    };
  }
}

/** Adjacent banks share one buffer on the board (one mapping), so they do here too: same base and offset. */
function groupBanks(board: BoardProfile): MemoryGroup[] {
  const sorted = [...board.ram].sort((a, b) => a.base - b.base);
  const groups: MemoryGroup[] = [];
  for (const bank of sorted) {
    const last = groups[groups.length - 1];
    if (last && last.base + last.size === bank.base) last.size += bank.size;
    else groups.push({ base: bank.base, size: bank.size, memory: null });
  }
  return groups;
}

export function describeDivergence(divergence: Divergence): string {
  const replayed = typeof divergence.replayed === 'number' ? formatHex(divergence.replayed) : divergence.replayed;
  return `the replay diverged from the run at call #${divergence.call} (${divergence.op}): the board returned ${formatHex(divergence.logged)}, the replay ${replayed}; what follows stops there and includes the replay's own outcome of that call`;
}
