// The Engine: one emulated Cortex-M core over the binding (unicorn.ts), with the memory, register and hook
// calls the machine makes, errors that name what was being done, and allocation-free register access for
// hooks. The views into Unicorn's internal state (exact instruction counter, register file) are located by
// engine-probes.ts.
import koffi from 'koffi';
import type * as KoffiTypes from 'koffi';
import { hex } from '../allocator/index.js';
import {
  check,
  ctlWrite,
  ucErrorName,
  unicorn,
  REG_EPSR,
  UC_ARCH_ARM,
  UC_CPU_ARM_CORTEX_M0,
  UC_CPU_ARM_CORTEX_M3,
  UC_CPU_ARM_CORTEX_M4,
  UC_CPU_ARM_CORTEX_M7,
  UC_CPU_ARM_CORTEX_M33,
  UC_CTL_CPU_MODEL,
  UC_CTL_TB_FLUSH,
  UC_CTL_TLB_TYPE,
  UC_ERR_OK,
  UC_HOOK_BLOCK,
  UC_HOOK_INTR,
  UC_HOOK_MEM_READ,
  UC_HOOK_MEM_WRITE,
  UC_HOOK_TLB_FILL,
  UC_MEM_FETCH,
  UC_MODE_MCLASS,
  UC_MODE_THUMB,
  UC_PROT_EXEC,
  UC_PROT_READ,
  UC_PROT_WRITE,
  UC_TLB_VIRTUAL,
  type Library,
  type Pointer,
} from './unicorn.js';
import { locateCounterOffset, locateRegisterFile } from './engine-probes.js';
import type { CpuName } from './profiles.js';

/** What koffi.register returns: the handle to unregister a JS callback with. */
type RegisteredCallback = bigint;

/** EPSR with only the Thumb bit: what clearing the IT state writes back. */
const EPSR_THUMB = 1 << 24;

export type BlockHook = (address: number, size: number) => void;
export type MemHook = (type: number, address: number, size: number) => boolean;
export type IntrHook = (intno: number) => void;

/** One emulated Cortex-M core. */
export class Engine {
  readonly lib: Library;
  readonly handle: Pointer;
  private closed = false;
  private readonly callbacks: RegisteredCallback[] = [];
  private readonly mappedHostMemory: ArrayBuffer[] = [];
  private readonly regValue: Pointer;
  private readonly regValueView: Uint32Array;
  private readonly batchRegs: Pointer;
  private readonly batchRegsView: Int32Array;
  private readonly batchValues: Pointer;
  private readonly batchValueView: Uint32Array;
  private readonly batchPointers: Pointer;
  private counterView: BigUint64Array | null = null;
  /**
   * Unicorn 2.1.x restores the CPU state of the current instruction into the CPU before a memory hook or a TLB
   * fill (to give hooks the right PC) without leaving the translated block. Inside a Thumb IT block that writes
   * the IT bits, which the block's code never clears, so the first instruction of the next block runs as if
   * still under the IT condition and is skipped when it fails (`it eq; streq` to a hooked address, then any
   * block: its first instruction is lost). Within a block the CPU's IT bits are zero (QEMU tracks IT state while
   * translating), so clearing them after such a callback is exact.
   */
  private readonly staleItState: boolean;
  /**
   * Whether a memory hook sees the PC of the instruction making the access (Unicorn 2.1+, which restores the CPU
   * state first). Unicorn 2.0.1 leaves the PC where the last sync put it: at an instruction only while a code
   * hook (Unicorn's own count) syncs it before every instruction, so native counting, which has none, is used
   * on 2.1+ only (docs/board.md, Counting instructions).
   */
  readonly hooksSeeAccessPc: boolean;

