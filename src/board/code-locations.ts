// Code addresses as reports name them: "0x0800006c (main_dispatch+0x5a)".
import { hex } from '../allocator/index.js';
import { symbolize, type ElfImage } from './elf.js';
import { sourceLines } from './dwarf-lines.js';
import type { SiteTotals } from './peak-sites.js';
import type { PeakSite } from './run-types.js';

/** The function containing `address` (Thumb bit ignored), as "name+0xoffset". */
export function symbolFor(image: ElfImage, address: number): string | undefined {
  return symbolize(image, address & ~1);
}

/** The address with its symbol when one contains it. */
export function where(image: ElfImage, address: number): string {
  const symbol = symbolFor(image, address);
  return symbol ? `${hex(address & ~1)} (${symbol})` : hex(address & ~1);
}

/**
 * The peak sites as reports give them: named by function and offset, with file:line when `elf` (the image's
 * bytes) has DWARF line tables, merged when two caller addresses name the same place (with and without the
 * Thumb bit), by bytes (largest first), then blocks, then address.
 */
export function namePeakSites(image: ElfImage, totals: readonly SiteTotals[], elf?: Uint8Array): PeakSite[] {
  const byName = new Map<string, PeakSite>();
  for (const { caller, blocks, bytes } of totals) {
    const address = (caller & ~1) >>> 0;
    const symbol = symbolize(image, address);
    // symbolize writes "name+0x12", or the bare name at offset 0; the name itself may hold a '+'.
    const plus = symbol?.lastIndexOf('+0x') ?? -1;
    const functionName = symbol === undefined ? hex(address) : plus < 0 ? symbol : symbol.slice(0, plus);
    const offset = symbol === undefined || plus < 0 ? 0 : Number.parseInt(symbol.slice(plus + 3), 16);
    const site = symbol === undefined ? hex(address) : `${functionName}+0x${offset.toString(16)}`;
    const known = byName.get(site);
    if (known) {
      known.blocks += blocks;
      known.bytes += bytes;
      known.address = Math.min(known.address, address);
    } else {
      byName.set(site, { site, symbol: functionName, offset, address, blocks, bytes });
    }
  }
  const sites = [...byName.values()].sort((a, b) => b.bytes - a.bytes || b.blocks - a.blocks || a.address - b.address);
  if (elf && sites.length > 0) {
    // The line of the call itself: a return address follows the BL (4 bytes) or BLX (2), so 2 before it is inside.
    const lines = sourceLines(
      elf,
      image,
      sites.map((entry) => entry.address - 2),
    );
    for (const entry of sites) {
      const source = lines.get(entry.address - 2);
      if (source && source.file !== '') {
        entry.file = source.file;
        entry.line = source.line;
      }
    }
  }
  return sites;
}
