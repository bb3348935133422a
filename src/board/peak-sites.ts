// Who holds the heap at its peak: live blocks and bytes per allocating call site, kept call by call in typed
// arrays indexed by a small site id, and copied once per peak (docs/board.md, "Peak sites").
import type { CallerResolver } from './callers.js';

const INITIAL_SITES = 64;

/** Per-site totals at the peak, before symbols are attached (code-locations.ts does that). */
export interface SiteTotals {
  caller: number;
  blocks: number;
  bytes: number;
}

export class PeakSites {
  /** The caller address (return address, Thumb bit kept) of each site id. */
  private readonly callers: number[] = [];
  private readonly siteByCaller = new Map<number, number>();
  /**
   * 1 when the site's address passes CallerResolver's return-address test: only such a site may be found by a
   * caller argument (the test depends on the address alone, so it is made once per site).
   */
  private believable = new Uint8Array(INITIAL_SITES);
  /** Per site: live bytes at 2 × site, live blocks at 2 × site + 1 (one cache line for both). */
  private live = new Uint32Array(2 * INITIAL_SITES);
  /** The same at the peak. */
  private peak = new Uint32Array(2 * INITIAL_SITES);
  /** Bytes of the live blocks, headers included: follows the allocator's usedBytes when sizes are counted alike. */
  private used = 0;
  private peakUsed = 0;
  /**
   * A new peak was reached and not yet copied. Until the next release only allocations follow, and each raises
   * the use again, so the arrays are copied once, at that release (or at the end), not at every allocation.
   */
  private pending = false;
  /** The last allocation's caller argument and lr (-1: none yet; registers are never -1), and their site. */
  private lastArgument = -1;
  private lastLr = -1;
  private lastSite = 0;

  constructor(private readonly resolver: CallerResolver) {}

  /**
   * A block of `bytes` (header included) became live, allocated with this caller argument and lr; returns its
   * site. The same pair as the last allocation's costs two compares (allocation loops call from one place
   * again and again).
   */
  allocated(argument: number, lr: number, bytes: number): number {
    const site = argument === this.lastArgument && lr === this.lastLr ? this.lastSite : this.siteFor(argument, lr);
    const live = this.live;
    live[2 * site] += bytes;
    live[2 * site + 1]++;
    const used = this.used + bytes;
    this.used = used;
    if (used > this.peakUsed) {
      this.peakUsed = used;
      this.pending = true;
    }
    return site;
  }

  /** A block of `bytes` allocated for `site` was freed (or moved away by realloc). */
  released(site: number, bytes: number): void {
    if (this.pending) this.capture();
    const live = this.live;
    live[2 * site] -= bytes;
    live[2 * site + 1]--;
    this.used -= bytes;
  }

  /**
   * The site CallerResolver.choose would report for this caller argument and lr. A known, believable caller
   * argument (the C library's wrappers pass one) costs one Map lookup.
   */
  private siteFor(argument: number, lr: number): number {
    let site = this.siteByCaller.get(argument);
    if (site === undefined || this.believable[site] !== 1) {
      if (site === undefined && this.resolver.isCallerArgument(argument)) site = this.intern(argument);
      else site = this.siteByCaller.get(lr) ?? this.intern(lr);
    }
    this.lastArgument = argument;
    this.lastLr = lr;
    this.lastSite = site;
    return site;
  }

  private intern(caller: number): number {
    const site = this.callers.length;
    if (site === this.believable.length) this.grow();
    this.callers.push(caller);
    this.siteByCaller.set(caller, site);
    this.believable[site] = this.resolver.isCallerArgument(caller) ? 1 : 0;
    return site;
  }

  private grow(): void {
    const believable = new Uint8Array(this.believable.length * 2);
    believable.set(this.believable);
    this.believable = believable;
    const live = new Uint32Array(this.live.length * 2);
    live.set(this.live);
    this.live = live;
    const peak = new Uint32Array(live.length);
    peak.set(this.peak);
    this.peak = peak;
  }

  private capture(): void {
    this.pending = false;
    this.peak.set(this.live);
  }

  /** The sites holding blocks at the peak, with the bytes they held; their bytes sum to the peak's. */
  atPeak(): SiteTotals[] {
    if (this.pending) this.capture();
    const totals: SiteTotals[] = [];
    for (let site = 0; site < this.callers.length; site++) {
      const blocks = this.peak[2 * site + 1]!;
      if (blocks === 0) continue;
      totals.push({ caller: this.callers[site]!, blocks, bytes: this.peak[2 * site]! });
    }
    return totals;
  }
}
