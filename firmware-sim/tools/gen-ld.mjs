#!/usr/bin/env node
// Writes firmware-sim/ld/<board>.ld (MEMORY + stack default, then INCLUDE common.ld) and
// firmware-sim/ld/boards.mk (board list and per-board CPU flags) from the board profiles in
// src/board/boards/*.json, so flash, RAM, stack and heap bounds come from one place.
// With --check it writes nothing and exits 1 when a committed file differs from what it would write.
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const firmwareDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const boardsDir = resolve(firmwareDir, '../src/board/boards');
const ldDir = join(firmwareDir, 'ld');

const KiB = 1024;


// Objects are compiled once per instruction-set variant and linked per board: ARMv6-M code (built for the
// Cortex-M0) runs unchanged on the M0+, and ARMv7E-M code (built for the Cortex-M4) on the M7, so the five
// built-in cores need three compilations of every source, which keeps a full rebuild (and the up-to-date
// test) short. Soft-float everywhere: no scenario uses floating point, and startup needs no FPU enable.
const cpuTarget = {
  'cortex-m0': 'cortex-m0',
  'cortex-m0+': 'cortex-m0',
  'cortex-m3': 'cortex-m3',
  'cortex-m4': 'cortex-m4',
  'cortex-m4f': 'cortex-m4',
  'cortex-m7': 'cortex-m4',
  'cortex-m33': 'cortex-m33',
};
// Also the compiler flags of `tlsf-sim build` and `tlsf-sim flags` (src/cli/build), so both agree with the Makefile.
export const cpuFlags = {
  'cortex-m0': '-mcpu=cortex-m0 -mthumb -mfloat-abi=soft',
  'cortex-m0+': '-mcpu=cortex-m0plus -mthumb -mfloat-abi=soft',
  'cortex-m3': '-mcpu=cortex-m3 -mthumb -mfloat-abi=soft',
  'cortex-m4': '-mcpu=cortex-m4 -mthumb -mfloat-abi=soft',
  'cortex-m4f': '-mcpu=cortex-m4 -mthumb -mfloat-abi=soft',
  'cortex-m7': '-mcpu=cortex-m7 -mthumb -mfloat-abi=soft',
  'cortex-m33': '-mcpu=cortex-m33 -mthumb -mfloat-abi=soft',
};

function toNumber(value, what) {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && /^(0x[0-9a-f]+|[0-9]+)$/i.test(value.trim())) return Number(value.trim());
  throw new Error(`${what}: expected a non-negative integer or hex string, got ${JSON.stringify(value)}`);
}

export function normaliseBoard(raw, source) {
  if (typeof raw?.name !== 'string' || raw.name === '') throw new Error(`${source}: field "name" is missing`);
  if (!(raw.cpu in cpuFlags)) throw new Error(`${source}: field "cpu" is ${JSON.stringify(raw.cpu)}, expected one of ${Object.keys(cpuFlags).join(', ')}`);
  if (!Array.isArray(raw.ram) || raw.ram.length === 0) throw new Error(`${source}: field "ram" must be a non-empty array`);
  return {
    name: raw.name,
    id: raw.name.toLowerCase(),
    cpu: raw.cpu,
    flash: { base: toNumber(raw.flash?.base, `${source}: flash.base`), size: toNumber(raw.flash?.size, `${source}: flash.size`) },
    ram: raw.ram.map((bank, index) => ({
      name: String(bank.name ?? `bank${index}`),
      base: toNumber(bank.base, `${source}: ram[${index}].base`),
      size: toNumber(bank.size, `${source}: ram[${index}].size`),
      heap: bank.heap !== false,
    })),
    source,
  };
}

export function loadBoards() {
  const files = existsSync(boardsDir) ? readdirSync(boardsDir).filter((f) => f.endsWith('.json')).sort() : [];
  // The board JSONs are the one source of memory maps; without them there is nothing to generate from.
  if (files.length === 0) throw new Error(`no board files (*.json) in ${boardsDir}`);
  return files.map((file) => normaliseBoard(JSON.parse(readFileSync(join(boardsDir, file), 'utf8')), `src/board/boards/${file}`));
}

