// @ts-nocheck -- AssemblyScript source (compiled by asc for bench/allocator.ts, not by tsc).
// Thin exports around AssemblyScript's own runtime TLSF, so the benchmark can call it once per
// operation from JavaScript exactly as it calls ours.

export function alloc(size: usize): usize {
  return heap.alloc(size);
}

export function free(ptr: usize): void {
  heap.free(ptr);
}

export function realloc(ptr: usize, size: usize): usize {
  return heap.realloc(ptr, size);
}

/** Start of the heap (AssemblyScript's TLSF root lives here), for the span measurement. */
export function heapBase(): usize {
  return __heap_base;
}
