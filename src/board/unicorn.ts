// A thin, typed binding to the Unicorn 2 C library through koffi: loading the library engine-locate.ts chose, the C
// functions the board calls (declared as in unicorn.h), their constants and error names. Only those calls
// are bound. The Engine wrapper (engine.ts) turns every non-zero uc_err into an UnicornError saying what was
// being done, e.g. `mapping SRAM1 at 0x20000000: UC_ERR_MAP (Invalid memory mapping (UC_ERR_MAP))`.
import koffi from 'koffi';
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
export const REG_EPSR = 121;

export const UC_HOOK_INTR = 1 << 0;
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
export const UC_HOOK_MEM_INVALID =
  UC_HOOK_MEM_READ_UNMAPPED |
  UC_HOOK_MEM_WRITE_UNMAPPED |
  UC_HOOK_MEM_FETCH_UNMAPPED |
  UC_HOOK_MEM_READ_PROT |
  UC_HOOK_MEM_WRITE_PROT |
  UC_HOOK_MEM_FETCH_PROT;

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
export const UC_CTL_CPU_MODEL = 7;
export const UC_CTL_TB_FLUSH = 10;
export const UC_CTL_TLB_TYPE = 12; // Unicorn 2.1+
export const UC_TLB_VIRTUAL = 1;
const UC_CTL_IO_WRITE = 1;
export const ctlWrite = (type: number, argumentCount: number): number =>
  type | (argumentCount << 26) | (UC_CTL_IO_WRITE << 30) | 0;

const ERROR_NAMES = [
  'UC_ERR_OK',
  'UC_ERR_NOMEM',
  'UC_ERR_ARCH',
  'UC_ERR_HANDLE',
  'UC_ERR_MODE',
  'UC_ERR_VERSION',
  'UC_ERR_READ_UNMAPPED',
  'UC_ERR_WRITE_UNMAPPED',
  'UC_ERR_FETCH_UNMAPPED',
  'UC_ERR_HOOK',
  'UC_ERR_INSN_INVALID',
  'UC_ERR_MAP',
  'UC_ERR_WRITE_PROT',
  'UC_ERR_READ_PROT',
  'UC_ERR_FETCH_PROT',
  'UC_ERR_ARG',
  'UC_ERR_READ_UNALIGNED',
  'UC_ERR_WRITE_UNALIGNED',
  'UC_ERR_FETCH_UNALIGNED',
  'UC_ERR_HOOK_EXIST',
  'UC_ERR_RESOURCE',
  'UC_ERR_EXCEPTION',
];

export const UC_ERR_OK = 0;

export function ucErrorName(code: number): string {
  return ERROR_NAMES[code] ?? `uc_err ${code}`;
}

export class UnicornError extends Error {
  constructor(
    readonly code: number,
    readonly doing: string,
    detail: string,
  ) {
    super(`${doing}: ${ucErrorName(code)} (${detail})`);
    this.name = 'UnicornError';
  }
}

/** An opaque C pointer as koffi hands it over (the engine handle). */
export type Pointer = unknown;

