// The heap service page (docs/design.md section 3): a call through slot n reaches onService, which reads the
// arguments, calls the allocator, keeps the block table, the peaks, the peak sites and the event log, and
// writes r0. This is the board's hot path (one call per firmware malloc/free): no allocation or closure per
// call, registers read from the located register file when there is one. With the native library, free() is
// served in C and queued (free-queue.ts); drainFrees() applies the queue before every other call.
import { BLOCK_HEADER_SIZE, hex } from '../allocator/index.js';
import type { Engine } from './engine.js';
import { REG_LR, REG_R0 } from './unicorn.js';
import { SERVICE_PAGE, type HeapRegion } from './memory-map.js';
import type { HeapAllocator } from './heap-types.js';
import type { BlockTable } from './block-table.js';
import { CALLER_REGISTER, LR_INDEX, type CallerResolver } from './callers.js';
import type { PeakTracker } from './peak-tracker.js';
import { PeakSites } from './peak-sites.js';
import type { InstructionCount } from './instruction-count.js';
import type { RunOutcome } from './run-outcome.js';
import type { FaultDiagnosis } from './fault-diagnosis.js';
import { AccessChecks } from './access-checks.js';
import type { HeapEvent, RunReport } from './run-types.js';
import { readCString, readText } from './target-text.js';
import type { FreeQueue } from './free-queue.js';

export const SLOT = {
  malloc: 0,
  free: 1,
  realloc: 2,
  calloc: 3,
  memalign: 4,
  usableSize: 5,
  write: 6,
  exit: 7,
  ticks: 8,
  assertFail: 9,
  outOfMemory: 10,
  heapInfo: 11,
  mark: 12,
} as const;

/** The register malloc takes its caller in. */
const MALLOC_CALLER = CALLER_REGISTER[SLOT.malloc]!;

/** tlsf_sim_heap_info_t: seven 32-bit words. */
const HEAP_INFO_BYTES = 28;

const SLOT_NAMES = [
  'malloc',
  'free',
  'realloc',
  'calloc',
  'memalign',
  'malloc_usable_size',
  'write',
  'exit',
  'ticks',
  'assert_fail',
  'out_of_memory',
  'heap_info',
  'mark',
];

export class HeapService {
  readonly ops: RunReport['ops'] = { malloc: 0, free: 0, realloc: 0, calloc: 0, memalign: 0, failed: 0 };
  readonly events: HeapEvent[] | null;
  /** Live blocks and bytes per allocating call site, and their copy at the peak. */
  readonly sites: PeakSites;
  /**
   * The heap calls so far, in one word: the free queue's when there is one, where C reads it to number the frees
   * it queues (the block table's FREED_BY), else a word of its own.
   */
  private readonly calls: Uint32Array;
  /** Inside onService without a register file: the allocating services' registers were read as one batch. */
  private batchRead = false;
  /**
   * Whether [address, address + size) lies in one RAM bank: where heap_info may write its result. Set by the
   * machine, which knows the banks; the default refuses nothing.
   */
  ramContains: (address: number, size: number) => boolean = () => true;
  /** The register file when malloc takes the flat path in onService (nothing recorded per call), else null. */
  private readonly mallocRegisters: Uint32Array | null;

  constructor(
    private readonly engine: Engine,
    /** r0..r15 inside Unicorn's CPU state when located (Engine.registerFile), else null: use FFI calls. */
    private readonly registers: Uint32Array | null,
    private readonly heap: HeapAllocator,
    private readonly regions: readonly HeapRegion[],
    /** Live and freed blocks: requested size, usable size, allocating and freeing call numbers. */
    private readonly blocks: BlockTable,
    private readonly peaks: PeakTracker,
    private readonly count: InstructionCount,
    private readonly callers: CallerResolver,
    private readonly outcome: RunOutcome,
    private readonly faults: FaultDiagnosis,
    private readonly guarding: boolean,
    recordEvents: boolean,
    /** The frees the native hook queued (free-queue.ts), applied before every other call; null: none are. */
    private readonly freeQueue: FreeQueue | null = null,
  ) {
    this.events = recordEvents ? [] : null;
    this.sites = new PeakSites(callers);
    this.calls = freeQueue !== null ? freeQueue.callNumber : new Uint32Array(1);
    this.mallocRegisters = registers !== null && !recordEvents && !guarding ? registers : null;
  }

