// A thin, typed binding to the Unicorn 2 C library through koffi.
// Only the calls the board uses are bound. Every non-zero uc_err becomes an Error that says what was
// being done, e.g. `mapping SRAM1 at 0x20000000: UC_ERR_MAP (Invalid memory mapping (UC_ERR_MAP))`.
import koffi from 'koffi';
import { readFileSync } from 'node:fs';
import type * as KoffiTypes from 'koffi';
import { selectedEngine, type EngineChoice } from './engine-locate.js';

export const UC_ARCH_ARM = 1;
export const UC_MODE_THUMB = 16;
export const UC_MODE_MCLASS = 32;

export const UC_PROT_READ = 1;
export const UC_PROT_WRITE = 2;
export const UC_PROT_EXEC = 4;

// enum uc_cpu_arm in unicorn/arm.h (Unicorn 2.0.x).
export const UC_CPU_ARM_CORTEX_M0 = 7;
export const UC_CPU_ARM_CORTEX_M3 = 8;
export const UC_CPU_ARM_CORTEX_M4 = 9;
export const UC_CPU_ARM_CORTEX_M7 = 10;
export const UC_CPU_ARM_CORTEX_M33 = 11;

// uc_arm_reg
export const REG_LR = 10;
export const REG_PC = 11;
export const REG_SP = 12;
export const REG_R0 = 66;
const REG_EPSR = 121;
const EPSR_THUMB = 1 << 24;

export const UC_HOOK_INTR = 1 << 0;
export const UC_HOOK_CODE = 1 << 2;
export const UC_HOOK_BLOCK = 1 << 3;
export const UC_HOOK_MEM_READ_UNMAPPED = 1 << 4;
export const UC_HOOK_MEM_WRITE_UNMAPPED = 1 << 5;
export const UC_HOOK_MEM_FETCH_UNMAPPED = 1 << 6;
export const UC_HOOK_MEM_READ_PROT = 1 << 7;
export const UC_HOOK_MEM_WRITE_PROT = 1 << 8;
export const UC_HOOK_MEM_FETCH_PROT = 1 << 9;
export const UC_HOOK_MEM_READ = 1 << 10;
export const UC_HOOK_MEM_WRITE = 1 << 11;
export const UC_HOOK_TLB_FILL = 1 << 17;
export const UC_HOOK_MEM_INVALID = (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9);

// uc_mem_type, as passed to memory hooks.
export const UC_MEM_READ = 16;
export const UC_MEM_WRITE = 17;
export const UC_MEM_FETCH = 18;
export const UC_MEM_READ_UNMAPPED = 19;
export const UC_MEM_WRITE_UNMAPPED = 20;
export const UC_MEM_FETCH_UNMAPPED = 21;
export const UC_MEM_WRITE_PROT = 22;
export const UC_MEM_READ_PROT = 23;
export const UC_MEM_FETCH_PROT = 24;

// uc_control_type values and the UC_CTL(type, nr, rw) encoding from unicorn.h:
// type | (argument count << 26) | (io direction << 30), with UC_CTL_IO_WRITE = 1.
const UC_CTL_CPU_MODEL = 7;
const UC_CTL_TLB_TYPE = 12; // Unicorn 2.1+
const UC_TLB_VIRTUAL = 1;
const UC_CTL_IO_WRITE = 1;
const ctlWrite = (type: number, argumentCount: number): number => (type | (argumentCount << 26) | (UC_CTL_IO_WRITE << 30)) | 0;

const ERROR_NAMES = [
  'UC_ERR_OK', 'UC_ERR_NOMEM', 'UC_ERR_ARCH', 'UC_ERR_HANDLE', 'UC_ERR_MODE', 'UC_ERR_VERSION',
  'UC_ERR_READ_UNMAPPED', 'UC_ERR_WRITE_UNMAPPED', 'UC_ERR_FETCH_UNMAPPED', 'UC_ERR_HOOK', 'UC_ERR_INSN_INVALID',
  'UC_ERR_MAP', 'UC_ERR_WRITE_PROT', 'UC_ERR_READ_PROT', 'UC_ERR_FETCH_PROT', 'UC_ERR_ARG', 'UC_ERR_READ_UNALIGNED',
  'UC_ERR_WRITE_UNALIGNED', 'UC_ERR_FETCH_UNALIGNED', 'UC_ERR_HOOK_EXIST', 'UC_ERR_RESOURCE', 'UC_ERR_EXCEPTION',
];

export const UC_ERR_OK = 0;

