// Only the contract's list of names: run-parameters.ts reads --allocator without loading any allocator or the board.
import { HEAP_KINDS, type HeapKind } from '../allocator/heap-contract.js';
import { InputError, quoteInput } from './errors.js';
import { didYouMean } from './suggest.js';

// `--allocator`: which heap serves the firmware's malloc (docs/allocator.md, "Other heaps"); heap-factories.ts
// builds it.

export const DEFAULT_HEAP_KIND: HeapKind = 'tlsf';

export function parseHeapKind(text: string, where: string): HeapKind {
  const wanted = text.trim().toLowerCase();
  const found = HEAP_KINDS.find((kind) => kind === wanted);
  if (!found) {
    const suggestion = didYouMean(text, HEAP_KINDS);
    const known = HEAP_KINDS.join(', ');
    throw new InputError(`${where}: unknown allocator ${quoteInput(text)}${suggestion}; allocators: ${known}`);
  }
  return found;
}
