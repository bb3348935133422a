// What went wrong, in words a firmware author can act on: the kind of fault, where (PC and function), and
// the heap block nearest the address with the call that allocated it. Every method here runs only once a run
// is failing, so none of it is on a hot path.
import { hex, Tlsf } from '../allocator/index.js';
import type { Engine } from './engine.js';
import {
  REG_LR,
  REG_PC,
  UC_MEM_FETCH_PROT,
  UC_MEM_FETCH_UNMAPPED,
  UC_MEM_READ_PROT,
  UC_MEM_READ_UNMAPPED,
  UC_MEM_WRITE_PROT,
  UC_MEM_WRITE_UNMAPPED,
  ucErrorName,
} from './unicorn.js';
import type { ElfImage } from './elf.js';
import { SERVICE_PAGE, SERVICE_PAGE_SIZE, type BoardMemory, type HeapRegion } from './memory-map.js';
import { statsOrNull, type HeapAllocator } from './heap-types.js';
import type { BlockTable } from './block-table.js';
import type { CallerResolver } from './callers.js';
import type { RunOutcome } from './run-outcome.js';
import type { RunResult } from './run-types.js';
import { symbolFor, where } from './code-locations.js';
import { findDamagedHeader, type DamagedHeader } from './heap-damage.js';
import { TLB_PAGE_BYTES } from './memory-protection.js';
import { fpuInstructionHint } from './fpu-instructions.js';

const UC_ERR_INSN_INVALID = 10;
const HEADER_BYTES = 4;
const NON_EXECUTABLE_RAM = 'fetch from non-executable RAM: the ELF puts no code there';

const ACCESS_KINDS: Record<number, [kind: string, verb: string]> = {
  [UC_MEM_READ_UNMAPPED]: ['read-unmapped', 'read'],
  [UC_MEM_WRITE_UNMAPPED]: ['write-unmapped', 'wrote'],
  [UC_MEM_FETCH_UNMAPPED]: ['fetch-unmapped', 'fetched'],
  [UC_MEM_WRITE_PROT]: ['write-protected', 'wrote'],
  [UC_MEM_READ_PROT]: ['read-protected', 'read'],
  [UC_MEM_FETCH_PROT]: ['fetch-protected', 'fetched'],
};

/** Unicorn's interrupt numbers for the CPU exceptions it hands to the interrupt hook. */
const EXCEPTION_KINDS: Record<number, string> = {
  1: 'undefined-instruction',
  2: 'svc',
  3: 'prefetch-abort',
  4: 'data-abort',
  8: 'exception-return',
  17: 'coprocessor-disabled',
  18: 'invalid-state',
  19: 'stack-overflow',
  22: 'unaligned-access',
};

export const bytes = (count: number): string => `${count} byte${count === 1 ? '' : 's'}`;

/** The live blocks around an address: the one at or below it and the one above it. */
interface LiveNeighbours {
  below?: number;
  next: number;
  nextAddress?: number;
}

export class FaultDiagnosis {
  constructor(
    private readonly engine: Engine,
    private readonly image: ElfImage,
    private readonly memory: BoardMemory,
    private readonly regions: readonly HeapRegion[],
    private readonly heap: HeapAllocator,
    private readonly blocks: BlockTable,
    private readonly callers: CallerResolver,
    private readonly outcome: RunOutcome,
  ) {}

  where(address: number): string {
    return where(this.image, address);
  }

  /** Records a fault at `pc` and stops the run with a message. */
  private stopAt(
    kind: string,
    address: number | undefined,
    size: number,
    pc: number,
    message: string,
    result: RunResult = 'fault',
    nearestBlock?: string,
  ): void {
    const fault: NonNullable<RunOutcome['fault']> = { kind, size, pc };
    if (address !== undefined) fault.address = address;
    const symbol = symbolFor(this.image, pc);
    if (symbol) fault.symbol = symbol;
    if (nearestBlock) fault.nearestBlock = nearestBlock;
    this.outcome.fault = fault;
    this.outcome.stop(result, message);
  }

