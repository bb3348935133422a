// One emulated board running one firmware image: memory map, loader, heap service, semihosting,
// instruction budget and fault reports. See docs/board.md for the ABI and the design choices.
import {
  Engine, hex, REG_LR, REG_PC, REG_R0, REG_SP, UC_ERR_OK, UC_HOOK_MEM_INVALID, UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE,
  UC_MEM_FETCH_PROT, UC_MEM_FETCH_UNMAPPED, UC_MEM_READ_PROT, UC_MEM_READ_UNMAPPED, UC_MEM_WRITE, UC_MEM_WRITE_PROT,
  UC_MEM_WRITE_UNMAPPED, UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE, UC_CPU_ARM_CORTEX_M0, UC_CPU_ARM_CORTEX_M3, UC_CPU_ARM_CORTEX_M4,
  UC_CPU_ARM_CORTEX_M7, UC_CPU_ARM_CORTEX_M33, ucErrorName,
} from './unicorn.js';
import { parseElf, symbolize, type ElfImage } from './elf.js';
import { CPI, isArmv6m, type BoardProfile, type CpuName, type RamBank } from './profiles.js';
import type { HeapAllocator, HeapFactory } from './heap-types.js';
import { BlockTable } from './block-table.js';
import { hasFastStores } from './engine-locate.js';
import { complementRanges, ramPermissions, rangesWithCode, TLB_PAGE_BYTES, tlbPermissions } from './memory-protection.js';
import { engineInfo } from './unicorn.js';

export const SERVICE_PAGE = 0x9fff_f000;
export const SERVICE_PAGE_SIZE = 0x1000;
const SCS_BASE = 0xe000_e000;
const SCS_SIZE = 0x1000;

export const SLOT = {
  malloc: 0, free: 1, realloc: 2, calloc: 3, memalign: 4, usableSize: 5, write: 6, exit: 7, ticks: 8,
  assertFail: 9, outOfMemory: 10, heapInfo: 11, mark: 12,
} as const;

/**
 * The register in which each heap service takes the caller to report (docs/design.md §3): the first one its own
 * arguments leave free. The C library's wrappers pass their return address there, so the log names the
 * function that called malloc(), not malloc(). Indexed by slot; 0 for services without one.
 */
const CALLER_REGISTER = [1, 1, 2, 2, 2, 1];
/** lr's index in the register file (r0..r15). */
const LR_INDEX = 14;

const SLOT_NAMES = ['malloc', 'free', 'realloc', 'calloc', 'memalign', 'malloc_usable_size', 'write', 'exit', 'ticks',
  'assert_fail', 'out_of_memory', 'heap_info', 'mark'];

export type RunResult = 'ok' | 'out-of-memory' | 'fault' | 'heap-corruption' | 'assertion' | 'timeout' | 'exit-failure';

export interface FaultInfo { kind: string; address: number; size: number; pc: number; symbol?: string; nearestBlock?: string }

export interface HeapEvent {
  call: number;                 // allocation call number (1-based, across all heap services)
  op: 'malloc' | 'free' | 'realloc' | 'calloc' | 'memalign' | 'mark';
  args: number[];
  result: number;
  instructions: number;
  caller: number;               // return address of the call: the caller argument when plausible, else lr
  label?: string;
}

export interface RunOptions {
  elf: Uint8Array;
  elfName?: string;
  board: BoardProfile;
  heapSize?: number;
  align?: 4 | 8 | 16;
  slLog2?: number;
  params?: Record<string, number>;
  maxInstructions?: number;
  guard?: boolean;
  onProgress?: (instructions: number) => void;
  recordEvents?: boolean;
  extraBanks?: string[];
  /**
   * Extension: model the core's unaligned-access HardFault inside the heap's range (Armv6-M: any unaligned
   * halfword/word access; Armv7-M/v8-M: LDRD/STRD/LDM/STM/PUSH/POP/VLDR/VSTR). Costs a host call per heap
   * access (see docs/board.md). Default false.
   */
  alignmentCheck?: boolean;
  /**
   * Extension: bytes placed in the loaded image (flash or RAM) before the run, at a symbol or an address, and
   * not past `endSymbol` when given; e.g. the encoded trace for trace-player at __tlsf_trace_start.
   */
  flashPatches?: FlashPatch[];
  /** Extension: instructions per uc_emu_start slice, i.e. the onProgress granularity; default 100 M. */
  sliceInstructions?: number;
}

export interface RunReport {
  result: RunResult;
  exitCode: number; output: string; board: string; firmware: string;
  ops: { malloc: number; free: number; realloc: number; calloc: number; memalign: number; failed: number };
  peakUsed: number; peakRequested: number; peakSpan: number;
  largestFreeAtPeak: number; largestFree: number; fragmentation: number; controlBytes: number;
  /** 1 - largestFreeAtPeak / free bytes at the peak, captured with largestFreeAtPeak (0 when nothing was free). */
  fragmentationAtPeak: number;
  heapBase: number; heapSize: number;
  instructions: number; cycles: number; seconds: number; hostMs: number;
  message?: string;
  fault?: FaultInfo;
  assertion?: { file: string; line: number; expression: string };
  /** Extension: the per-call log when recordEvents was set. */
  events?: HeapEvent[];
  /** Extension: firmware accesses to the heap seen by the alignment/guard hook (when either is on). */
  checkedAccesses?: number;
  /** Extension: true when this Unicorn build's instruction counter could not be located and counts are per 1M-instruction slice. */
  instructionsApproximate?: boolean;
}

export interface FlashPatch { symbol?: string; address?: number; endSymbol?: string; bytes: Uint8Array }

export const DEFAULT_MAX_INSTRUCTIONS = 2e9;

export function cpuModel(cpu: CpuName): number {
  switch (cpu) {
    case 'cortex-m0': case 'cortex-m0+': return UC_CPU_ARM_CORTEX_M0;
    case 'cortex-m3': return UC_CPU_ARM_CORTEX_M3;
    case 'cortex-m4': case 'cortex-m4f': return UC_CPU_ARM_CORTEX_M4;
    case 'cortex-m7': return UC_CPU_ARM_CORTEX_M7;
    case 'cortex-m33': return UC_CPU_ARM_CORTEX_M33;
  }
}

export class FirmwareError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FirmwareError';
  }
}

/** Adjacent RAM banks share one host buffer (one uc_mem_map_ptr), so a heap or an image may span them. */
interface BankGroup { name: string; base: number; size: number; memory: ArrayBuffer }

interface Bank extends RamBank { group: BankGroup; bytes: Uint8Array }

/** One region of the heap: the main pool or an extra bank. `writable` marks live payload granules for --guard. */
interface HeapRegion { base: number; size: number; group: BankGroup; writable: Uint8Array | null }

const PARAM_RECORD = 32;
const PARAM_NAME = 28;
const GRANULE_SHIFT = 2;
const SLICE_EXACT = 100_000_000;
const SLICE_APPROXIMATE = 1_000_000;

const VECTOR_SYMBOLS = ['g_pfnVectors', '__isr_vector', '__vectors', '__Vectors', 'vector_table', '_vectors', 'isr_vector', 'tlsf_sim_vectors'];

export interface ParamInfo { name: string; value: number; address: number }