export function ucErrorName(code: number): string {
  return ERROR_NAMES[code] ?? `uc_err ${code}`;
}

export class UnicornError extends Error {
  constructor(readonly code: number, readonly doing: string, detail: string) {
    super(`${doing}: ${ucErrorName(code)} (${detail})`);
    this.name = 'UnicornError';
  }
}

type Pointer = unknown;
type RegisteredCallback = bigint;

interface Library {
  uc_open(arch: number, mode: number, out: Pointer[]): number;
  uc_close(uc: Pointer): number;
  uc_version(major: number[] | null, minor: number[] | null): number;
  uc_strerror(code: number): string;
  uc_ctl_int(uc: Pointer, control: number, value: number): number;
  uc_mem_map(uc: Pointer, address: number, size: number, perms: number): number;
  uc_mem_map_ptr(uc: Pointer, address: number, size: number, perms: number, memory: ArrayBuffer): number;
  uc_mem_write(uc: Pointer, address: number, bytes: Uint8Array, size: number): number;
  uc_mem_read(uc: Pointer, address: number, bytes: Uint8Array, size: number): number;
  uc_reg_read(uc: Pointer, regid: number, value: Pointer): number;
  uc_reg_write(uc: Pointer, regid: number, value: Pointer): number;
  uc_reg_read_batch(uc: Pointer, regs: Pointer, values: Pointer, count: number): number;
  uc_reg_write_batch(uc: Pointer, regs: Pointer, values: Pointer, count: number): number;
  uc_hook_add(uc: Pointer, out: number[], type: number, callback: Pointer, user: null, begin: number, end: number): number;
  uc_hook_del(uc: Pointer, hook: number): number;
  uc_emu_start(uc: Pointer, begin: number, until: number, timeout: number, count: number): number;
  uc_emu_stop(uc: Pointer): number;
  codeProto: KoffiTypes.TypeObject;
  memProto: KoffiTypes.TypeObject;
  intrProto: KoffiTypes.TypeObject;
  tlbProto: KoffiTypes.TypeObject;
  path: string;
}

let library: Library | undefined;

export { installHint } from './engine-locate.js';

/** Which library runs firmware in this process (chosen and verified by engine-locate.ts): for RunReport.engine. */
export function engineInfo(): EngineChoice {
  return selectedEngine();
}

/** Loads the chosen Unicorn once per process. Throws one line naming the install command when there is none. */
export function unicorn(): Library {
  if (library) return library;
  const engine = selectedEngine();
  let loaded: KoffiTypes.LibraryHandle;
  try {
    loaded = koffi.load(engine.path);
  } catch (error) {
    throw new Error(`Unicorn library ${engine.path} passed its self-test but does not load here: ${String((error as Error).message).split('\n')[0]}`);
  }
  const loadedPath = engine.path;
  const lib = loaded;
  // Distinct type names per process: koffi types are global, and a second load must not redeclare them.
  koffi.opaque('tlsf_uc_engine');
  const codeProto = koffi.proto('void TlsfUcCodeCb(uintptr_t uc, uint64_t address, uint32_t size, uintptr_t user)');
  // Unicorn passes (uc, type, address, size, value, user); the trailing value and user are left undeclared so
  // koffi does not convert them on every access. A callee may ignore trailing arguments in the C calling
  // conventions of every 64-bit platform Unicorn runs on (the caller owns the argument area).
  const memProto = koffi.proto('bool TlsfUcMemCb(uintptr_t uc, int type, uint64_t address, int size)');
  const intrProto = koffi.proto('void TlsfUcIntrCb(uintptr_t uc, uint32_t intno, uintptr_t user)');
  // uc_cb_tlbevent_t: the entry to fill is struct uc_tlb_entry { uint64_t paddr; uc_prot perms; }.
  const tlbProto = koffi.proto('bool TlsfUcTlbCb(uintptr_t uc, uint64_t vaddr, int type, void *entry, uintptr_t user)');
  const bound = {
    uc_open: lib.func('int uc_open(int arch, int mode, _Out_ tlsf_uc_engine **uc)'),
    uc_close: lib.func('int uc_close(tlsf_uc_engine *uc)'),
    uc_version: lib.func('unsigned int uc_version(_Out_ unsigned int *major, _Out_ unsigned int *minor)'),
    uc_strerror: lib.func('const char *uc_strerror(int code)'),
    uc_ctl: lib.func('int uc_ctl(tlsf_uc_engine *uc, int control, ...)'),
    uc_mem_map: lib.func('int uc_mem_map(tlsf_uc_engine *uc, uint64_t address, size_t size, uint32_t perms)'),
    uc_mem_map_ptr: lib.func('int uc_mem_map_ptr(tlsf_uc_engine *uc, uint64_t address, size_t size, uint32_t perms, void *ptr)'),
    uc_mem_write: lib.func('int uc_mem_write(tlsf_uc_engine *uc, uint64_t address, const void *bytes, size_t size)'),
    uc_mem_read: lib.func('int uc_mem_read(tlsf_uc_engine *uc, uint64_t address, void *bytes, size_t size)'),
    uc_reg_read: lib.func('int uc_reg_read(tlsf_uc_engine *uc, int regid, void *value)'),
    uc_reg_write: lib.func('int uc_reg_write(tlsf_uc_engine *uc, int regid, const void *value)'),
    uc_reg_read_batch: lib.func('int uc_reg_read_batch(tlsf_uc_engine *uc, void *regs, void *vals, int count)'),
    uc_reg_write_batch: lib.func('int uc_reg_write_batch(tlsf_uc_engine *uc, void *regs, void *vals, int count)'),
    uc_hook_add: lib.func('int uc_hook_add(tlsf_uc_engine *uc, _Out_ size_t *hh, int type, void *callback, void *user, uint64_t begin, uint64_t end)'),
    uc_hook_del: lib.func('int uc_hook_del(tlsf_uc_engine *uc, size_t hh)'),
    uc_emu_start: lib.func('int uc_emu_start(tlsf_uc_engine *uc, uint64_t begin, uint64_t until, uint64_t timeout, size_t count)'),
    uc_emu_stop: lib.func('int uc_emu_stop(tlsf_uc_engine *uc)'),
  };
  library = {
    ...bound,
    uc_ctl_int: (uc, control, value) => bound.uc_ctl(uc, control, 'int', value) as number,
    codeProto, memProto, intrProto, tlbProto, path: loadedPath,
  } as Library;
  return library;
}

