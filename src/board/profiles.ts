// Board profiles: data files (src/board/boards/*.json) validated into BoardProfile objects.
import { readFileSync, existsSync } from 'node:fs';
import { parseByteCount } from './sizes.js';
import stm32f103c8 from './boards/stm32f103c8.json' with { type: 'json' };
import stm32f411re from './boards/stm32f411re.json' with { type: 'json' };
import stm32f407vg from './boards/stm32f407vg.json' with { type: 'json' };
import nrf52840 from './boards/nrf52840.json' with { type: 'json' };
import rp2040 from './boards/rp2040.json' with { type: 'json' };
import stm32h743 from './boards/stm32h743.json' with { type: 'json' };
import tiny from './boards/tiny.json' with { type: 'json' };

export type CpuName = 'cortex-m0' | 'cortex-m0+' | 'cortex-m3' | 'cortex-m4' | 'cortex-m4f' | 'cortex-m7' | 'cortex-m33';

export interface RamBank { name: string; base: number; size: number; heap: boolean; notes?: string }

export interface BoardProfile {
  name: string;
  description: string;
  cpu: CpuName;
  clockHz: number;
  flash: { base: number; size: number };
  ram: RamBank[];
  source: string;
}

export const DEFAULT_BOARD = 'stm32f411re';

export const CPU_NAMES: readonly CpuName[] = ['cortex-m0', 'cortex-m0+', 'cortex-m3', 'cortex-m4', 'cortex-m4f', 'cortex-m7', 'cortex-m33'];

/**
 * Average cycles per instruction used for the cycle estimate (instructions × CPI). Rough figures for
 * integer firmware with loads, stores and taken branches mixed in, from the cores' technical reference
 * manuals' instruction timings (1-cycle ALU, 2-cycle loads, 2-3 cycle taken branches; the M7 dual-issues),
 * assuming zero-wait-state memory. Flash wait states and caches are not modelled.
 */
export const CPI: Record<CpuName, number> = {
  'cortex-m0': 1.4,
  'cortex-m0+': 1.3,
  'cortex-m3': 1.25,
  'cortex-m4': 1.25,
  'cortex-m4f': 1.25,
  'cortex-m7': 0.8,
  'cortex-m33': 1.2,
};

/** Armv6-M cores trap every unaligned halfword/word access; Armv7-M/v8-M only LDRD/STRD/LDM/STM (and exclusives). */
export function isArmv6m(cpu: CpuName): boolean {
  return cpu === 'cortex-m0' || cpu === 'cortex-m0+';
}

const BUILT_IN: unknown[] = [stm32f411re, stm32f407vg, stm32f103c8, stm32h743, nrf52840, rp2040, tiny];

export class BoardError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BoardError';
  }
}

/** A board field holding a byte count or a frequency: an integer, or a string in the size grammar ("0x20000000", "20K"). */
export function parseSize(value: unknown, field: string, where: string): number {
  const parsed = typeof value === 'number' ? { bytes: value } : typeof value === 'string' ? parseByteCount(value) : { problem: '' };
  if ('problem' in parsed || !Number.isInteger(parsed.bytes) || parsed.bytes < 0 || parsed.bytes > 0xffffffff) {
    throw new BoardError(`${where}: field "${field}" must be a non-negative 32-bit number (e.g. 0x20000000 or "20K"), got ${JSON.stringify(value)}`);
  }
  return parsed.bytes;
}

