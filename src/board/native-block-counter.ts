// The board's side of native/block-counter.c: the shared state (a buffer JavaScript reads with typed-array
// loads) and the code regions the board's native block hook (native-block-hook.ts) decodes blocks from. Used by
// InstructionCount; null when the native helpers are not available (native-library.ts says why).
import { selectedEngine } from './engine-locate.js';
import type { Engine } from './engine.js';
import { nativeFunctions } from './native-library.js';

/** Word indices into the shared state: must match struct block_counter in native/block-counter.c. */
export const COUNTER_WORD = {
  total: 0,
  limit: 1,
  before: 2,
  blockStart: 3,
  blockSize: 4,
  flags: 5,
  unknownBlocks: 6,
  regionCount: 7,
} as const;

export const COUNTER_FLAG = { stoppedByLimit: 1, paused: 2 } as const;

/** A range the guest may execute and the host bytes behind it (the same buffer the engine maps). */
export interface CodeRegion {
  base: number;
  size: number;
  memory: ArrayBuffer;
  /** Nothing writes it during a run (flash, the service page): the counter may cache its blocks' counts. */
  immutable: boolean;
}

interface CounterFunctions {
  size: () => number;
  addRegion: (counter: ArrayBuffer, base: number, size: number, host: ArrayBuffer, immutable: number) => number;
}

const bind = nativeFunctions<CounterFunctions>((lib) => ({
  size: lib.func('int tlsf_sim_block_counter_size(void)') as CounterFunctions['size'],
  addRegion: lib.func(
    'int tlsf_sim_block_counter_add_region(void *counter, uint32_t base, uint32_t size, void *host, int immutable)',
  ) as CounterFunctions['addRegion'],
}));

/** Whether this process can count natively (the helpers are built, loaded and have the counter). */
export function nativeCountingAvailable(): boolean {
  return bind() !== null && engineCountsNatively(selectedEngine().version);
}

/** Native counting needs memory hooks to see the accessing instruction's PC: Unicorn 2.1+ (Engine.hooksSeeAccessPc). */
export const engineCountsNatively = (version: string): boolean => {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 2 || (major === 2 && minor >= 1);
};

/** The native count of one engine: the words the C hook updates and JavaScript reads. */
export class NativeBlockCounter {
  readonly words: Uint32Array;
  private readonly state: ArrayBuffer;

  private constructor(state: ArrayBuffer) {
    this.state = state;
    this.words = new Uint32Array(state);
  }

  /**
   * The counter's state over `regions` (every range code can run from; blocks elsewhere are counted as unknown),
   * kept alive as long as `engine`; the board's native block hook does the counting. null when unavailable.
   */
  static create(engine: Engine, regions: readonly CodeRegion[]): NativeBlockCounter | null {
    const bound = bind();
    if (!bound) return null;
    const state = new ArrayBuffer(bound.size());
    const counter = new NativeBlockCounter(state);
    for (const region of regions) {
      if (bound.addRegion(state, region.base, region.size, region.memory, region.immutable ? 1 : 0) !== 0) {
        throw new Error(`native instruction counter: more code regions than it holds (${regions.length})`);
      }
    }
    // The hook holds a pointer into these buffers for the engine's lifetime.
    engine.keepAlive(state, ...regions.map((region) => region.memory));
    return counter;
  }

  /** Starts a slice: nothing counted yet, stop at the first block that would take the count past `limit`. */
  startSlice(limit: number): void {
    const words = this.words;
    words[COUNTER_WORD.total] = 0;
    words[COUNTER_WORD.before] = 0;
    words[COUNTER_WORD.blockStart] = 0;
    words[COUNTER_WORD.blockSize] = 0;
    words[COUNTER_WORD.limit] = Math.min(limit, 0x7fff_ffff);
    words[COUNTER_WORD.flags] = 0;
  }

  /** While paused the hook counts nothing (Unicorn's own count runs the slice). */
  pause(paused: boolean): void {
    this.words[COUNTER_WORD.flags] = paused ? COUNTER_FLAG.paused : 0;
  }

  get stoppedByLimit(): boolean {
    return (this.words[COUNTER_WORD.flags]! & COUNTER_FLAG.stoppedByLimit) !== 0;
  }

  get unknownBlocks(): number {
    return this.words[COUNTER_WORD.unknownBlocks]!;
  }

  /** Keeps the state buffer reachable from this object (the engine keeps it too). */
  get buffer(): ArrayBuffer {
    return this.state;
  }
}