export function unicornVersion(): string {
  const lib = unicorn();
  const major = [0];
  const minor = [0];
  lib.uc_version(major, minor);
  return `${major[0]}.${minor[0]}`;
}

function check(code: number, doing: () => string): void {
  if (code !== UC_ERR_OK) throw new UnicornError(code, doing(), unicorn().uc_strerror(code));
}

export const hex = (value: number): string => '0x' + (value >>> 0).toString(16).padStart(8, '0');

export type CodeHook = (address: number, size: number) => void;
export type MemHook = (type: number, address: number, size: number) => boolean;
export type IntrHook = (intno: number) => void;

// Unicorn keeps uc_emu_start's instruction counter (uc->emu_counter) in its engine struct and has no API to
// read it (upstream declined one). Its offset is found once per process by running a known count twice and
// looking for the (counter, limit) pair; a view over that word then gives the exact count inside any hook
// for the price of a typed-array read. If the pair is not found the board falls back to chunked counting.
let counterOffsetProbe: number | null | undefined;

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
    check(this.lib.uc_mem_map_ptr(this.handle, base, memory.byteLength, perms, memory),
      () => `mapping ${name} at ${hex(base)} (${memory.byteLength} bytes, host-backed)`);
    this.mappedHostMemory.push(memory);
  }

  map(name: string, base: number, size: number, perms: number): void {
    check(this.lib.uc_mem_map(this.handle, base, size, perms), () => `mapping ${name} at ${hex(base)} (${size} bytes)`);
  }

  write(address: number, bytes: Uint8Array, what = 'writing memory'): void {
    check(this.lib.uc_mem_write(this.handle, address, bytes, bytes.length), () => `${what} at ${hex(address)} (${bytes.length} bytes)`);
  }

  read(address: number, length: number, what = 'reading memory'): Uint8Array {
    const bytes = new Uint8Array(length);
    check(this.lib.uc_mem_read(this.handle, address, bytes, length), () => `${what} at ${hex(address)} (${length} bytes)`);
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
    regids.forEach((regid, i) => { this.batchRegsView[i] = regid; });
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

  addCodeHook(callback: CodeHook, begin: number, end: number): number {
    const registered = koffi.register((_uc: Pointer, address: number | bigint, size: number) => callback(Number(address), size),
      koffi.pointer(this.lib.codeProto));
    return this.addHook(UC_HOOK_CODE, registered, begin, end, 'adding a code hook');
  }

  addBlockHook(callback: CodeHook, begin: number, end: number): number {
    const registered = koffi.register((_uc: Pointer, address: number | bigint, size: number) => callback(Number(address), size),
      koffi.pointer(this.lib.codeProto));
    return this.addHook(UC_HOOK_BLOCK, registered, begin, end, 'adding a block hook');
  }

  addMemHook(type: number, callback: MemHook, begin: number, end: number): number {
    const validAccesses = (type & (UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE)) !== 0;
    const registered = koffi.register(this.staleItState && validAccesses
      ? (_uc: Pointer, accessType: number, address: number | bigint, size: number) => {
        const result = callback(accessType, Number(address), size);
        this.clearItState();
        return result;
      }
      : (_uc: Pointer, accessType: number, address: number | bigint, size: number) => callback(accessType, Number(address), size),
    koffi.pointer(this.lib.memProto));
    return this.addHook(type, registered, begin, end, 'adding a memory hook');
  }

  addIntrHook(callback: IntrHook): number {
    const registered = koffi.register((_uc: Pointer, intno: number) => callback(intno), koffi.pointer(this.lib.intrProto));
    return this.addHook(UC_HOOK_INTR, registered, 1, 0, 'adding an interrupt hook');
  }

  /**
   * Unicorn 2.1+: page permissions come from `permsOf(pageAddress, accessType)` (identity mapping; 0 denies the
   * access and stops the run) instead of the Cortex-M default memory map, which makes all SRAM executable and
   * so keeps every store on Unicorn's slow path. Called once per page per TLB fill, not per access.
   */
  useVirtualTlb(permsOf: (pageAddress: number, accessType: number) => number): void {
    check(this.lib.uc_ctl_int(this.handle, ctlWrite(UC_CTL_TLB_TYPE, 1), UC_TLB_VIRTUAL), () => 'selecting the virtual TLB (Unicorn 2.1+)');
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
    check(this.lib.uc_hook_add(this.handle, out, type, registered, null, begin, end), () => `${doing} on ${hex(begin)}..${hex(end)}`);
    return out[0]!;
  }

  deleteHook(hook: number): void {
    check(this.lib.uc_hook_del(this.handle, hook), () => `removing hook ${hook}`);
  }

  /** Runs from `begin` (Thumb bit added) until `until`, a stop, an error, or `count` instructions (0 = no limit). Returns the uc_err. */
  start(begin: number, until: number, count: number): number {
    return this.lib.uc_emu_start(this.handle, (begin | 1) >>> 0, until, 0, count);
  }

  stop(): void {
    this.lib.uc_emu_stop(this.handle);
  }

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
    const offset = locateCounterOffset();
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
    if (process.platform !== 'linux' || process.env.TLSF_SIM_SAFE_REGISTERS === '1' || koffi.sizeof('void *') !== 8) return null;
    try {
      this.registerView = locateAndVerify(this);
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
  }
}

