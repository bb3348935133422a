// Who holds the heap at its peak: live blocks and bytes per allocating call site, kept call by call in typed
// arrays indexed by a small site id, and copied once per peak (docs/board.md, "Peak sites").
import type { CallerResolver } from './callers.js';

const INITIAL_SITES = 64;

/** Per-site totals at the peak, before symbols are attached (code-locations.ts does that). */
export interface SiteTotals { caller: number; blocks: number; bytes: number }

export class PeakSites {
  /** The caller address (return address, Thumb bit kept) of each site id. */
  private readonly callers: number[] = [];
  private readonly siteByCaller = new Map<number, number>();
  /**
   * 1 when the site's address passes CallerResolver's return-address test: only such a site may be found by a
   * caller argument (the test depends on the address alone, so it is made once per site).
   */
  private believable = new Uint8Array(INITIAL_SITES);
  private liveBytes = new Uint32Array(INITIAL_SITES);
  private liveBlocks = new Uint32Array(INITIAL_SITES);
  private peakBytes = new Uint32Array(INITIAL_SITES);
  private peakBlocks = new Uint32Array(INITIAL_SITES);
  /** Bytes of the live blocks, headers included: follows the allocator's usedBytes when sizes are counted alike. */
  private used = 0;
  private peakUsed = 0;
  /**
   * A new peak was reached and not yet copied. Until the next release only allocations follow, and each raises
   * the use again, so the arrays are copied once, at that release (or at the end), not at every allocation.
   */
  private pending = false;
  /** The last caller argument believed, and its site (-1: none yet; a caller argument is never -1). */
  private lastArgument = -1;
  private lastSite = 0;

  constructor(private readonly resolver: CallerResolver) {}

  /**
   * The site of an allocation made with this caller argument and lr: the one CallerResolver.choose would report.
   * A known, believable caller argument (the C library's wrappers pass one) costs one Map lookup.
   */
  siteFor(argument: number, lr: number): number {
    // Allocation loops call from one place again and again: the last believed argument spares the lookup.
    if (argument === this.lastArgument) return this.lastSite;
    const site = this.siteByCaller.get(argument);
    if (site !== undefined && this.believable[site] === 1) return this.remember(argument, site);
    if (site === undefined && this.resolver.isCallerArgument(argument)) {
      return this.remember(argument, this.intern(argument));
    }
    return this.siteByCaller.get(lr) ?? this.intern(lr);
  }

  private remember(argument: number, site: number): number {
    this.lastArgument = argument;
    this.lastSite = site;
    return site;
  }

  private intern(caller: number): number {
    const site = this.callers.length;
    if (site === this.liveBytes.length) this.grow();
    this.callers.push(caller);
    this.siteByCaller.set(caller, site);
    this.believable[site] = this.resolver.isCallerArgument(caller) ? 1 : 0;
    return site;
  }

  private grow(): void {
    const capacity = this.liveBytes.length * 2;
    const larger = <T extends Uint8Array | Uint32Array>(array: T, make: (length: number) => T): T => {
      const copy = make(capacity);
      copy.set(array);
      return copy;
    };
    this.believable = larger(this.believable, (length) => new Uint8Array(length));
    this.liveBytes = larger(this.liveBytes, (length) => new Uint32Array(length));
    this.liveBlocks = larger(this.liveBlocks, (length) => new Uint32Array(length));
    this.peakBytes = larger(this.peakBytes, (length) => new Uint32Array(length));
    this.peakBlocks = larger(this.peakBlocks, (length) => new Uint32Array(length));
  }

  /** A block of `bytes` (header included) became live for `site`. */
  allocated(site: number, bytes: number): void {
    this.liveBytes[site] += bytes;
    this.liveBlocks[site]++;
    const used = this.used + bytes;
    this.used = used;
    if (used > this.peakUsed) {
      this.peakUsed = used;
      this.pending = true;
    }
  }

  /** A block of `site` was freed (or moved away by realloc). */
  released(site: number, bytes: number): void {
    if (this.pending) this.capture();
    this.liveBytes[site] -= bytes;
    this.liveBlocks[site]--;
    this.used -= bytes;
  }

  private capture(): void {
    this.pending = false;
    this.peakBytes.set(this.liveBytes);
    this.peakBlocks.set(this.liveBlocks);
  }

  /** The sites holding blocks at the peak, with the bytes they held; their bytes sum to the peak's. */
  atPeak(): SiteTotals[] {
    if (this.pending) this.capture();
    const totals: SiteTotals[] = [];
    for (let site = 0; site < this.callers.length; site++) {
      if (this.peakBlocks[site] === 0) continue;
      totals.push({ caller: this.callers[site]!, blocks: this.peakBlocks[site]!, bytes: this.peakBytes[site]! });
    }
    return totals;
  }
}
