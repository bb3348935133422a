// Which RAM may hold code, and the engine settings that follow from it. RAM is mapped without EXEC unless the
// ELF places code there: Unicorn 2.1+ then keeps guest stores on its fast path (docs/board.md "Engines"), and a
// jump into data is reported as the fault it is.
import type { ElfSegment } from './elf.js';
import { UC_MEM_FETCH, UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE } from './unicorn.js';

export interface AddressRange {
  base: number;
  size: number;
}

const PF_X = 1;
/** QEMU's TLB page on Arm: the TLB fill hook is called with page addresses of this size. */
export const TLB_PAGE_BYTES = 0x400;
const ADDRESS_SPACE = 0x1_0000_0000;

/** The ranges the image runs code in: a loadable segment with the execute flag overlapping them at its run address. */
export function rangesWithCode<T extends AddressRange>(segments: readonly ElfSegment[], ranges: readonly T[]): Set<T> {
  const withCode = new Set<T>();
  for (const segment of segments) {
    if ((segment.flags & PF_X) === 0 || segment.memSize === 0) continue;
    for (const range of ranges) {
      if (segment.vaddr < range.base + range.size && segment.vaddr + segment.memSize > range.base) withCode.add(range);
    }
  }
  return withCode;
}

export const ramPermissions = (executable: boolean): number =>
  UC_PROT_READ | UC_PROT_WRITE | (executable ? UC_PROT_EXEC : 0);

/** The 32-bit address space minus `ranges`, as inclusive [begin, end] pairs for ranged hooks. */
export function complementRanges(ranges: readonly AddressRange[]): Array<[number, number]> {
  const sorted = [...ranges].sort((a, b) => a.base - b.base);
  const gaps: Array<[number, number]> = [];
  let next = 0;
  for (const range of sorted) {
    if (range.base > next) gaps.push([next, range.base - 1]);
    next = Math.max(next, range.base + range.size);
  }
  if (next < ADDRESS_SPACE) gaps.push([next, ADDRESS_SPACE - 1]);
  return gaps;
}

/**
 * Page permissions for Engine.useVirtualTlb: read/write for RAM without code, everything for every other page, so
 * that Unicorn's own region checks still report unmapped and write-protected accesses through the usual hook.
 * A fetch from RAM without code is refused after `onFetchDenied(page)` records the fault.
 */
export function tlbPermissions(
  dataOnly: readonly AddressRange[],
  onFetchDenied: (page: number) => void,
): (page: number, accessType: number) => number {
  const all = UC_PROT_READ | UC_PROT_WRITE | UC_PROT_EXEC;
  return (page, accessType) => {
    const range = dataOnly.find((candidate) => page >= candidate.base && page < candidate.base + candidate.size);
    if (!range) return all;
    if (accessType === UC_MEM_FETCH) {
      onFetchDenied(page);
      return 0;
    }
    return UC_PROT_READ | UC_PROT_WRITE;
  };
}
