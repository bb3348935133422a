import type { HeapCost } from '../allocator/index.js';
import type { CpuName } from '../board/index.js';

// Turns a heap call's counted work into an estimate of the cycles it would take on the board's core. The
// counts are exact (each heap counts its own loads, stores, nodes, bitmap words, splits and merges); the cycles
// are an estimate: the allocator runs on the host, so no instruction of it is executed on the emulated core.
//
// The primitive costs are the Arm technical reference manuals' instruction timings for zero-wait-state memory
// (docs/cli.md, "Cost of each call", names the tables): a word load, a word store, a branch taken (the pipeline
// refill included), and finding a bit in a bitmap word. Armv6-M (M0, M0+) has no CLZ: a bit scan there is the
// six-instruction sequence BIT_SCAN_SEQUENCE.armv6m, 8 cycles with the single-cycle multiplier. Flash wait
// states, caches and bus contention are not modelled.

export interface CyclePrimitives {
  /** LDR of a word. */
  load: number;
  /** STR of a word. */
  store: number;
  /** A branch taken (loop back, a decision that leaves the straight path). */
  branch: number;
  /** Finding the set bit of a bitmap word: CLZ where the core has it, else a short routine. */
  bitScan: number;
}

/**
 * The instructions the model assumes for one bit scan, per architecture. tests/cycle-model-primitives.test.ts
 * runs the same sequences (firmware-sim/tests/primitives.c) on the board and checks their instruction counts.
 * Armv6-M: the lowest set bit isolated (x & -x), the de Bruijn constant loaded, a multiply, the top five bits
 * kept, a byte loaded from a 32-entry table whose address stays in a register. Armv7-M: the lowest set bit
 * (what the heaps' searches want) is RBIT then CLZ; CLZ alone finds the highest.
 */
export const BIT_SCAN_SEQUENCE = {
  armv6m: ['negs', 'ands', 'ldr', 'muls', 'lsrs', 'ldrb'],
  armv7m: ['rbit', 'clz'],
} as const;

/** Cycles of the Armv6-M bit scan: its loads at the load cost, every other instruction (the multiplier is the
 * single-cycle one) at 1. */
function armv6mBitScanCycles(load: number): number {
  return BIT_SCAN_SEQUENCE.armv6m.reduce(
    (cycles, instruction) => cycles + (instruction.startsWith('ldr') ? load : 1),
    0,
  );
}

const PRIMITIVES: Record<CpuName, CyclePrimitives> = {
  // Cortex-M0 TRM (DDI 0432C) 3.3: LDR/STR 2, B taken 3 (not taken 1); no CLZ in Armv6-M.
  'cortex-m0': { load: 2, store: 2, branch: 3, bitScan: armv6mBitScanCycles(2) },
  // Cortex-M0+ TRM (DDI 0484C): the two-stage pipeline makes a taken branch 2; loads and stores 2; no CLZ.
  'cortex-m0+': { load: 2, store: 2, branch: 2, bitScan: armv6mBitScanCycles(2) },
  // Cortex-M3 TRM (DDI 0337I) 18.2: LDR 2, STR 1 into the write buffer, branch 1 + refill (2-3), CLZ 1.
  'cortex-m3': { load: 2, store: 1, branch: 3, bitScan: BIT_SCAN_SEQUENCE.armv7m.length },
  // Cortex-M4 TRM (DDI 0439B) 3.3: the M3's timings.
  'cortex-m4': { load: 2, store: 1, branch: 3, bitScan: BIT_SCAN_SEQUENCE.armv7m.length },
  'cortex-m4f': { load: 2, store: 1, branch: 3, bitScan: BIT_SCAN_SEQUENCE.armv7m.length },
  // Cortex-M7 TRM (DDI 0489F): loads from TCM/cache 1 (dual-issued with ALU work), stores 1, a predicted
  // branch 1 (a misprediction costs more; not modelled), CLZ 1.
  'cortex-m7': { load: 1, store: 1, branch: 1, bitScan: BIT_SCAN_SEQUENCE.armv7m.length },
  // Cortex-M33 TRM (100230): LDR 2, STR 1, taken branch 2, CLZ 1.
  'cortex-m33': { load: 2, store: 1, branch: 2, bitScan: BIT_SCAN_SEQUENCE.armv7m.length },
};

/** Branches a call takes besides its loops: the call and return, the checks of its argument. */
const FIXED_BRANCHES = 3;

export interface CycleModel extends CyclePrimitives {
  cpu: CpuName;
  /** How cycles are estimated, in one line: reports print it beside the figures. */
  formula: string;
  note: string;
}

export function cycleModel(cpu: CpuName): CycleModel {
  return {
    cpu,
    ...PRIMITIVES[cpu],
    formula:
      'load x words read + store x words written + branch x (nodes visited + bitmap words + splits + merges + 3) ' +
      '+ bitScan x bitmap words + (load + store) x bytes copied / 4',
    note: 'cycles are an estimate from counted work (zero-wait-state memory); the counts are exact',
  };
}

/** Estimated cycles of one call: every counted primitive at its cost on the core. */
export function estimateCycles(work: Readonly<HeapCost>, model: CyclePrimitives): number {
  const branches = work.nodesVisited + work.bitmapWordsScanned + work.splits + work.merges + FIXED_BRANCHES;
  return (
    model.load * work.wordsRead +
    model.store * work.wordsWritten +
    model.branch * branches +
    model.bitScan * work.bitmapWordsScanned +
    (model.load + model.store) * Math.ceil(work.bytesCopied / 4)
  );
}