// The image's RAM region: the largest run of contiguous heap-capable banks (lowest base on a tie).
// This is where .data, .bss, the default heap and the stack go; other banks can join the heap at
// run time through the board's extraBanks option.
export function imageRamRegion(board) {
  const banks = board.ram.filter((b) => b.heap).sort((a, b) => a.base - b.base);
  if (banks.length === 0) throw new Error(`${board.source}: no RAM bank has heap: true`);
  const runs = [];
  for (const bank of banks) {
    const last = runs[runs.length - 1];
    if (last && last.base + last.size === bank.base) {
      last.size += bank.size;
      last.names.push(bank.name);
    } else runs.push({ base: bank.base, size: bank.size, names: [bank.name] });
  }
  return runs.reduce((best, run) => (run.size > best.size ? run : best));
}

// Small boards get a 2 KiB stack so the default heap is not squeezed to nothing.
export function defaultStackSize(ramSize) {
  return ramSize <= 16 * KiB ? 2 * KiB : 4 * KiB;
}

const hex = (n) => `0x${n.toString(16).padStart(8, '0')}`;

// `origin` replaces the header's regeneration hint for scripts written outside ld/ (tlsf-sim build's cache).
export function linkerScript(board, origin = `${board.source}: do not edit, run \`make -C firmware-sim ld\``) {
  const ram = imageRamRegion(board);
  return `/* Generated by tools/gen-ld.mjs from ${origin}. */
/* ${board.name} (${board.cpu}): image RAM = ${ram.names.join(' + ')} */
MEMORY
{
  FLASH (rx)  : ORIGIN = ${hex(board.flash.base)}, LENGTH = ${hex(board.flash.size)}
  RAM   (rwx) : ORIGIN = ${hex(ram.base)}, LENGTH = ${hex(ram.size)}
}

__tlsf_sim_default_stack_size = ${defaultStackSize(ram.size)};

INCLUDE common.ld
`;
}

export function boardsMakefile(boards) {
  const lines = ['# Generated by tools/gen-ld.mjs: do not edit, run `make -C firmware-sim ld`.', `BOARDS := ${boards.map((b) => b.id).join(' ')}`];
  const cpus = [...new Set(boards.map((b) => cpuTarget[b.cpu]))].sort();
  lines.push(`CPUS := ${cpus.join(' ')}`);
  for (const board of boards) lines.push(`CPU_${board.id} := ${cpuTarget[board.cpu]}`);
  for (const cpu of cpus) lines.push(`CPUFLAGS_${cpu} := ${cpuFlags[cpu]}`);
  return lines.join('\n') + '\n';
}

export function expectedFiles() {
  const boards = loadBoards();
  const files = new Map();
  for (const board of boards) files.set(`${board.id}.ld`, linkerScript(board));
  files.set('boards.mk', boardsMakefile(boards));
  return files;
}

// `gen-ld.mjs --board my-board.json [--out my-board.ld]`: a linker script for a board of your own.
function customBoard(args) {
  const file = args[args.indexOf('--board') + 1];
  if (!file) throw new Error('--board needs a board JSON file');
  const board = normaliseBoard(JSON.parse(readFileSync(file, 'utf8')), file);
  const outIndex = args.indexOf('--out');
  const out = outIndex >= 0 ? args[outIndex + 1] : `${board.id}.ld`;
  writeFileSync(out, linkerScript(board));
  console.log(`wrote ${out} (link with -L ${ldDir} -T ${out}; compile with ${cpuFlags[board.cpu]})`);
}

function main() {
  if (process.argv.includes('--board')) return customBoard(process.argv);
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [name, text] of expectedFiles()) {
    const path = join(ldDir, name);
    const current = existsSync(path) ? readFileSync(path, 'utf8') : null;
    if (current === text) continue;
    if (check) {
      console.error(`ld/${name} does not match the board profiles; run: make -C firmware-sim ld`);
      stale++;
    } else {
      writeFileSync(path, text);
      console.log(`wrote ld/${name}`);
    }
  }
  process.exit(stale ? 1 : 0);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