  private totalHeapSize(): number {
    return this.regions.reduce((sum, region) => sum + region.size, 0);
  }

  private record(op: HeapEvent['op'], args: number[], result: number, caller: number, label?: string): void {
    const event: HeapEvent = { call: this.calls[0]!, op, args, result, instructions: this.count.now(), caller };
    if (label !== undefined) event.label = label;
    this.events!.push(event);
  }

  private track(address: number, requestedSize: number, slot: number): void {
    // Which of the two is the caller is decided only if a report needs it (CallerResolver.choose).
    const registers = this.registers;
    const argument = CALLER_REGISTER[slot]!;
    const callerArgument = registers ? registers[argument]! : this.hookRegister(argument);
    const lr = registers ? registers[LR_INDEX]! : this.hookRegister(LR_INDEX);
    this.trackFrom(address, requestedSize, callerArgument, lr);
  }

  private trackFrom(address: number, requestedSize: number, callerArgument: number, lr: number): void {
    const usable = this.heap.usableSize(address);
    // Bytes as the allocator's usedBytes counts them (block sizes, headers included), so sites sum to peakUsed.
    const site = this.sites.allocated(callerArgument, lr, usable + BLOCK_HEADER_SIZE);
    if (!this.blocks.add(address, requestedSize, usable, this.calls[0]!, callerArgument, lr, site)) {
      throw new Error(`the allocator returned ${hex(address)}, outside the heap`);
    }
    this.peaks.allocated(address, requestedSize, usable);
    if (this.guarding) AccessChecks.markWritable(this.regions, address, usable, 1);
  }

  /**
   * Forgets the live block at `address`. With `releaseSite` false its site keeps holding it and the caller
   * releases it (`sites.released`) later; returns the site.
   */
  private untrack(address: number, releaseSite = true): number {
    const blocks = this.blocks;
    const site = blocks.remove(address, this.calls[0]!);
    const usable = blocks.removedUsable;
    this.peaks.released(blocks.removedRequested, usable);
    if (releaseSite) this.sites.released(site, usable + BLOCK_HEADER_SIZE);
    if (this.guarding) AccessChecks.markWritable(this.regions, address, usable, 0);
    return site;
  }

  /**
   * The bookkeeping of a realloc that succeeded (or freed with size 0). A move to a separate block was a malloc,
   * a copy and a free inside the allocator, which counted both blocks as used meanwhile (its peakUsed can be
   * that moment): the new block's site is credited before the old one's is released, so the peak sites see it
   * too. Growing backwards over the old block (the allocator's last resort) never held both.
   */
  private reallocated(oldAddress: number, newAddress: number, requestedSize: number, slot: number): void {
    if (newAddress === 0 || newAddress === oldAddress) {
      this.untrack(oldAddress);
      if (newAddress !== 0) this.track(newAddress, requestedSize, slot);
      return;
    }
    const oldBytes = this.blocks.usable(oldAddress) + BLOCK_HEADER_SIZE;
    const apart = newAddress > oldAddress || newAddress + this.heap.usableSize(newAddress) <= oldAddress;
    const oldSite = this.untrack(oldAddress, !apart);
    this.track(newAddress, requestedSize, slot);
    if (apart) this.sites.released(oldSite, oldBytes);
  }

  /** Validates a pointer given to free/realloc/usable_size; stops the run with a fault when it is not a live block. */
  private checkLive(address: number, service: string, slot: number): boolean {
    if (this.blocks.allocatedBy(address) !== 0) return true;
    this.faults.badPointer(address, service, this.caller(slot));
    return false;
  }

  /** The service's return value, in r0. */
  private setResult(value: number): void {
    if (this.registers) this.registers[0] = value >>> 0;
    else this.engine.writeReg(REG_R0, value);
  }