  /** The UC_HOOK_MEM_INVALID hook: an access outside the map or against its protection. */
  onBadAccess(type: number, address: number, size: number): boolean {
    const [kind, verb] = ACCESS_KINDS[type] ?? [`memory-error-${type}`, 'accessed'];
    const pc = type === UC_MEM_FETCH_UNMAPPED || type === UC_MEM_FETCH_PROT ? address : this.engine.readReg(REG_PC);
    let what = `${verb} ${bytes(size)} at ${hex(address)}`;
    if (type === UC_MEM_WRITE_PROT && this.memory.regionOf(address, 1)?.kind === 'flash')
      what += ' (flash is read-only)';
    else if (type === UC_MEM_FETCH_PROT && this.memory.regionOf(address, 1)?.kind === 'ram') {
      what += ` (${NON_EXECUTABLE_RAM})`;
    } else if (type === UC_MEM_WRITE_PROT || type === UC_MEM_READ_PROT) {
      what += address >= SERVICE_PAGE && address < SERVICE_PAGE + SERVICE_PAGE_SIZE ? ' (the heap service page)' : '';
    } else what += ' (outside the memory map)';
    this.reportFault(kind, address, size, pc, what);
    return false;
  }

  /** The virtual TLB refused a fetch from RAM without code (Unicorn 2.1+; onBadAccess's UC_MEM_FETCH_PROT otherwise). */
  onFetchFromData(page: number): void {
    const pc = this.engine.readReg(REG_PC) & ~1;
    const address = pc >= page && pc < page + TLB_PAGE_BYTES ? pc : page;
    const what = `fetched 2 bytes at ${hex(address)} (${NON_EXECUTABLE_RAM})`;
    this.reportFault('fetch-protected', address, 2, address, what);
  }

  /** A faulting access at `pc`, described by `what`, with the nearest heap block. */
  reportFault(
    kind: string,
    address: number,
    size: number,
    pc: number,
    what: string,
    result: RunResult = 'fault',
  ): void {
    const nearest = this.nearestBlock(address, size);
    const caller = kind.startsWith('fetch') ? ` (lr ${this.where(this.engine.readReg(REG_LR))})` : '';
    this.stopAt(
      kind,
      address,
      size,
      pc,
      `${kind}: ${what}${nearest ? `, ${nearest}` : ''}; pc ${this.where(pc)}${caller}`,
      result,
      nearest,
    );
  }

  /** A CPU exception other than semihosting's bkpt 0xAB (Unicorn hands them to the hook, not the vector table). */
  cpuException(intno: number, pc: number, instruction: number): void {
    if (intno === 7) {
      this.stopAt(
        'breakpoint',
        pc,
        0,
        pc,
        `bkpt #${instruction & 0xff} at ${this.where(pc)} (only bkpt 0xAB, semihosting, is served)`,
      );
      return;
    }
    const kind = EXCEPTION_KINDS[intno] ?? `cpu-exception-${intno}`;
    const hint =
      intno === 17
        ? ' (FPU instruction with the FPU disabled, or a build for the wrong CPU)'
        : intno === 2
          ? ' (svc: no supervisor call handler is emulated)'
          : '';
    this.stopAt(kind, pc, 0, pc, `HardFault: ${kind} at ${this.where(pc)}${hint}`);
  }

  /** uc_emu_start returned an error of its own. */
  emulationError(error: number): void {
    const pc = this.engine.readReg(REG_PC);
    const invalid = error === UC_ERR_INSN_INVALID;
    const kind = invalid
      ? 'undefined-instruction'
      : ucErrorName(error)
          .replace(/^UC_ERR_/, '')
          .toLowerCase()
          .replace(/_/g, '-');
    const stopped = invalid ? 'HardFault: undefined instruction' : 'emulation stopped';
    const hint = invalid ? this.fpuHint(pc) : '';
    this.stopAt(kind, pc, 0, pc, `${stopped}: ${this.engine.errorText(error)} at pc ${this.where(pc)}${hint}`);
  }

  /** "; <why>" when the undefined instruction at `pc` is an FPU instruction this core cannot run, else ''. */
  private fpuHint(pc: number): string {
    const first = this.memory.codeHalfword(pc);
    const second = this.memory.codeHalfword(pc + 2);
    if (first < 0 || second < 0) return '';
    const hint = fpuInstructionHint(first, second, this.memory.board.cpu);
    return hint ? `: ${hint}` : '';
  }