  constructor(cpuModel: number, doing = 'opening the Arm Cortex-M engine') {
    this.lib = unicorn();
    const out: Pointer[] = [null];
    check(this.lib.uc_open(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS, out), () => doing);
    this.handle = out[0];
    const modelError = this.lib.uc_ctl_int(this.handle, ctlWrite(UC_CTL_CPU_MODEL, 1), cpuModel);
    if (modelError !== UC_ERR_OK) {
      this.lib.uc_close(this.handle);
      check(modelError, () => `selecting CPU model ${cpuModel} (unicorn/arm.h uc_cpu_arm)`);
    }
    const major = [0];
    const minor = [0];
    this.lib.uc_version(major, minor);
    this.staleItState = major[0]! > 2 || (major[0] === 2 && minor[0]! >= 1);
    this.hooksSeeAccessPc = this.staleItState;
    // Preallocated native buffers so that hooks read and write registers without allocating.
    this.regValue = koffi.alloc('uint64_t', 1);
    this.regValueView = new Uint32Array(koffi.view(this.regValue, 8));
    this.batchRegs = koffi.alloc('int', 8);
    this.batchRegsView = new Int32Array(koffi.view(this.batchRegs, 32));
    this.batchValues = koffi.alloc('uint64_t', 8);
    this.batchValueView = new Uint32Array(koffi.view(this.batchValues, 64));
    this.batchPointers = koffi.alloc('void *', 8);
    const valuesAddress = koffi.address(this.batchValues);
    if (koffi.sizeof('void *') === 8) {
      const pointerView = new BigUint64Array(koffi.view(this.batchPointers, 64));
      for (let i = 0; i < 8; i++) pointerView[i] = valuesAddress + BigInt(8 * i);
    } else {
      const pointerView = new Uint32Array(koffi.view(this.batchPointers, 32));
      for (let i = 0; i < 8; i++) pointerView[i] = Number(valuesAddress) + 8 * i;
    }
  }

  mapHost(name: string, base: number, memory: ArrayBuffer, perms = UC_PROT_READ | UC_PROT_WRITE | UC_PROT_EXEC): void {
    check(
      this.lib.uc_mem_map_ptr(this.handle, base, memory.byteLength, perms, memory),
      () => `mapping ${name} at ${hex(base)} (${memory.byteLength} bytes, host-backed)`,
    );
    this.mappedHostMemory.push(memory);
  }

  /** Keeps buffers that native code attached to this engine points into alive until the engine closes. */
  keepAlive(...buffers: ArrayBuffer[]): void {
    this.mappedHostMemory.push(...buffers);
  }

  map(name: string, base: number, size: number, perms: number): void {
    check(this.lib.uc_mem_map(this.handle, base, size, perms), () => `mapping ${name} at ${hex(base)} (${size} bytes)`);
  }

  write(address: number, bytes: Uint8Array, what = 'writing memory'): void {
    check(
      this.lib.uc_mem_write(this.handle, address, bytes, bytes.length),
      () => `${what} at ${hex(address)} (${bytes.length} bytes)`,
    );
  }

  read(address: number, length: number, what = 'reading memory'): Uint8Array {
    const bytes = new Uint8Array(length);
    check(
      this.lib.uc_mem_read(this.handle, address, bytes, length),
      () => `${what} at ${hex(address)} (${length} bytes)`,
    );
    return bytes;
  }

  /** Reads memory, returning null instead of throwing (for fault reports that probe around an address). */
  tryRead(address: number, length: number): Uint8Array | null {
    const bytes = new Uint8Array(length);
    return this.lib.uc_mem_read(this.handle, address, bytes, length) === UC_ERR_OK ? bytes : null;
  }

  readReg(regid: number): number {
    const code = this.lib.uc_reg_read(this.handle, regid, this.regValue);
    if (code !== UC_ERR_OK) check(code, () => `reading register ${regid}`);
    return this.regValueView[0]!;
  }

  writeReg(regid: number, value: number): void {
    this.regValueView[0] = value >>> 0;
    this.regValueView[1] = 0;
    const code = this.lib.uc_reg_write(this.handle, regid, this.regValue);
    if (code !== UC_ERR_OK) check(code, () => `writing register ${regid}`);
  }

  /** Sets which registers readBatch() reads (at most 8); done once, outside hot paths. */
  setBatch(regids: number[]): void {
    if (regids.length > 8) throw new Error(`register batch of ${regids.length} registers; at most 8`);
    regids.forEach((regid, i) => {
      this.batchRegsView[i] = regid;
    });
    this.batchCount = regids.length;
  }

  private batchCount = 0;

  /** Reads the batch registers in one call; value i is at batchValue(i). Allocation-free. */
  readBatch(): void {
    const code = this.lib.uc_reg_read_batch(this.handle, this.batchRegs, this.batchPointers, this.batchCount);
    if (code !== UC_ERR_OK) check(code, () => 'reading registers');
  }

  batchValue(index: number): number {
    return this.batchValueView[index * 2]!;
  }

