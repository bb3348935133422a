/**
 * The memory a pool is given: validating a region of a buffer, carving it into block areas, and the
 * pool record at its end.
 *
 * POOL RECORDS
 * The last 16 bytes of every region (pool) hold what the heap knows of it, so that rebind() can tell
 * the heap's own memory from a buffer that merely has the right size, and check() can see the end
 * of a region overwritten. They sit past the last sentinel, which leaves every block address (and
 * the control structure, laid out as a C TLSF's) as it would be without them.
 *
 *   | signature 'TLSF' | first managed address | region bytes | align | slLog2 << 8 | flCount << 16 |
 */
import { BLOCK_HEADER_SIZE, MAX_POOL_BYTES, MIN_BLOCK_SIZE } from './constants.js';
import { TlsfError, hex, quote } from './errors.js';
import type { PoolView } from './inspect.js';
import type { TlsfMemory } from './types.js';

/** 'TLSF' in memory (little-endian). */
export const POOL_SIGNATURE = 0x4653_4c54;
export const POOL_RECORD_BYTES = 16;

/** Where the record of a region ending at `end` goes: its last 16 bytes, word-aligned. */
export function poolRecordAddress(end: number): number {
  return Math.floor(end / 4) * 4 - POOL_RECORD_BYTES;
}

export function writePoolRecord(
  words: Int32Array,
  memoryBase: number,
  start: number,
  end: number,
  config: number,
): void {
  const index = (poolRecordAddress(end) - memoryBase) >> 2;
  words[index] = POOL_SIGNATURE;
  words[index + 1] = start;
  words[index + 2] = end - start;
  words[index + 3] = config;
}

/** Why `words` (the pool's buffer, or one meant to replace it) does not hold the pool's record, or undefined. */
export function poolRecordProblem(pool: PoolView, words: Int32Array, config: number): string | undefined {
  const index = (pool.record - pool.memoryBase) >> 2;
  const where = `pool ${hex(pool.start)}`;
  if (index + 4 > words.length) return `${where}: its record at ${hex(pool.record)} is past the buffer's end`;
  const found = [words[index]!, words[index + 1]!, words[index + 2]!, words[index + 3]!];
  const expected = [POOL_SIGNATURE, pool.start | 0, (pool.end - pool.start) | 0, config];
  const names = ['signature', 'first address', 'length', 'align/slLog2/flCount'];
  for (let i = 0; i < 4; i++) {
    if (found[i] !== expected[i]) {
      return `${where}: record ${names[i]} at ${hex(pool.record + 4 * i)} is ${hex(found[i]!)}, expected ${hex(expected[i]!)}`;
    }
  }
  return undefined;
}

export function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TlsfError('bad-option', `${name} must be an integer from ${min} to ${max}, got ${quote(value)}`);
  }
}

/** Buffers from another realm (a worker, a vm context) fail instanceof, hence the tag test. */
export function assertBuffer(memory: unknown): void {
  const isBuffer =
    memory instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer !== 'undefined' && memory instanceof SharedArrayBuffer) ||
    Object.prototype.toString.call(memory).endsWith('ArrayBuffer]');
  if (isBuffer) return;
  // A WebAssembly.Memory or a typed array is the usual near miss: say which, and what to pass instead.
  const tag = Object.prototype.toString.call(memory).slice(8, -1);
  const hint =
    tag === 'WebAssembly.Memory' || tag === 'Memory'
      ? ', got a WebAssembly.Memory: pass its .buffer'
      : ArrayBuffer.isView(memory)
        ? `, got a ${tag}: pass its .buffer (and its byteOffset as offset)`
        : `, got ${quote(memory)}`;
  throw new TlsfError('bad-option', `memory must be an ArrayBuffer or SharedArrayBuffer${hint}`);
}

export function resolveRegion(
  memory: TlsfMemory,
  base: number,
  offset = 0,
  length?: number,
): { base: number; offset: number; length: number } {
  assertBuffer(memory);
  if (memory.byteLength === 0) {
    throw new TlsfError(
      'bad-option',
      'memory has no bytes (a detached buffer? after WebAssembly.Memory.grow() pass the new memory.buffer)',
    );
  }
  checkInteger('base', base, 0, 0xffff_fffc);
  if (base % 4 !== 0) throw new TlsfError('bad-option', `base must be a multiple of 4, got ${hex(base)}`, base);
  checkInteger('offset', offset, 0, memory.byteLength);
  const resolvedLength = length ?? memory.byteLength - offset;
  checkInteger('length', resolvedLength, 1, Math.min(memory.byteLength - offset, MAX_POOL_BYTES));
  if (base + offset + resolvedLength > 2 ** 32) {
    throw new TlsfError(
      'bad-option',
      `region ${hex(base + offset)} + ${resolvedLength} bytes passes the 32-bit address space`,
      base,
    );
  }
  return { base, offset, length: resolvedLength };
}

/**
 * Block areas for [from, to): first header at an address = align - 4 (mod align), sentinel as high
 * as it fits. Areas larger than the largest class are cut into pieces, each with its own sentinel,
 * so that no block can ever grow past what the index can file.
 */
export function carve(
  from: number,
  to: number,
  align: number,
  maxBlockSize: number,
): { firstBlock: number; sentinel: number }[] {
  const pieces: { firstBlock: number; sentinel: number }[] = [];
  let firstBlock = Math.ceil((from + BLOCK_HEADER_SIZE) / align) * align - BLOCK_HEADER_SIZE;
  if (firstBlock === 0) firstBlock += align; // 0 means "no block" in links and heads
  const lastSentinel = Math.floor(to / align) * align - BLOCK_HEADER_SIZE;
  while (lastSentinel - firstBlock >= MIN_BLOCK_SIZE) {
    const span = Math.min(lastSentinel - firstBlock, maxBlockSize);
    const sentinel = firstBlock + span;
    pieces.push({ firstBlock, sentinel });
    firstBlock = sentinel + align;
  }
  return pieces;
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}