  /** A pointer given to free/realloc/usable_size that is not a live block: double free, or never allocated. */
  badPointer(address: number, service: string, caller: number): void {
    const freedAt = this.blocks.freedBy(address);
    const nearest = this.nearestBlock(address);
    let kind: string;
    let detail: string;
    if (freedAt !== 0) {
      kind = service === 'free' ? 'double-free' : 'use-after-free';
      detail = `block ${hex(address)} was already freed by call #${freedAt}`;
    } else {
      kind = service === 'free' ? 'invalid-free' : `invalid-${service === 'realloc' ? 'realloc' : 'pointer'}`;
      detail = `${hex(address)} is not a block returned by the allocator${nearest ? ` (${nearest})` : ''}`;
    }
    this.stopAt(
      kind,
      address,
      0,
      caller & ~1,
      `${kind}: ${service}(${hex(address)}) called from ${this.where(caller)}: ${detail}`,
      'fault',
      nearest,
    );
  }

  /** A console or assert service failed on the buffer the firmware gave it. */
  serviceFailed(call: string, r0: number, caller: number, error: Error): void {
    this.stopAt(
      `${call.slice(0, call.indexOf('('))}-error`,
      r0,
      0,
      caller & ~1,
      `${call} called from ${this.where(caller)} failed: ${error.message}`,
    );
  }

  /**
   * The allocator refused a call the board had already validated (`pointer`, for free/realloc/usable_size, is a
   * live block by the board's own table): the firmware overwrote a block header or the allocator's links. Says
   * which header was overwritten and by whom when the block table can tell, else passes on the allocator's words.
   */
  heapCallFailed(call: string, pointer: number | undefined, caller: number, error: Error): void {
    let damage: DamagedHeader | null = null;
    try {
      damage = this.damagedHeader(pointer);
    } catch {
      /* a diagnosis must not hide the failure it explains */
    }
    const prefix = `heap corrupted: ${call} called from ${this.where(caller)}`;
    if (damage) {
      const nearest = this.nearestBlock(damage.header, HEADER_BYTES);
      this.stopAt(
        'overwritten-header',
        damage.header,
        HEADER_BYTES,
        caller & ~1,
        `${prefix}: ${this.describeDamage(damage)}`,
        'heap-corruption',
        nearest,
      );
      return;
    }
    // An address only when there is one: the pointer, or the block the allocator names (never a size).
    const named = (error as { address?: unknown }).address;
    const address = pointer ?? (typeof named === 'number' && Number.isInteger(named) ? named : undefined);
    const nearest = address !== undefined ? this.nearestBlock(address) : undefined;
    this.stopAt(
      'corrupted-heap',
      address,
      0,
      caller & ~1,
      `${prefix} failed: ${error.message}${nearest ? ` (${nearest})` : ''}`,
      'heap-corruption',
      nearest,
    );
  }

  /** After a run whose heap check failed: the overwritten header when the block table can tell, else ''. */
  damageAfterRun(): string {
    try {
      const damage = this.damagedHeader();
      return damage ? `${this.describeDamage(damage)}; ` : '';
    } catch {
      return '';
    }
  }

  /**
   * The overwritten header, read with TLSF's block layout (heap-damage.ts): only for the TLSF heap. The other
   * heaps (first-fit, best-fit, half-fit) lay their headers out differently and report the allocator's own words.
   */
  private damagedHeader(focus?: number): DamagedHeader | null {
    if (!(this.heap instanceof Tlsf)) return null;
    const sentinels = this.heap.poolList().map((pool) => pool.sentinel);
    return findDamagedHeader(this.blocks, this.memory, sentinels, focus);
  }

  /** "the header of block 0x200005b0 was overwritten (...); the block below it (...) is the likely overrunner" */
  private describeDamage(damage: DamagedHeader): string {
    const what = `the header of block ${hex(damage.block)} was overwritten (it holds ${hex(damage.word)}, expected ${damage.expected})`;
    if (damage.below === undefined) {
      return `${what}; no live block ends right below it (a write through a pointer to a freed block, or an overrun of one?)`;
    }
    const below = damage.below;
    return `${what}; the block below it (${hex(below)}, ${this.blocks.requested(below)} bytes requested, ${this.allocatedByText(below)}) is the likely overrunner`;
  }