// The engine struct is only read this far: in Unicorn 2.0.1 the counter is at byte 1272 and the CPU pointer
// at byte 384, and the struct is about 14 KiB (malloc_usable_size of the handle), so the read stays inside it.
const PROBE_SCAN_BYTES = 2048;

function locateCounterOffset(): number | null {
  if (counterOffsetProbe !== undefined) return counterOffsetProbe;
  counterOffsetProbe = null;
  const engine = new Engine(UC_CPU_ARM_CORTEX_M3, 'opening an engine to locate the instruction counter');
  try {
    engine.map('probe code', 0x08000000, 0x1000, UC_PROT_READ | UC_PROT_EXEC);
    // movs r0, #0; loop: adds r0, #1; b loop
    engine.write(0x08000000, new Uint8Array([0x00, 0x20, 0x01, 0x30, 0xfd, 0xe7]));
    const candidates = (count: number): Set<number> => {
      engine.start(0x08000000, 0xffffffff, count);
      const words = new BigUint64Array(koffi.view(engine.handle, PROBE_SCAN_BYTES));
      const found = new Set<number>();
      for (let i = 0; i + 1 < words.length; i++) {
        if (words[i + 1] === BigInt(count) && words[i] === BigInt(count + 1)) found.add(i * 8);
      }
      return found;
    };
    const first = candidates(1000);
    const second = candidates(77_777);
    const both = [...first].filter((offset) => second.has(offset));
    if (both.length === 1) counterOffsetProbe = both[0]!;
  } finally {
    engine.close();
  }
  return counterOffsetProbe;
}

// ---- register file location (see Engine.registerFile) ---------------------------------------------

interface Mapping { start: bigint; end: bigint }