  /**
   * Who called the service in `slot`: the heap services' caller argument when it is a return address (see
   * CallerResolver), else lr. Read only when an event or a report needs it, so malloc/free stay one r0 read.
   */
  private caller(slot = -1): number {
    const registers = this.registers;
    const argument = CALLER_REGISTER[slot] ?? 0;
    if (argument !== 0) {
      const claimed = registers ? registers[argument]! : this.hookRegister(argument);
      if (this.callers.isCallerArgument(claimed)) return claimed;
    }
    return registers ? registers[LR_INDEX]! : this.hookRegister(LR_INDEX);
  }

  /**
   * r0-r2 or lr (index 14) as the service hook found them: from the register file when there is one, else from
   * the batch the hook read on entry (so valid only inside onService).
   */
  private hookRegister(index: number): number {
    if (this.registers) return this.registers[index]!;
    if (this.batchRead) return this.engine.batchValue(index === LR_INDEX ? 3 : index);
    return this.engine.readReg(index === LR_INDEX ? REG_LR : REG_R0 + index);
  }

  /**
   * Applies the frees the native hook queued, in their order and through the same bookkeeping as a free served
   * here, without checking the pointers again (the hook did). C already did the block table's part (the block
   * freed by its call number) and copied the block's sizes and site into the entry, so what is left is the heap,
   * the peaks and the peak sites; the heap, the block table and every figure are then as if each free had been
   * served at its call. Needed before anything reads the heap: every service call, the end of the run. A free
   * the heap refuses (an overwritten header) stops the run with the same fault as here, naming that free's
   * caller; the frees after it are dropped, their blocks live again.
   */
  drainFrees(): void {
    const queue = this.freeQueue;
    if (queue === null) return;
    const length = queue.length;
    if (length === 0) return;
    queue.clear();
    const heap = this.heap;
    const sites = this.sites;
    const firstCall = this.calls[0]!;
    // Only allocations set a pending peak, and none ran since these frees: one settle before the first covers all.
    let settled = false;
    let releasedRequested = 0;
    let releasedUsable = 0;
    let index = 0;
    try {
      for (; index < length; index++) {
        const pointer = queue.pointer(index);
        if (pointer === 0) continue;
        if (!settled) {
          this.peaks.settle();
          settled = true;
        }
        heap.free(pointer);
        const usable = queue.usable(index);
        releasedRequested += queue.requested(index);
        releasedUsable += usable;
        sites.released(queue.site(index), usable + BLOCK_HEADER_SIZE);
      }
    } catch (error) {
      this.drainFailed(queue, index, length, firstCall, releasedRequested, releasedUsable, error as Error);
      return;
    }
    this.calls[0] = firstCall + length;
    this.ops.free += length;
    this.peaks.released(releasedRequested, releasedUsable);
  }

  /**
   * The heap refused the queued free at `index` (an overwritten header): the frees before it count, it and the
   * ones after it are live again in the block table, and the fault names that free and its caller.
   */
  private drainFailed(
    queue: FreeQueue,
    index: number,
    length: number,
    firstCall: number,
    releasedRequested: number,
    releasedUsable: number,
    error: Error,
  ): void {
    this.calls[0] = firstCall + index + 1;
    this.ops.free += index + 1;
    this.peaks.released(releasedRequested, releasedUsable);
    for (let left = index; left < length; left++) {
      if (queue.pointer(left) !== 0) this.blocks.restoreLive(queue.pointer(left), queue.allocatedBy(left));
    }
    const caller = this.callers.choose(queue.callerArgument(index), queue.lr(index));
    const pointer = queue.pointer(index);
    this.faults.heapCallFailed(`free(${hex(pointer)})`, pointer, caller, error);
  }