export interface Library {
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
  uc_hook_add(
    uc: Pointer,
    out: number[],
    type: number,
    callback: Pointer,
    user: null,
    begin: number,
    end: number,
  ): number;
  uc_emu_start(uc: Pointer, begin: number, until: number, timeout: number, count: number): number;
  uc_emu_stop(uc: Pointer): number;
  /** uc_cb_hookcode_t, the callback type of block hooks. */
  codeProto: KoffiTypes.TypeObject;
  memProto: KoffiTypes.TypeObject;
  intrProto: KoffiTypes.TypeObject;
  /** uc_cb_tlbevent_t, the TLB fill hook (Unicorn 2.1+). */
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
    const reason = String((error as Error).message).split('\n')[0];
    throw new Error(`Unicorn library ${engine.path} passed its self-test but does not load here: ${reason}`);
  }
  const loadedPath = engine.path;
  const lib = loaded;
  // Distinct type names per process: koffi types are global, and a second load must not redeclare them.
  koffi.opaque('tlsf_uc_engine');
  // Hooks are the hot path of heap calls: every argument koffi converts costs, and a value outside V8's small
  // integers (a pointer, an address at or above 2^31) is a heap number allocated per call (measured: 7% of a
  // firmware malloc+free pair). So the engine handle, which no hook uses, is declared as one byte (the hook
  // reads the low byte of its register), guest addresses as int32 (32-bit on every Cortex-M; the Engine makes
  // them unsigned again), and trailing arguments (user data; a memory hook's value) are left undeclared: a
  // callee may ignore trailing arguments in the C calling conventions of every 64-bit platform Unicorn runs on
  // (the caller owns the argument area).
  const codeProto = koffi.proto('void TlsfUcCodeCb(uint8_t uc, int32_t address, uint32_t size)');
  const memProto = koffi.proto('bool TlsfUcMemCb(uint8_t uc, int type, int32_t address, int size)');
  const intrProto = koffi.proto('void TlsfUcIntrCb(uint8_t uc, uint32_t intno)');
  // uc_cb_tlbevent_t: the entry to fill is struct uc_tlb_entry { uint64_t paddr; uc_prot perms; }.
  const tlbProto = koffi.proto('bool TlsfUcTlbCb(uintptr_t uc, uint64_t vaddr, int type, void *entry, uintptr_t user)');
  const bound = {
    uc_open: lib.func('int uc_open(int arch, int mode, _Out_ tlsf_uc_engine **uc)'),
    uc_close: lib.func('int uc_close(tlsf_uc_engine *uc)'),
    uc_version: lib.func('unsigned int uc_version(_Out_ unsigned int *major, _Out_ unsigned int *minor)'),
    uc_strerror: lib.func('const char *uc_strerror(int code)'),
    uc_ctl: lib.func('int uc_ctl(tlsf_uc_engine *uc, int control, ...)'),
    uc_mem_map: lib.func('int uc_mem_map(tlsf_uc_engine *uc, uint64_t address, size_t size, uint32_t perms)'),
    uc_mem_map_ptr: lib.func(
      'int uc_mem_map_ptr(tlsf_uc_engine *uc, uint64_t address, size_t size, uint32_t perms, void *ptr)',
    ),
    uc_mem_write: lib.func('int uc_mem_write(tlsf_uc_engine *uc, uint64_t address, const void *bytes, size_t size)'),
    uc_mem_read: lib.func('int uc_mem_read(tlsf_uc_engine *uc, uint64_t address, void *bytes, size_t size)'),
    uc_reg_read: lib.func('int uc_reg_read(tlsf_uc_engine *uc, int regid, void *value)'),
    uc_reg_write: lib.func('int uc_reg_write(tlsf_uc_engine *uc, int regid, const void *value)'),
    uc_reg_read_batch: lib.func('int uc_reg_read_batch(tlsf_uc_engine *uc, void *regs, void *vals, int count)'),
    uc_hook_add: lib.func(
      'int uc_hook_add(tlsf_uc_engine *uc, _Out_ size_t *hh, int type, void *callback, void *user, uint64_t begin, uint64_t end)',
    ),
    uc_emu_start: lib.func(
      'int uc_emu_start(tlsf_uc_engine *uc, uint64_t begin, uint64_t until, uint64_t timeout, size_t count)',
    ),
    uc_emu_stop: lib.func('int uc_emu_stop(tlsf_uc_engine *uc)'),
  };
  library = {
    ...bound,
    uc_ctl_int: (uc, control, value) => bound.uc_ctl(uc, control, 'int', value) as number,
    codeProto,
    memProto,
    intrProto,
    tlbProto,
    path: loadedPath,
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

/** Throws an UnicornError for a non-zero uc_err; `doing` is only evaluated then (it formats addresses). */
export function check(code: number, doing: () => string): void {
  if (code !== UC_ERR_OK) throw new UnicornError(code, doing(), unicorn().uc_strerror(code));
}
