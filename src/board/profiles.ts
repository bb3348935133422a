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

export type CpuName =
  | 'cortex-m0'
  | 'cortex-m0+'
  | 'cortex-m3'
  | 'cortex-m4'
  | 'cortex-m4f'
  | 'cortex-m7'
  | 'cortex-m33';

export interface RamBank {
  name: string;
  base: number;
  size: number;
  heap: boolean;
  notes?: string;
}

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

export const CPU_NAMES: readonly CpuName[] = [
  'cortex-m0',
  'cortex-m0+',
  'cortex-m3',
  'cortex-m4',
  'cortex-m4f',
  'cortex-m7',
  'cortex-m33',
];

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

/** A board field holding a byte count or an address: an integer, or a size string ("0x20000000", "20K"). */
export function parseSize(value: unknown, field: string, where: string): number {
  const parsed =
    typeof value === 'number' ? { bytes: value } : typeof value === 'string' ? parseByteCount(value) : { problem: '' };
  if ('problem' in parsed || !Number.isInteger(parsed.bytes) || parsed.bytes < 0 || parsed.bytes > 0xffffffff) {
    throw new BoardError(
      `${where}: field "${field}" must be a non-negative 32-bit number (e.g. 0x20000000 or "20K"), got ${quote(value)}`,
    );
  }
  return parsed.bytes;
}

/** Throws the BoardError for one problem of one board; the board and its file are already in the message. */
type Refuse = (problem: string) => never;

/** The clock: an integer number of Hz, or a string with a decimal prefix ("48M", "48MHz", "32.768k"). */
function parseClock(value: unknown, refuse: Refuse): number {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value > 0 && value <= MAX_CLOCK_HZ) return value;
    refuse(
      `field "clockHz" must be a positive whole number of Hz up to ${MAX_CLOCK_HZ / 1e9} GHz, got ${quote(value)}`,
    );
  }
  if (typeof value !== 'string') {
    refuse(`field "clockHz" must be a number of Hz or a string such as "48MHz", got ${quote(value)}`);
  }
  const parsed = parseFrequency(value);
  if ('problem' in parsed) refuse(`field "clockHz" ${quote(value)} ${parsed.problem}`);
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
function refuseUnknownKeys(object: Fields, known: readonly string[], context: string, refuse: Refuse): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) refuse(`${context}unknown field ${quote(key)} (known fields: ${known.join(', ')})`);
  }
}

function requireField(object: Fields, field: string, label: string, refuse: Refuse): unknown {
  const value = own(object, field);
  if (value === undefined) refuse(`missing field "${label}"`);
  return value;
}

