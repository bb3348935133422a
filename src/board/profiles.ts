// Board profiles: data files (src/board/boards/*.json) validated into BoardProfile objects.
import { readFileSync, existsSync, statSync } from 'node:fs';
import { MAX_CLOCK_HZ, parseByteCount, parseFrequency } from './sizes.js';
import { RESERVED_REGIONS } from './reserved-regions.js';
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

/** At most ~80 characters of a text, so that no error line repeats a large input. */
function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** An offending value as JSON (one line: newlines are escaped), clipped. */
function quote(value: unknown): string {
  try {
    return clip(JSON.stringify(value) ?? String(value));
  } catch {
    return clip(String(value));
  }
}

/** A board field holding a byte count or an address: an integer, or a string in the size grammar ("0x20000000", "20K"). */
export function parseSize(value: unknown, field: string, where: string): number {
  const parsed = typeof value === 'number' ? { bytes: value } : typeof value === 'string' ? parseByteCount(value) : { problem: '' };
  if ('problem' in parsed || !Number.isInteger(parsed.bytes) || parsed.bytes < 0 || parsed.bytes > 0xffffffff) {
    throw new BoardError(`${where}: field "${field}" must be a non-negative 32-bit number (e.g. 0x20000000 or "20K"), got ${quote(value)}`);
  }
  return parsed.bytes;
}

/** The clock: an integer number of Hz, or a string with a decimal prefix ("48M", "48MHz", "32.768k"). */
function parseClock(value: unknown, where: string): number {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value > 0 && value <= MAX_CLOCK_HZ) return value;
    throw new BoardError(`${where}: field "clockHz" must be a positive whole number of Hz up to ${MAX_CLOCK_HZ / 1e9} GHz, got ${quote(value)}`);
  }
  if (typeof value !== 'string') throw new BoardError(`${where}: field "clockHz" must be a number of Hz or a string such as "48MHz", got ${quote(value)}`);
  const parsed = parseFrequency(value);
  if ('problem' in parsed) throw new BoardError(`${where}: field "clockHz" ${quote(value)} ${parsed.problem}`);
  return parsed.hertz;
}

type Fields = Record<string, unknown>;

/** A field's own value: never one inherited from Object.prototype ("constructor", "toString", ...). */
function own(object: Fields, field: string): unknown {
  return Object.hasOwn(object, field) ? object[field] : undefined;
}

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Unknown keys are refused, not ignored: a misspelt "heap" or "clockHZ" must not silently take a default. */
function refuseUnknownKeys(object: Fields, known: readonly string[], where: string): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) throw new BoardError(`${where}: unknown field ${quote(key)} (known fields: ${known.join(', ')})`);
  }
}

function requireString(object: Fields, field: string, where: string): string {
  const value = own(object, field);
  if (value === undefined) throw new BoardError(`${where}: missing field "${field}"`);
  if (typeof value !== 'string' || value.trim() === '') throw new BoardError(`${where}: field "${field}" must be a non-empty string, got ${quote(value)}`);
  return value;
}

function requireObject(object: Fields, field: string, where: string): Fields {
  const value = own(object, field);
  if (value === undefined) throw new BoardError(`${where}: missing field "${field}"`);
  if (!isObject(value)) throw new BoardError(`${where}: field "${field}" must be an object, got ${quote(value)}`);
  return value;
}

const BOARD_FIELDS = ['name', 'description', 'cpu', 'clockHz', 'flash', 'ram', 'source'] as const;
const FLASH_FIELDS = ['base', 'size'] as const;
const BANK_FIELDS = ['name', 'base', 'size', 'heap', 'notes'] as const;

// The CLI looks for a board's built-in ELFs in a directory named after the board, so a board name must be
// usable as one path component (no "/", no "..").
const BOARD_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
// Bank names appear in reports and are picked by --extra-bank; printable and short keeps both one line.
const BANK_NAME = /^[\x20-\x7e]{1,64}$/;

