/**
 * A TLSF heap that counts its work per call (issue 13), for replays and comparisons; never the board's heap.
 *
 * WHY A SUBCLASS THAT WATCHES, NOT COUNTERS IN tlsf.ts
 * The production heap's malloc, free and realloc are tuned to V8's inlining budget (tlsf.ts, HOT PATHS); a
 * counter there would cost every run. This class runs the same algorithm through the generic paths (the steps
 * a multi-memory heap takes: takeFree, takeHead, useBlock, release, makeFree, unlinkFree; the flat paths are
 * those steps written out), and counts by watching, not by being told:
 *   - every word the allocator loads or stores is counted where it happens, through a counting view of the
 *     heap's memory (a Proxy over its Int32Array): block words and the control structure alike, range checks
 *     included. Payload bytes (realloc's copy, calloc's zeroing) go through the byte view and count apart;
 *   - bitmap words scanned are the bitmap reads a search makes before it reads a list head;
 *   - nodes visited are the distinct free blocks examined as candidates (checkTaken: a list head);
 *   - merges are neighbours taken off their list to be joined (unlinkFree); splits are blocks filed other than
 *     the one a free files (makeFree calls minus release calls): the remainder of a split, the tail of a shrink,
 *     the gap before a memalign payload.
 * So the counts are exact for this implementation: what it did, not a formula of what it should do. The
 * production heap's own flat paths make the same steps; see docs/allocator.md, "Cost of each call".
 */
import { type HeapCost, type HeapCostCounter, zeroCost } from './heap-contract.js';
import { multiMemoryClass } from './multi-memory.js';
import { Tlsf } from './tlsf.js';
import type { HeapView } from './inspect.js';
import type { PoolInfo, PoolOptions, TlsfMemory, TlsfOptions } from './types.js';

/** The steps of tlsf.ts this class watches: private there, so reached by name; the constructor checks they exist. */
const WATCHED_STEPS = ['takeFree', 'checkTaken', 'makeFree', 'release', 'unlinkFree'] as const;
type Step = (...args: number[]) => number | undefined;
type Steps = Record<(typeof WATCHED_STEPS)[number], Step>;

/** What a counting heap keeps besides its cost: where the control structure lies, and the state of a call. */
interface CallState {
  cost: HeapCost;
  /** Nesting of public calls (realloc calls malloc and free): only the outermost starts a new count. */
  depth: number;
  /** A search is under way and has read no list head yet: bitmap reads now are the scan. */
  searching: boolean;
  releases: number;
  filed: number;
  examined: Set<number>;
  bitmapFirst: number;
  bitmapEnd: number;
  headsEnd: number;
}