function readableAnonymousMappings(): Mapping[] {
  const text = readFileSync('/proc/self/maps', 'utf8');
  const mappings: Mapping[] = [];
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]+)-([0-9a-f]+) (r)[-w][-x][ps] [0-9a-f]+ [0-9a-f:]+ (\d+)\s*(.*)$/.exec(line);
    if (!match) continue;
    const inode = match[4];
    const name = match[5] ?? '';
    if (inode !== '0' || (name !== '' && name !== '[heap]')) continue;
    mappings.push({ start: BigInt('0x' + match[1]), end: BigInt('0x' + match[2]) });
  }
  return mappings;
}


/** Where, relative to a pointer stored in the engine struct, the register file was found last time. */
let registerFileHint: { pointerOffset: number; registerOffset: number } | null = null;

const REGISTER_WINDOW = 512 * 1024;

function verifyRegisterFile(engine: Engine, registers: Uint32Array): boolean {
  const saved = [engine.readReg(REG_R0), engine.readReg(REG_R0 + 1)];
  engine.writeReg(REG_R0, 0x13579bdf);
  if (registers[0] !== 0x13579bdf) return false;
  registers[1] = 0x2468ace0;
  if (engine.readReg(REG_R0 + 1) !== 0x2468ace0) return false;
  engine.writeReg(REG_R0, saved[0]!);
  engine.writeReg(REG_R0 + 1, saved[1]!);
  return true;
}

function locateRegisterFile(engine: Engine): Uint32Array | null {
  const pattern: number[] = [];
  for (let i = 0; i < 13; i++) pattern.push((0x5a000000 | (i << 16) | ((Math.random() * 0xffff) & 0xffff)) >>> 0);
  const saved = pattern.map((_, i) => engine.readReg(REG_R0 + i));
  pattern.forEach((value, i) => engine.writeReg(REG_R0 + i, value));
  try {
    const mappings = readableAnonymousMappings();
    const mappingOf = (address: bigint) => mappings.find((mapping) => address >= mapping.start && address < mapping.end);
    const structWords = new BigUint64Array(koffi.view(engine.handle, PROBE_SCAN_BYTES));
    const viewAt = (pointerOffset: number, registerOffset: number): Uint32Array | null => {
      const pointer = structWords[pointerOffset / 8]!;
      const mapping = mappingOf(pointer);
      if (!mapping || pointer + BigInt(registerOffset + 64) > mapping.end) return null;
      const base = koffi.decode(engine.handle, pointerOffset, 'void *');
      return new Uint32Array(koffi.view(base, registerOffset + 64), registerOffset, 16);
    };
    if (registerFileHint) {
      const view = viewAt(registerFileHint.pointerOffset, registerFileHint.registerOffset);
      if (view && pattern.every((value, i) => view[i] === value)) return view;
    }
    // The pointer nearest below the registers is the CPU object itself, whose layout is fixed; others
    // (neighbouring allocations) would not keep the same distance in the next engine.
    const seen = new Set<bigint>();
    let best: { pointerOffset: number; registerOffset: number; words: Uint32Array } | null = null;
    for (let index = 0; index < structWords.length; index++) {
      const pointer = structWords[index]!;
      if ((pointer & 7n) !== 0n || seen.has(pointer)) continue;
      seen.add(pointer);
      const mapping = mappingOf(pointer);
      if (!mapping) continue;
      const available = Number(mapping.end - pointer);
      const windowBytes: number = Math.min(REGISTER_WINDOW, best ? best.registerOffset : REGISTER_WINDOW, available) & ~3;
      if (windowBytes < 64) continue;
      const base = koffi.decode(engine.handle, index * 8, 'void *');
      const words: Uint32Array = new Uint32Array(koffi.view(base, windowBytes));
      for (let at = 0; at + 13 <= words.length; at++) {
        if (words[at] !== pattern[0]) continue;
        let match = true;
        for (let i = 1; i < 13 && match; i++) match = words[at + i] === pattern[i];
        if (!match) continue;
        if (!best || at * 4 < best.registerOffset) best = { pointerOffset: index * 8, registerOffset: at * 4, words };
        break;
      }
    }
    if (best) {
      registerFileHint = { pointerOffset: best.pointerOffset, registerOffset: best.registerOffset };
      return new Uint32Array(best.words.buffer, best.registerOffset, 16);
    }
    return null;
  } finally {
    saved.forEach((value, i) => engine.writeReg(REG_R0 + i, value));
  }
}

/** Locates and verifies; exported for Engine.registerFile. */
function locateAndVerify(engine: Engine): Uint32Array | null {
  const view = locateRegisterFile(engine);
  return view && verifyRegisterFile(engine, view) ? view : null;
}
