// The board's one native block hook (native/block-hook.c; docs/board.md, "One block hook"): it serves the free slot
// natively (free-queue.ts), calls the JavaScript heap service for the rest of the service page (through Node-API
// when Node loaded the helpers as an addon, else through a koffi function pointer), and counts every block
// (native-block-counter.ts). Unicorn walks every block hook on every translated
// block, so one hook instead of one per job saves every block a bound check and a call per job.
import koffi from 'koffi';
import type * as KoffiTypes from 'koffi';
import type { Engine } from './engine.js';
import type { FreeQueue } from './free-queue.js';
import type { NativeBlockCounter } from './native-block-counter.js';
import { type NativeEntry, nativeEntry, nativeFunctions } from './native-library.js';

type NativeFunction = (...args: unknown[]) => unknown;

interface HookFunctions {
  size: NativeFunction;
  attach: NativeFunction;
  /** int ServiceCall(int32_t address): the service page's call into JavaScript; non-zero when it stopped the run. */
  serviceCallProto: KoffiTypes.TypeObject;
}

const bind = nativeFunctions<HookFunctions>((lib) => ({
  size: lib.func('uint32_t tlsf_sim_block_hook_size(void)'),
  attach: lib.func(
    'int tlsf_sim_block_hook_attach(void *uc, void *state, void *counter, void *freeQueue, void *serviceCall, void *jsService, uint32_t serviceBase, uint32_t serviceSize, uint32_t freeSlot)',
  ),
  // Declared once per process: koffi's type names are global. The address is an int32 so that koffi passes a
  // small integer, not a heap number, for the page above 2^31.
  serviceCallProto: koffi.proto('int TlsfSimServiceCall(int32_t address)'),
}));

/** Whether this process has the native block hook (the native helpers are built and loaded). */
export function nativeBlockHookAvailable(): boolean {
  return bind() !== null;
}

export interface NativeBlockHookParts {
  /** Counts every block; null: the hook covers the service page alone (Unicorn's count counts). */
  counter: NativeBlockCounter | null;
  /** Serves the free slot; null: frees go to `serviceCall` like every other slot. */
  freeQueue: FreeQueue | null;
  /** The heap service for a call at `address` on the service page; returns non-zero when it stopped the run. */
  serviceCall: (address: number) => number;
  servicePage: { base: number; size: number };
}

/** Adds the hook to `engine`; throws one line when C refuses. Needs nativeBlockHookAvailable(). */
export function attachNativeBlockHook(engine: Engine, parts: NativeBlockHookParts): void {
  const bound = bind();
  if (!bound) throw new Error('native block hook: the native helpers are not loaded');
  const state = new ArrayBuffer(bound.size() as number);
  // The koffi callback serves calls when the engine is run any other way than through the entry's start().
  const serviceCall = engine.nativeCallback(parts.serviceCall, bound.serviceCallProto);
  const entry = nativeEntry();
  const jsService = entry ? bindEntry(entry, parts.serviceCall) : null;
  const error = bound.attach(
    engine.handle,
    state,
    parts.counter?.buffer ?? null,
    parts.freeQueue?.state ?? null,
    serviceCall,
    jsService,
    parts.servicePage.base,
    parts.servicePage.size,
    parts.freeQueue?.slotAddress ?? 0,
  ) as number;
  if (error !== 0) {
    if (entry && jsService) entry.release(jsService);
    throw new Error(`native block hook: adding it failed (${error < 0 ? 'a bad argument' : engine.errorText(error)})`);
  }
  // The hook points into these for the engine's lifetime.
  engine.keepAlive(state);
  if (entry && jsService) {
    engine.keepAlive(jsService);
    engine.startThrough((begin, until, count) => entry.start(jsService, begin, until, count));
    engine.onClose(() => entry.release(jsService));
  }
}

/**
 * The entry's state for `serviceCall`: C writes the slot's address into its first word and reads the result from
 * the second, which costs less than passing them as Node-API values.
 */
function bindEntry(entry: NativeEntry, serviceCall: (address: number) => number): ArrayBuffer {
  const state = new ArrayBuffer(entry.stateSize);
  const words = new Int32Array(state, 0, 2);
  entry.bind(state, () => {
    words[1] = serviceCall(words[0]!);
  });
  return state;
}
