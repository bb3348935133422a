// Views into Unicorn's internal state that its C API does not offer: the instruction counter of
// uc_emu_start and the guest register file. Both are found by experiment on a live engine and verified;
// callers fall back to the public API when a probe returns null (see docs/board.md, Counting instructions).
import koffi from 'koffi';
import { readFileSync } from 'node:fs';
import type { Engine } from './engine.js';
import { REG_R0, UC_PROT_EXEC, UC_PROT_READ } from './unicorn.js';

// Unicorn keeps uc_emu_start's instruction counter (uc->emu_counter) in its engine struct and has no API to
// read it (upstream declined one). Its offset is found once per process by running a known count twice and
// looking for the (counter, limit) pair; a view over that word then gives the exact count inside any hook
// for the price of a typed-array read. If the pair is not found the board falls back to chunked counting.
let counterOffsetProbe: number | null | undefined;

// The engine struct is only read this far: in Unicorn 2.0.1 the counter is at byte 1272 and the CPU pointer
// at byte 384, and the struct is about 14 KiB (malloc_usable_size of the handle), so the read stays inside it.
const PROBE_SCAN_BYTES = 2048;

/**
 * The byte offset of the instruction counter in the engine struct, found once per process on an engine from
 * `openEngine` (closed afterwards); null when the probe does not find exactly one candidate.
 */
export function locateCounterOffset(openEngine: () => Engine): number | null {
  if (counterOffsetProbe !== undefined) return counterOffsetProbe;
  counterOffsetProbe = null;
  const engine = openEngine();
  try {
    engine.map('probe code', 0x08000000, 0x1000, UC_PROT_READ | UC_PROT_EXEC);
    // movs r0, #0; loop: adds r0, #1; b loop
    engine.write(0x08000000, new Uint8Array([0x00, 0x20, 0x01, 0x30, 0xfd, 0xe7]));
    const candidates = (count: number): Set<number> => {
      engine.start(0x08000000, 0xffffffff, count);
      const words = new BigUint64Array(koffi.view(engine.handle, PROBE_SCAN_BYTES));
      const found = new Set<number>();
      for (let i = 0; i + 1 < words.length; i++) {
        if (words[i + 1] === BigInt(count) && words[i] === BigInt(count + 1)) found.add(i * 8);
      }
      return found;
    };
    const first = candidates(1000);
    const second = candidates(77_777);
    const both = [...first].filter((offset) => second.has(offset));
    if (both.length === 1) counterOffsetProbe = both[0]!;
  } finally {
    engine.close();
  }
  return counterOffsetProbe;
}

// ---- register file location (see Engine.registerFile) ---------------------------------------------

interface Mapping {
  start: bigint;
  end: bigint;
}

function readableAnonymousMappings(): Mapping[] {
  const text = readFileSync('/proc/self/maps', 'utf8');
  const mappings: Mapping[] = [];
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]+)-([0-9a-f]+) (r)[-w][-x][ps] [0-9a-f]+ [0-9a-f:]+ (\d+)\s*(.*)$/.exec(line);
    if (!match) continue;
    const inode = match[4];
    const name = match[5] ?? '';
    if (inode !== '0' || (name !== '' && name !== '[heap]')) continue;
    mappings.push({ start: BigInt(`0x${match[1]}`), end: BigInt(`0x${match[2]}`) });
  }
  return mappings;
}

/** Where, relative to a pointer stored in the engine struct, the register file was found last time. */
let registerFileHint: { pointerOffset: number; registerOffset: number } | null = null;

const REGISTER_WINDOW = 512 * 1024;

function verifyRegisterFile(engine: Engine, registers: Uint32Array): boolean {
  const saved = [engine.readReg(REG_R0), engine.readReg(REG_R0 + 1)];
  engine.writeReg(REG_R0, 0x13579bdf);
  if (registers[0] !== 0x13579bdf) return false;
  registers[1] = 0x2468ace0;
  if (engine.readReg(REG_R0 + 1) !== 0x2468ace0) return false;
  engine.writeReg(REG_R0, saved[0]!);
  engine.writeReg(REG_R0 + 1, saved[1]!);
  return true;
}

function findRegisterFile(engine: Engine): Uint32Array | null {
  const pattern: number[] = [];
  for (let i = 0; i < 13; i++) pattern.push((0x5a000000 | (i << 16) | ((Math.random() * 0xffff) & 0xffff)) >>> 0);
  const saved = pattern.map((_, i) => engine.readReg(REG_R0 + i));
  for (const [i, value] of pattern.entries()) engine.writeReg(REG_R0 + i, value);
  try {
    const mappings = readableAnonymousMappings();
    const mappingOf = (address: bigint) =>
      mappings.find((mapping) => address >= mapping.start && address < mapping.end);
    const structWords = new BigUint64Array(koffi.view(engine.handle, PROBE_SCAN_BYTES));
    const viewAt = (pointerOffset: number, registerOffset: number): Uint32Array | null => {
      const pointer = structWords[pointerOffset / 8]!;
      const mapping = mappingOf(pointer);
      if (!mapping || pointer + BigInt(registerOffset + 64) > mapping.end) return null;
      const base = koffi.decode(engine.handle, pointerOffset, 'void *');
      return new Uint32Array(koffi.view(base, registerOffset + 64), registerOffset, 16);
    };
    if (registerFileHint) {
      const view = viewAt(registerFileHint.pointerOffset, registerFileHint.registerOffset);
      if (view && pattern.every((value, i) => view[i] === value)) return view;
    }
    // The pointer nearest below the registers is the CPU object itself, whose layout is fixed; others
    // (neighbouring allocations) would not keep the same distance in the next engine.
    const seen = new Set<bigint>();
    let best: { pointerOffset: number; registerOffset: number; words: Uint32Array } | null = null;
    for (let index = 0; index < structWords.length; index++) {
      const pointer = structWords[index]!;
      if ((pointer & 7n) !== 0n || seen.has(pointer)) continue;
      seen.add(pointer);
      const mapping = mappingOf(pointer);
      if (!mapping) continue;
      const available = Number(mapping.end - pointer);
      const windowBytes: number =
        Math.min(REGISTER_WINDOW, best ? best.registerOffset : REGISTER_WINDOW, available) & ~3;
      if (windowBytes < 64) continue;
      const base = koffi.decode(engine.handle, index * 8, 'void *');
      const words: Uint32Array = new Uint32Array(koffi.view(base, windowBytes));
      for (let at = 0; at + 13 <= words.length; at++) {
        if (words[at] !== pattern[0]) continue;
        let match = true;
        for (let i = 1; i < 13 && match; i++) match = words[at + i] === pattern[i];
        if (!match) continue;
        if (!best || at * 4 < best.registerOffset) best = { pointerOffset: index * 8, registerOffset: at * 4, words };
        break;
      }
    }
    if (best) {
      registerFileHint = { pointerOffset: best.pointerOffset, registerOffset: best.registerOffset };
      return new Uint32Array(best.words.buffer, best.registerOffset, 16);
    }
    return null;
  } finally {
    for (const [i, value] of saved.entries()) engine.writeReg(REG_R0 + i, value);
  }
}

/** A verified view of the guest's r0..r15 for Engine.registerFile, or null. */
export function locateRegisterFile(engine: Engine): Uint32Array | null {
  const view = findRegisterFile(engine);
  return view && verifyRegisterFile(engine, view) ? view : null;
}
