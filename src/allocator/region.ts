/**
 * The memory a pool is given: validating a region of a buffer, carving it into block areas, and the
 * pool record at its end (see POOL RECORDS in tlsf.ts).
 */
import { BLOCK_HEADER_SIZE, MAX_POOL_BYTES, MIN_BLOCK_SIZE } from './constants.js';
import { TlsfError, hex } from './errors.js';
import type { TlsfMemory } from './types.js';

/** 'TLSF' in memory (little-endian). */
export const POOL_SIGNATURE = 0x4653_4c54;
export const POOL_RECORD_BYTES = 16;

/** Where the record of a region ending at `end` goes: its last 16 bytes, word-aligned. */
export function poolRecordAddress(end: number): number {
  return Math.floor(end / 4) * 4 - POOL_RECORD_BYTES;
}

export function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TlsfError('bad-option', `${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
}

/** Buffers from another realm (a worker, a vm context) fail instanceof, hence the tag test. */
export function assertBuffer(memory: unknown): void {
  const isBuffer = memory instanceof ArrayBuffer
    || (typeof SharedArrayBuffer !== 'undefined' && memory instanceof SharedArrayBuffer)
    || Object.prototype.toString.call(memory).endsWith('ArrayBuffer]');
  if (!isBuffer) throw new TlsfError('bad-option', 'memory must be an ArrayBuffer or SharedArrayBuffer');
}

export function resolveRegion(memory: TlsfMemory, base: number, offset = 0, length?: number): { base: number; offset: number; length: number } {
  assertBuffer(memory);
  checkInteger('base', base, 0, 0xffff_fffc);
  if (base % 4 !== 0) throw new TlsfError('bad-option', `base must be a multiple of 4, got ${hex(base)}`, base);
  checkInteger('offset', offset, 0, memory.byteLength);
  const resolvedLength = length ?? memory.byteLength - offset;
  checkInteger('length', resolvedLength, 1, Math.min(memory.byteLength - offset, MAX_POOL_BYTES));
  if (base + offset + resolvedLength > 2 ** 32) {
    throw new TlsfError('bad-option', `region ${hex(base + offset)} + ${resolvedLength} bytes passes the 32-bit address space`, base);
  }
  return { base, offset, length: resolvedLength };
}

/**
 * Block areas for [from, to): first header at an address = align - 4 (mod align), sentinel as high
 * as it fits. Areas larger than the largest class are cut into pieces, each with its own sentinel,
 * so that no block can ever grow past what the index can file.
 */
export function carve(from: number, to: number, align: number, maxBlockSize: number): { firstBlock: number; sentinel: number }[] {
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
