// From an ELF image to a loaded board: segments and patches into the host's flash and RAM, the parameter
// block patched (design.md section 4), the vector table checked, and the heap's bounds derived from the
// image's symbols.
import { hex } from '../allocator/index.js';
import type { ElfImage, ElfSegment } from './elf.js';
import type { BoardMemory, Bank, BankGroup, HeapRegion } from './memory-map.js';
import { FirmwareError, type FlashPatch } from './run-types.js';

const PARAM_RECORD = 32;
/** The stack assumed when the image says nothing about it (the heap rule end.._estack-4KiB assumes the same). */
const DEFAULT_STACK_SIZE = 4096;
const PARAM_NAME = 28;

const VECTOR_SECTIONS = ['.isr_vector', '.vectors', '.vector_table'];
const VECTOR_SYMBOLS = [
  'g_pfnVectors',
  '__isr_vector',
  '__vectors',
  '__Vectors',
  'vector_table',
  '_vectors',
  'isr_vector',
  'tlsf_sim_vectors',
];

export interface ParamInfo {
  name: string;
  value: number;
  address: number;
}

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
    const value =
      readByte(at + 28) | (readByte(at + 29) << 8) | (readByte(at + 30) << 16) | (readByte(at + 31) << 24) | 0;
    params.push({ name, value, address: at });
  }
  return params;
}

function byteFromSegments(image: ElfImage, address: number): number {
  for (const segment of image.segments) {
    if (address >= segment.paddr && address < segment.paddr + segment.fileSize)
      return segment.data[address - segment.paddr]!;
  }
  return 0;
}

/** The stack: top (the initial SP) down to limit; `rule` says where its size came from. */
export interface StackBounds {
  top: number;
  limit: number;
  size: number;
  group: BankGroup;
  rule: 'run' | '__stack_size' | '__heap_end' | 'default';
}

/** Where the core starts: the first two words of the vector table. */
export interface ResetState {
  initialSp: number;
  resetHandler: number;
}

/** Loads one image into one board's memory. */
export class ImageLoader {
  constructor(
    private readonly image: ElfImage,
    private readonly memory: BoardMemory,
    private readonly firmwareName: string,
  ) {}

  /** Segments, then patches, then parameters; returns the reset state from the (checked) vector table. */
  load(patches: readonly FlashPatch[], params: Record<string, number>): ResetState {
    for (const [index, segment] of this.image.segments.entries()) {
      this.placeBytes(segment.paddr, segment.data, `segment ${index}`);
      this.checkRunAddress(segment, index);
    }
    for (const patch of patches) this.placePatch(patch);
    this.patchParams(params);
    const vectors = this.findVectorTable();
    const reset = { initialSp: this.memory.wordAt(vectors), resetHandler: this.memory.wordAt(vectors + 4) };
    this.checkVectors(vectors, reset);
    return reset;
  }

  private placeBytes(address: number, data: Uint8Array, what: string): void {
    if (!this.memory.place(address, data)) {
      const board = this.memory.board.name;
      throw new FirmwareError(
        `${this.firmwareName}: ${what} (${data.length} bytes at ${hex(address)}) does not fit the memory of board ${board} (${this.memory.describe()})`,
      );
    }
  }