function requireString(object: Fields, field: string, label: string, refuse: Refuse): string {
  const value = requireField(object, field, label, refuse);
  if (typeof value !== 'string' || value.trim() === '') {
    refuse(`field "${label}" must be a non-empty string, got ${quote(value)}`);
  }
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
const range = (base: number, size: number): string => `${hexAddress(base)}..${hexAddress(base + size - 1)}`;

function parseFlash(raw: Fields, refuse: Refuse, where: string): BoardProfile['flash'] {
  const flash = requireField(raw, 'flash', 'flash', refuse);
  if (!isObject(flash)) refuse(`field "flash" must be an object, got ${quote(flash)}`);
  refuseUnknownKeys(flash, FLASH_FIELDS, 'flash: ', refuse);
  const base = requireField(flash, 'base', 'flash.base', refuse);
  const size = requireField(flash, 'size', 'flash.size', refuse);
  return { base: parseSize(base, 'flash.base', where), size: parseSize(size, 'flash.size', where) };
}

function parseBank(bankRaw: unknown, index: number, refuse: Refuse, where: string): RamBank {
  const field = `ram[${index}]`;
  if (!isObject(bankRaw)) refuse(`field "${field}" must be an object, got ${quote(bankRaw)}`);
  const name = requireString(bankRaw, 'name', `${field}.name`, refuse);
  if (!BANK_NAME.test(name))
    refuse(`field "${field}.name" must be 1-64 printable ASCII characters, got ${quote(name)}`);
  refuseUnknownKeys(bankRaw, BANK_FIELDS, `${field} (bank ${quote(name)}): `, refuse);
  for (const key of ['base', 'size', 'heap']) {
    if (own(bankRaw, key) === undefined) refuse(`missing field "${field}.${key}" (bank ${name})`);
  }
  const heap = own(bankRaw, 'heap');
  if (typeof heap !== 'boolean') refuse(`field "${field}.heap" must be true or false, got ${quote(heap)}`);
  const bank: RamBank = {
    name,
    base: parseSize(own(bankRaw, 'base'), `${field}.base`, where),
    size: parseSize(own(bankRaw, 'size'), `${field}.size`, where),
    heap,
  };
  const notes = own(bankRaw, 'notes');
  if (notes !== undefined && typeof notes !== 'string') {
    refuse(`field "${field}.notes" must be a string, got ${quote(notes)}`);
  }
  if (notes !== undefined) bank.notes = notes;
  return bank;
}

/**
 * The memory map must be one the machine can map: unique bank names, and regions that are whole pages inside
 * 4 GiB, clear of each other and of what the machine maps itself (reserved-regions.ts).
 */
function checkMemoryMap(flash: BoardProfile['flash'], ram: RamBank[], refuse: Refuse): void {
  const firstWithName = new Map<string, number>();
  ram.forEach((bank, index) => {
    // Case-insensitive, as --extra-bank looks banks up.
    const key = bank.name.toLowerCase();
    const first = firstWithName.get(key);
    if (first !== undefined) {
      refuse(`ram[${index}] and ram[${first}] are both named ${quote(bank.name)}; bank names must be unique`);
    }
    firstWithName.set(key, index);
  });
  const regions = [
    { label: 'flash', base: flash.base, size: flash.size },
    ...ram.map((bank, index) => ({
      label: `ram[${index}] (bank ${quote(bank.name)})`,
      base: bank.base,
      size: bank.size,
    })),
  ];
  for (const { label, base, size } of regions) {
    const at = `${label} at ${hexAddress(base)} size ${hexAddress(size)}`;
    if (size === 0) refuse(`${label} at ${hexAddress(base)} is empty (size 0)`);
    if (base % PAGE !== 0 || size % PAGE !== 0) {
      refuse(`${at} must be 4 KiB aligned in base and size (the emulator maps whole pages)`);
    }
    if (base + size > ADDRESS_SPACE) refuse(`${at} runs past the end of the 32-bit address space (4 GiB)`);
    for (const reserved of RESERVED_REGIONS) {
      if (base < reserved.base + reserved.size && reserved.base < base + size) {
        refuse(
          `${at} overlaps ${reserved.name} at ${range(reserved.base, reserved.size)}, which the machine maps itself`,
        );
      }
    }
  }
  regions.forEach((a, i) => {
    for (const b of regions.slice(i + 1)) {
      if (a.base < b.base + b.size && b.base < a.base + a.size) {
        refuse(`${a.label} (${range(a.base, a.size)}) and ${b.label} (${range(b.base, b.size)}) overlap`);
      }
    }
  });
}

/** Validates a parsed board description; every error is one line naming the origin (file) and the field or bank. */
export function validateBoard(input: unknown, origin = 'board'): BoardProfile {
  const refuseUnnamed: Refuse = (problem) => {
    throw new BoardError(`${origin}: ${problem}`);
  };
  if (!isObject(input)) refuseUnnamed('a board must be a JSON object');
  const raw = input;
  const name = requireString(raw, 'name', 'name', refuseUnnamed);
  if (!BOARD_NAME.test(name)) {
    refuseUnnamed(
      'field "name" must be 1-64 letters, digits, ".", "_", "+" or "-" starting with a letter or digit, ' +
        `got ${quote(name)}`,
    );
  }
  const where = `board "${name}" (${origin})`;
  const refuse: Refuse = (problem) => {
    throw new BoardError(`${where}: ${problem}`);
  };
  refuseUnknownKeys(raw, BOARD_FIELDS, '', refuse);
  const description = requireString(raw, 'description', 'description', refuse);
  const cpuText = requireString(raw, 'cpu', 'cpu', refuse).toLowerCase();
  const cpu = CPU_NAMES.find((known) => known === cpuText);
  if (!cpu) refuse(`field "cpu" must be one of ${CPU_NAMES.join(', ')}, got ${quote(own(raw, 'cpu'))}`);
  const clockHz = parseClock(requireField(raw, 'clockHz', 'clockHz', refuse), refuse);
  const flash = parseFlash(raw, refuse, where);
  const ramRaw = requireField(raw, 'ram', 'ram', refuse);
  if (!Array.isArray(ramRaw) || ramRaw.length === 0) refuse('field "ram" must be a non-empty array of banks');
  const ram = ramRaw.map((bank, index) => parseBank(bank, index, refuse, where));
  const source = requireString(raw, 'source', 'source', refuse);
  checkMemoryMap(flash, ram, refuse);
  if (!ram.some((bank) => bank.heap)) refuse('no RAM bank has "heap": true');
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
  // A byte order mark, as Windows editors save UTF-8, is no JSON token: RFC 8259 lets a reader ignore it.
  return JSON.parse(text.replace(/^\uFEFF/, ''), (_key, value: unknown) =>
    isObject(value) ? Object.assign(Object.create(null) as Fields, value) : value,
  );
}

function readBoardFile(path: string): string {
  // The system's message repeats the path; its code says what went wrong in a word.
  const reason = (error: unknown): string => {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? 'no such file'
      : code === 'EACCES'
        ? 'permission denied'
        : (code ?? (error as Error).message);
  };
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(path);
  } catch (error) {
    throw new BoardError(`cannot read board file ${path}: ${reason(error)}`);
  }
  if (!stats.isFile()) throw new BoardError(`board file ${path} is not a regular file`);
  if (stats.size > MAX_BOARD_FILE_BYTES) {
    throw new BoardError(
      `board file ${path} is ${stats.size} bytes; a board file is at most ${MAX_BOARD_FILE_BYTES} bytes`,
    );
  }
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new BoardError(`cannot read board file ${path}: ${reason(error)}`);
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
  const builtInNames = listBoards()
    .map((board) => board.name)
    .join(', ');
  throw new BoardError(
    `unknown board ${quote(nameOrPath)}; built-in boards: ${builtInNames} (or give a board JSON file path)`,
  );
}
