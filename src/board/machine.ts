// One emulated board running one firmware image: the run loop, and the only place that knows every part of
// the board (memory map, image loader, heap service, peaks, semihosting, fault diagnosis). See docs/board.md.
import { hex, TLSF_DEFAULTS } from '../allocator/index.js';
import { cpuModel, Engine } from './engine.js';
import { engineInfo, REG_LR, REG_PC, REG_R0, REG_SP, UC_ERR_OK } from './unicorn.js';
import { parseElf, type ElfImage } from './elf.js';
import { CPI, isArmv6m, type BoardProfile } from './profiles.js';
import { statsOrNull, type HeapAllocator, type HeapFactory } from './heap-types.js';
import { BlockTable } from './block-table.js';
import {
  BoardMemory,
  SERVICE_PAGE,
  SERVICE_PAGE_SIZE,
  type Bank,
  type BankGroup,
  type HeapRegion,
} from './memory-map.js';
import { ImageLoader, type StackBounds } from './image-loader.js';
import { StackMonitor } from './stack-monitor.js';
import { InstructionCount } from './instruction-count.js';
import { RunOutcome } from './run-outcome.js';
import { CallerResolver } from './callers.js';
import { PeakTracker } from './peak-tracker.js';
import { FaultDiagnosis } from './fault-diagnosis.js';
import { AccessChecks } from './access-checks.js';
import { HeapService } from './heap-service.js';
import { FreeQueue } from './free-queue.js';
import { installBoardHooks } from './board-hooks.js';
import { Semihosting } from './semihosting.js';
import { namePeakSites, symbolFor, where } from './code-locations.js';
import { branchesToSelf, hintBefore, SliceTrail } from './hang-detection.js';
import {
  DEFAULT_MAX_INSTRUCTIONS,
  DEFAULT_TIMEOUT_MS,
  FirmwareError,
  type RunOptions,
  type RunReport,
  type StopReason,
  type StoppedAt,
} from './run-types.js';

/** Slices start small and double up to SLICE_EXACT, so a hang early in a run is seen within milliseconds. */
const SLICE_FIRST = 1_000_000;
const SLICE_EXACT = 100_000_000;
const SLICE_APPROXIMATE = 1_000_000;
/** Unicorn's interrupt number for bkpt, and the halfword of bkpt 0xAB (semihosting). */
const INTNO_BKPT = 7;
const UC_ERR_INSN_INVALID = 10;
const BKPT_SEMIHOSTING = 0xbeab;
const SHF_ALLOC = 0x2;

/**
 * Heap damage in a run that never called the heap: firmware linked without the runtime's heap.c (newlib with
 * --specs=rdimon.specs, say) has its C library's malloc grow from `end` over the heap the board laid out there.
 */
const NO_HEAP_CALLS =
  '; the firmware made no heap call: its own code wrote over the heap, such as a C library malloc on _sbrk ' +
  '(link firmware-sim/runtime/heap.c so that malloc is the board heap)';

/** An emulated board with a firmware image loaded, ready to run once. */
export class Machine {
  readonly board: BoardProfile;
  readonly engine: Engine;
  readonly image: ElfImage;
  readonly firmwareName: string;
  readonly memory: BoardMemory;
  readonly banks: Bank[];
  readonly groups: BankGroup[];
  readonly heap: HeapAllocator;
  readonly heapStart: number;
  readonly heapLength: number;
  readonly regions: HeapRegion[] = [];
  readonly initialSp: number;
  readonly resetHandler: number;
  readonly maxInstructions: number;
  readonly timeoutMs: number;
  readonly stackBounds: StackBounds;
  readonly staticBytes: number;

  private readonly options: RunOptions;
  private readonly count: InstructionCount;
  private readonly outcome: RunOutcome;
  private readonly blocks = new BlockTable();
  private readonly peaks: PeakTracker;
  private readonly faults: FaultDiagnosis;
  private readonly accessChecks: AccessChecks;
  private readonly service: HeapService;
  /** The native free's queue (free-queue.ts); null when every free goes through the JavaScript service. */
  private readonly freeQueue: FreeQueue | null;
  private readonly semihosting: Semihosting;
  private readonly stack: StackMonitor;
  private readonly createHeap: HeapFactory;
  /** The heap call's JavaScript path (board-hooks.ts), for a free the native free leaves to it. */
  private readonly serveHeapCall: (address: number) => void;
  private ran = false;

