/**
 * Worst-case heap bounds from the theory of non-moving allocators, as the o1heap README presents them
 * (after J. M. Robson, "Worst case fragmentation of first fit and best fit storage allocation strategies", 1975).
 *
 * A workload is described by two numbers: M, the most bytes it ever has live at once, and n, its largest
 * single request. Sizes are counted in units of the smallest block difference the allocator can make (here the
 * alignment), because Robson's results are stated for block sizes that are multiples of a smallest size.
 *
 * - Robson's bound, M · (1 + ⌈log2 n⌉): the heap a first-fit allocator provably never exceeds, and (to within a
 *   small factor) what some adversarial workload forces on any allocator that cannot move blocks. A heap this
 *   large can never fail through fragmentation, whatever the order of requests.
 * - Best fit, M · (n − 2): the bound o1heap quotes for best fit, and so for TLSF, which is a fast approximation
 *   of best fit. It is far larger: TLSF is good on real workloads, not in the worst case.
 *
 * These are statements about every possible request order with the same M and n; a real run (min-heap) shows
 * what one particular order needed. Per-block header overhead is not in the formulas; the CLI counts M as the
 * live requested bytes.
 */
export interface WorstCaseBounds {
  /** M: peak live requested bytes. */
  maxLiveBytes: number;
  /** n: the largest single request, in bytes. */
  largestRequest: number;
  /** The unit sizes are counted in (the alignment). */
  unitBytes: number;
  /** n in units, rounded up. */
  largestRequestUnits: number;
  /** M · (1 + ⌈log2 n⌉), in bytes. */
  robsonBytes: number;
  /** M · (n − 2), in bytes (at least M). */
  bestFitBytes: number;
}

export function worstCaseBounds(maxLiveBytes: number, largestRequest: number, unitBytes: number): WorstCaseBounds {
  const largestRequestUnits = Math.max(1, Math.ceil(largestRequest / unitBytes));
  const log2Ceiling = largestRequestUnits <= 1 ? 0 : Math.ceil(Math.log2(largestRequestUnits));
  return {
    maxLiveBytes,
    largestRequest,
    unitBytes,
    largestRequestUnits,
    robsonBytes: maxLiveBytes * (1 + log2Ceiling),
    bestFitBytes: maxLiveBytes * Math.max(1, largestRequestUnits - 2),
  };
}