  addBlockHook(callback: BlockHook, begin: number, end: number): number {
    const registered = koffi.register(
      (_uc: number, address: number, size: number) => callback(address >>> 0, size),
      koffi.pointer(this.lib.codeProto),
    );
    return this.addHook(UC_HOOK_BLOCK, registered, begin, end, 'adding a block hook');
  }

  /**
   * A C function pointer to `callback` (koffi.register with `proto`), for native code attached to this engine to
   * call; it stays valid until the engine closes.
   */
  nativeCallback(callback: (...args: never[]) => unknown, proto: KoffiTypes.TypeObject): Pointer {
    const registered = koffi.register(callback, koffi.pointer(proto));
    this.callbacks.push(registered);
    return registered;
  }

  /**
   * For a JavaScript callback that native code calls: koffi cannot carry an exception through C, and the run would
   * go on until start() returns. The callback catches, hands the error here and tells C the run stopped; start()
   * throws it once Unicorn returns.
   */
  failFromCallback(error: unknown): void {
    this.callbackError ??= { error };
    this.stop();
  }

  private callbackError: { error: unknown } | undefined;

  /**
   * Runs the engine through `starter` (uc_emu_start with no timeout) instead of koffi's call: native code that
   * calls into JavaScript from a hook needs the run started on Node's own stack (native-block-hook.ts).
   */
  startThrough(starter: (begin: number, until: number, count: number) => number): void {
    this.starter = starter;
  }

  private starter: ((begin: number, until: number, count: number) => number) | undefined;

  /** Runs `release` once the engine is closed (after uc_close: no hook runs any more). */
  onClose(release: () => void): void {
    this.releases.push(release);
  }

  private readonly releases: Array<() => void> = [];

  addMemHook(type: number, callback: MemHook, begin: number, end: number): number {
    const validAccesses = (type & (UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE)) !== 0;
    const plain = (_uc: number, accessType: number, address: number, size: number) =>
      callback(accessType, address >>> 0, size);
    const repairing = (_uc: number, accessType: number, address: number, size: number) => {
      const result = callback(accessType, address >>> 0, size);
      this.clearItState();
      return result;
    };
    const registered = koffi.register(
      this.staleItState && validAccesses ? repairing : plain,
      koffi.pointer(this.lib.memProto),
    );
    return this.addHook(type, registered, begin, end, 'adding a memory hook');
  }

  addIntrHook(callback: IntrHook): number {
    const registered = koffi.register(
      (_uc: number, intno: number) => callback(intno),
      koffi.pointer(this.lib.intrProto),
    );
    return this.addHook(UC_HOOK_INTR, registered, 1, 0, 'adding an interrupt hook');
  }

  /**
   * Unicorn 2.1+: page permissions come from `permsOf(pageAddress, accessType)` (identity mapping; 0 denies the
   * access and stops the run) instead of the Cortex-M default memory map, which makes all SRAM executable and
   * so keeps every store on Unicorn's slow path. Called once per page per TLB fill, not per access.
   */
  useVirtualTlb(permsOf: (pageAddress: number, accessType: number) => number): void {
    check(
      this.lib.uc_ctl_int(this.handle, ctlWrite(UC_CTL_TLB_TYPE, 1), UC_TLB_VIRTUAL),
      () => 'selecting the virtual TLB (Unicorn 2.1+)',
    );
    const registered = koffi.register((_uc: Pointer, address: number | bigint, accessType: number, entry: Pointer) => {
      const page = Number(address);
      const perms = permsOf(page, accessType);
      if (perms === 0) return false;
      // Data fills happen inside a block (see staleItState); a fetch fill happens between blocks, where the IT
      // bits are the next block's real state and must stay.
      if (this.staleItState && accessType !== UC_MEM_FETCH) this.clearItState();
      koffi.encode(entry, 0, 'uint64_t', page);
      koffi.encode(entry, 8, 'int', perms);
      return true;
    }, koffi.pointer(this.lib.tlbProto));
    this.addHook(UC_HOOK_TLB_FILL, registered, 1, 0, 'adding the TLB fill hook');
  }

  private clearItState(): void {
    this.writeReg(REG_EPSR, EPSR_THUMB);
  }

  private addHook(type: number, registered: RegisteredCallback, begin: number, end: number, doing: string): number {
    this.callbacks.push(registered);
    const out = [0];
    check(
      this.lib.uc_hook_add(this.handle, out, type, registered, null, begin, end),
      () => `${doing} on ${hex(begin)}..${hex(end)}`,
    );
    return out[0]!;
  }