// Unicorn maps whole 4 KiB pages: an unaligned bank could not be given its own host-backed mapping.
const PAGE = 4096;
const ADDRESS_SPACE = 0x1_0000_0000;

const hexAddress = (value: number): string => `0x${value.toString(16)}`;

/** Validates a parsed board description; every error is one line naming the origin (file) and the field or bank. */
export function validateBoard(input: unknown, origin = 'board'): BoardProfile {
  if (!isObject(input)) throw new BoardError(`${origin}: a board must be a JSON object`);
  const raw = input;
  const name = requireString(raw, 'name', origin);
  if (!BOARD_NAME.test(name)) {
    throw new BoardError(`${origin}: field "name" must be 1-64 letters, digits, ".", "_", "+" or "-" starting with a letter or digit, got ${quote(name)}`);
  }
  const where = `board "${name}" (${origin})`;
  refuseUnknownKeys(raw, BOARD_FIELDS, where);
  const description = requireString(raw, 'description', where);
  const cpuText = requireString(raw, 'cpu', where).toLowerCase();
  const cpu = CPU_NAMES.find((known) => known === cpuText);
  if (!cpu) throw new BoardError(`${where}: field "cpu" must be one of ${CPU_NAMES.join(', ')}, got ${quote(own(raw, 'cpu'))}`);
  if (own(raw, 'clockHz') === undefined) throw new BoardError(`${where}: missing field "clockHz"`);
  const clockHz = parseClock(own(raw, 'clockHz'), where);
  const flashRaw = requireObject(raw, 'flash', where);
  refuseUnknownKeys(flashRaw, FLASH_FIELDS, `${where} flash`);
  for (const key of FLASH_FIELDS) {
    if (own(flashRaw, key) === undefined) throw new BoardError(`${where}: missing field "flash.${key}"`);
  }
  const flash = { base: parseSize(own(flashRaw, 'base'), 'flash.base', where), size: parseSize(own(flashRaw, 'size'), 'flash.size', where) };
  const ramRaw = own(raw, 'ram');
  if (ramRaw === undefined) throw new BoardError(`${where}: missing field "ram"`);
  if (!Array.isArray(ramRaw) || ramRaw.length === 0) throw new BoardError(`${where}: field "ram" must be a non-empty array of banks`);
  const ram: RamBank[] = ramRaw.map((bankRaw: unknown, index: number) => {
    const field = `ram[${index}]`;
    if (!isObject(bankRaw)) throw new BoardError(`${where}: field "${field}" must be an object, got ${quote(bankRaw)}`);
    const bankName = requireString(bankRaw, 'name', `${where} ${field}`);
    if (!BANK_NAME.test(bankName)) throw new BoardError(`${where}: field "${field}.name" must be 1-64 printable ASCII characters, got ${quote(bankName)}`);
    const bankWhere = `${where} ${field} (bank ${quote(bankName)})`;
    refuseUnknownKeys(bankRaw, BANK_FIELDS, bankWhere);
    for (const key of ['base', 'size', 'heap']) {
      if (own(bankRaw, key) === undefined) throw new BoardError(`${where}: missing field "${field}.${key}" (bank ${bankName})`);
    }
    const heap = own(bankRaw, 'heap');
    if (typeof heap !== 'boolean') throw new BoardError(`${where}: field "${field}.heap" must be true or false, got ${quote(heap)}`);
    const result: RamBank = {
      name: bankName,
      base: parseSize(own(bankRaw, 'base'), `${field}.base`, where),
      size: parseSize(own(bankRaw, 'size'), `${field}.size`, where),
      heap,
    };
    const notes = own(bankRaw, 'notes');
    if (notes !== undefined && typeof notes !== 'string') throw new BoardError(`${where}: field "${field}.notes" must be a string, got ${quote(notes)}`);
    if (notes !== undefined) result.notes = notes;
    return result;
  });
  const source = requireString(raw, 'source', where);
  const seenBankNames = new Map<string, number>();
  ram.forEach((bank, index) => {
    const key = bank.name.toLowerCase();
    const first = seenBankNames.get(key);
    // Case-insensitive, as --extra-bank looks banks up.
    if (first !== undefined) throw new BoardError(`${where}: ram[${index}] and ram[${first}] are both named ${quote(bank.name)}; bank names must be unique`);
    seenBankNames.set(key, index);
  });
  const regions = [{ name: 'flash', base: flash.base, size: flash.size }, ...ram.map((bank, index) => ({ ...bank, name: `ram[${index}] (bank ${quote(bank.name)})` }))];
  for (const region of regions) {
    const span = `${hexAddress(region.base)} size ${hexAddress(region.size)}`;
    if (region.size === 0) throw new BoardError(`${where}: ${region.name} at ${hexAddress(region.base)} is empty (size 0)`);
    if (region.base % PAGE !== 0 || region.size % PAGE !== 0) {
      throw new BoardError(`${where}: ${region.name} at ${span} must be 4 KiB aligned in base and size (the emulator maps whole pages)`);
    }
    if (region.base + region.size > ADDRESS_SPACE) {
      throw new BoardError(`${where}: ${region.name} at ${span} runs past the end of the 32-bit address space (4 GiB)`);
    }
    for (const reserved of RESERVED_REGIONS) {
      if (region.base < reserved.base + reserved.size && reserved.base < region.base + region.size) {
        throw new BoardError(`${where}: ${region.name} at ${span} overlaps ${reserved.name} at ${hexAddress(reserved.base)}..${hexAddress(reserved.base + reserved.size - 1)}, which the machine maps itself`);
      }
    }
  }
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const a = regions[i]!;
      const b = regions[j]!;
      if (a.base < b.base + b.size && b.base < a.base + a.size) {
        throw new BoardError(`${where}: ${a.name} (${hexAddress(a.base)}..${hexAddress(a.base + a.size - 1)}) and ${b.name} (${hexAddress(b.base)}..${hexAddress(b.base + b.size - 1)}) overlap`);
      }
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

/** Far above any real board file (a few hundred bytes); refused before reading, so /dev/zero or a FIFO cannot hang. */
const MAX_BOARD_FILE_BYTES = 1024 * 1024;

/**
 * JSON with every object created without a prototype, so that a "__proto__" or "constructor" key is an
 * ordinary (and then unknown, hence refused) field instead of reaching Object.prototype.
 */
function parseJsonWithoutPrototypes(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown) => (isObject(value) ? Object.assign(Object.create(null) as Fields, value) : value));
}

