// Which return address a heap call reports (docs/design.md section 3): the caller argument the C library's
// wrappers pass when it looks like a return address, else lr.
import type { BoardMemory } from './memory-map.js';

/**
 * The register in which each heap service takes the caller to report: the first one its own arguments leave
 * free. Indexed by slot (malloc, free, realloc, calloc, memalign, malloc_usable_size, then write, exit, ticks,
 * assert_fail: none, then out_of_memory: r1, which an allocation wrapper fills so that the stop names its caller);
 * 0 for services without one.
 */
export const CALLER_REGISTER: readonly number[] = [1, 1, 2, 2, 2, 1, 0, 0, 0, 0, 1];
/** lr's index in the register file (r0..r15). */
export const LR_INDEX = 14;

export class CallerResolver {
  constructor(private readonly memory: BoardMemory) {}

  /** The caller to report, given the caller argument and lr the call was made with. */
  choose(argument: number, lr: number): number {
    return this.isCallerArgument(argument) ? argument : lr;
  }

  isCallerArgument(claimed: number): boolean {
    return claimed !== 0 && this.isReturnAddress(claimed);
  }

  /**
   * A caller argument is believed only when it looks like lr after a call: Thumb bit set, and the code before it
   * (in flash or RAM) a BL or BLX. Firmware calling the slots with the classic signatures leaves whatever it had
   * in that register, and a data value or a function pointer fails this test far more often than not.
   */
  private isReturnAddress(address: number): boolean {
    if ((address & 1) === 0) return false;
    const next = address - 1;
    const before = this.memory.codeHalfword(next - 2);
    if (before === -1) return false;
    if ((before & 0xff87) === 0x4780) return true; // blx rN
    const first = this.memory.codeHalfword(next - 4);
    return (first & 0xf800) === 0xf000 && (before & 0xd000) === 0xd000; // bl label
  }
}