  /** The block hook on the service page. */
  onService(address: number): void {
    const mallocRegisters = this.mallocRegisters;
    if (address === SERVICE_PAGE && mallocRegisters !== null) {
      // malloc when the registers are a typed array and no call is recorded one by one (no events, no guard):
      // half of every firmware malloc/free pair, so its steps are written out here with one try, the usual single
      // queued free included (drainFrees takes more): the single free's steps are those of drainFrees' loop, the
      // malloc's those of the malloc case below; a change to one is a change to both. The layered form cost
      // ~15 ns more a pair (docs/board.md, "The heap call's cost").
      const queue = this.freeQueue;
      const heap = this.heap;
      const calls = this.calls;
      const firstCall = calls[0]!;
      const requested = mallocRegisters[0]!;
      // Set while the queued free runs: a throw then is that free's, not the malloc's.
      let freeing = false;
      try {
        if (queue !== null && queue.length !== 0) {
          if (queue.length !== 1) {
            this.drainFrees();
            if (this.outcome.result !== null) return;
          } else {
            queue.clear();
            const pointer = queue.pointer(0);
            if (pointer !== 0) {
              this.peaks.settle();
              freeing = true;
              heap.free(pointer);
              freeing = false;
              const usable = queue.usable(0);
              this.sites.released(queue.site(0), usable + BLOCK_HEADER_SIZE);
              this.peaks.released(queue.requested(0), usable);
            }
            calls[0] = firstCall + 1;
            this.ops.free++;
          }
        }
        calls[0]++;
        this.ops.malloc++;
        const result = heap.malloc(requested);
        if (result === 0) this.ops.failed++;
        else this.trackFrom(result, requested, mallocRegisters[MALLOC_CALLER]!, mallocRegisters[LR_INDEX]!);
        mallocRegisters[0] = result;
      } catch (error) {
        if (freeing) this.drainFailed(queue!, 0, 1, firstCall, 0, 0, error as Error);
        else this.serviceFailed(SLOT.malloc, requested, 0, error as Error);
      }
      return;
    }
    const offset = address - SERVICE_PAGE;
    if ((offset & 3) !== 0) return; // the nop after a slot's bx lr
    if (this.freeQueue !== null && this.freeQueue.length !== 0) {
      this.drainFrees();
      if (this.outcome.result !== null) return;
    }
    const slot = offset >> 2;
    const engine = this.engine;
    // With the register file, registers are plain loads, made only when the service needs them (r0, r1; the
    // allocating services also copy the caller argument and lr into the block table). Without it every FFI call
    // costs about 0.1 µs inside a hook, so the allocating services read all that in one batch call, and the
    // others read r0 (and r1) alone as they need no caller unless an event or a report asks.
    const registers = this.registers;
    this.batchRead = !registers && slot <= SLOT.memalign && slot !== SLOT.free;
    if (this.batchRead) engine.readBatch();
    const r0 = registers ? registers[0]! : this.batchRead ? engine.batchValue(0) : engine.readReg(REG_R0);
    const r1 =
      slot === SLOT.malloc || slot === SLOT.free
        ? 0
        : registers
          ? registers[1]!
          : this.batchRead
            ? engine.batchValue(1)
            : engine.readReg(REG_R0 + 1);
    const heap = this.heap;
    const outcome = this.outcome;
    try {
      switch (slot) {
        case SLOT.malloc: {
          this.calls[0]++;
          this.ops.malloc++;
          const result = heap.malloc(r0);
          if (result === 0) this.ops.failed++;
          else this.track(result, r0, slot);
          if (this.events) this.record('malloc', [r0], result, this.caller(slot));
          this.setResult(result);
          return;
        }
        case SLOT.free: {
          this.calls[0]++;
          this.ops.free++;
          if (r0 !== 0) {
            if (!this.checkLive(r0, 'free', slot)) return;
            this.peaks.settle();
            heap.free(r0);
            this.untrack(r0);
          }
          if (this.events) this.record('free', [r0], 0, this.caller(slot));
          return;
        }
        case SLOT.realloc: {
          this.calls[0]++;
          this.ops.realloc++;
          let result: number;
          if (r0 === 0) {
            result = heap.realloc(0, r1);
            if (result !== 0) this.track(result, r1, slot);
          } else {
            if (!this.checkLive(r0, 'realloc', slot)) return;
            this.peaks.settle();
            result = heap.realloc(r0, r1);
            // The bookkeeping follows the allocator: on failure (0 for a non-zero size) the old block stays.
            if (result !== 0 || r1 === 0) this.reallocated(r0, result, r1, slot);
          }
          if (result === 0 && r1 !== 0) this.ops.failed++;
          if (this.events) this.record('realloc', [r0, r1], result, this.caller(slot));
          this.setResult(result);
          return;
        }
        case SLOT.calloc: {
          this.calls[0]++;
          this.ops.calloc++;
          const result = heap.calloc(r0, r1);
          if (result === 0) this.ops.failed++;
          else this.track(result, r0 * r1, slot);
          if (this.events) this.record('calloc', [r0, r1], result, this.caller(slot));
          this.setResult(result);
          return;
        }
        case SLOT.memalign: {
          this.calls[0]++;
          this.ops.memalign++;
          let result = 0;
          if (r0 !== 0 && (r0 & (r0 - 1)) === 0) {
            try {
              result = heap.memalign(r0, r1);
            } catch {
              result = 0;
            }
          }
          if (result === 0) this.ops.failed++;
          else this.track(result, r1, slot);
          if (this.events) this.record('memalign', [r0, r1], result, this.caller(slot));
          this.setResult(result);
          return;
        }
        case SLOT.usableSize: {
          if (r0 === 0) {
            this.setResult(0);
            return;
          }
          if (!this.checkLive(r0, 'malloc_usable_size', slot)) return;
          this.setResult(heap.usableSize(r0));
          return;
        }
        case SLOT.write:
          outcome.output += readText(engine, r0, r1);
          return;
        case SLOT.exit: {
          const status = r0 | 0;
          if (status === 0) outcome.stop('ok', '');
          else outcome.stop('exit-failure', `firmware exited with status ${status}`, status);
          return;
        }
        case SLOT.ticks:
          this.setResult(this.count.now());
          return;
        case SLOT.assertFail: {
          const file = readCString(engine, r0);
          const line = r1 | 0;
          const expression = readCString(engine, this.hookRegister(2));
          outcome.assertion = { file, line, expression };
          outcome.stop('assertion', `assertion failed at ${file}:${line}: ${expression}`, 1);
          return;
        }
        case SLOT.outOfMemory: {
          const stats = heap.stats();
          outcome.stop(
            'out-of-memory',
            `the firmware could not continue: allocating ${r0} bytes failed (called from ${this.faults.where(this.caller(slot))}; ${stats.freeBytes} bytes free, largest free block ${stats.largestFree})`,
            1,
          );
          return;
        }
        case SLOT.heapInfo: {
          // The host writes where the firmware points; a store of the firmware's own there would fault (flash,
          // peripherals, nothing mapped), so this does too, rather than patching flash behind its back.
          if (!this.ramContains(r0, HEAP_INFO_BYTES)) {
            throw new Error(`its ${HEAP_INFO_BYTES}-byte result at ${hex(r0)} is not in a RAM bank of the board`);
          }
          const stats = heap.stats();
          const words = new Uint32Array([
            stats.usedBytes,
            stats.freeBytes,
            stats.largestFree,
            stats.peakUsed,
            stats.controlBytes,
            this.regions[0]!.base,
            this.totalHeapSize(),
          ]);
          engine.write(r0, new Uint8Array(words.buffer), 'heap_info: writing the result');
          return;
        }
        case SLOT.mark:
          if (this.events) this.record('mark', [r0], 0, this.caller(), readCString(engine, r0));
          return;
        default:
          this.faults.badService(slot, address, this.caller(), SLOT_NAMES.length);
      }
    } catch (error) {
      this.serviceFailed(slot, r0, r1, error as Error);
    }
  }

  /** A service threw: for the heap services, the heap is corrupted (every pointer was validated first). */
  private serviceFailed(slot: number, r0: number, r1: number, error: Error): void {
    const service = SLOT_NAMES[slot] ?? `slot ${slot}`;
    const caller = this.caller(slot);
    switch (slot) {
      case SLOT.malloc:
        this.faults.heapCallFailed(`malloc(${r0})`, undefined, caller, error);
        return;
      case SLOT.free:
      case SLOT.usableSize:
        this.faults.heapCallFailed(`${service}(${hex(r0)})`, r0, caller, error);
        return;
      case SLOT.realloc:
        this.faults.heapCallFailed(`realloc(${hex(r0)}, ${r1})`, r0 === 0 ? undefined : r0, caller, error);
        return;
      case SLOT.calloc:
      case SLOT.memalign:
        this.faults.heapCallFailed(`${service}(${r0}, ${r1})`, undefined, caller, error);
        return;
      default:
        this.faults.serviceFailed(`${service}(${hex(r0)})`, r0, caller, error);
    }
  }
}
