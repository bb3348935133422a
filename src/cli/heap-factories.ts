import { BestFitHeap, FirstFitHeap, HalfFitHeap, type HeapKind } from '../allocator/index.js';
import { tlsfHeap, type HeapAllocator, type HeapFactory } from '../board/index.js';

// The board takes any heap through its HeapFactory; these are the four this project has, by --allocator name.
const FACTORIES: Record<HeapKind, HeapFactory> = {
  tlsf: tlsfHeap,
  'first-fit': (memory, options) => new FirstFitHeap(memory, options) as unknown as HeapAllocator,
  'best-fit': (memory, options) => new BestFitHeap(memory, options) as unknown as HeapAllocator,
  'half-fit': (memory, options) => new HalfFitHeap(memory, options) as unknown as HeapAllocator,
};

export function heapFactory(kind: HeapKind): HeapFactory {
  return FACTORIES[kind];
}
