// Code addresses as reports name them: "0x0800006c (main_dispatch+0x5a)".
import { hex } from '../allocator/index.js';
import { symbolize, type ElfImage } from './elf.js';

/** The function containing `address` (Thumb bit ignored), as "name+0xoffset". */
export function symbolFor(image: ElfImage, address: number): string | undefined {
  return symbolize(image, address & ~1);
}

/** The address with its symbol when one contains it. */
export function where(image: ElfImage, address: number): string {
  const symbol = symbolFor(image, address);
  return symbol ? `${hex(address & ~1)} (${symbol})` : hex(address & ~1);
}