/** The parameter block records (design.md section 4), read from the ELF image. */
export function readParams(image: ElfImage, flashImage?: (address: number) => number): ParamInfo[] {
  const start = image.symbolByName.get('__tlsf_params_start');
  const end = image.symbolByName.get('__tlsf_params_end');
  if (!start || !end) return [];
  const readByte = flashImage ?? ((address: number) => byteFromSegments(image, address));
  const params: ParamInfo[] = [];
  for (let at = start.value; at + PARAM_RECORD <= end.value; at += PARAM_RECORD) {
    let name = '';
    for (let i = 0; i < PARAM_NAME; i++) {
      const code = readByte(at + i);
      if (code === 0) break;
      name += String.fromCharCode(code);
    }
    const value = (readByte(at + 28) | (readByte(at + 29) << 8) | (readByte(at + 30) << 16) | (readByte(at + 31) << 24)) | 0;
    params.push({ name, value, address: at });
  }
  return params;
}

function byteFromSegments(image: ElfImage, address: number): number {
  for (const segment of image.segments) {
    if (address >= segment.paddr && address < segment.paddr + segment.fileSize) return segment.data[address - segment.paddr]!;
  }
  return 0;
}

const bytes = (count: number): string => `${count} byte${count === 1 ? '' : 's'}`;

function groupBanks(banks: RamBank[]): { base: number; size: number; banks: RamBank[] }[] {
  const sorted = [...banks].sort((a, b) => a.base - b.base);
  const groups: { base: number; size: number; banks: RamBank[] }[] = [];
  for (const bank of sorted) {
    const last = groups[groups.length - 1];
    if (last && last.base + last.size === bank.base) {
      last.size += bank.size;
      last.banks.push(bank);
    } else groups.push({ base: bank.base, size: bank.size, banks: [bank] });
  }
  return groups;
}

function decodeCString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/** An emulated board with a firmware image loaded, ready to run once. */
export class Machine {
  readonly board: BoardProfile;
  readonly engine: Engine;
  readonly image: ElfImage;
  readonly firmwareName: string;
  readonly banks: Bank[] = [];
  readonly groups: BankGroup[] = [];
  readonly flashImage: Uint8Array;
  readonly heap: HeapAllocator;
  readonly heapStart: number;
  readonly heapLength: number;
  readonly regions: HeapRegion[] = [];
  readonly initialSp: number;
  readonly resetHandler: number;
  readonly maxInstructions: number;

  private readonly options: RunOptions;
  private readonly guarding: boolean;
  private readonly armv6m: boolean;
  private readonly counterLow: Uint32Array | null;
  /** r0..r15 inside Unicorn's CPU state when located (Engine.registerFile), else null: use FFI calls. */
  private readonly registers: Uint32Array | null;
  private instructionBase = 0;
  /** Bytes of the flash image up to the last one loaded (only these are written into the engine). */
  private flashUsed = 0;
  private ran = false;
  private output = '';
  private result: RunResult | null = null;
  private exitCode = 0;
  private message: string | undefined;
  private fault: FaultInfo | undefined;
  private assertion: RunReport['assertion'];
  private readonly events: HeapEvent[] | null;
  private readonly ops = { malloc: 0, free: 0, realloc: 0, calloc: 0, memalign: 0, failed: 0 };
  private callNumber = 0;
  /** Inside onService without a register file: the allocating services' registers were read as one batch. */
  private batchRead = false;
  /** Live and freed blocks: requested size, usable size, allocating and freeing call numbers. */
  private readonly blocks = new BlockTable();
  private liveRequested = 0;
  private checkedAccesses = 0;
  private peakRequested = 0;
  private peakSpanEnd = 0;
  private peakUsedSeen = 0;
  private largestFreeAtPeak = 0;
  private fragmentationAtPeak = 0;
  private usedEstimate = 0;
  /**
   * A new peak was reached and its largest free block is not yet known. It is asked once per peak, just
   * before the next call that can lower the use (free, realloc) or at the end, rather than after every
   * allocation: allocations in between only raise the peak, so the heap then is still the peak's heap.
   */
  private peakPending = false;

  constructor(options: RunOptions, createHeap: HeapFactory) {
    this.options = options;
    this.board = options.board;
    this.firmwareName = options.elfName ?? 'firmware.elf';
    this.armv6m = isArmv6m(this.board.cpu);
    this.maxInstructions = options.maxInstructions ?? DEFAULT_MAX_INSTRUCTIONS;
    if (!(this.maxInstructions >= 1) || !Number.isSafeInteger(Math.floor(this.maxInstructions))) {
      throw new FirmwareError(`maxInstructions must be a positive integer, got ${this.maxInstructions}`);
    }
    this.events = options.recordEvents ? [] : null;
    this.guarding = options.guard ?? false;
    this.image = parseElf(options.elf, this.firmwareName);
    const align = options.align ?? 8;
    if (align !== 4 && align !== 8 && align !== 16) throw new FirmwareError(`align must be 4, 8 or 16, got ${String(align)}`);

    this.engine = new Engine(cpuModel(this.board.cpu), `opening a ${this.board.cpu} engine for board ${this.board.name}`);
    try {
      this.flashImage = new Uint8Array(this.board.flash.size);
      for (const group of groupBanks(this.board.ram)) {
        const memory = new ArrayBuffer(group.size);
        const bankGroup: BankGroup = { name: group.banks.map((bank) => bank.name).join('+'), base: group.base, size: group.size, memory };
        this.groups.push(bankGroup);
        for (const bank of group.banks) {
          this.banks.push({ ...bank, group: bankGroup, bytes: new Uint8Array(memory, bank.base - group.base, bank.size) });
        }
      }
      this.placeSegments();
      for (const patch of options.flashPatches ?? []) this.placePatch(patch);
      this.patchParams(options.params ?? {});
      const vectors = this.findVectorTable();
      this.initialSp = this.flashWord(vectors);
      this.resetHandler = this.flashWord(vectors + 4);
      this.checkVectors(vectors);

      const bounds = this.heapBounds(options.heapSize);
      this.heapStart = bounds.start;
      this.heapLength = bounds.length;
      const heapGroup = bounds.group;
      this.heap = createHeap(heapGroup.memory, {
        base: heapGroup.base, offset: bounds.start - heapGroup.base, length: bounds.length, align,
        ...(options.slLog2 !== undefined ? { slLog2: options.slLog2 } : {}),
      });
      this.regions.push({ base: bounds.start, size: bounds.length, group: heapGroup, writable: null });
      for (const bankName of options.extraBanks ?? []) this.addExtraBank(bankName);
      for (const region of this.regions) this.blocks.addRegion(region.base, region.size);
      if (options.guard) {
        for (const region of this.regions) region.writable = new Uint8Array(Math.ceil(region.size / 4));
      }
      this.mapMemory();
      const counter = this.engine.instructionCounter();
      this.counterLow = counter ? new Uint32Array(counter.buffer, counter.byteOffset, 4) : null;
      this.registers = this.engine.registerFile();
      this.installHooks();
    } catch (error) {
      this.engine.close();
      throw error;
    }
  }

  // ---- loading -------------------------------------------------------------------------------

