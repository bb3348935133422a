// Which RAM banks share one host buffer: a run of adjacent banks is one buffer and one engine mapping, so a heap
// or an image may span them. Kept apart from memory-map.ts, which needs the emulator, so the CLI's replay (also
// bundled into the HTML page) groups banks the same way without loading the engine.
import type { RamBank } from './profiles.js';

/** Runs of adjacent banks, by address; each becomes one host buffer and one mapping. */
export function groupBanks(banks: readonly RamBank[]): { base: number; size: number; banks: RamBank[] }[] {
  const sorted = [...banks].sort((a, b) => a.base - b.base);
  const groups: { base: number; size: number; banks: RamBank[] }[] = [];
  for (const bank of sorted) {
    const last = groups[groups.length - 1];
    if (last && last.base + last.size === bank.base) {
      last.size += bank.size;
      last.banks.push(bank);
    } else groups.push({ base: bank.base, size: bank.size, banks: [bank] });
  }
  return groups;
}
