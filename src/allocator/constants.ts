/**
 * Every number the allocator depends on, derived from three parameters:
 *
 *   align   the payload alignment (4, 8 or 16 bytes)
 *   slLog2  log2 of the number of second-level classes per power of two (1..5)
 *   the size of the largest pool, which fixes how many first-level classes exist
 *
 * The two-level index (sizes are whole block sizes, header word included):
 *
 *   first level  = which power of two the size lies in, [2^r, 2^(r+1))
 *   second level = which of the 2^slLog2 equal slices of that power of two
 *
 *   slLog2 = 2, align = 8:
 *
 *   size  0 ....... 31 | 32 .. 39 | 40 .. 47 | 48 .. 55 | 56 .. 63 | 64 .. 79 | 80 .. 95 | ...
 *   fl    0 (linear)   | 1        | 1        | 1        | 1        | 2        | 2        | ...
 *   sl    size / 8     | 0        | 1        | 2        | 3        | 0        | 1        | ...
 *
 *   Below `smallBlockSize` = 2^(slLog2 + alignLog2) the slices would be narrower than the
 *   alignment, so that range is one linear first-level row of `align`-wide classes instead.
 *   The first power-of-two row then starts with classes exactly `align` wide, so every class
 *   in the table is at least `align` wide and rounding a request up to its class boundary
 *   never needs more than one class step.
 *
 * Bitmaps: one word `flBitmap` (bit fl set when any list in row fl is non-empty) and one
 * word per row `slBitmap[fl]` (bit sl set when list (fl, sl) is non-empty). Finding the
 * smallest non-empty list at or above (fl, sl) is then two masks and two bit scans.
 */
import { quote } from './errors.js';

/** Bytes of the size word in front of every block's payload. */
export const BLOCK_HEADER_SIZE = 4;
/**
 * A free block must hold its size word, the next- and previous-free links, and the
 * trailing word that tells the next physical block where this one starts: 4 words.
 */
export const MIN_BLOCK_SIZE = 16;
/** Size word flag: this block is free. */
export const FREE_BIT = 1;
/** Size word flag: the physically previous block is free (its start is in the word before this header). */
export const PREV_FREE_BIT = 2;
export const FLAG_BITS = 3;
/** A pool (and so a block) must stay below 2^31 bytes so sizes stay small integers in JavaScript. */
export const MAX_POOL_BYTES = 0x7fff_fff0;

/** The defaults, stated here only: align 8 (AAPCS), 2^5 second-level classes. Import them; don't restate them. */
export const TLSF_DEFAULTS = Object.freeze({
  base: 0,
  offset: 0,
  align: 8 as 4 | 8 | 16,
  slLog2: 5,
  strict: false,
});

export interface TlsfGeometry {
  align: number;
  alignLog2: number;
  slLog2: number;
  /** Second-level classes per first-level row. */
  slCount: number;
  /** log2 of the first size handled by the power-of-two rows. */
  flIndexShift: number;
  /** Sizes below this share first-level row 0, in `align`-wide classes. */
  smallBlockSize: number;
  blockHeaderSize: number;
  minBlockSize: number;
}

export interface TlsfLayout extends TlsfGeometry {
  /** First-level rows, enough for a block as large as the largest pool. */
  flCount: number;
  /** Bytes of the control structure: flBitmap, slBitmap[flCount], heads[flCount][slCount]. */
  controlBytes: number;
  /** Every block size below this has a class; larger pools are cut into pieces below it. */
  maxBlockSize: number;
}

export function isPowerOfTwo(value: number): boolean {
  return Number.isInteger(value) && value > 0 && value <= 0x8000_0000 && (value & (value - 1)) === 0;
}

export function log2Floor(value: number): number {
  return 31 - Math.clz32(value);
}

/** What is wrong with an `align` / `slLog2` pair, or undefined: the one statement of their ranges. */
export function configProblem(align: unknown, slLog2: unknown): string | undefined {
  if (align !== 4 && align !== 8 && align !== 16) return `align must be 4, 8 or 16, got ${quote(align)}`;
  if (!Number.isInteger(slLog2) || (slLog2 as number) < 1 || (slLog2 as number) > 5) {
    return `slLog2 must be an integer from 1 to 5, got ${quote(slLog2)}`;
  }
  return undefined;
}

/** Validates `align` and `slLog2` and derives the size-independent constants. */
export function tlsfGeometry(options: { align?: number; slLog2?: number } = {}): TlsfGeometry {
  const align = options.align ?? TLSF_DEFAULTS.align;
  const slLog2 = options.slLog2 ?? TLSF_DEFAULTS.slLog2;
  const problem = configProblem(align, slLog2);
  if (problem !== undefined) throw new RangeError(`TLSF ${problem}`);
  const alignLog2 = log2Floor(align);
  const slCount = 1 << slLog2;
  const flIndexShift = slLog2 + alignLog2;
  const smallBlockSize = 1 << flIndexShift;
  const geometry: TlsfGeometry = {
    align,
    alignLog2,
    slLog2,
    slCount,
    flIndexShift,
    smallBlockSize,
    blockHeaderSize: BLOCK_HEADER_SIZE,
    minBlockSize: MIN_BLOCK_SIZE,
  };
  // The constants only work together if these hold; a wrong edit above fails here, not in a heap.
  agree(smallBlockSize / slCount === align, 'linear classes below smallBlockSize must be exactly align wide');
  agree(MIN_BLOCK_SIZE % align === 0, 'the minimum block size must be a multiple of the alignment');
  agree(MIN_BLOCK_SIZE >= 4 * BLOCK_HEADER_SIZE, 'a free block must hold size, two links and the trailing back link');
  agree(align >= BLOCK_HEADER_SIZE && FLAG_BITS < align, 'flag bits must fit below the alignment in the size word');
  agree(slCount <= 32, 'a second-level bitmap is one 32-bit word');
  return geometry;
}

