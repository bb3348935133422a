// The hint added to an undefined-instruction fault when the instruction is VFP code the emulated core cannot
// run (src/board/fpu-instructions.ts). Encodings from arm-none-eabi-objdump of firmware-sim/tests/float-math.c.
import { describe, expect, it } from 'vitest';
import { fpuInstructionHint } from '../src/board/fpu-instructions.js';

describe('fpuInstructionHint', () => {
  it('names double-precision arithmetic on a single-precision FPU, with the -mfpu to build with', () => {
    // vmov.f64 d12, #1.0 (eeb7 cb00) and vadd.f64 d0, d0, d1 (ee30 0b01)
    expect(fpuInstructionHint(0xeeb7, 0xcb00, 'cortex-m7')).toBe(
      'a double-precision FPU instruction; the emulated cortex-m7 FPU is single precision (fpv5-sp-d16): ' +
        'build with -mfpu=fpv5-sp-d16, as tlsf-sim build does',
    );
    expect(fpuInstructionHint(0xee30, 0x0b01, 'cortex-m4f')).toContain('(fpv4-sp-d16)');
  });

  it('names the missing FPU on a core without one', () => {
    expect(fpuInstructionHint(0xee30, 0x0b01, 'cortex-m3')).toBe(
      'an FPU instruction on a core without an FPU (cortex-m3): ' +
        'build with -mfloat-abi=soft (tlsf-sim build --float-abi soft)',
    );
  });

  it('says nothing for other instructions', () => {
    // vpush {d8-d12} (ed2d 8b0a) is a load/store the single-precision FPU runs; mcr p15 (ee01 0f10) is no VFP
    // instruction; udf.w (f7f0 a000) is no coprocessor instruction.
    expect(fpuInstructionHint(0xed2d, 0x8b0a, 'cortex-m7')).toBeNull();
    expect(fpuInstructionHint(0xee01, 0x0f10, 'cortex-m7')).toBeNull();
    expect(fpuInstructionHint(0xf7f0, 0xa000, 'cortex-m4f')).toBeNull();
    expect(fpuInstructionHint(0xee30, 0x0a20, 'cortex-m4f')).toBeNull(); // vadd.f32: runs
  });
});
