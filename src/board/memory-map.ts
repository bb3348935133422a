// The board's memory as the host holds it and as the engine maps it: a host buffer for the flash image, one
// host buffer per run of adjacent RAM banks (mapped with uc_mem_map_ptr, so the allocator and the firmware
// share the bytes), the System Control Space, and the heap service page. RAM is executable only where the ELF
// puts code (memory-protection.ts).
import { hex } from '../allocator/index.js';
import type { Engine } from './engine.js';
import { engineInfo, UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE } from './unicorn.js';
import { hasFastStores } from './engine-locate.js';
import { complementRanges, ramPermissions, rangesWithCode, tlbPermissions } from './memory-protection.js';
import type { ElfSegment } from './elf.js';
import type { CodeRegion } from './native-block-counter.js';
import { groupBanks } from './bank-groups.js';
import type { BoardProfile, RamBank } from './profiles.js';

export { groupBanks };
import { SCS_BASE, SCS_SIZE, SERVICE_PAGE, SERVICE_PAGE_SIZE } from './reserved-regions.js';

export { SERVICE_PAGE, SERVICE_PAGE_SIZE };

/** Adjacent RAM banks share one host buffer (one uc_mem_map_ptr), so a heap or an image may span them. */
export interface BankGroup {
  name: string;
  base: number;
  size: number;
  memory: ArrayBuffer;
}

export interface Bank extends RamBank {
  group: BankGroup;
  bytes: Uint8Array;
}

/** One region of the heap: the main pool or an extra bank. `writable` marks live payload granules for --guard. */
export interface HeapRegion {
  base: number;
  size: number;
  group: BankGroup;
  writable: Uint8Array | null;
}

export type MemoryRegion = { kind: 'flash' } | { kind: 'ram'; base: number; bytes: Uint8Array };

export class BoardMemory {
  readonly flashImage: Uint8Array;
  readonly banks: Bank[] = [];
  readonly groups: BankGroup[] = [];
  /** The heap service page's slots (`bx lr; nop` each), mapped host-backed like the rest. */
  private readonly serviceSlots = new ArrayBuffer(SERVICE_PAGE_SIZE);

  constructor(readonly board: BoardProfile) {
    this.flashImage = new Uint8Array(board.flash.size);
    for (const group of groupBanks(board.ram)) {
      const memory = new ArrayBuffer(group.size);
      const name = group.banks.map((bank) => bank.name).join('+');
      const bankGroup: BankGroup = { name, base: group.base, size: group.size, memory };
      this.groups.push(bankGroup);
      for (const bank of group.banks) {
        this.banks.push({
          ...bank,
          group: bankGroup,
          bytes: new Uint8Array(memory, bank.base - group.base, bank.size),
        });
      }
    }
  }

  /** Flash, or the RAM bank group (adjacent banks together) holding address..address+length. */
  regionOf(address: number, length: number): MemoryRegion | null {
    const flash = this.board.flash;
    if (address >= flash.base && address + length <= flash.base + flash.size) return { kind: 'flash' };
    for (const group of this.groups) {
      if (address >= group.base && address + length <= group.base + group.size) {
        return { kind: 'ram', base: group.base, bytes: new Uint8Array(group.memory) };
      }
    }
    return null;
  }

  /** "flash 0x08000000+524288, SRAM 0x20000000+131072", for messages. */
  describe(): string {
    return [
      `flash ${hex(this.board.flash.base)}+${this.board.flash.size}`,
      ...this.banks.map((bank) => `${bank.name} ${hex(bank.base)}+${bank.size}`),
    ].join(', ');
  }

  /** Writes bytes into the flash image or RAM; false when they do not fit one region. */
  place(address: number, data: Uint8Array): boolean {
    if (data.length === 0) return true;
    const region = this.regionOf(address, data.length);
    if (!region) return false;
    if (region.kind === 'flash') {
      this.flashImage.set(data, address - this.board.flash.base);
    } else region.bytes.set(data, address - region.base);
    return true;
  }