  /** A bad service slot number. */
  badService(slot: number, address: number, caller: number, slotCount: number): void {
    this.stopAt(
      'bad-service',
      address,
      0,
      caller & ~1,
      `call to service slot ${slot} (${hex(address)}) from ${this.where(caller)}: no such service (slots 0..${slotCount - 1})`,
    );
  }

  /** What a write at `address` inside the heap hit when it was not a live block's payload. */
  describeMetadata(address: number): string {
    const main = this.regions[0]!;
    const control = statsOrNull(this.heap)?.controlBytes ?? 0;
    if (address >= main.base && address < main.base + control)
      return `the TLSF control structure (${hex(main.base)}..${hex(main.base + control)})`;
    let found: string | undefined;
    try {
      this.heap.walk((block) => {
        if (found) return;
        if (!block.used && address >= block.addr - 4 && address < block.addr + block.size) {
          found = `free block ${hex(block.addr)} (${block.size} bytes): free-list links or released memory (use after free?)`;
        }
      });
    } catch {
      /* the heap may already be damaged */
    }
    if (found) return found;
    const nearest = this.nearestLive(address);
    if (nearest && address < nearest.next && nearest.nextAddress !== undefined && address >= nearest.next - 8) {
      return `the header of block ${hex(nearest.nextAddress)} (${this.allocatedByText(nearest.nextAddress)})`;
    }
    return 'allocator metadata (a block header or a free block)';
  }

  /** "allocated by call #318 from packet_alloc+0xe" for a live block (the address alone when no symbol names it). */
  allocatedByText(blockAddress: number): string {
    const candidates = { argument: 0, lr: 0 };
    let from = '';
    if (this.blocks.allocatedFrom(blockAddress, candidates)) {
      const caller = this.callers.choose(candidates.argument, candidates.lr);
      from = ` from ${symbolFor(this.image, caller) ?? hex(caller & ~1)}`;
    }
    return `allocated by call #${this.blocks.allocatedBy(blockAddress)}${from}`;
  }

  private nearestLive(address: number): LiveNeighbours | null {
    let below: number | undefined;
    let above: number | undefined;
    for (const { address: blockAddress } of this.blocks.live()) {
      if (blockAddress <= address && (below === undefined || blockAddress > below)) below = blockAddress;
      if (blockAddress > address && (above === undefined || blockAddress < above)) above = blockAddress;
    }
    if (below === undefined && above === undefined) return null;
    const result: LiveNeighbours = { next: above ?? Infinity };
    if (below !== undefined) result.below = below;
    if (above !== undefined) result.nextAddress = above;
    return result;
  }

  /** "4 past the end of block 0x20001f00 (252 bytes) allocated by call #318", when the address is near the heap. */
  nearestBlock(address: number, size = 0): string | undefined {
    const inHeap = this.regions.some(
      (region) => address >= region.base - 4096 && address < region.base + region.size + 4096,
    );
    if (!inHeap) return undefined;
    const around = this.nearestLive(address);
    if (!around) return undefined;
    const describe = (blockAddress: number) =>
      `block ${hex(blockAddress)} (${this.blocks.requested(blockAddress)} bytes) ${this.allocatedByText(blockAddress)}`;
    if (around.below !== undefined) {
      const end = around.below + this.blocks.requested(around.below);
      if (address < end)
        return address === around.below
          ? `at the start of ${describe(around.below)}`
          : `${bytes(address - around.below)} into ${describe(around.below)}`;
      const past = address - end;
      const before = around.nextAddress !== undefined ? around.nextAddress - (address + size) : Infinity;
      if (past <= before)
        return past === 0
          ? `right after the end of ${describe(around.below)}`
          : `${past} past the end of ${describe(around.below)}`;
    }
    if (around.nextAddress !== undefined)
      return `${around.nextAddress - address} before the start of ${describe(around.nextAddress)}`;
    return undefined;
  }
}