/** Adds the pool-size-dependent constants (first-level row count, control structure size). */
export function tlsfLayout(options: { align?: number; slLog2?: number }, largestPoolBytes: number): TlsfLayout {
  const geometry = tlsfGeometry(options);
  if (!Number.isInteger(largestPoolBytes) || largestPoolBytes <= 0 || largestPoolBytes > MAX_POOL_BYTES) {
    throw new RangeError(
      `TLSF pool size must be an integer from 1 to ${MAX_POOL_BYTES}, got ${quote(largestPoolBytes)}`,
    );
  }
  // A block can be at most as large as the pool, so the highest row needed holds that size.
  const topPower = log2Floor(Math.max(largestPoolBytes, geometry.smallBlockSize));
  const flCount = topPower - geometry.flIndexShift + 2;
  const controlBytes = 4 * (1 + flCount + flCount * geometry.slCount);
  const maxBlockSize = topPower >= 30 ? MAX_POOL_BYTES : 2 ** (topPower + 1) - geometry.align;
  agree(flCount >= 1 && flCount <= 31, 'a first-level bitmap is one 32-bit word (and fl + 1 must be a valid shift)');
  agree(
    mapBlockSize(geometry, maxBlockSize - (maxBlockSize % geometry.align)).firstLevelIndex < flCount,
    'the largest block must have a class',
  );
  return { ...geometry, flCount, controlBytes, maxBlockSize };
}

function agree(condition: boolean, what: string): void {
  if (!condition) throw new Error(`TLSF constants disagree: ${what}`);
}

/** Block size (header included, rounded to the alignment, at least the minimum) for a request. */
export function blockSizeFor(geometry: TlsfGeometry, requestBytes: number): number {
  const mask = geometry.align - 1;
  const size = (requestBytes + BLOCK_HEADER_SIZE + mask) & ~mask;
  return size < MIN_BLOCK_SIZE ? MIN_BLOCK_SIZE : size;
}

/** The class (list) a block of exactly `blockSize` bytes is filed under. */
export function mapBlockSize(
  geometry: TlsfGeometry,
  blockSize: number,
): { firstLevelIndex: number; secondLevelIndex: number } {
  if (blockSize < geometry.smallBlockSize) {
    return { firstLevelIndex: 0, secondLevelIndex: blockSize >>> geometry.alignLog2 };
  }
  const power = log2Floor(blockSize);
  return {
    firstLevelIndex: power - geometry.flIndexShift + 1,
    secondLevelIndex: (blockSize >>> (power - geometry.slLog2)) ^ geometry.slCount,
  };
}

/** Smallest and largest block size filed under class (fl, sl). */
export function classRange(
  geometry: TlsfGeometry,
  firstLevelIndex: number,
  secondLevelIndex: number,
): { classMin: number; classMax: number } {
  if (firstLevelIndex === 0) {
    const classMin = secondLevelIndex * geometry.align;
    return { classMin, classMax: classMin + geometry.align - 1 };
  }
  const power = firstLevelIndex + geometry.flIndexShift - 1;
  const width = 2 ** (power - geometry.slLog2);
  const classMin = 2 ** power + secondLevelIndex * width;
  return { classMin, classMax: classMin + width - 1 };
}

/**
 * The size the search starts from: the request rounded up to the first size of the next class,
 * so that every block in the class the search lands on is large enough (the "good fit" rule).
 */
export function searchSizeFor(geometry: TlsfGeometry, blockSize: number): number {
  if (blockSize < geometry.smallBlockSize) return blockSize;
  const width = 2 ** (log2Floor(blockSize) - geometry.slLog2);
  return Math.floor((blockSize + width - 1) / width) * width;
}

export interface RequestMapping {
  request: number;
  /** Block size taken from the heap: request + header word, rounded to `align`, at least 16. */
  adjustedSize: number;
  firstLevelIndex: number;
  secondLevelIndex: number;
  classMin: number;
  classMax: number;
  /** Where the search starts: adjustedSize rounded up to a class boundary. */
  searchSize: number;
  searchFirstLevel: number;
  searchSecondLevel: number;
}

/** How a request of `size` bytes is classified and searched (for `explain` and for learners). */
export function mapRequest(size: number, options: { align?: number; slLog2?: number } = {}): RequestMapping {
  const geometry = tlsfGeometry(options);
  if (!Number.isInteger(size) || size < 0 || size > MAX_POOL_BYTES) {
    throw new RangeError(`request size must be an integer from 0 to ${MAX_POOL_BYTES}, got ${quote(size)}`);
  }
  const adjustedSize = blockSizeFor(geometry, size);
  const own = mapBlockSize(geometry, adjustedSize);
  const range = classRange(geometry, own.firstLevelIndex, own.secondLevelIndex);
  const searchSize = searchSizeFor(geometry, adjustedSize);
  const search = mapBlockSize(geometry, searchSize);
  return {
    request: size,
    adjustedSize,
    firstLevelIndex: own.firstLevelIndex,
    secondLevelIndex: own.secondLevelIndex,
    classMin: range.classMin,
    classMax: range.classMax,
    searchSize,
    searchFirstLevel: search.firstLevelIndex,
    searchSecondLevel: search.secondLevelIndex,
  };
}
