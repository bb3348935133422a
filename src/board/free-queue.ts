// The JavaScript side of the native free (native/heap-free-queue.c, called by the board's native block hook on the
// free slot; docs/board.md, "The heap call's cost"):
// the firmware's free() calls that C checked and queued, which the heap service applies in order before its next
// call (HeapService.drainFrees), and the flag C raises when it left a free to the JavaScript path.
//
// C keeps pointers to the register file, to this queue's arrays and to the block table's arrays for the engine's
// whole life. They are plain typed arrays, not koffi.alloc memory, so that nothing has to be freed by hand: V8
// never moves an ArrayBuffer's backing store once native code has been given its address, and the Machine keeps
// every one of them referenced until it closes the engine.
import type { Engine } from './engine.js';
import { SERVICE_PAGE } from './memory-map.js';
import { nativeFunctions } from './native-library.js';
import type { BlockTable } from './block-table.js';
import { CALLER_REGISTER } from './callers.js';
import { SLOT } from './heap-service.js';
import type { RunOptions } from './run-types.js';

/**
 * Frees queued before the JavaScript path takes over (each entry is 16 bytes); read when a Machine is built.
 * Tests lower it to send most frees through the overflow path.
 */
export const freeQueueSettings = { capacity: 1024 };
/**
 * Entry layout (heap-free-queue.c): the pointer, lr, the caller argument, then the block's allocating call number,
 * requested and usable sizes and site as the block table had them (0 for free(NULL)); one word unused.
 */
const ENTRY_WORDS = 8;
const CONTROL_LENGTH = 0;
const CONTROL_STOPPED = 1;
/** The heap service's call number, kept here so that C numbers each free it queues (the block table's FREED_BY). */
const CONTROL_CALL_NUMBER = 2;
/** The control words; more than V8 keeps inside its own heap, so the array has a backing store of its own. */
const CONTROL_WORDS = 32;

type NativeFunction = (...args: unknown[]) => unknown;

interface QueueFunctions {
  stateSize: NativeFunction;
  init: NativeFunction;
  addRegion: NativeFunction;
}

/** The C functions, or null when the native library is missing or predates them. */
const queueFunctions = nativeFunctions<QueueFunctions>((lib) => ({
  stateSize: lib.func('uint32_t tlsf_sim_free_queue_state_size(void)'),
  init: lib.func(
    'int tlsf_sim_free_queue_init(void *state, void *registers, void *control, void *entries, uint32_t capacity, uint32_t stackLimit, uint32_t callerRegister)',
  ),
  addRegion: lib.func('int tlsf_sim_free_queue_add_region(void *state, uint32_t base, uint32_t size, void *records)'),
}));

/** Whether the native library has the native free (a Machine still needs the register file to use it). */
export function nativeFreeAvailable(): boolean {
  return queueFunctions() !== null;
}

/** Why the native free is off for these options, or null when they allow it. */
export function nativeFreeOffReason(options: RunOptions): string | null {
  // Events stamp each call with the instruction count at the call; --guard marks a freed block unwritable at the
  // free, and both checks diagnose writes against the heap as it is at that instruction.
  if (options.recordEvents) return 'events are recorded';
  if (options.guard) return '--guard';
  if (options.alignmentCheck) return '--align-check';
  return null;
}

export class FreeQueue {
  private readonly control = new Uint32Array(CONTROL_WORDS);
  private readonly entries: Uint32Array;
  /** The heap service's call counter (HeapService keeps its count in this one word, which C reads). */
  readonly callNumber = new Uint32Array(this.control.buffer, 4 * CONTROL_CALL_NUMBER, 1);

  private constructor(
    /** The C state the board's native block hook is given; referenced here so that it lives as long as the hook. */
    readonly state: Uint8Array,
    readonly slotAddress: number,
    capacity: number,
  ) {
    // At least CONTROL_WORDS words, for the same reason as the control words.
    this.entries = new Uint32Array(Math.max(capacity * ENTRY_WORDS, CONTROL_WORDS));
  }

  /**
   * The queue for the free slot, which the board's native block hook then serves (native-block-hook.ts); null (the
   * JavaScript path serves every free) when the options need every free in JavaScript (nativeFreeOffReason),
   * without the native library or the register file, or when C refuses.
   */
  static create(engine: Engine, blocks: BlockTable, stackLimit: number, options: RunOptions): FreeQueue | null {
    const native = queueFunctions();
    if (!native || nativeFreeOffReason(options) !== null) return null;
    const registers = engine.registerFile();
    if (!registers) return null;
    const capacity = Math.max(1, Math.floor(freeQueueSettings.capacity));
    const stateBytes = Math.max(native.stateSize() as number, 4 * CONTROL_WORDS);
    const queue = new FreeQueue(new Uint8Array(stateBytes), SERVICE_PAGE + 4 * SLOT.free, capacity);
    const state = queue.state;
    const callerRegister = CALLER_REGISTER[SLOT.free]!;
    const initialised = native.init(
      state,
      registers,
      queue.control,
      queue.entries,
      capacity,
      stackLimit,
      callerRegister,
    );
    if (initialised !== 0) return null;
    for (const region of blocks.recordArrays()) {
      if (native.addRegion(state, region.base, region.end - region.base, region.records) !== 0) return null;
    }
    return queue;
  }

  /** Frees waiting to be applied. */
  get length(): number {
    return this.control[CONTROL_LENGTH]!;
  }

  pointer(index: number): number {
    return this.entries[index * ENTRY_WORDS]!;
  }

  lr(index: number): number {
    return this.entries[index * ENTRY_WORDS + 1]!;
  }

  callerArgument(index: number): number {
    return this.entries[index * ENTRY_WORDS + 2]!;
  }

  /** The allocating call number C cleared in the block table when it queued this free (0 for free(NULL)). */
  allocatedBy(index: number): number {
    return this.entries[index * ENTRY_WORDS + 3]!;
  }

  /** The freed block's requested size, from the block table when C queued it. */
  requested(index: number): number {
    return this.entries[index * ENTRY_WORDS + 4]!;
  }

  usable(index: number): number {
    return this.entries[index * ENTRY_WORDS + 5]!;
  }

  /** The freed block's allocating site (PeakSites). */
  site(index: number): number {
    return this.entries[index * ENTRY_WORDS + 6]!;
  }

  clear(): void {
    this.control[CONTROL_LENGTH] = 0;
  }

  /**
   * True once after C stopped the run on the free slot at `pc` and left that free to the JavaScript path;
   * clears the flag.
   */
  takeStop(pc: number): boolean {
    if (this.control[CONTROL_STOPPED] === 0 || pc - (pc & 1) !== this.slotAddress) return false;
    this.control[CONTROL_STOPPED] = 0;
    return true;
  }
}