  /** The byte at `address` in flash or RAM as the host holds it; 0 outside both. */
  byteAt(address: number): number {
    const region = this.regionOf(address, 1);
    if (!region) return 0;
    return region.kind === 'flash'
      ? this.flashImage[address - this.board.flash.base]!
      : region.bytes[address - region.base]!;
  }

  /** The little-endian word at `address` (flash or RAM), unsigned. */
  wordAt(address: number): number {
    return (
      (this.byteAt(address) |
        (this.byteAt(address + 1) << 8) |
        (this.byteAt(address + 2) << 16) |
        (this.byteAt(address + 3) << 24)) >>>
      0
    );
  }

  /** The halfword at `address` in flash or a RAM bank; -1 elsewhere. */
  codeHalfword(address: number): number {
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

  bankContaining(address: number): Bank | undefined {
    return this.banks.find((bank) => address >= bank.base && address < bank.base + bank.size);
  }

  /**
   * Maps flash (read + execute, with the loaded image), the RAM groups (executable only where `segments` put
   * code), the SCS and the service page. Returns the inclusive ranges the invalid-memory hook must cover: all
   * memory, or on Unicorn 2.1+ all but RAM, where any access hook keeps stores on the slow path; RAM's page
   * permissions come from the virtual TLB there, and a fetch from data RAM calls `onFetchFromData(page)`.
   */
  mapInto(
    engine: Engine,
    segments: readonly ElfSegment[],
    onFetchFromData: (page: number) => void,
  ): Array<[number, number]> {
    const board = this.board;
    // Host-backed, so the native instruction counter can read the code of a block (flash is never written once
    // loaded: the firmware cannot, it is read + execute).
    engine.mapHost(
      `flash of ${board.name}`,
      board.flash.base,
      this.flashImage.buffer as ArrayBuffer,
      UC_PROT_READ | UC_PROT_EXEC,
    );
    const withCode = rangesWithCode(segments, this.groups);
    for (const group of this.groups) {
      engine.mapHost(group.name, group.base, group.memory, ramPermissions(withCode.has(group)));
    }
    let invalidHookRanges: Array<[number, number]> = [[1, 0]];
    if (hasFastStores(engineInfo().version)) {
      // Unicorn 2.1+ takes page permissions from us instead of the Cortex-M default map (all SRAM executable).
      const dataOnly = this.groups.filter((group) => !withCode.has(group));
      engine.useVirtualTlb(tlbPermissions(dataOnly, onFetchFromData));
      invalidHookRanges = complementRanges(this.groups);
    }
    // The System Control Space as plain memory: CMSIS SystemInit writes CPACR (FPU enable; Unicorn's FPU is
    // always on) and VTOR, which must not fault. NVIC, SysTick and the other SCS registers are not emulated.
    engine.map('the System Control Space', SCS_BASE, SCS_SIZE, UC_PROT_READ | UC_PROT_WRITE);
    const slots = new Uint8Array(this.serviceSlots);
    for (let at = 0; at < SERVICE_PAGE_SIZE; at += 4) {
      slots[at] = 0x70;
      slots[at + 1] = 0x47; // bx lr
      slots[at + 2] = 0x00;
      slots[at + 3] = 0xbf; // nop
    }
    engine.mapHost('the heap service page', SERVICE_PAGE, this.serviceSlots, UC_PROT_READ | UC_PROT_EXEC);
    return invalidHookRanges;
  }

  /** Every range the guest can run code from, with the host bytes the engine maps there (for the native counter). */
  codeRegions(): CodeRegion[] {
    const flash = this.board.flash;
    return [
      { base: flash.base, size: flash.size, memory: this.flashImage.buffer as ArrayBuffer, immutable: true },
      ...this.groups.map((group) => ({ base: group.base, size: group.size, memory: group.memory, immutable: false })),
      { base: SERVICE_PAGE, size: SERVICE_PAGE_SIZE, memory: this.serviceSlots, immutable: true },
    ];
  }
}