  /**
   * Where a segment lives while the firmware runs (`.data` and `.bss` in RAM, copied and zeroed by the startup
   * code) must be memory of the board too: an image whose segment ends past the RAM was linked for another board
   * or is damaged, and would otherwise run until its startup code wrote outside the RAM.
   */
  private checkRunAddress(segment: ElfSegment, index: number): void {
    if (segment.memSize === 0 || this.memory.regionOf(segment.vaddr, segment.memSize)) return;
    const board = this.memory.board.name;
    throw new FirmwareError(
      `${this.firmwareName}: segment ${index} (${segment.memSize} bytes in memory at ${hex(segment.vaddr)}) does not fit the memory of board ${board} (${this.memory.describe()})`,
    );
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
        throw new FirmwareError(
          `${this.firmwareName}: ${patch.bytes.length} bytes at ${label} (${hex(address)}) do not fit below ${patch.endSymbol} (${Math.max(0, limit - address)} bytes available)`,
        );
      }
    }
    this.placeBytes(address, patch.bytes, `data for ${label}`);
  }

  private patchParams(values: Record<string, number>): void {
    const names = Object.keys(values);
    if (names.length === 0) return;
    const memory = this.memory;
    const params = readParams(this.image, (address) => memory.byteAt(address));
    const known = params.map((param) => param.name);
    for (const name of names) {
      const value = values[name]!;
      const param = params.find((candidate) => candidate.name === name);
      if (!param) {
        throw new FirmwareError(
          `${this.firmwareName}: unknown parameter "${name}"; ${known.length ? `known parameters: ${known.join(', ')}` : 'the firmware has no parameter block (__tlsf_params_start/__tlsf_params_end)'}`,
        );
      }
      if (!Number.isInteger(value) || value < -0x8000_0000 || value > 0x7fff_ffff) {
        throw new FirmwareError(`parameter ${name} must be a 32-bit signed integer, got ${value}`);
      }
      const region = memory.regionOf(param.address + 28, 4);
      if (region?.kind !== 'flash')
        throw new FirmwareError(`${this.firmwareName}: parameter block at ${hex(param.address)} is not in flash`);
      new DataView(memory.flashImage.buffer).setInt32(param.address + 28 - memory.board.flash.base, value, true);
    }
  }

  private findVectorTable(): number {
    const section = this.image.sections.find(
      (candidate) => VECTOR_SECTIONS.includes(candidate.name) && candidate.size >= 8,
    );
    if (section) return section.addr;
    for (const name of VECTOR_SYMBOLS) {
      const symbol = this.image.symbolByName.get(name);
      if (symbol) return symbol.value;
    }
    return this.memory.board.flash.base;
  }

  private checkVectors(vectors: number, { initialSp: sp, resetHandler: reset }: ResetState): void {
    const board = this.memory.board.name;
    if ((reset & 1) === 0 || !this.memory.regionOf(reset & ~1, 2)) {
      throw new FirmwareError(
        `${this.firmwareName}: vector table at ${hex(vectors)}: reset handler ${hex(reset)} is not a Thumb address (odd) in flash or RAM of board ${board} (${this.memory.describe()}); was it linked for this board?`,
      );
    }
    if (!this.memory.banks.some((bank) => sp > bank.base && sp <= bank.base + bank.size)) {
      throw new FirmwareError(
        `${this.firmwareName}: vector table at ${hex(vectors)}: initial stack pointer ${hex(sp)} is not inside a RAM bank of board ${board} (${this.memory.describe()}); was it linked for this board?`,
      );
    }
  }

  /**
   * The stack: from the initial SP down `stackSize` bytes (the run's choice, else the ELF's __stack_size, else
   * what lies between __heap_end and the initial SP, else 4 KiB as the heap rule assumes). It must lie in one
   * RAM bank group.
   */
  stackBounds(initialSp: number, stackSize: number | undefined): StackBounds {
    const symbol = (name: string) => this.image.symbolByName.get(name)?.value;
    const top = initialSp;
    const group = this.memory.groups.find(
      (candidate) => top > candidate.base && top <= candidate.base + candidate.size,
    );
    if (!group)
      throw new FirmwareError(`${this.firmwareName}: initial stack pointer ${hex(top)} is not inside a RAM bank`);
    let size: number;
    let rule: StackBounds['rule'];
    if (stackSize !== undefined) {
      if (!Number.isSafeInteger(stackSize) || stackSize <= 0 || stackSize % 8 !== 0) {
        throw new FirmwareError(
          `stack size must be a positive multiple of 8 bytes (the AAPCS keeps SP 8-aligned), got ${stackSize}`,
        );
      }
      size = stackSize;
      rule = 'run';
    } else {
      const linked = symbol('__stack_size');
      const heapEnd = symbol('__heap_end');
      if (linked !== undefined && linked > 0 && linked <= top - group.base) {
        size = linked;
        rule = '__stack_size';
      } else if (heapEnd !== undefined && heapEnd < top && heapEnd >= group.base) {
        size = top - heapEnd;
        rule = '__heap_end';
      } else {
        size = Math.min(DEFAULT_STACK_SIZE, top - group.base);
        rule = 'default';
      }
    }
    if (size > top - group.base) {
      throw new FirmwareError(
        `stack of ${size} bytes does not fit below the initial stack pointer ${hex(top)} (${top - group.base} bytes of ${group.name} below it)`,
      );
    }
    return { top, limit: top - size, size, group, rule };
  }

  /**
   * Heap bounds per design.md section 4: the image's symbols, or `heapSize` bytes from __heap_start. A heap
   * that ends where the linked stack begins ends where this run's stack begins; no heap may reach into the stack.
   */
  heapBounds(heapSize: number | undefined, stack: StackBounds): { start: number; length: number; group: BankGroup } {
    const symbol = (name: string) => this.image.symbolByName.get(name)?.value;
    const board = this.memory.board.name;
    let start = symbol('__heap_start');
    let end = symbol('__heap_end');
    let rule = '__heap_start..__heap_end';
    if (start === undefined) {
      start = symbol('end');
      const estack = symbol('_estack');
      const stackSize = symbol('__stack_size');
      if (start !== undefined && estack !== undefined) {
        end = estack - (stackSize ?? DEFAULT_STACK_SIZE);
        rule = stackSize !== undefined ? 'end.._estack-__stack_size' : 'end.._estack-4KiB';
      } else {
        throw new FirmwareError(
          `${this.firmwareName}: cannot find the heap: define __heap_start and __heap_end in the linker script (or end and _estack)`,
        );
      }
    }
    if (stack.rule === 'run' && end !== undefined && end === this.stackBounds(stack.top, undefined).limit) {
      end = stack.limit;
      rule += ` with a ${stack.size}-byte stack`;
    } else if (
      heapSize === undefined &&
      end !== undefined &&
      start < stack.limit &&
      end > stack.limit &&
      end <= stack.top
    ) {
      // A script whose heap runs up to the stack's top (heap and stack sharing the space) gets the heap below
      // the stack, so that the stack has its own room and an overflow is one.
      end = stack.limit;
      rule += ` below a ${stack.size}-byte stack`;
    }
    const bank = this.memory.bankContaining(start);
    if (!bank)
      throw new FirmwareError(
        `${this.firmwareName}: heap start ${hex(start)} (${rule}) is not in a RAM bank of board ${board} (${this.memory.describe()})`,
      );
    const group = bank.group;
    const groupEnd = group.base + group.size;
    let length: number;
    if (heapSize !== undefined) {
      if (!Number.isInteger(heapSize) || heapSize <= 0)
        throw new FirmwareError(`heap size must be a positive integer, got ${heapSize}`);
      if (start + heapSize > groupEnd) {
        throw new FirmwareError(
          `heap of ${heapSize} bytes from __heap_start ${hex(start)} does not fit ${group.name} (${groupEnd - start} bytes to its end at ${hex(groupEnd)})`,
        );
      }
      length = heapSize;
    } else {
      if (end === undefined) throw new FirmwareError(`${this.firmwareName}: __heap_start without __heap_end`);
      if (end > groupEnd || end <= start) {
        const why =
          stack.rule === 'run' && end === stack.limit
            ? `a ${stack.size}-byte stack below ${hex(stack.top)} leaves no room for the heap from ${hex(start)}`
            : `heap ${hex(start)}..${hex(end)} (${rule}) is empty or leaves ${group.name} (${hex(group.base)}..${hex(groupEnd)})`;
        throw new FirmwareError(`${this.firmwareName}: ${why}`);
      }
      length = end - start;
    }
    if (start < stack.top && stack.limit < start + length) {
      throw new FirmwareError(
        `heap ${hex(start)}..${hex(start + length)} reaches into the stack (${stack.size} bytes from ${hex(stack.limit)} to ${hex(stack.top)}); use a smaller heap or stack`,
      );
    }
    for (const touched of this.memory.banks) {
      if (touched.base < start + length && start < touched.base + touched.size && !touched.heap) {
        throw new FirmwareError(
          `${this.firmwareName}: the heap ${hex(start)}..${hex(start + length)} reaches bank ${touched.name}, which board ${board} marks as not for the heap`,
        );
      }
    }
    return { start, length, group };
  }

  /**
   * Static RAM: the bytes of allocated sections (.data, .bss, .tdata, .tbss, ...) in RAM, outside the heap and
   * the stack, counted once where sections overlap (.tbss and the space reserved after it).
   */
  staticBytes(excluded: readonly { base: number; size: number }[]): number {
    const SHF_ALLOC = 0x2;
    const ranges: [number, number][] = [];
    for (const section of this.image.sections) {
      if ((section.flags & SHF_ALLOC) === 0 || section.size === 0) continue;
      if (!this.memory.bankContaining(section.addr)) continue;
      let pieces: [number, number][] = [[section.addr, section.addr + section.size]];
      for (const region of excluded) {
        pieces = pieces.flatMap(([low, high]) => {
          const cutLow = region.base;
          const cutHigh = region.base + region.size;
          if (cutHigh <= low || cutLow >= high) return [[low, high] as [number, number]];
          const kept: [number, number][] = [];
          if (low < cutLow) kept.push([low, cutLow]);
          if (cutHigh < high) kept.push([cutHigh, high]);
          return kept;
        });
      }
      ranges.push(...pieces);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    let total = 0;
    let reached = -1;
    for (const [low, high] of ranges) {
      const from = Math.max(low, reached);
      if (high > from) total += high - from;
      reached = Math.max(reached, high);
    }
    return total;
  }

  /** The RAM bank named `bankName`, checked to be free of the heap, the image and the stack, to add whole to the heap. */
  extraBank(bankName: string, regions: readonly HeapRegion[], initialSp: number): Bank {
    const banks = this.memory.banks;
    const board = this.memory.board.name;
    const bank = banks.find((candidate) => candidate.name.toLowerCase() === bankName.toLowerCase());
    if (!bank)
      throw new FirmwareError(
        `board ${board} has no RAM bank "${bankName}"; banks: ${banks.map((candidate) => candidate.name).join(', ')}`,
      );
    if (!bank.heap) throw new FirmwareError(`bank ${bank.name} of board ${board} is marked as not for the heap`);
    const overlaps = (base: number, size: number) => base < bank.base + bank.size && bank.base < base + size;
    if (regions.some((region) => overlaps(region.base, region.size)))
      throw new FirmwareError(`bank ${bank.name} already holds (part of) the heap`);
    const used = this.image.segments.some(
      (segment) => overlaps(segment.vaddr, segment.memSize) || overlaps(segment.paddr, segment.memSize),
    );
    if (used || (initialSp > bank.base && initialSp <= bank.base + bank.size)) {
      throw new FirmwareError(
        `bank ${bank.name} holds part of the firmware image or its stack and cannot be added to the heap whole`,
      );
    }
    return bank;
  }
}
