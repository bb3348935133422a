// Why an undefined instruction may be a floating-point one: code built for an FPU the emulated core lacks.
// Unicorn (2.1.4) runs single-precision VFP instructions on every M-profile model, M0 and M3 included, but no
// double-precision arithmetic on any, the Cortex-M7 included (an STM32H7's FPU has it; Unicorn's M7 does not).
import type { CpuName } from './profiles.js';

/** The FPU each emulated core has, as -mfpu names it; cores not listed have none. */
const EMULATED_FPU: Partial<Record<CpuName, string>> = {
  'cortex-m4': 'fpv4-sp-d16',
  'cortex-m4f': 'fpv4-sp-d16',
  'cortex-m7': 'fpv5-sp-d16',
};

/** Coprocessor numbers of VFP instructions: 10 single precision (and the FPU's registers), 11 double. */
const CP_SINGLE = 10;
const CP_DOUBLE = 11;

/**
 * A sentence to add to an undefined-instruction fault when the 32-bit Thumb instruction `first`, `second`
 * (halfwords) is a VFP instruction the core cannot run, else null.
 */
export function fpuInstructionHint(first: number, second: number, cpu: CpuName): string | null {
  // Coprocessor instructions (VFP included): 1110 11xx xxxx xxxx, the coprocessor in bits 11:8 of the second.
  if ((first & 0xfc00) !== 0xec00) return null;
  const coprocessor = (second >> 8) & 0xf;
  if (coprocessor !== CP_SINGLE && coprocessor !== CP_DOUBLE) return null;
  const fpu = EMULATED_FPU[cpu];
  if (!fpu) {
    return (
      `an FPU instruction on a core without an FPU (${cpu}): ` +
      'build with -mfloat-abi=soft (tlsf-sim build --float-abi soft)'
    );
  }
  // Data processing (1110 1110 ...) on coprocessor 11: double-precision arithmetic, which the unit lacks.
  if (coprocessor === CP_DOUBLE && (first & 0xff00) === 0xee00) {
    return (
      `a double-precision FPU instruction; the emulated ${cpu} FPU is single precision (${fpu}): ` +
      `build with -mfpu=${fpu}, as tlsf-sim build does`
    );
  }
  return null;
}