  /**
   * Runs from `begin` (Thumb bit added) until `until`, a stop, an error, or `count` instructions (0 = no limit).
   * Returns the uc_err; throws what a native-called callback handed to failFromCallback().
   */
  start(begin: number, until: number, count: number): number {
    const error = this.starter
      ? this.starter((begin | 1) >>> 0, until, count)
      : this.lib.uc_emu_start(this.handle, (begin | 1) >>> 0, until, 0, count);
    const failed = this.callbackError;
    if (failed) {
      this.callbackError = undefined;
      throw failed.error;
    }
    return error;
  }

  /**
   * Drops all translated code. Hooks are compiled into a block when it is translated, so a hook added later (as
   * uc_emu_start adds its counting hook when given a count) is not called by blocks already in the cache.
   */
  flushTranslations(): void {
    check(this.lib.uc_ctl_int(this.handle, ctlWrite(UC_CTL_TB_FLUSH, 0), 0), () => 'flushing translated code');
  }

  stop(): void {
    this.stopRequests++;
    this.lib.uc_emu_stop(this.handle);
  }

  /** How many times stop() was called: a hook compares it before and after a callback to tell that it stopped. */
  stopRequests = 0;

  errorText(code: number): string {
    return `${ucErrorName(code)} (${this.lib.uc_strerror(code)})`;
  }

  /**
   * Instructions executed since the last start() with a count, counting the one now being hooked; exact.
   * null when the counter could not be located in this Unicorn build.
   */
  instructionCounter(): BigUint64Array | null {
    if (this.counterView) return this.counterView;
    if (process.env.TLSF_SIM_SAFE_COUNTER === '1') return null;
    const offset = locateCounterOffset(
      () => new Engine(UC_CPU_ARM_CORTEX_M3, 'opening an engine to locate the instruction counter'),
    );
    if (offset === null) return null;
    this.counterView = new BigUint64Array(koffi.view(this.handle, offset + 16), offset, 2);
    return this.counterView;
  }

  /**
   * A view of the guest's r0..r15 inside Unicorn's CPU state, so that the heap service reads and writes r0
   * with a typed-array access instead of an FFI call (about 0.1 µs each inside a hook). Unicorn's own
   * uc_reg_read/uc_reg_write for r0-r12 do exactly this load/store; hooks run at instruction boundaries where
   * the state is synchronised. Found by planting a register pattern and looking for it through the pointers
   * held in the engine struct, only within readable anonymous mappings listed in /proc/self/maps (Linux),
   * then verified both ways. null (use readReg/writeReg) elsewhere, when not found, or with
   * TLSF_SIM_SAFE_REGISTERS=1.
   */
  registerFile(): Uint32Array | null {
    if (this.registerView !== undefined) return this.registerView;
    this.registerView = null;
    if (process.platform !== 'linux' || process.env.TLSF_SIM_SAFE_REGISTERS === '1' || koffi.sizeof('void *') !== 8)
      return null;
    try {
      this.registerView = locateRegisterFile(this);
    } catch {
      this.registerView = null;
    }
    return this.registerView;
  }

  private registerView: Uint32Array | null | undefined;

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.lib.uc_close(this.handle);
    for (const registered of this.callbacks) koffi.unregister(registered);
    this.callbacks.length = 0;
    koffi.free(this.regValue);
    koffi.free(this.batchRegs);
    koffi.free(this.batchValues);
    koffi.free(this.batchPointers);
    this.mappedHostMemory.length = 0;
    for (const release of this.releases) release();
    this.releases.length = 0;
    this.starter = undefined;
  }
}

/** Unicorn's CPU model for a board's core: the M4's serves the M4F, the M0's the M0+. */
export function cpuModel(cpu: CpuName): number {
  switch (cpu) {
    case 'cortex-m0':
    case 'cortex-m0+':
      return UC_CPU_ARM_CORTEX_M0;
    case 'cortex-m3':
      return UC_CPU_ARM_CORTEX_M3;
    case 'cortex-m4':
    case 'cortex-m4f':
      return UC_CPU_ARM_CORTEX_M4;
    case 'cortex-m7':
      return UC_CPU_ARM_CORTEX_M7;
    case 'cortex-m33':
      return UC_CPU_ARM_CORTEX_M33;
  }
}