  /** Flash, or the RAM bank group (adjacent banks together) holding address..address+length. */
  private regionOf(address: number, length: number): { kind: 'flash' } | { kind: 'ram'; base: number; bytes: Uint8Array } | null {
    const flash = this.board.flash;
    if (address >= flash.base && address + length <= flash.base + flash.size) return { kind: 'flash' };
    for (const group of this.groups) {
      if (address >= group.base && address + length <= group.base + group.size) return { kind: 'ram', base: group.base, bytes: new Uint8Array(group.memory) };
    }
    return null;
  }

  private describeMap(): string {
    return [`flash ${hex(this.board.flash.base)}+${this.board.flash.size}`,
      ...this.banks.map((bank) => `${bank.name} ${hex(bank.base)}+${bank.size}`)].join(', ');
  }

  private placeBytes(address: number, data: Uint8Array, what: string): void {
    if (data.length === 0) return;
    const region = this.regionOf(address, data.length);
    if (!region) {
      throw new FirmwareError(`${this.firmwareName}: ${what} (${data.length} bytes at ${hex(address)}) does not fit the memory of board ${this.board.name} (${this.describeMap()})`);
    }
    if (region.kind === 'flash') {
      this.flashImage.set(data, address - this.board.flash.base);
      this.flashUsed = Math.max(this.flashUsed, address + data.length - this.board.flash.base);
    }
    else region.bytes.set(data, address - region.base);
  }

  private placeSegments(): void {
    this.image.segments.forEach((segment, index) => {
      this.placeBytes(segment.paddr, segment.data, `segment ${index}`);
    });
  }

  private symbolValue(name: string): number {
    const symbol = this.image.symbolByName.get(name);
    if (!symbol) throw new FirmwareError(`${this.firmwareName}: no symbol ${name}`);
    return symbol.value;
  }

  private placePatch(patch: FlashPatch): void {
    let address: number;
    if (patch.symbol !== undefined) address = this.symbolValue(patch.symbol);
    else if (patch.address !== undefined) address = patch.address;
    else throw new FirmwareError('a flash patch needs a symbol or an address');
    const label = patch.symbol ?? hex(address);
    if (patch.endSymbol !== undefined) {
      const limit = this.symbolValue(patch.endSymbol);
      if (address + patch.bytes.length > limit) {
        throw new FirmwareError(`${this.firmwareName}: ${patch.bytes.length} bytes at ${label} (${hex(address)}) do not fit below ${patch.endSymbol} (${Math.max(0, limit - address)} bytes available)`);
      }
    }
    this.placeBytes(address, patch.bytes, `data for ${label}`);
  }

  private byteAt(address: number): number {
    const region = this.regionOf(address, 1);
    if (!region) return 0;
    return region.kind === 'flash' ? this.flashImage[address - this.board.flash.base]! : region.bytes[address - region.base]!;
  }

  private flashWord(address: number): number {
    return (this.byteAt(address) | (this.byteAt(address + 1) << 8) | (this.byteAt(address + 2) << 16) | (this.byteAt(address + 3) << 24)) >>> 0;
  }

  private patchParams(values: Record<string, number>): void {
    const names = Object.keys(values);
    if (names.length === 0) return;
    const params = readParams(this.image, (address) => this.byteAt(address));
    const known = params.map((param) => param.name);
    for (const name of names) {
      const value = values[name]!;
      const param = params.find((candidate) => candidate.name === name);
      if (!param) {
        throw new FirmwareError(`${this.firmwareName}: unknown parameter "${name}"; ${known.length ? `known parameters: ${known.join(', ')}` : 'the firmware has no parameter block (__tlsf_params_start/__tlsf_params_end)'}`);
      }
      if (!Number.isInteger(value) || value < -0x8000_0000 || value > 0x7fff_ffff) {
        throw new FirmwareError(`parameter ${name} must be a 32-bit signed integer, got ${value}`);
      }
      const region = this.regionOf(param.address + 28, 4);
      if (!region || region.kind !== 'flash') throw new FirmwareError(`${this.firmwareName}: parameter block at ${hex(param.address)} is not in flash`);
      new DataView(this.flashImage.buffer).setInt32(param.address + 28 - this.board.flash.base, value, true);
    }
  }

  private findVectorTable(): number {
    const section = this.image.sections.find((candidate) => ['.isr_vector', '.vectors', '.vector_table'].includes(candidate.name) && candidate.size >= 8);
    if (section) return section.addr;
    for (const name of VECTOR_SYMBOLS) {
      const symbol = this.image.symbolByName.get(name);
      if (symbol) return symbol.value;
    }
    return this.board.flash.base;
  }

  private checkVectors(vectors: number): void {
    const reset = this.resetHandler;
    const codeRegion = this.regionOf(reset & ~1, 2);
    if ((reset & 1) === 0 || !codeRegion) {
      throw new FirmwareError(`${this.firmwareName}: vector table at ${hex(vectors)}: reset handler ${hex(reset)} is not a Thumb address (odd) in flash or RAM of board ${this.board.name} (${this.describeMap()}); was it linked for this board?`);
    }
    const sp = this.initialSp;
    if (!this.banks.some((bank) => sp > bank.base && sp <= bank.base + bank.size)) {
      throw new FirmwareError(`${this.firmwareName}: vector table at ${hex(vectors)}: initial stack pointer ${hex(sp)} is not inside a RAM bank of board ${this.board.name} (${this.describeMap()}); was it linked for this board?`);
    }
  }

  private bankContaining(address: number): Bank | undefined {
    return this.banks.find((bank) => address >= bank.base && address < bank.base + bank.size);
  }

  /** Heap bounds per design.md section 4. */
  private heapBounds(heapSize: number | undefined): { start: number; length: number; group: BankGroup } {
    const symbol = (name: string) => this.image.symbolByName.get(name)?.value;
    let start = symbol('__heap_start');
    let end = symbol('__heap_end');
    let rule = '__heap_start..__heap_end';
    if (start === undefined) {
      start = symbol('end');
      const estack = symbol('_estack');
      const stackSize = symbol('__stack_size');
      if (start !== undefined && estack !== undefined) {
        end = estack - (stackSize ?? 4096);
        rule = stackSize !== undefined ? 'end.._estack-__stack_size' : 'end.._estack-4KiB';
      } else {
        throw new FirmwareError(`${this.firmwareName}: cannot find the heap: define __heap_start and __heap_end in the linker script (or end and _estack)`);
      }
    }
    const bank = this.bankContaining(start);
    if (!bank) throw new FirmwareError(`${this.firmwareName}: heap start ${hex(start)} (${rule}) is not in a RAM bank of board ${this.board.name} (${this.describeMap()})`);
    const group = bank.group;
    const groupEnd = group.base + group.size;
    let length: number;
    if (heapSize !== undefined) {
      if (!Number.isInteger(heapSize) || heapSize <= 0) throw new FirmwareError(`heap size must be a positive integer, got ${heapSize}`);
      if (start + heapSize > groupEnd) {
        throw new FirmwareError(`heap of ${heapSize} bytes from __heap_start ${hex(start)} does not fit ${group.name} (${groupEnd - start} bytes to its end at ${hex(groupEnd)})`);
      }
      length = heapSize;
    } else {
      if (end === undefined) throw new FirmwareError(`${this.firmwareName}: __heap_start without __heap_end`);
      if (end > groupEnd || end <= start) throw new FirmwareError(`${this.firmwareName}: heap ${hex(start)}..${hex(end)} (${rule}) is empty or leaves ${group.name} (${hex(group.base)}..${hex(groupEnd)})`);
      length = end - start;
    }
    for (const touched of this.banks) {
      if (touched.base < start + length && start < touched.base + touched.size && !touched.heap) {
        throw new FirmwareError(`${this.firmwareName}: the heap ${hex(start)}..${hex(start + length)} reaches bank ${touched.name}, which board ${this.board.name} marks as not for the heap`);
      }
    }
    return { start, length, group };
  }

