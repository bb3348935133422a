// Checks on the firmware's own accesses inside the heap, when asked for: the core's unaligned-access
// HardFault (alignmentCheck) and writes outside live payloads (guard). A memory hook per heap region calls
// onHeapAccess for every access, so this is the one part of the board that costs per firmware access.
import { hex } from '../allocator/index.js';
import type { Engine } from './engine.js';
import { REG_PC, UC_MEM_WRITE } from './unicorn.js';
import type { HeapRegion } from './memory-map.js';
import type { RunOutcome } from './run-outcome.js';
import { bytes, type FaultDiagnosis } from './fault-diagnosis.js';

/** --guard tracks writable bytes in 4-byte granules (every block payload is 4-aligned). */
export const GRANULE_SHIFT = 2;

export class AccessChecks {
  /** Firmware accesses seen by the hook. */
  checked = 0;

  constructor(
    private readonly engine: Engine,
    private readonly armv6m: boolean,
    private readonly outcome: RunOutcome,
    private readonly faults: FaultDiagnosis,
  ) {}

  /** Checks one firmware access inside a heap region: alignment model and --guard. */
  onHeapAccess(
    region: HeapRegion,
    type: number,
    address: number,
    size: number,
    checkAlignment: boolean,
    guard: boolean,
  ): boolean {
    this.checked++;
    if (this.outcome.result !== null) return true;
    if (checkAlignment && size > 1 && (address & (size - 1)) !== 0) {
      const pc = this.engine.readReg(REG_PC);
      if (this.armv6m || this.needsAlignment(pc)) {
        const isWrite = type === UC_MEM_WRITE;
        const rule = this.armv6m
          ? ' (Armv6-M traps every unaligned halfword/word access)'
          : ' (LDRD/STRD/LDM/STM/VLDR/VSTR need word alignment)';
        this.faults.reportFault(
          isWrite ? 'unaligned-write' : 'unaligned-read',
          address,
          size,
          pc,
          `HardFault: unaligned ${size}-byte ${isWrite ? 'write' : 'read'} at ${hex(address)}${rule}`,
        );
        return true;
      }
    }
    if (guard && type === UC_MEM_WRITE && region.writable) {
      const first = (address - region.base) >> GRANULE_SHIFT;
      const last = (address + size - 1 - region.base) >> GRANULE_SHIFT;
      for (let granule = first; granule <= last; granule++) {
        if (region.writable[granule] !== 1) {
          const pc = this.engine.readReg(REG_PC);
          this.faults.reportFault(
            'metadata-write',
            address,
            size,
            pc,
            `wrote ${bytes(size)} at ${hex(address)} into ${this.faults.describeMetadata(address)}`,
            'heap-corruption',
          );
          return true;
        }
      }
    }
    return true;
  }

  /** Armv7-M: whether the Thumb instruction at pc is one that requires word alignment. */
  private needsAlignment(pc: number): boolean {
    const halfwords = this.engine.tryRead(pc & ~1, 2);
    if (!halfwords) return false;
    const first = halfwords[0]! | (halfwords[1]! << 8);
    if ((first & 0xf000) === 0xc000) return true; // LDM/STM (16-bit)
    if ((first & 0xf600) === 0xb400) return true; // PUSH/POP
    if ((first & 0xfe00) === 0xe800) return true; // LDM/STM, LDRD/STRD, LDREX/STREX (32-bit)
    if ((first & 0xfe00) === 0xec00 || (first & 0xff00) === 0xed00) return true; // VLDR/VSTR/VLDM/VSTM
    return false;
  }

  /** Marks a block's usable bytes writable (1) when it is allocated, not writable (0) when freed. */
  static markWritable(regions: readonly HeapRegion[], address: number, usable: number, value: 0 | 1): void {
    for (const region of regions) {
      if (region.writable && address >= region.base && address < region.base + region.size) {
        const first = (address - region.base) >> GRANULE_SHIFT;
        region.writable.fill(value, first, (address + usable - region.base + 3) >> GRANULE_SHIFT);
      }
    }
  }
}