  /**
   * `watchStack`: watch every write below the stack's limit (a host call each) to find the instruction that
   * overflowed; the run loop asks for it by running again when the free checks suspect an overflow.
   */
  constructor(
    options: RunOptions,
    createHeap: HeapFactory,
    private readonly watchStack = false,
  ) {
    this.options = options;
    this.createHeap = createHeap;
    this.board = options.board;
    this.firmwareName = options.elfName ?? 'firmware.elf';
    this.maxInstructions = options.maxInstructions ?? DEFAULT_MAX_INSTRUCTIONS;
    if (!(this.maxInstructions >= 1) || !Number.isSafeInteger(Math.floor(this.maxInstructions))) {
      throw new FirmwareError(`maxInstructions must be a positive integer, got ${this.maxInstructions}`);
    }
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(this.timeoutMs > 0) || !Number.isFinite(this.timeoutMs)) {
      throw new FirmwareError(`timeoutMs must be a positive number of milliseconds, got ${this.timeoutMs}`);
    }
    this.image = parseElf(options.elf, this.firmwareName);
    const align = options.align ?? TLSF_DEFAULTS.align;
    if (align !== 4 && align !== 8 && align !== 16)
      throw new FirmwareError(`align must be 4, 8 or 16, got ${String(align)}`);