  private addExtraBank(bankName: string): void {
    const bank = this.banks.find((candidate) => candidate.name.toLowerCase() === bankName.toLowerCase());
    if (!bank) throw new FirmwareError(`board ${this.board.name} has no RAM bank "${bankName}"; banks: ${this.banks.map((candidate) => candidate.name).join(', ')}`);
    if (!bank.heap) throw new FirmwareError(`bank ${bank.name} of board ${this.board.name} is marked as not for the heap`);
    const overlaps = (base: number, size: number) => base < bank.base + bank.size && bank.base < base + size;
    if (this.regions.some((region) => overlaps(region.base, region.size))) throw new FirmwareError(`bank ${bank.name} already holds (part of) the heap`);
    const used = this.image.segments.some((segment) => overlaps(segment.vaddr, segment.memSize) || overlaps(segment.paddr, segment.memSize));
    if (used || (this.initialSp > bank.base && this.initialSp <= bank.base + bank.size)) {
      throw new FirmwareError(`bank ${bank.name} holds part of the firmware image or its stack and cannot be added to the heap whole`);
    }
    this.heap.addPool(bank.group.memory, { base: bank.group.base, offset: bank.base - bank.group.base, length: bank.size });
    this.regions.push({ base: bank.base, size: bank.size, group: bank.group, writable: null });
  }

  private mapMemory(): void {
    const engine = this.engine;
    engine.map(`flash of ${this.board.name}`, this.board.flash.base, this.board.flash.size, UC_PROT_READ | UC_PROT_EXEC);
    if (this.flashUsed > 0) engine.write(this.board.flash.base, this.flashImage.subarray(0, this.flashUsed), 'loading the flash image');
    const withCode = rangesWithCode(this.image.segments, this.groups);
    for (const group of this.groups) engine.mapHost(group.name, group.base, group.memory, ramPermissions(withCode.has(group)));
    if (hasFastStores(engineInfo().version)) {
      // Unicorn 2.1+ takes page permissions from us instead of the Cortex-M default map (all SRAM executable).
      const dataOnly = this.groups.filter((group) => !withCode.has(group));
      engine.useVirtualTlb(tlbPermissions(dataOnly, (page) => this.onFetchFromData(page)));
      this.invalidHookRanges = complementRanges(this.groups);
    }
    // The System Control Space as plain memory: CMSIS SystemInit writes CPACR (FPU enable; Unicorn's FPU is
    // always on) and VTOR, which must not fault. NVIC, SysTick and the other SCS registers are not emulated.
    engine.map('the System Control Space', SCS_BASE, SCS_SIZE, UC_PROT_READ | UC_PROT_WRITE);
    engine.map('the heap service page', SERVICE_PAGE, SERVICE_PAGE_SIZE, UC_PROT_READ | UC_PROT_EXEC);
    const slots = new Uint8Array(SERVICE_PAGE_SIZE);
    for (let at = 0; at < SERVICE_PAGE_SIZE; at += 4) {
      slots[at] = 0x70; slots[at + 1] = 0x47;     // bx lr
      slots[at + 2] = 0x00; slots[at + 3] = 0xbf; // nop
    }
    engine.write(SERVICE_PAGE, slots, 'filling the heap service page');
  }

  // ---- instruction count -------------------------------------------------------------------

  /** Instructions executed so far (exact when the counter was located). */
  instructions(): number {
    const low = this.counterLow;
    if (!low) return this.instructionBase;
    return this.instructionBase + low[0]! + low[1]! * 0x1_0000_0000;
  }

  // ---- hooks ---------------------------------------------------------------------------------

  private installHooks(): void {
    const engine = this.engine;
    // What the service hook can need (arguments, caller argument, lr) in one FFI call when there is no register
    // file; semihosting uses the first two. Order matters: see hookRegister().
    engine.setBatch([REG_R0, REG_R0 + 1, REG_R0 + 2, REG_LR]);
    // A block hook, not a code hook: a call through a slot always starts a translation block at the slot, and
    // a ranged block hook costs nothing elsewhere, while a second code hook next to Unicorn's counting hook
    // halves the speed of all code (measured: 277 vs 136 MIPS; docs/board.md).
    engine.addBlockHook((address) => this.onService(address), SERVICE_PAGE, SERVICE_PAGE + SERVICE_PAGE_SIZE - 1);
    engine.addIntrHook((intno) => this.onInterrupt(intno));
    // On 2.1+ any access hook over RAM keeps its stores on the slow path; RAM faults come from the TLB hook there.
    for (const [begin, end] of this.invalidHookRanges) {
      engine.addMemHook(UC_HOOK_MEM_INVALID, (type, address, size) => this.onBadAccess(type, address, size), begin, end);
    }
    const checkAlignment = this.options.alignmentCheck ?? false;
    const guard = this.options.guard ?? false;
    if (checkAlignment || guard) {
      for (const region of this.regions) {
        const type = (guard ? UC_HOOK_MEM_WRITE : 0) | (checkAlignment ? UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE : 0);
        engine.addMemHook(type, (accessType, address, size) => this.onHeapAccess(region, accessType, address, size, checkAlignment, guard),
          region.base, region.base + region.size - 1);
      }
    }
  }

  private stopWith(result: RunResult, message: string, exitCode = 0): void {
    if (this.result === null) {
      this.result = result;
      this.message = message;
      this.exitCode = exitCode;
    }
    this.engine.stop();
  }

  private symbolFor(address: number): string | undefined {
    return symbolize(this.image, address & ~1);
  }

  private where(address: number): string {
    const symbol = this.symbolFor(address);
    return symbol ? `${hex(address & ~1)} (${symbol})` : hex(address & ~1);
  }

  private record(op: HeapEvent['op'], args: number[], result: number, caller: number, label?: string): void {
    const event: HeapEvent = { call: this.callNumber, op, args, result, instructions: this.instructions(), caller };
    if (label !== undefined) event.label = label;
    this.events!.push(event);
  }

  private track(address: number, requestedSize: number, slot: number): void {
    const usable = this.heap.usableSize(address);
    // Which of the two is the caller is decided only if a report needs it (resolveCaller).
    const registers = this.registers;
    const argument = CALLER_REGISTER[slot]!;
    const callerArgument = registers ? registers[argument]! : this.hookRegister(argument);
    const lr = registers ? registers[LR_INDEX]! : this.hookRegister(LR_INDEX);
    if (!this.blocks.add(address, requestedSize, usable, this.callNumber, callerArgument, lr)) {
      throw new Error(`the allocator returned ${hex(address)}, outside the heap`);
    }
    this.liveRequested += requestedSize;
    if (this.liveRequested > this.peakRequested) this.peakRequested = this.liveRequested;
    this.usedEstimate += usable;
    const used = this.heap.usedBytes ?? this.usedEstimate;
    const main = this.regions[0]!;
    if (address >= main.base && address < main.base + main.size) {
      const end = address + usable - main.base;
      if (end > this.peakSpanEnd) this.peakSpanEnd = end;
    }
    if (used > this.peakUsedSeen) {
      this.peakUsedSeen = used;
      this.peakPending = true;
    }
    if (this.guarding) this.markWritable(address, usable, 1);
  }