function requireString(object: Record<string, unknown>, field: string, where: string): string {
  const value = object[field];
  if (value === undefined) throw new BoardError(`${where}: missing field "${field}"`);
  if (typeof value !== 'string' || value.trim() === '') throw new BoardError(`${where}: field "${field}" must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

function requireObject(object: Record<string, unknown>, field: string, where: string): Record<string, unknown> {
  const value = object[field];
  if (value === undefined) throw new BoardError(`${where}: missing field "${field}"`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BoardError(`${where}: field "${field}" must be an object, got ${JSON.stringify(value)}`);
  return value as Record<string, unknown>;
}

const PAGE = 4096;

/** Validates a parsed board description; every error names the board and the field. */
export function validateBoard(input: unknown, origin = 'board'): BoardProfile {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new BoardError(`${origin}: a board must be a JSON object`);
  const raw = input as Record<string, unknown>;
  const name = requireString(raw, 'name', origin);
  const where = `board "${name}" (${origin})`;
  const description = requireString(raw, 'description', where);
  const cpu = requireString(raw, 'cpu', where).toLowerCase() as CpuName;
  if (!CPU_NAMES.includes(cpu)) throw new BoardError(`${where}: field "cpu" must be one of ${CPU_NAMES.join(', ')}, got ${JSON.stringify(raw.cpu)}`);
  if (raw.clockHz === undefined) throw new BoardError(`${where}: missing field "clockHz"`);
  const clockHz = parseSize(raw.clockHz, 'clockHz', where);
  if (clockHz === 0) throw new BoardError(`${where}: field "clockHz" must be positive`);
  const flashRaw = requireObject(raw, 'flash', where);
  if (flashRaw.base === undefined) throw new BoardError(`${where}: missing field "flash.base"`);
  if (flashRaw.size === undefined) throw new BoardError(`${where}: missing field "flash.size"`);
  const flash = { base: parseSize(flashRaw.base, 'flash.base', where), size: parseSize(flashRaw.size, 'flash.size', where) };
  if (raw.ram === undefined) throw new BoardError(`${where}: missing field "ram"`);
  if (!Array.isArray(raw.ram) || raw.ram.length === 0) throw new BoardError(`${where}: field "ram" must be a non-empty array of banks`);
  const ram: RamBank[] = raw.ram.map((bankRaw: unknown, index: number) => {
    const field = `ram[${index}]`;
    if (typeof bankRaw !== 'object' || bankRaw === null) throw new BoardError(`${where}: field "${field}" must be an object`);
    const bank = bankRaw as Record<string, unknown>;
    const bankName = requireString(bank, 'name', `${where} ${field}`);
    for (const key of ['base', 'size', 'heap']) {
      if (bank[key] === undefined) throw new BoardError(`${where}: missing field "${field}.${key}" (bank ${bankName})`);
    }
    if (typeof bank.heap !== 'boolean') throw new BoardError(`${where}: field "${field}.heap" must be true or false, got ${JSON.stringify(bank.heap)}`);
    const result: RamBank = {
      name: bankName,
      base: parseSize(bank.base, `${field}.base`, where),
      size: parseSize(bank.size, `${field}.size`, where),
      heap: bank.heap,
    };
    if (typeof bank.notes === 'string') result.notes = bank.notes;
    return result;
  });
  const source = requireString(raw, 'source', where);
  const regions = [{ name: 'flash', base: flash.base, size: flash.size }, ...ram];
  for (const region of regions) {
    if (region.size === 0 || region.base % PAGE !== 0 || region.size % PAGE !== 0) {
      throw new BoardError(`${where}: region ${region.name} at 0x${region.base.toString(16)} size ${region.size} must be non-empty and 4 KiB aligned in base and size (the emulator maps whole pages)`);
    }
    if (region.base + region.size > 0x9fff_f000 && region.base < 0xa000_0000) {
      throw new BoardError(`${where}: region ${region.name} overlaps the heap service page at 0x9ffff000`);
    }
  }
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const a = regions[i]!;
      const b = regions[j]!;
      if (a.base < b.base + b.size && b.base < a.base + a.size) throw new BoardError(`${where}: regions ${a.name} and ${b.name} overlap`);
    }
  }
  if (!ram.some((bank) => bank.heap)) throw new BoardError(`${where}: no RAM bank has "heap": true`);
  return { name, description, cpu, clockHz, flash, ram, source };
}

let builtIns: BoardProfile[] | undefined;

export function listBoards(): BoardProfile[] {
  builtIns ??= BUILT_IN.map((raw, index) => validateBoard(raw, `built-in board #${index}`));
  return builtIns.map((board) => structuredClone(board));
}

/** A built-in board by name (case-insensitive), or a board JSON file by path. */
export function loadBoard(nameOrPath: string): BoardProfile {
  const wanted = nameOrPath.trim().toLowerCase();
  const builtIn = listBoards().find((board) => board.name.toLowerCase() === wanted);
  if (builtIn) return builtIn;
  if (nameOrPath.endsWith('.json') || existsSync(nameOrPath)) {
    let text: string;
    try {
      text = readFileSync(nameOrPath, 'utf8');
    } catch (error) {
      throw new BoardError(`cannot read board file ${nameOrPath}: ${(error as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new BoardError(`board file ${nameOrPath} is not valid JSON: ${(error as Error).message}`);
    }
    return validateBoard(parsed, nameOrPath);
  }
  throw new BoardError(`unknown board "${nameOrPath}"; built-in boards: ${listBoards().map((board) => board.name).join(', ')} (or give a board JSON file path)`);
}
