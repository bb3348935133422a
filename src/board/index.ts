// The emulated Cortex-M board (docs/design.md section 2): board profiles, the ELF loader, and runFirmware,
// which runs firmware whose malloc/free are served by the TLSF allocator over the board's own SRAM.
import { createTlsf } from '../allocator/index.js';
import { Machine } from './machine.js';
import type { RunOptions, RunReport } from './run-types.js';
import type { HeapFactory } from './heap-types.js';

export {
  loadBoard,
  listBoards,
  validateBoard,
  parseSize,
  DEFAULT_BOARD,
  CPI,
  CPU_NAMES,
  BoardError,
  isArmv6m,
} from './profiles.js';
export type { BoardProfile, RamBank, CpuName } from './profiles.js';
export { parseElf, symbolize, ElfError } from './elf.js';
export type { ElfImage, ElfSegment, ElfSection, ElfSymbol } from './elf.js';
export { Machine } from './machine.js';
export { cpuModel } from './engine.js';
export { FirmwareError, DEFAULT_MAX_INSTRUCTIONS, DEFAULT_TIMEOUT_MS } from './run-types.js';
export type {
  RunOptions,
  RunReport,
  RunResult,
  FaultInfo,
  HeapEvent,
  FlashPatch,
  StopReason,
  StoppedAt,
  StackOverflowInfo,
  PeakSite,
} from './run-types.js';
export { readParams } from './image-loader.js';
export type { ParamInfo, StackBounds } from './image-loader.js';
export { SERVICE_PAGE, SERVICE_PAGE_SIZE, groupBanks } from './memory-map.js';
export { SLOT } from './heap-service.js';
export type { HeapAllocator, HeapFactory, HeapFactoryOptions, HeapBlockVisit } from './heap-types.js';
export { unicorn, unicornVersion, installHint, engineInfo, UnicornError } from './unicorn.js';
export type { EngineChoice, EngineSource } from './engine-locate.js';
export { Engine } from './engine.js';
export { tuneV8ForBoard, INLINING_BUDGET } from './v8-tuning.js';

/**
 * The TLSF allocator from src/allocator, as the board's heap. `satisfies` checks it against the board's contract
 * without a cast, and callers that need the whole inspection API (the CLI's replay) get the Tlsf type back.
 */
export const tlsfHeap = ((memory, options) => createTlsf(memory, options)) satisfies HeapFactory;

/** Loads the firmware on the board and runs it to its exit, a fault, a hang, or a limit. Synchronous. */
export function runFirmware(options: RunOptions, createHeap: HeapFactory = tlsfHeap): RunReport {
  const machine = new Machine(options, createHeap);
  try {
    return machine.run();
  } finally {
    machine.close();
  }
}
