// Every hook the board puts on its engine, in one place: the service page and instruction counting (one native
// block hook when the native helpers are there, else a JavaScript block hook over the page and Unicorn's count),
// CPU exceptions, invalid accesses, and the optional heap and stack watches. See docs/board.md, "One block hook".
import type { AccessChecks } from './access-checks.js';
import type { Engine } from './engine.js';
import type { FaultDiagnosis } from './fault-diagnosis.js';
import type { FreeQueue } from './free-queue.js';
import type { HeapService } from './heap-service.js';
import type { InstructionCount } from './instruction-count.js';
import { type BoardMemory, type HeapRegion, SERVICE_PAGE, SERVICE_PAGE_SIZE } from './memory-map.js';
import { attachNativeBlockHook, nativeBlockHookAvailable } from './native-block-hook.js';
import type { RunOutcome } from './run-outcome.js';
import type { RunOptions } from './run-types.js';
import type { StackMonitor } from './stack-monitor.js';
import { REG_LR, REG_PC, REG_R0, REG_SP, UC_HOOK_MEM_INVALID, UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE } from './unicorn.js';

/** SP (r13) and PC (r15) in the register file view of r0-r15. */
const SP_INDEX = 13;
const PC_INDEX = 15;

/** The parts of a Machine its hooks call into. */
export interface HookedParts {
  engine: Engine;
  memory: BoardMemory;
  count: InstructionCount;
  service: HeapService;
  /** The native free's queue; null when every free goes through the JavaScript service. */
  freeQueue: FreeQueue | null;
  stack: StackMonitor;
  outcome: RunOutcome;
  faults: FaultDiagnosis;
  accessChecks: AccessChecks;
  regions: readonly HeapRegion[];
  options: RunOptions;
  /** Watch every write below the stack's limit (Machine's second run after a suspected overflow). */
  watchStack: boolean;
  /** Address ranges that no bank maps: invalid-access hooks go there. */
  invalidHookRanges: ReadonlyArray<[number, number]>;
  onInterrupt: (intno: number) => void;
}

/**
 * Installs every hook; returns the heap call's JavaScript path (the stack check, then HeapService.onService),
 * which the run loop also calls when the native free leaves a free to it.
 */
export function installBoardHooks(parts: HookedParts): (address: number) => void {
  const { engine, service, stack } = parts;
  // What the service hook can need (arguments, caller argument, lr) in one FFI call when there is no register
  // file; semihosting uses the first two. Order matters: see HeapService.hookRegister().
  engine.setBatch([REG_R0, REG_R0 + 1, REG_R0 + 2, REG_LR]);
  // SP is checked before each heap call is served: a stack already below its limit may have overwritten the
  // top of the heap, which the call would then report as heap damage. A typed-array read per call.
  const stackLimit = stack.limit;
  const registers = engine.registerFile();
  const stackPointer = registers ? () => registers[SP_INDEX]! : () => engine.readReg(REG_SP);
  const serve = (address: number) => {
    const sp = stackPointer();
    if (sp >= stackLimit || !stack.spBelowLimit(sp, engine.readReg(REG_LR), 'at a heap call returning to')) {
      service.onService(address);
    }
  };
  installServicePage(parts, serve, registers);
  engine.addIntrHook(parts.onInterrupt);
  const faults = parts.faults;
  for (const [begin, end] of parts.invalidHookRanges) {
    engine.addMemHook(
      UC_HOOK_MEM_INVALID,
      (type, address, size) => faults.onBadAccess(type, address, size),
      begin,
      end,
    );
  }
  const checkAlignment = parts.options.alignmentCheck ?? false;
  const guard = parts.options.guard ?? false;
  if (checkAlignment || guard) {
    const checks = parts.accessChecks;
    for (const region of parts.regions) {
      const type = (guard ? UC_HOOK_MEM_WRITE : 0) | (checkAlignment ? UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE : 0);
      const hook = (accessType: number, address: number, size: number) =>
        checks.onHeapAccess(region, accessType, address, size, checkAlignment, guard);
      engine.addMemHook(type, hook, region.base, region.base + region.size - 1);
    }
  }
  const watched = parts.watchStack ? stack.watchRange() : null;
  if (watched) {
    engine.addMemHook(
      UC_HOOK_MEM_WRITE,
      (_type, address, size) => {
        stack.onWatchedWrite(address, size, stackPointer(), engine.readReg(REG_PC));
        return true;
      },
      watched.begin,
      watched.end,
    );
  }
  return serve;
}

/**
 * The service page and counting. With the native helpers: one C block hook (native-block-hook.ts), over every
 * address when it counts, over the page alone with TLSF_SIM_COUNTER=unicorn or on Unicorn 2.0.1. Without them: a JavaScript block
 * hook over the page, not a code hook: a call through a slot always starts a translation block at the slot, and a
 * ranged block hook costs little elsewhere, while a second code hook next to Unicorn's counting hook halves the
 * speed of all code (docs/board.md, The heap service).
 */
function installServicePage(parts: HookedParts, serve: (address: number) => void, registers: Uint32Array | null): void {
  const { engine, freeQueue } = parts;
  if (!nativeBlockHookAvailable()) {
    // The queue comes from the same library: it cannot be there without the hook.
    if (freeQueue) throw new Error('native free queue without the native block hook');
    engine.addBlockHook(serve, SERVICE_PAGE, SERVICE_PAGE + SERVICE_PAGE_SIZE - 1);
    return;
  }
  const readPc = registers ? () => registers[PC_INDEX]! : () => engine.readReg(REG_PC);
  const countNatively = process.env.TLSF_SIM_COUNTER !== 'unicorn' && engine.hooksSeeAccessPc;
  const counter = countNatively ? parts.count.attachNative(parts.memory, readPc) : null;
  // koffi cannot carry an exception out through C (it would stay pending while the run went on): the engine
  // stops and start() throws it.
  const serviceCall = (address: number): number => {
    const stopsBefore = engine.stopRequests;
    try {
      serve(address >>> 0);
    } catch (error) {
      engine.failFromCallback(error);
      return 1;
    }
    return engine.stopRequests === stopsBefore ? 0 : 1;
  };
  attachNativeBlockHook(engine, {
    counter,
    freeQueue,
    serviceCall,
    servicePage: { base: SERVICE_PAGE, size: SERVICE_PAGE_SIZE },
  });
}