function countingWords(words: Int32Array, state: CallState): Int32Array {
  const read = (index: number): void => {
    state.cost.wordsRead++;
    if (index >= state.bitmapFirst && index < state.headsEnd) {
      if (index >= state.bitmapEnd) state.searching = false;
      else if (state.searching) state.cost.bitmapWordsScanned++;
    }
  };
  return new Proxy(words, {
    get(target, key) {
      if (typeof key === 'string') {
        const index = Number(key);
        if (Number.isInteger(index) && key !== '') {
          read(index);
          return target[index];
        }
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
    set(target, key, value) {
      if (typeof key === 'string') {
        const index = Number(key);
        if (Number.isInteger(index) && key !== '') {
          state.cost.wordsWritten++;
          target[index] = value as number;
          return true;
        }
      }
      return Reflect.set(target, key, value, target);
    },
  });
}

/** The counting behaviour, over the plain heap or its multi-memory form (a heap switches on addPool). */
function countingClass(Base: typeof Tlsf) {
  return class CountingTlsf extends Base implements HeapCostCounter {
    declare calls: CallState;
    declare rawWords: Int32Array;

    lastCallCost(): Readonly<HeapCost> {
      return this.calls.cost;
    }

    /** Runs one public call, starting a new count unless it is nested in another (realloc's malloc, free). */
    counted<Result>(call: () => Result): Result {
      const state = this.calls;
      if (state.depth === 0) {
        state.cost = zeroCost();
        state.releases = 0;
        state.filed = 0;
        state.examined.clear();
      }
      state.depth++;
      try {
        return call();
      } finally {
        state.depth--;
        if (state.depth === 0) {
          state.searching = false;
          state.cost.splits = state.filed - state.releases;
          state.cost.nodesVisited = state.examined.size;
        }
      }
    }

    override malloc(size: number): number {
      return this.counted(() => this.mallocGeneric(size));
    }

    override free(ptr: number): void {
      this.counted(() => this.freeGeneric(ptr));
    }

    override realloc(ptr: number, size: number): number {
      return this.counted(() => this.reallocGeneric(ptr, size));
    }

    override calloc(count: number, size: number): number {
      return this.counted(() => {
        const ptr = super.calloc(count, size);
        if (ptr !== 0) this.calls.cost.bytesCopied += count * size;
        return ptr;
      });
    }

    override memalign(alignment: number, size: number): number {
      return this.counted(() => super.memalign(alignment, size));
    }

    override usableSize(ptr: number): number {
      return this.counted(() => super.usableSize(ptr));
    }

    /** Payload bytes: through the byte view, uncounted as words, counted as bytes copied. */
    protected override moveBytes(from: number, to: number, length: number): void {
      this.calls.cost.bytesCopied += length;
      this.copy(from, to, length);
    }

    /** Words of pools in other buffers (extra banks): counted like the first pool's. */
    protected override loadOther(addr: number): number {
      this.calls.cost.wordsRead++;
      return super.loadOther(addr);
    }

    protected override storeOther(addr: number, value: number): void {
      this.calls.cost.wordsWritten++;
      super.storeOther(addr, value);
    }

    /** Inspection (walk, check, stats, the learner views) reads the plain words: it is not the allocator's work. */
    override view(): HeapView {
      const view = super.view();
      return {
        ...view,
        controlWords: this.rawWords,
        pools: view.pools.map((pool) => (pool.words === this.fastWords ? { ...pool, words: this.rawWords } : pool)),
      };
    }

    override addPool(memory: TlsfMemory, options: PoolOptions): PoolInfo[] {
      const added = super.addPool(memory, options);
      // Another buffer switches the heap to the multi-memory class (tlsf.ts); keep counting there.
      if (!(this instanceof CountingTlsf)) Object.setPrototypeOf(this, countingMultiMemory().prototype);
      return added;
    }
  };
}

function watchSteps(prototype: object): void {
  const steps = prototype as Steps;
  const original = Tlsf.prototype as unknown as Steps;
  for (const name of WATCHED_STEPS) {
    if (typeof original[name] !== 'function') throw new Error(`tlsf-counting: tlsf.ts has no step ${name}`);
  }
  // The constructor files the first free block before there is a call to count: `calls` is unset then.
  type Counting = { calls?: CallState };
  steps.takeFree = function (this: Counting, ...args) {
    if (this.calls) this.calls.searching = true;
    try {
      return original.takeFree.apply(this, args);
    } finally {
      if (this.calls) this.calls.searching = false;
    }
  };
  steps.checkTaken = function (this: Counting, ...args) {
    this.calls?.examined.add(args[0]! >>> 0);
    return original.checkTaken.apply(this, args);
  };
  steps.makeFree = function (this: Counting, ...args) {
    if (this.calls) this.calls.filed++;
    return original.makeFree.apply(this, args);
  };
  steps.release = function (this: Counting, ...args) {
    if (this.calls) this.calls.releases++;
    return original.release.apply(this, args);
  };
  steps.unlinkFree = function (this: Counting, ...args) {
    if (this.calls) this.calls.cost.merges++;
    return original.unlinkFree.apply(this, args);
  };
}

const CountingSingle = countingClass(Tlsf);
watchSteps(CountingSingle.prototype);

let countingMultiMemoryCache: typeof CountingSingle | undefined;

function countingMultiMemory(): typeof CountingSingle {
  if (countingMultiMemoryCache === undefined) {
    countingMultiMemoryCache = countingClass(multiMemoryClass(Tlsf)) as unknown as typeof CountingSingle;
    watchSteps(countingMultiMemoryCache.prototype);
  }
  return countingMultiMemoryCache;
}

/** The production heap's API, and the cost of its last call. */
export type CountingTlsf = Tlsf & HeapCostCounter;

/**
 * A TLSF heap like createTlsf's, whose lastCallCost() is the exact work of its most recent public call.
 * Slower than the production heap (every word access is watched): for replays, never for the board.
 */
export function createCountingTlsf(memory: TlsfMemory, options: TlsfOptions = {}): CountingTlsf {
  const heap = new CountingSingle(memory, options) as InstanceType<typeof CountingSingle>;
  const { flWord, headWord, layout } = heap.view();
  heap.calls = {
    cost: zeroCost(),
    depth: 0,
    searching: false,
    releases: 0,
    filed: 0,
    examined: new Set(),
    bitmapFirst: flWord,
    bitmapEnd: headWord,
    headsEnd: headWord + layout.flCount * layout.slCount,
  };
  const counted = heap as unknown as { fastWords: Int32Array; rawWords: Int32Array };
  counted.rawWords = counted.fastWords;
  counted.fastWords = countingWords(counted.fastWords, heap.calls);
  return heap as CountingTlsf;
}