  private capturePeak(): void {
    this.peakPending = false;
    const heap = this.heap;
    if (heap.largestFreeBlock !== undefined && heap.freeBytes !== undefined) {
      // The TLSF heap answers from its bitmaps and counters: no walk, however many blocks are live.
      try {
        const largestFree = heap.largestFreeBlock();
        const freeBytes = heap.freeBytes;
        this.largestFreeAtPeak = largestFree;
        this.fragmentationAtPeak = freeBytes === 0 ? 0 : 1 - largestFree / freeBytes;
        return;
      } catch { /* a damaged heap: fall back to the walk, which tolerates it */ }
    }
    const stats = this.safeStats();
    if (stats) {
      this.largestFreeAtPeak = stats.largestFree;
      this.fragmentationAtPeak = stats.fragmentation;
    }
  }

  private untrack(address: number): void {
    this.liveRequested -= this.blocks.requested(address);
    const usable = this.blocks.usable(address);
    this.usedEstimate -= usable;
    this.blocks.remove(address, this.callNumber);
    if (this.guarding) this.markWritable(address, usable, 0);
  }

  private markWritable(address: number, usable: number, value: 0 | 1): void {
    for (const region of this.regions) {
      if (region.writable && address >= region.base && address < region.base + region.size) {
        region.writable.fill(value, (address - region.base) >> GRANULE_SHIFT, (address + usable - region.base + 3) >> GRANULE_SHIFT);
      }
    }
  }

  /** Validates a pointer given to free/realloc/usable_size; stops the run with a fault when it is not a live block. */
  private checkLive(address: number, service: string, slot: number): boolean {
    if (this.blocks.allocatedBy(address) !== 0) return true;
    const caller = this.caller(slot);
    const freedAt = this.blocks.freedBy(address);
    let kind: string;
    let detail: string;
    if (freedAt !== 0) {
      kind = service === 'free' ? 'double-free' : 'use-after-free';
      detail = `block ${hex(address)} was already freed by call #${freedAt}`;
    } else {
      kind = service === 'free' ? 'invalid-free' : `invalid-${service === 'realloc' ? 'realloc' : 'pointer'}`;
      const nearest = this.nearestBlock(address);
      detail = `${hex(address)} is not a block returned by the allocator${nearest ? ` (${nearest})` : ''}`;
    }
    this.fault = { kind, address, size: 0, pc: caller & ~1 };
    const symbol = this.symbolFor(caller);
    if (symbol) this.fault.symbol = symbol;
    const nearest = this.nearestBlock(address);
    if (nearest) this.fault.nearestBlock = nearest;
    this.stopWith('fault', `${kind}: ${service}(${hex(address)}) called from ${this.where(caller)}: ${detail}`);
    return false;
  }

  /** The service's return value, in r0. */
  private setResult(value: number): void {
    if (this.registers) this.registers[0] = value >>> 0;
    else this.engine.writeReg(REG_R0, value);
  }

