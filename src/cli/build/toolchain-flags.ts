// The compiler and linker flags of firmware for a tlsf-sim board: the one definition `tlsf-sim build`,
// `tlsf-sim flags` (Make users) and, through `flags`, the CMake toolchain file all use.
import { join } from 'node:path';

export const LIBCS = ['newlib-nano', 'picolibc'] as const;
export type Libc = (typeof LIBCS)[number];

export const FLOAT_ABIS = ['soft', 'softfp', 'hard'] as const;
export type FloatAbi = (typeof FLOAT_ABIS)[number];

/**
 * The FPU of each board core that has one, as -mfpu names it; cores without an entry are soft float only. The
 * M7 gets the single-precision unit although an STM32H7's is double precision: Unicorn's Cortex-M7 decodes
 * no double-precision instruction (vadd.f64 is undefined there), so doubles go through the soft-float
 * library, as on an M4F.
 */
export const CORE_FPU: Readonly<Record<string, string>> = {
  'cortex-m4f': 'fpv4-sp-d16',
  'cortex-m7': 'fpv5-sp-d16',
};

/**
 * A board's float ABI unless asked otherwise: hard where the core has an FPU, as the vendors' own toolchains
 * build for these parts (instruction counts of soft-float code would not be the board's), soft elsewhere.
 */
export function defaultFloatAbi(cpu: string): FloatAbi {
  return CORE_FPU[cpu] ? 'hard' : 'soft';
}

/**
 * The core's flags (tools/cpu-flags.json, soft float) with the float ABI asked for: softfp and hard add the
 * core's FPU. The caller has checked that the core has one.
 */
export function machineFlags(cpuFlags: readonly string[], cpu: string, floatAbi: FloatAbi): string[] {
  const flags = cpuFlags.filter((word) => !word.startsWith('-mfloat-abi=') && !word.startsWith('-mfpu='));
  flags.push(`-mfloat-abi=${floatAbi}`);
  const fpu = CORE_FPU[cpu];
  if (floatAbi !== 'soft' && fpu) flags.push(`-mfpu=${fpu}`);
  return flags;
}

/** What the flags depend on: the board's part (CPU, linker script) and the user's choices. */
export interface FlagRequest {
  firmwareDir: string;
  /** -mcpu/-mthumb/-mfloat-abi for the board's core (firmware-sim/tools/gen-ld.mjs cpuFlags). */
  cpuFlags: string[];
  /** The board's core (profiles.ts CpuName), which says what FPU a hard or softfp build uses. */
  cpu: string;
  floatAbi: FloatAbi;
  /** Absolute path of the board's linker script; it INCLUDEs common.ld, found through linkerDirs. */
  linkerScript: string;
  linkerDirs: string[];
  libc: Libc;
  /** Link printf/scanf with floating-point support (newlib-nano leaves it out unless asked). */
  floatIo: boolean;
  cxx: boolean;
  /** The N of -ON: 0, 1, 2, 3, s, g, z or fast. */
  optimisation: string;
  /** Bytes; overrides the linker script's default stack (__stack_size). */
  stackSize?: number;
}

export interface ToolchainFlags {
  cflags: string[];
  /** cflags plus the C++ defaults. */
  cxxflags: string[];
  ldflags: string[];
  /** The runtime's sources, compiled with the user's. */
  sources: string[];
}

export const OPTIMISATION_LEVELS = ['0', '1', '2', '3', 's', 'g', 'z', 'fast'];

const SPECS: Record<Libc, string> = { 'newlib-nano': 'nano.specs', picolibc: 'picolibc.specs' };

export function toolchainFlags(request: FlagRequest): ToolchainFlags {
  const runtime = join(request.firmwareDir, 'runtime');
  // The specs file selects the C library's headers as well as its archives, so it goes on both lines.
  const specs = `--specs=${SPECS[request.libc]}`;
  const machine = machineFlags(request.cpuFlags, request.cpu, request.floatAbi);
  const cflags = [
    ...machine,
    specs,
    `-O${request.optimisation}`,
    '-ffunction-sections',
    '-fdata-sections',
    `-I${join(request.firmwareDir, 'include')}`,
  ];
  // Exceptions and RTTI cost flash and pull in the unwinder; small-target C++ is usually built without them.
  const cxxflags = [...cflags, '-fno-exceptions', '-fno-rtti'];
  const ldflags = [...machine, specs, '-nostartfiles', '-Wl,--gc-sections', '-Wl,--no-warn-rwx-segments'];
  for (const directory of request.linkerDirs) ldflags.push(`-L${directory}`);
  ldflags.push(`-T${request.linkerScript}`);
  if (request.libc === 'newlib-nano') {
    // newlib-nano's printf and scanf skip %f/%g/%e unless these are linked: numbers would silently vanish.
    if (request.floatIo) ldflags.push('-u', '_printf_float', '-u', '_scanf_float');
  } else if (!request.floatIo) {
    // picolibc's default printf and scanf handle doubles; the integer-only ones are the small choice.
    ldflags.push('-Wl,--defsym=vfprintf=__i_vfprintf', '-Wl,--defsym=vfscanf=__i_vfscanf');
  }
  if (request.stackSize !== undefined) ldflags.push(`-Wl,--defsym=__stack_size=${request.stackSize}`);

  const sources = ['startup.c', 'heap.c', 'syscalls.c', 'tlsf_sim.c'].map((file) => join(runtime, file));
  if (request.libc === 'picolibc') sources.push(join(runtime, 'picolibc_stdio.c'));
  if (request.cxx) sources.push(join(runtime, 'cxx.cpp'));
  return { cflags, cxxflags, ldflags, sources };
}

/** Quotes a word for a POSIX shell only when it needs it, so printed commands stay readable and runnable. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function shellJoin(words: string[]): string {
  return words.map(shellQuote).join(' ');
}