function readBoardFile(path: string): string {
  let stats;
  try {
    stats = statSync(path);
  } catch (error) {
    throw new BoardError(`cannot read board file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!stats.isFile()) throw new BoardError(`board file ${path} is not a regular file`);
  if (stats.size > MAX_BOARD_FILE_BYTES) throw new BoardError(`board file ${path} is ${stats.size} bytes; a board file is at most ${MAX_BOARD_FILE_BYTES} bytes`);
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new BoardError(`cannot read board file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** A built-in board by name (case-insensitive), or a board JSON file by path. */
export function loadBoard(nameOrPath: string): BoardProfile {
  const wanted = nameOrPath.trim().toLowerCase();
  const builtIn = listBoards().find((board) => board.name.toLowerCase() === wanted);
  if (builtIn) return builtIn;
  if (nameOrPath.endsWith('.json') || existsSync(nameOrPath)) {
    const text = readBoardFile(nameOrPath);
    let parsed: unknown;
    try {
      parsed = parseJsonWithoutPrototypes(text);
    } catch (error) {
      throw new BoardError(`board file ${nameOrPath} is not valid JSON: ${clip((error as Error).message)}`);
    }
    return validateBoard(parsed, nameOrPath);
  }
  throw new BoardError(`unknown board ${quote(nameOrPath)}; built-in boards: ${listBoards().map((board) => board.name).join(', ')} (or give a board JSON file path)`);
}