    this.engine = new Engine(
      cpuModel(this.board.cpu),
      `opening a ${this.board.cpu} engine for board ${this.board.name}`,
    );
    try {
      this.memory = new BoardMemory(this.board);
      this.banks = this.memory.banks;
      this.groups = this.memory.groups;
      const loader = new ImageLoader(this.image, this.memory, this.firmwareName);
      const reset = loader.load(options.flashPatches ?? [], options.params ?? {});
      this.initialSp = reset.initialSp;
      this.resetHandler = reset.resetHandler;

      this.stackBounds = loader.stackBounds(this.initialSp, options.stackSize);
      const bounds = loader.heapBounds(options.heapSize, this.stackBounds);
      this.heapStart = bounds.start;
      this.heapLength = bounds.length;
      const heapGroup = bounds.group;
      this.heap = createHeap(heapGroup.memory, {
        base: heapGroup.base,
        offset: bounds.start - heapGroup.base,
        length: bounds.length,
        align,
        ...(options.slLog2 !== undefined ? { slLog2: options.slLog2 } : {}),
      });
      this.regions.push({ base: bounds.start, size: bounds.length, group: heapGroup, writable: null });
      for (const bankName of options.extraBanks ?? []) {
        const bank = loader.extraBank(bankName, this.regions, this.initialSp);
        const group = bank.group;
        this.heap.addPool(group.memory, { base: group.base, offset: bank.base - group.base, length: bank.size });
        this.regions.push({ base: bank.base, size: bank.size, group: bank.group, writable: null });
      }
      for (const region of this.regions) this.blocks.addRegion(region.base, region.size);
      const stackRegion = { base: this.stackBounds.limit, size: this.stackBounds.size };
      this.staticBytes = loader.staticBytes([...this.regions, stackRegion]);
      const guard = options.guard ?? false;
      if (guard) {
        for (const region of this.regions) region.writable = new Uint8Array(Math.ceil(region.size / 4));
      }
      const invalidHookRanges = this.memory.mapInto(this.engine, this.image.segments, (page) =>
        this.faults.onFetchFromData(page),
      );

      this.freeQueue = FreeQueue.create(this.engine, this.blocks, this.stackBounds.limit, options);
      this.count = new InstructionCount(this.engine);
      const registerFile = this.engine.registerFile();
      this.outcome = new RunOutcome(this.engine);
      this.stack = new StackMonitor(this.stackBounds, this.image, this.outcome, (sp) => this.isOwnStack(sp));
      this.stack.paint();
      const callers = new CallerResolver(this.memory);
      this.peaks = new PeakTracker(this.heap, bounds.start, bounds.length);
      this.faults = new FaultDiagnosis(
        this.engine,
        this.image,
        this.memory,
        this.regions,
        this.heap,
        this.blocks,
        callers,
        this.outcome,
      );
      this.accessChecks = new AccessChecks(this.engine, isArmv6m(this.board.cpu), this.outcome, this.faults);
      this.service = new HeapService(
        this.engine,
        registerFile,
        this.heap,
        this.regions,
        this.blocks,
        this.peaks,
        this.count,
        callers,
        this.outcome,
        this.faults,
        guard,
        options.recordEvents ?? false,
        this.freeQueue,
      );
      this.service.ramContains = (address, size) => {
        const bank = this.memory.bankContaining(address);
        return bank !== undefined && address + size <= bank.base + bank.size;
      };
      this.semihosting = new Semihosting(this.engine, registerFile, this.board, this.count, this.outcome, {
        heapStart: bounds.start,
        heapEnd: bounds.start + bounds.length,
        initialSp: this.initialSp,
      });
      this.serveHeapCall = installBoardHooks({
        engine: this.engine,
        memory: this.memory,
        count: this.count,
        service: this.service,
        freeQueue: this.freeQueue,
        stack: this.stack,
        outcome: this.outcome,
        faults: this.faults,
        accessChecks: this.accessChecks,
        regions: this.regions,
        options,
        watchStack: this.watchStack,
        invalidHookRanges,
        onInterrupt: (intno) => this.onInterrupt(intno),
      });
    } catch (error) {
      this.engine.close();
      throw error;
    }
  }

  /** Instructions executed so far (exact when the counter was located). */
  instructions(): number {
    return this.count.now();
  }

  /** Unicorn hands every CPU exception to this hook instead of the vector table. */
  private onInterrupt(intno: number): void {
    const engine = this.engine;
    const pc = engine.readReg(REG_PC);
    const instruction = this.memory.byteAt(pc) | (this.memory.byteAt(pc + 1) << 8);
    if (intno === INTNO_BKPT && instruction === BKPT_SEMIHOSTING) {
      try {
        this.semihosting.serve();
      } catch (error) {
        // An argument block or buffer the firmware gave that cannot be read or written (unmapped, or longer than
        // any console write): the firmware's fault, as for the console service, not the tool's.
        const operation = engine.readReg(REG_R0);
        const argument = engine.readReg(REG_R0 + 1); // r1: Unicorn numbers r0..r12 in a row
        this.faults.serviceFailed(`semihosting(${hex(operation)}, ${hex(argument)})`, argument, pc, error as Error);
        return;
      }
      // Unicorn leaves the PC on the bkpt: step over it.
      if (this.outcome.result === null) engine.writeReg(REG_PC, (pc + 2) | 1);
      return;
    }
    this.faults.cpuException(intno, pc, instruction);
  }

  run(): RunReport {
    if (this.ran) throw new FirmwareError('a Machine runs its firmware once; create a new one to run again');
    this.ran = true;
    const started = performance.now();
    const deadline = started + this.timeoutMs;
    const engine = this.engine;
    const outcome = this.outcome;
    const count = this.count;
    const trail = new SliceTrail();
    engine.writeReg(REG_SP, this.initialSp);
    let pc = this.resetHandler;
    const fixedSlice = this.options.sliceInstructions;
    let slice = !count.exact
      ? SLICE_APPROXIMATE
      : fixedSlice !== undefined
        ? Math.max(1, Math.floor(fixedSlice))
        : SLICE_FIRST;
    /** Where the run last resumed after `sev; wfe` (an instruction failing right there is no wfe). */
    let resumedAfterEvent = -1;
    while (outcome.result === null) {
      const remaining = this.maxInstructions - count.finished;
      if (remaining <= 0) {
        this.stopUnfinished('instruction-budget', engine.readReg(REG_PC), trail);
        break;
      }
      // Every way round the loop passes here, the short ones (a slot, sev; wfe) too.
      if (performance.now() >= deadline) {
        this.stopUnfinished('wall-clock', engine.readReg(REG_PC), trail);
        break;
      }
      if (pc >= SERVICE_PAGE && pc < SERVICE_PAGE + SERVICE_PAGE_SIZE && (pc & 3) === 0) {
        // The last slice stopped on a slot after its block hook had served the call but before the slot's
        // bx lr: return from the slot here, as the bx lr would, rather than run the hook (and the call) again.
        pc = engine.readReg(REG_LR);
        count.sliceDone(1);
        continue;
      }
      const sliceCount = Math.min(slice, remaining);
      const error = count.runSlice(pc, sliceCount, remaining);
      if (outcome.result !== null) break;
      const executed = count.executedInSlice(sliceCount);
      pc = engine.readReg(REG_PC);
      if (error === UC_ERR_OK && this.freeQueue?.takeStop(pc)) {
        // The native free hook stopped on the free slot and left this free to the JavaScript path: serve it, then
        // return from the slot as its bx lr would.
        count.sliceDone(executed);
        this.serveHeapCall(pc);
        if (outcome.result !== null) break;
        pc = engine.readReg(REG_LR);
        count.sliceDone(1);
        continue;
      }
      if (error !== UC_ERR_OK) {
        // Unicorn 2 ends uc_emu_start at wfe with UC_ERR_INSN_INVALID and the PC after it; an undefined
        // instruction leaves the PC on itself.
        const hint = error === UC_ERR_INSN_INVALID ? hintBefore(this.memory, pc) : null;
        if (hint?.hint !== 'wfe' || (pc === resumedAfterEvent && executed <= 1)) {
          this.faults.emulationError(error);
          break;
        }
        if (hintBefore(this.memory, hint.address)?.hint === 'sev') {
          // The event register is set: this wfe returns at once, as on the core.
          count.sliceDone(executed);
          resumedAfterEvent = pc;
          continue;
        }
        this.stopHung('wait-for-interrupt', hint.address, 'waits for an event (wfe)');
        break;
      }
      // Unicorn 2 ends uc_emu_start at wfi without an error, the PC after it, before the count ran out (without
      // the exact counter, the halfword before the PC alone has to tell).
      if (!count.sliceRanOut(executed, sliceCount)) {
        const hint = hintBefore(this.memory, pc);
        if (hint?.hint === 'wfi') {
          count.sliceDone(executed);
          this.stopHung('wait-for-interrupt', hint.address, 'waits for an interrupt (wfi)');
          break;
        }
      }
      // A slice ran to its instruction count: carry on from where it stopped.
      count.sliceDone(executed);
      const sp = engine.readReg(REG_SP);
      if (sp < this.stack.limit && this.stack.spBelowLimit(sp, pc, 'between slices at')) break;
      trail.add(pc);
      this.options.onProgress?.(count.finished);
      if (branchesToSelf(this.memory, pc)) {
        if (this.staysAt(pc)) {
          this.stopHung('branch-to-self', pc, 'branches to itself');
          break;
        }
        pc = engine.readReg(REG_PC);
      }
      if (fixedSlice === undefined && count.exact && slice < SLICE_EXACT) slice = Math.min(slice * 2, SLICE_EXACT);
    }
    this.service.drainFrees();
    const hostMs = performance.now() - started;
    this.count.checkNative();
    this.checkStackAtStop();
    const report = this.report(hostMs);
    // Heap damage is suspect too: a recursion whose frames step over the stack's lowest word leaves the paint whole
    // and the damage below it (docs/board.md, The stack); the watched run tells an overflow from a heap bug.
    const suspect = this.stack.suspect || report.result === 'heap-corruption';
    if (suspect && !this.watchStack && this.stack.watchRange()) return this.runWatched(report);
    return report;
  }

  /** A run that stopped with SP below the stack's limit (a fault, say, or heap damage) is a stack overflow. */
  private checkStackAtStop(): void {
    const result = this.outcome.result;
    if (result === null || result === 'stack-overflow') return;
    const sp = this.engine.readReg(REG_SP);
    const fault = this.outcome.fault;
    if (sp >= this.stack.limit) {
      // --guard (or the alignment check) stops at the push that crosses the limit, before SP moves.
      if (fault?.address === undefined) return;
      const before = { result, message: this.outcome.message };
      this.outcome.result = null;
      if (this.stack.pushBelowLimit(sp, fault.pc, fault.address, fault.size)) this.outcome.fault = undefined;
      else Object.assign(this.outcome, before);
      return;
    }
    const before = { result: this.outcome.result, message: this.outcome.message };
    this.outcome.result = null;
    this.outcome.fault = undefined;
    if (
      !this.stack.spBelowLimit(
        sp,
        fault?.pc ?? this.engine.readReg(REG_PC),
        `where the run stopped (${result}) at`,
        fault?.address,
      )
    ) {
      // SP is on a stack of the firmware's own: the result stands.
      this.outcome.result = before.result;
      this.outcome.message = before.message;
      this.outcome.fault = fault;
    }
  }

  /**
   * SP inside a live heap block or a static RAM section clear of the heap and the stack: where firmware may
   * put a stack of its own (a coroutine's). Asked only when SP is below the stack's limit.
   */
  private isOwnStack(sp: number): boolean {
    if (this.blocks.live().some((block) => sp > block.address && sp <= block.address + block.usable)) return true;
    const reserved = [...this.regions, { base: this.stackBounds.limit, size: this.stackBounds.size }];
    return this.image.sections.some(
      (section) =>
        (section.flags & SHF_ALLOC) !== 0 &&
        section.size > 0 &&
        sp > section.addr &&
        sp <= section.addr + section.size &&
        this.memory.bankContaining(section.addr) !== undefined &&
        !reserved.some(
          (region) => section.addr < region.base + region.size && region.base < section.addr + section.size,
        ),
    );
  }

  /**
   * The same run again (it is deterministic: no interrupts, time from the instruction count) with every write
   * below the stack's limit watched, to name the instruction that overflowed. Its report replaces this one
   * when it finds the overflow; otherwise (the stack reached its last word and no further) this one stands.
   */
  private runWatched(report: RunReport): RunReport {
    const { onProgress: _progress, ...options } = this.options;
    const watched = new Machine(options, this.createHeap, true);
    try {
      const again = watched.run();
      if (again.result !== 'stack-overflow') return report;
      again.hostMs += report.hostMs;
      return again;
    } finally {
      watched.close();
    }
  }

  /**
   * Confirms a branch to itself by running it once more: the PC stays only when the branch is taken. Inside an
   * IT block `b .` is conditional, but Unicorn runs an IT block to its end before a count stops it, so a slice
   * should never end there; this costs one instruction per suspect slice end and does not rely on that. Only
   * the branch runs here, and the caller resumes from the PC either way.
   */
  private staysAt(pc: number): boolean {
    const count = this.count;
    const error = count.runSingleBlock(pc);
    if (this.outcome.result !== null || error !== UC_ERR_OK) return false;
    count.sliceDone(count.sliceIsNative ? count.now() - count.finished : 1);
    return this.engine.readReg(REG_PC) === pc;
  }

  private stopHung(reason: 'branch-to-self' | 'wait-for-interrupt', pc: number, what: string): void {
    this.outcome.stoppedAt = this.stoppedAt(pc, reason);
    this.outcome.stop(
      'hang',
      `hang: the core ${what} at ${where(this.image, pc)} and nothing can wake it (no interrupts are modelled)`,
    );
  }

  /** Ends a run that reached a limit, naming the limit, the PC and the code the last slices ended in. */
  private stopUnfinished(reason: 'instruction-budget' | 'wall-clock', pc: number, trail: SliceTrail): void {
    const limit =
      reason === 'instruction-budget'
        ? `no exit after ${this.maxInstructions} instructions (the instruction budget; raise it with maxInstructions / --max-instructions)`
        : `no exit within ${this.timeoutMs} ms of host time (the wall-clock limit; raise it with timeoutMs / --timeout)`;
    this.outcome.stoppedAt = this.stoppedAt(pc, reason);
    this.outcome.stop('timeout', `${limit}; pc ${where(this.image, pc)}${this.describeTrail(trail)}`);
  }

  private stoppedAt(pc: number, reason: StopReason): StoppedAt {
    const stoppedAt: StoppedAt = { pc: pc & ~1, reason };
    const symbol = symbolFor(this.image, pc);
    if (symbol) stoppedAt.symbol = symbol;
    return stoppedAt;
  }

  /**
   * "; the last 8 slices ended in 0x08000066..0x0800006c (main_dispatch)" (or "all ended at" one PC): what is
   * known of the loop without tracing it.
   */
  private describeTrail(trail: SliceTrail): string {
    const samples = trail.samples();
    if (samples.length < 2) return '';
    const low = Math.min(...samples);
    const high = Math.max(...samples);
    const functionOf = (sample: number) => symbolFor(this.image, sample)?.replace(/\+0x[0-9a-f]+$/, '') ?? '?';
    const functions = [...new Set(samples.map(functionOf))];
    const named = functions.length <= 3 ? ` (${functions.join(', ')})` : ` (${functions.length} functions)`;
    const range = low === high ? `all ended at ${hex(low & ~1)}` : `ended in ${hex(low & ~1)}..${hex(high & ~1)}`;
    return `; the last ${samples.length} slices ${range}${named}`;
  }

  private report(hostMs: number): RunReport {
    const outcome = this.outcome;
    let result = outcome.result ?? 'fault';
    let message = outcome.message;
    this.peaks.settle();
    const stats = statsOrNull(this.heap);
    if (result === 'ok' || result === 'exit-failure') {
      let check: { ok: boolean; errors: string[] };
      try {
        check = this.heap.check();
      } catch (error) {
        check = { ok: false, errors: [(error as Error).message] };
      }
      if (!check.ok) {
        result = 'heap-corruption';
        message = `heap check after the run failed: ${this.faults.damageAfterRun()}${check.errors.slice(0, 3).join('; ')}${check.errors.length > 3 ? ` (+${check.errors.length - 3} more)` : ''}`;
        if (Object.values(this.service.ops).every((count) => count === 0)) message += NO_HEAP_CALLS;
      }
    }
    const stackPeak = this.stack.settle();
    const instructions = outcome.stoppedAt?.reason === 'instruction-budget' ? this.maxInstructions : this.count.now();
    const cycles = Math.round(instructions * CPI[this.board.cpu]);
    const peaks = this.peaks;
    const report: RunReport = {
      result,
      exitCode: outcome.exitCode,
      output: outcome.output,
      board: this.board.name,
      firmware: this.firmwareName,
      ops: { ...this.service.ops },
      peakUsed: Math.max(stats?.peakUsed ?? 0, 0),
      peakRequested: peaks.peakRequested,
      peakSpan: peaks.peakSpanEnd,
      largestFreeAtPeak: peaks.largestFreeAtPeak,
      largestFree: stats?.largestFree ?? 0,
      fragmentation: stats?.fragmentation ?? 0,
      fragmentationAtPeak: peaks.fragmentationAtPeak,
      peakSites: namePeakSites(this.image, this.service.sites.atPeak(), this.options.elf),
      controlBytes: stats?.controlBytes ?? 0,
      heapBase: this.heapStart,
      heapSize: this.regions.reduce((sum, region) => sum + region.size, 0),
      stackSize: this.stack.size,
      stackLimit: this.stack.limit,
      stackPeak: this.stack.overflow ? Math.max(stackPeak, this.stack.overflow.depth) : stackPeak,
      staticBytes: this.staticBytes,
      ramBytes: this.ramBytes(),
      instructions,
      cycles,
      seconds: cycles / this.board.clockHz,
      hostMs,
      engine: engineInfo(),
      counting: this.count.mode,
    };
    if (peaks.peakUsedSeen === 0 && stats) {
      report.largestFreeAtPeak = stats.largestFree;
      report.fragmentationAtPeak = stats.fragmentation;
    }
    if (result !== 'ok' && message) report.message = message;
    if (outcome.fault) report.fault = outcome.fault;
    if (this.stack.overflow && result === 'stack-overflow') report.stackOverflow = this.stack.overflow;
    if (outcome.stoppedAt) report.stoppedAt = outcome.stoppedAt;
    if (outcome.assertion) report.assertion = outcome.assertion;
    if (this.service.events) report.events = this.service.events;
    if (!this.count.exact || (this.count.approximateSlices && outcome.stoppedAt?.reason !== 'instruction-budget'))
      report.instructionsApproximate = true;
    if (this.options.alignmentCheck || this.options.guard) report.checkedAccesses = this.accessChecks.checked;
    return report;
  }

  /** The RAM of the bank groups that hold the image's data, the heap (extra banks too) and the stack. */
  private ramBytes(): number {
    const groups = new Set<BankGroup>([this.stackBounds.group, ...this.regions.map((region) => region.group)]);
    for (const segment of this.image.segments) {
      const bank = this.memory.bankContaining(segment.vaddr);
      if (bank && segment.memSize > 0) groups.add(bank.group);
    }
    return [...groups].reduce((sum, group) => sum + group.size, 0);
  }

  close(): void {
    this.engine.close();
  }
}
