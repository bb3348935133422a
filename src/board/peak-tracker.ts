// The report's peak figures, followed call by call: requested bytes, the span of the main region in use, and
// the largest free block and fragmentation at the moment the used bytes peaked.
import { statsOrNull, type HeapAllocator } from './heap-types.js';

export class PeakTracker {
  peakRequested = 0;
  /** Highest end of a used block in the main region, relative to its base. */
  peakSpanEnd = 0;
  peakUsedSeen = 0;
  largestFreeAtPeak = 0;
  fragmentationAtPeak = 0;
  private liveRequested = 0;
  /** Sum of live usable sizes: the used bytes when the heap has no O(1) counter of its own. */
  private usedEstimate = 0;
  /**
   * A new peak was reached and its largest free block is not yet known. It is asked once per peak, just
   * before the next call that can lower the use (free, realloc) or at the end, rather than after every
   * allocation: allocations in between only raise the peak, so the heap then is still the peak's heap.
   */
  private pending = false;

  constructor(
    private readonly heap: HeapAllocator,
    private readonly mainBase: number,
    private readonly mainSize: number,
  ) {}

  allocated(address: number, requested: number, usable: number): void {
    this.liveRequested += requested;
    if (this.liveRequested > this.peakRequested) this.peakRequested = this.liveRequested;
    this.usedEstimate += usable;
    const used = this.heap.usedBytes ?? this.usedEstimate;
    if (address >= this.mainBase && address < this.mainBase + this.mainSize) {
      const end = address + usable - this.mainBase;
      if (end > this.peakSpanEnd) this.peakSpanEnd = end;
    }
    if (used > this.peakUsedSeen) {
      this.peakUsedSeen = used;
      this.pending = true;
    }
  }

  /** Call before a free or realloc changes the heap, and at the end: captures a pending peak while the heap is there. */
  settle(): void {
    if (this.pending) this.capture();
  }

  released(requested: number, usable: number): void {
    this.liveRequested -= requested;
    this.usedEstimate -= usable;
  }

  private capture(): void {
    this.pending = false;
    const heap = this.heap;
    if (heap.largestFreeBlock !== undefined && heap.freeBytes !== undefined) {
      // The TLSF heap answers from its bitmaps and counters: no walk, however many blocks are live.
      try {
        const largestFree = heap.largestFreeBlock();
        const freeBytes = heap.freeBytes;
        this.largestFreeAtPeak = largestFree;
        this.fragmentationAtPeak = freeBytes === 0 ? 0 : 1 - largestFree / freeBytes;
        return;
      } catch {
        /* a damaged heap: fall back to the walk, which tolerates it */
      }
    }
    const stats = statsOrNull(heap);
    if (stats) {
      this.largestFreeAtPeak = stats.largestFree;
      this.fragmentationAtPeak = stats.fragmentation;
    }
  }
}
