// Per-block bookkeeping for the heap service, in typed arrays indexed by the block's address: what the
// firmware requested, the usable size, the call that allocated it, the call that last freed it, the two
// candidates for the allocating call's caller (its caller argument and lr), kept raw so that the hook only
// copies two registers and fault reports decide which one to believe, and the allocating site's id in
// PeakSites (resolved once per caller address, so the hook does not decide per call).
// Flat arrays instead of Maps keep the service hook free of allocation and hashing (docs/board.md).
// The native free hook (native/heap-free-queue.c) reads these arrays too: it relies on FIELDS and the field offsets
// below, and for a block whose free it queued clears ALLOCATED_BY and sets FREED_BY.

const FIELDS = 7;
const REQUESTED = 0;
const USABLE = 1;
const ALLOCATED_BY = 2; // 0: not live
const FREED_BY = 3; // 0: never freed at this address
const CALLER_ARGUMENT = 4; // the heap service's caller argument at the allocating call (docs/design.md §3)
const LINK_REGISTER = 5; // lr at the allocating call
const SITE = 6; // PeakSites' id of the allocating call site
const GRANULE_SHIFT = 2; // every block address is at least 4-aligned

/**
 * A class, not an object literal: V8 shares one hidden class among literals with the same first keys, and a
 * `{ base, ... }` literal elsewhere holding an address of 2^31 or more (the service page's) makes `base` a double
 * field in all of them; every lookup here would then unbox two doubles. A class of its own keeps small integers.
 */
class TableRegion {
  constructor(
    readonly base: number,
    readonly end: number,
    readonly data: Uint32Array,
  ) {}
}

export interface LiveBlock {
  address: number;
  requested: number;
  usable: number;
  allocatedBy: number;
}

export class BlockTable {
  private readonly regions: TableRegion[] = [];
  private data: Uint32Array = new Uint32Array(0);
  private index = 0;

  addRegion(base: number, size: number): void {
    // `>>> 0`: a small integer even when the caller's number is boxed (its own object's field may be a double).
    const regionBase = base >>> 0;
    this.regions.push(
      new TableRegion(regionBase, regionBase + size, new Uint32Array((size >>> GRANULE_SHIFT) * FIELDS)),
    );
  }

  /** Each region's bounds and records, for the native free hook (which keeps pointers to the arrays). */
  recordArrays(): ReadonlyArray<{ base: number; end: number; records: Uint32Array }> {
    return this.regions.map((region) => ({ base: region.base, end: region.end, records: region.data }));
  }

  /** Points at the record for `address`; false when the address is outside every region or misaligned. */
  private locate(address: number): boolean {
    if ((address & 3) !== 0) return false;
    const regions = this.regions;
    for (let i = 0; i < regions.length; i++) {
      const region = regions[i]!;
      if (address >= region.base && address < region.end) {
        this.data = region.data;
        this.index = ((address - region.base) >>> GRANULE_SHIFT) * FIELDS;
        return true;
      }
    }
    return false;
  }

  /** Allocation call number of the live block at `address`, 0 when none is live there. */
  allocatedBy(address: number): number {
    return this.locate(address) ? this.data[this.index + ALLOCATED_BY]! : 0;
  }

  freedBy(address: number): number {
    return this.locate(address) ? this.data[this.index + FREED_BY]! : 0;
  }

  /** The allocating call's caller argument and lr, for the live block at `address`; false when none is live there. */
  allocatedFrom(address: number, out: { argument: number; lr: number }): boolean {
    if (!this.locate(address) || this.data[this.index + ALLOCATED_BY] === 0) return false;
    out.argument = this.data[this.index + CALLER_ARGUMENT]!;
    out.lr = this.data[this.index + LINK_REGISTER]!;
    return true;
  }

  requested(address: number): number {
    return this.locate(address) ? this.data[this.index + REQUESTED]! : 0;
  }

  usable(address: number): number {
    return this.locate(address) ? this.data[this.index + USABLE]! : 0;
  }

  /** Records a new live block; returns false when the address is outside the heap (an allocator bug). */
  add(
    address: number,
    requested: number,
    usable: number,
    call: number,
    callerArgument: number,
    lr: number,
    site: number,
  ): boolean {
    if (!this.locate(address)) return false;
    const data = this.data;
    const at = this.index;
    data[at + REQUESTED] = requested;
    data[at + USABLE] = usable;
    data[at + ALLOCATED_BY] = call;
    data[at + FREED_BY] = 0;
    data[at + CALLER_ARGUMENT] = callerArgument;
    data[at + LINK_REGISTER] = lr;
    data[at + SITE] = site;
    return true;
  }

  /** The requested and usable sizes of the block the last remove() took: one lookup per free, not three. */
  removedRequested = 0;
  removedUsable = 0;

  /** Marks the block at `address` freed by `call`; returns its allocating site (-1 when outside the heap). */
  remove(address: number, call: number): number {
    if (!this.locate(address)) return -1;
    const data = this.data;
    const at = this.index;
    data[at + ALLOCATED_BY] = 0;
    data[at + FREED_BY] = call;
    this.removedRequested = data[at + REQUESTED]!;
    this.removedUsable = data[at + USABLE]!;
    return data[at + SITE]!;
  }

  /**
   * Makes the block at `address` live again with its allocating call number: undoes the native free hook's
   * marking for a queued free that was never applied (the heap refused it or an earlier one). A live block was
   * never freed since it was allocated here (add() clears FREED_BY).
   */
  restoreLive(address: number, allocatedBy: number): void {
    if (!this.locate(address)) return;
    this.data[this.index + ALLOCATED_BY] = allocatedBy;
    this.data[this.index + FREED_BY] = 0;
  }

  /** Every live block, by address (slow: for fault reports only). */
  live(): LiveBlock[] {
    const blocks: LiveBlock[] = [];
    for (const region of this.regions) {
      const data = region.data;
      for (let at = 0; at < data.length; at += FIELDS) {
        if (data[at + ALLOCATED_BY] !== 0) {
          blocks.push({
            address: region.base + ((at / FIELDS) << GRANULE_SHIFT),
            requested: data[at + REQUESTED]!,
            usable: data[at + USABLE]!,
            allocatedBy: data[at + ALLOCATED_BY]!,
          });
        }
      }
    }
    return blocks.sort((a, b) => a.address - b.address);
  }
}