  /**
   * Who called the service in `slot`: the heap services' caller argument when it is a return address (see
   * isReturnAddress), else lr. Read only when an event or a report needs it, so malloc/free stay one r0 read.
   */
  private caller(slot = -1): number {
    const registers = this.registers;
    const argument = CALLER_REGISTER[slot] ?? 0;
    if (argument !== 0) {
      const claimed = registers ? registers[argument]! : this.hookRegister(argument);
      if (this.isCallerArgument(claimed)) return claimed;
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

  private isCallerArgument(claimed: number): boolean {
    return claimed !== 0 && this.isReturnAddress(claimed);
  }

  /**
   * A caller argument is believed only when it looks like lr after a call: Thumb bit set, and the code before it
   * (in flash or RAM) a BL or BLX. Firmware calling the slots with the classic signatures leaves whatever it had
   * in that register, and a data value or a function pointer fails this test far more often than not.
   */
  private isReturnAddress(address: number): boolean {
    if ((address & 1) === 0) return false;
    const next = address - 1;
    const before = this.codeHalfword(next - 2);
    if (before === -1) return false;
    if ((before & 0xff87) === 0x4780) return true; // blx rN
    const first = this.codeHalfword(next - 4);
    return (first & 0xf800) === 0xf000 && (before & 0xd000) === 0xd000; // bl label
  }

  /** The halfword at `address` in flash or a RAM bank; -1 elsewhere. */
  private codeHalfword(address: number): number {
    const flash = this.board.flash;
    let bytes: Uint8Array | null = null;
    let offset = 0;
    if (address >= flash.base && address + 2 <= flash.base + flash.size) {
      bytes = this.flashImage;
      offset = address - flash.base;
    } else {
      for (const bank of this.banks) {
        if (address >= bank.base && address + 2 <= bank.base + bank.size) {
          bytes = bank.bytes;
          offset = address - bank.base;
          break;
        }
      }
    }
    return bytes ? bytes[offset]! | (bytes[offset + 1]! << 8) : -1;
  }

  private onService(address: number): void {
    const offset = address - SERVICE_PAGE;
    if ((offset & 3) !== 0) return; // the nop after a slot's bx lr
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
    const r1 = slot === SLOT.malloc || slot === SLOT.free ? 0 : registers ? registers[1]! : this.batchRead ? engine.batchValue(1) : engine.readReg(REG_R0 + 1);
    const heap = this.heap;
    try {
      switch (slot) {
        case SLOT.malloc: {
          this.callNumber++;
          this.ops.malloc++;
          const result = heap.malloc(r0);
          if (result === 0) this.ops.failed++;
          else this.track(result, r0, slot);
          if (this.events) this.record('malloc', [r0], result, this.caller(slot));
          this.setResult(result);
          return;
        }
        case SLOT.free: {
          this.callNumber++;
          this.ops.free++;
          if (r0 !== 0) {
            if (!this.checkLive(r0, 'free', slot)) return;
            if (this.peakPending) this.capturePeak();
            heap.free(r0);
            this.untrack(r0);
          }
          if (this.events) this.record('free', [r0], 0, this.caller(slot));
          return;
        }
        case SLOT.realloc: {
          this.callNumber++;
          this.ops.realloc++;
          let result: number;
          if (r0 === 0) {
            result = heap.realloc(0, r1);
            if (result !== 0) this.track(result, r1, slot);
          } else {
            if (!this.checkLive(r0, 'realloc', slot)) return;
            if (this.peakPending) this.capturePeak();
            result = heap.realloc(r0, r1);
            // The bookkeeping follows the allocator: on failure (0 for a non-zero size) the old block stays.
            if (result !== 0 || r1 === 0) {
              this.untrack(r0);
              if (result !== 0) this.track(result, r1, slot);
            }
          }
          if (result === 0 && r1 !== 0) this.ops.failed++;
          if (this.events) this.record('realloc', [r0, r1], result, this.caller(slot));
          this.setResult(result);
          return;
        }
        case SLOT.calloc: {
          this.callNumber++;
          this.ops.calloc++;
          const result = heap.calloc(r0, r1);
          if (result === 0) this.ops.failed++;
          else this.track(result, r0 * r1, slot);
          if (this.events) this.record('calloc', [r0, r1], result, this.caller(slot));
          this.setResult(result);
          return;
        }
        case SLOT.memalign: {
          this.callNumber++;
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
          if (r0 === 0) { this.setResult(0); return; }
          if (!this.checkLive(r0, 'malloc_usable_size', slot)) return;
          this.setResult(heap.usableSize(r0));
          return;
        }
        case SLOT.write:
          this.output += this.readText(r0, r1);
          return;
        case SLOT.exit:
          this.exitCode = r0 | 0;
          if (this.exitCode === 0) this.stopWith('ok', '');
          else this.stopWith('exit-failure', `firmware exited with status ${this.exitCode}`, this.exitCode);
          return;
        case SLOT.ticks:
          this.setResult(this.instructions());
          return;
        case SLOT.assertFail: {
          const file = this.readCString(r0);
          const line = r1 | 0;
          const expression = this.readCString(this.hookRegister(2));
          this.assertion = { file, line, expression };
          this.stopWith('assertion', `assertion failed at ${file}:${line}: ${expression}`, 1);
          return;
        }
        case SLOT.outOfMemory: {
          const stats = heap.stats();
          this.stopWith('out-of-memory', `the firmware could not continue: allocating ${r0} bytes failed (called from ${this.where(this.caller())}; ${stats.freeBytes} bytes free, largest free block ${stats.largestFree})`, 1);
          return;
        }
        case SLOT.heapInfo: {
          const stats = heap.stats();
          const words = new Uint32Array([stats.usedBytes, stats.freeBytes, stats.largestFree, stats.peakUsed, stats.controlBytes,
            this.heapStart, this.totalHeapSize()]);
          engine.write(r0, new Uint8Array(words.buffer), 'heap_info: writing the result');
          return;
        }
        case SLOT.mark:
          if (this.events) this.record('mark', [r0], 0, this.caller(), this.readCString(r0));
          return;
        default:
          this.fault = { kind: 'bad-service', address, size: 0, pc: this.caller() & ~1 };
          this.stopWith('fault', `call to service slot ${slot} (${hex(address)}) from ${this.where(this.caller())}: no such service (slots 0..${SLOT_NAMES.length - 1})`);
      }
    } catch (error) {
      // The allocator refused a call the board had already validated: a pointer to a live block whose
      // header or neighbours the firmware has overwritten (heap corruption), or a bad buffer given to a
      // console/assert service.
      const service = SLOT_NAMES[slot] ?? `slot ${slot}`;
      const text = (error as Error).message;
      const caller = this.caller(slot);
      const heapCall = slot <= SLOT.usableSize;
      const kind = heapCall ? 'corrupted-heap' : `${service}-error`;
      this.fault = { kind, address: r0, size: 0, pc: caller & ~1 };
      const symbol = this.symbolFor(caller);
      if (symbol) this.fault.symbol = symbol;
      const nearest = heapCall ? this.nearestBlock(r0) : undefined;
      if (nearest) this.fault.nearestBlock = nearest;
      this.stopWith(heapCall ? 'heap-corruption' : 'fault',
        `${heapCall ? 'heap corrupted: ' : ''}${service}(${hex(r0)}) called from ${this.where(caller)} failed: ${text}${nearest ? ` (${nearest})` : ''}`);
    }
  }

  private totalHeapSize(): number {
    return this.regions.reduce((sum, region) => sum + region.size, 0);
  }

  private readText(address: number, length: number): string {
    if (length === 0) return '';
    if (length > 1 << 20) throw new Error(`write of ${length} bytes is larger than 1 MiB`);
    return new TextDecoder().decode(this.engine.read(address, length, 'reading firmware output'));
  }

  private readCString(address: number, limit = 4096): string {
    let text = '';
    for (let at = address; at < address + limit; at += 64) {
      const chunk = this.engine.tryRead(at, 64) ?? this.engine.tryRead(at, 1);
      if (!chunk) break;
      const end = chunk.indexOf(0);
      if (end >= 0) return text + decodeCString(chunk.subarray(0, end));
      text += decodeCString(chunk);
    }
    return text;
  }

  // ---- semihosting and CPU exceptions -------------------------------------------------------

  private onInterrupt(intno: number): void {
    const engine = this.engine;
    const pc = engine.readReg(REG_PC);
    if (intno === 7) {
      const halfword = this.byteAt(pc) | (this.byteAt(pc + 1) << 8);
      if (halfword === 0xbeab) {
        this.semihosting();
        if (this.result === null) engine.writeReg(REG_PC, (pc + 2) | 1);
        return;
      }
      this.fault = { kind: 'breakpoint', address: pc, size: 0, pc };
      const symbol = this.symbolFor(pc);
      if (symbol) this.fault.symbol = symbol;
      this.stopWith('fault', `bkpt #${(halfword & 0xff)} at ${this.where(pc)} (only bkpt 0xAB, semihosting, is served)`);
      return;
    }
    const names: Record<number, string> = {
      1: 'undefined-instruction', 2: 'svc', 3: 'prefetch-abort', 4: 'data-abort', 8: 'exception-return',
      17: 'coprocessor-disabled', 18: 'invalid-state', 19: 'stack-overflow', 22: 'unaligned-access',
    };
    const kind = names[intno] ?? `cpu-exception-${intno}`;
    this.fault = { kind, address: pc, size: 0, pc };
    const symbol = this.symbolFor(pc);
    if (symbol) this.fault.symbol = symbol;
    const hint = intno === 17 ? ' (FPU instruction with the FPU disabled, or a build for the wrong CPU)' : intno === 2 ? ' (svc: no supervisor call handler is emulated)' : '';
    this.stopWith('fault', `HardFault: ${kind} at ${this.where(pc)}${hint}`);
  }

  private semihosting(): void {
    const engine = this.engine;
    engine.readBatch();
    const operation = engine.batchValue(0);
    const argument = engine.batchValue(1);
    const word = (address: number) => {
      const bytes = engine.read(address, 4, 'semihosting: reading the argument block');
      return (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
    };
    let result = 0;
    switch (operation) {
      case 0x03: // SYS_WRITEC: r1 points to the character
        this.output += String.fromCharCode(engine.read(argument, 1)[0]!);
        break;
      case 0x04: // SYS_WRITE0: r1 points to a NUL-terminated string
        this.output += this.readCString(argument, 1 << 20);
        break;
      case 0x05: { // SYS_WRITE: [handle, buffer, length]; returns bytes not written
        const handle = word(argument);
        const text = this.readText(word(argument + 4), word(argument + 8));
        if (handle === 1 || handle === 2) this.output += text;
        result = 0;
        break;
      }
      case 0x10: // SYS_CLOCK: centiseconds since the start, from the estimated cycles
        result = Math.floor(this.instructions() * CPI[this.board.cpu] / this.board.clockHz * 100) >>> 0;
        break;
      case 0x16: { // SYS_HEAPINFO: r1 points to a pointer to [heap base, heap limit, stack base, stack limit]
        const block = word(argument);
        const stackLimit = this.heapStart + this.heapLength;
        const words = new Uint32Array([this.heapStart, this.heapStart + this.heapLength, this.initialSp, stackLimit]);
        engine.write(block, new Uint8Array(words.buffer), 'semihosting SYS_HEAPINFO: writing the result');
        break;
      }
      case 0x18: { // SYS_EXIT: r1 is the reason code (32-bit semihosting)
        if (argument === 0x20026) this.stopWith('ok', '');
        else this.stopWith('exit-failure', `firmware stopped through semihosting SYS_EXIT with reason ${hex(argument)}`, 1);
        return;
      }
      case 0x20: { // SYS_EXIT_EXTENDED: r1 points to [reason, status]
        const reason = word(argument);
        const status = word(argument + 4) | 0;
        if (reason === 0x20026 && status === 0) this.stopWith('ok', '');
        else if (reason === 0x20026) this.stopWith('exit-failure', `firmware exited with status ${status}`, status);
        else this.stopWith('exit-failure', `firmware stopped through semihosting SYS_EXIT_EXTENDED with reason ${hex(reason)}, status ${status}`, status || 1);
        return;
      }
      default:
        result = 0xffffffff;
    }
    this.setResult(result);
  }

  // ---- faults ---------------------------------------------------------------------------------

  private invalidHookRanges: Array<[number, number]> = [[1, 0]];

  /** A fetch from RAM the ELF put no code in (virtual-TLB engines; UC_MEM_FETCH_PROT in onBadAccess otherwise). */
  private onFetchFromData(page: number): void {
    const pc = this.engine.readReg(REG_PC) & ~1;
    const address = pc >= page && pc < page + TLB_PAGE_BYTES ? pc : page;
    this.reportFault('fetch-protected', address, 2, address, `fetched 2 bytes at ${hex(address)} (fetch from non-executable RAM: the ELF puts no code there)`);
  }

  private onBadAccess(type: number, address: number, size: number): boolean {
    const kinds: Record<number, [string, string]> = {
      [UC_MEM_READ_UNMAPPED]: ['read-unmapped', 'read'],
      [UC_MEM_WRITE_UNMAPPED]: ['write-unmapped', 'wrote'],
      [UC_MEM_FETCH_UNMAPPED]: ['fetch-unmapped', 'fetched'],
      [UC_MEM_WRITE_PROT]: ['write-protected', 'wrote'],
      [UC_MEM_READ_PROT]: ['read-protected', 'read'],
      [UC_MEM_FETCH_PROT]: ['fetch-protected', 'fetched'],
    };
    const [kind, verb] = kinds[type] ?? [`memory-error-${type}`, 'accessed'];
    const pc = type === UC_MEM_FETCH_UNMAPPED || type === UC_MEM_FETCH_PROT ? address : this.engine.readReg(REG_PC);
    let what = `${verb} ${bytes(size)} at ${hex(address)}`;
    if (type === UC_MEM_WRITE_PROT && this.regionOf(address, 1)?.kind === 'flash') what += ' (flash is read-only)';
    else if (type === UC_MEM_FETCH_PROT && this.regionOf(address, 1)?.kind === 'ram') what += ' (fetch from non-executable RAM: the ELF puts no code there)';
    else if (type === UC_MEM_WRITE_PROT || type === UC_MEM_READ_PROT) what += address >= SERVICE_PAGE && address < SERVICE_PAGE + SERVICE_PAGE_SIZE ? ' (the heap service page)' : '';
    else what += ' (outside the memory map)';
    this.reportFault(kind, address, size, pc, what);
    return false;
  }

  private reportFault(kind: string, address: number, size: number, pc: number, what: string, result: RunResult = 'fault'): void {
    this.fault = { kind, address, size, pc };
    const symbol = this.symbolFor(pc);
    if (symbol) this.fault.symbol = symbol;
    const nearest = this.nearestBlock(address, size);
    if (nearest) this.fault.nearestBlock = nearest;
    const caller = kind.startsWith('fetch') ? ` (lr ${this.where(this.engine.readReg(REG_LR))})` : '';
    this.stopWith(result, `${kind}: ${what}${nearest ? `, ${nearest}` : ''}; pc ${this.where(pc)}${caller}`);
  }

  /** Checks one firmware access inside a heap region: alignment model and --guard. */
  private onHeapAccess(region: HeapRegion, type: number, address: number, size: number, checkAlignment: boolean, guard: boolean): boolean {
    this.checkedAccesses++;
    if (this.result !== null) return true;
    if (checkAlignment && size > 1 && (address & (size - 1)) !== 0) {
      const pc = this.engine.readReg(REG_PC);
      if (this.armv6m || this.needsAlignment(pc)) {
        const isWrite = type === UC_MEM_WRITE;
        this.reportFault(isWrite ? 'unaligned-write' : 'unaligned-read', address, size, pc,
          `HardFault: unaligned ${size}-byte ${isWrite ? 'write' : 'read'} at ${hex(address)}${this.armv6m ? ' (Armv6-M traps every unaligned halfword/word access)' : ' (LDRD/STRD/LDM/STM/VLDR/VSTR need word alignment)'}`);
        return true;
      }
    }
    if (guard && type === UC_MEM_WRITE && region.writable) {
      const first = (address - region.base) >> GRANULE_SHIFT;
      const last = (address + size - 1 - region.base) >> GRANULE_SHIFT;
      for (let granule = first; granule <= last; granule++) {
        if (region.writable[granule] !== 1) {
          const pc = this.engine.readReg(REG_PC);
          this.reportFault('metadata-write', address, size, pc,
            `wrote ${bytes(size)} at ${hex(address)} into ${this.describeMetadata(address)}`, 'heap-corruption');
          return true;
        }
      }
    }
    return true;
  }

  /** Armv7-M: whether the Thumb instruction at pc is one that requires word alignment. */
  private needsAlignment(pc: number): boolean {
    const bytes = this.engine.tryRead(pc & ~1, 2);
    if (!bytes) return false;
    const first = bytes[0]! | (bytes[1]! << 8);
    if ((first & 0xf000) === 0xc000) return true;            // LDM/STM (16-bit)
    if ((first & 0xf600) === 0xb400) return true;            // PUSH/POP
    if ((first & 0xfe00) === 0xe800) return true;            // LDM/STM, LDRD/STRD, LDREX/STREX (32-bit)
    if ((first & 0xfe00) === 0xec00 || (first & 0xff00) === 0xed00) return true; // VLDR/VSTR/VLDM/VSTM
    return false;
  }

  private describeMetadata(address: number): string {
    const main = this.regions[0]!;
    const control = this.safeStats()?.controlBytes ?? 0;
    if (address >= main.base && address < main.base + control) return `the TLSF control structure (${hex(main.base)}..${hex(main.base + control)})`;
    let found: string | undefined;
    try {
      this.heap.walk((block) => {
        if (found) return;
        if (!block.used && address >= block.addr - 4 && address < block.addr + block.size) {
          found = `free block ${hex(block.addr)} (${block.size} bytes): free-list links or released memory (use after free?)`;
        }
      });
    } catch { /* the heap may already be damaged */ }
    if (found) return found;
    const nearest = this.nearestLive(address);
    if (nearest && address < nearest.next && nearest.nextAddress !== undefined && address >= nearest.next - 8) {
      return `the header of block ${hex(nearest.nextAddress)} (${this.allocatedByText(nearest.nextAddress)})`;
    }
    return 'allocator metadata (a block header or a free block)';
  }

  private safeStats(): ReturnType<HeapAllocator['stats']> | null {
    try {
      return this.heap.stats();
    } catch {
      return null;
    }
  }

  /** "allocated by call #318 from packet_alloc+0xe" for a live block (the address alone when no symbol names it). */
  private allocatedByText(blockAddress: number): string {
    const candidates = { argument: 0, lr: 0 };
    let from = '';
    if (this.blocks.allocatedFrom(blockAddress, candidates)) {
      const caller = this.isCallerArgument(candidates.argument) ? candidates.argument : candidates.lr;
      from = ` from ${this.symbolFor(caller) ?? hex(caller & ~1)}`;
    }
    return `allocated by call #${this.blocks.allocatedBy(blockAddress)}${from}`;
  }

  /** The live blocks around an address: the one at or below it and the one above it. */
  private nearestLive(address: number): { below?: number; next: number; nextAddress?: number } | null {
    let below: number | undefined;
    let above: number | undefined;
    for (const { address: blockAddress } of this.blocks.live()) {
      if (blockAddress <= address && (below === undefined || blockAddress > below)) below = blockAddress;
      if (blockAddress > address && (above === undefined || blockAddress < above)) above = blockAddress;
    }
    if (below === undefined && above === undefined) return null;
    const result: { below?: number; next: number; nextAddress?: number } = { next: above ?? Infinity };
    if (below !== undefined) result.below = below;
    if (above !== undefined) result.nextAddress = above;
    return result;
  }

  /** "4 past the end of block 0x20001f00 (252 bytes) allocated by call #318", when the address is near the heap. */
  private nearestBlock(address: number, size = 0): string | undefined {
    const inHeap = this.regions.some((region) => address >= region.base - 4096 && address < region.base + region.size + 4096);
    if (!inHeap) return undefined;
    const around = this.nearestLive(address);
    if (!around) return undefined;
    const describe = (blockAddress: number) =>
      `block ${hex(blockAddress)} (${this.blocks.requested(blockAddress)} bytes) ${this.allocatedByText(blockAddress)}`;
    if (around.below !== undefined) {
      const end = around.below + this.blocks.requested(around.below);
      if (address < end) return address === around.below ? `at the start of ${describe(around.below)}` : `${bytes(address - around.below)} into ${describe(around.below)}`;
      const past = address - end;
      const before = around.nextAddress !== undefined ? around.nextAddress - (address + size) : Infinity;
      if (past <= before) return past === 0 ? `right after the end of ${describe(around.below)}` : `${past} past the end of ${describe(around.below)}`;
    }
    if (around.nextAddress !== undefined) return `${around.nextAddress - address} before the start of ${describe(around.nextAddress)}`;
    return undefined;
  }

  // ---- running --------------------------------------------------------------------------------

  run(): RunReport {
    if (this.ran) throw new FirmwareError('a Machine runs its firmware once; create a new one to run again');
    this.ran = true;
    const started = performance.now();
    const engine = this.engine;
    engine.writeReg(REG_SP, this.initialSp);
    let pc = this.resetHandler;
    const exact = this.counterLow !== null;
    const slice = exact ? Math.max(1, Math.floor(this.options.sliceInstructions ?? SLICE_EXACT)) : SLICE_APPROXIMATE;
    while (this.result === null) {
      const remaining = this.maxInstructions - this.instructionBase;
      if (remaining <= 0) {
        this.result = 'timeout';
        this.message = `no exit after ${this.maxInstructions} instructions (the instruction budget; raise it with maxInstructions / --max-instructions); pc ${this.where(engine.readReg(REG_PC))}`;
        break;
      }
      const count = Math.min(slice, remaining);
      const error = engine.start(pc, 0xffff_ffff, count);
      if (this.result !== null) break;
      if (error !== UC_ERR_OK) {
        const faultPc = engine.readReg(REG_PC);
        const kind = error === 10 ? 'undefined-instruction' : ucErrorName(error).replace(/^UC_ERR_/, '').toLowerCase().replace(/_/g, '-');
        this.fault = { kind, address: faultPc, size: 0, pc: faultPc };
        const symbol = this.symbolFor(faultPc);
        if (symbol) this.fault.symbol = symbol;
        this.result = 'fault';
        this.message = `${error === 10 ? 'HardFault: undefined instruction' : 'emulation stopped'}: ${engine.errorText(error)} at pc ${this.where(faultPc)}`;
        break;
      }
      // A slice ran to its instruction count: carry on from where it stopped.
      this.instructionBase += count;
      if (this.counterLow) { this.counterLow[0] = 0; this.counterLow[1] = 0; }
      pc = engine.readReg(REG_PC);
      this.options.onProgress?.(this.instructionBase);
    }
    const hostMs = performance.now() - started;
    return this.report(hostMs);
  }

  private report(hostMs: number): RunReport {
    let result = this.result ?? 'fault';
    let message = this.message;
    if (this.peakPending) this.capturePeak();
    const stats = this.safeStats();
    if (result === 'ok' || result === 'exit-failure') {
      let check: { ok: boolean; errors: string[] };
      try {
        check = this.heap.check();
      } catch (error) {
        check = { ok: false, errors: [(error as Error).message] };
      }
      if (!check.ok) {
        result = 'heap-corruption';
        message = `heap check after the run failed: ${check.errors.slice(0, 3).join('; ')}${check.errors.length > 3 ? ` (+${check.errors.length - 3} more)` : ''}`;
      }
    }
    const instructions = this.result === 'timeout' ? this.maxInstructions : this.instructions();
    const cycles = Math.round(instructions * CPI[this.board.cpu]);
    const report: RunReport = {
      result,
      exitCode: this.exitCode,
      output: this.output,
      board: this.board.name,
      firmware: this.firmwareName,
      ops: { ...this.ops },
      peakUsed: Math.max(stats?.peakUsed ?? 0, 0),
      peakRequested: this.peakRequested,
      peakSpan: this.peakSpanEnd,
      largestFreeAtPeak: this.largestFreeAtPeak,
      largestFree: stats?.largestFree ?? 0,
      fragmentation: stats?.fragmentation ?? 0,
      fragmentationAtPeak: this.fragmentationAtPeak,
      controlBytes: stats?.controlBytes ?? 0,
      heapBase: this.heapStart,
      heapSize: this.totalHeapSize(),
      instructions,
      cycles,
      seconds: cycles / this.board.clockHz,
      hostMs,
    };
    if (this.peakUsedSeen === 0 && stats) {
      report.largestFreeAtPeak = stats.largestFree;
      report.fragmentationAtPeak = stats.fragmentation;
    }
    if (result !== 'ok' && message) report.message = message;
    if (this.fault) report.fault = this.fault;
    if (this.assertion) report.assertion = this.assertion;
    if (this.events) report.events = this.events;
    if (!this.counterLow) report.instructionsApproximate = true;
    if (this.options.alignmentCheck || this.options.guard) report.checkedAccesses = this.checkedAccesses;
    return report;
  }

  close(): void {
    this.engine.close();
  }
}
