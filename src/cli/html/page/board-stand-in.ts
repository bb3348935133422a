import { createTlsf } from '../../../allocator/index.js';
import type { HeapAllocator, HeapFactory } from '../../../board/heap-types.js';

// What the page's bundle gets for src/board/index.js (page-bundle.ts redirects the import): the modules it
// reuses (replay.ts, learn-run.ts) need only the heap factory and symbol lookup, not the emulator.

export const tlsfHeap: HeapFactory = (memory, options) => createTlsf(memory, options) as unknown as HeapAllocator;

/** The page's stand-in for an ELF image: the report's call sites, already symbolized by the CLI. */
export interface SiteSymbols {
  symbolOf(address: number): string | undefined;
}

export function symbolize(image: SiteSymbols, address: number): string | undefined {
  return image.symbolOf(address);
}

export function parseElf(): never {
  throw new Error('the report page has no ELF image: its call sites come symbolized');
}
