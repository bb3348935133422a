import { mapRequest, tlsfGeometry } from '../allocator/index.js';
import { InputError } from './errors.js';
import type { CliIo } from './options.js';
import { REPORT_SCHEMA_VERSION } from './report.js';
import { formatBytes } from './units.js';

/** Bit positions first..last as "bits 3..31" or "bit 7", for the bitmap-scan explanation. */
function bitRange(first: number, last: number): string {
  if (first > last) return 'no bits';
  return first === last ? `bit ${first}` : `bits ${first}..${last}`;
}

/** The bitmap drawn most significant bit first: `^` for bits the search masks in, `.` for bits it masks out. */
function bitPicture(bitCount: number, firstScanned: number): string {
  let picture = '';
  for (let bit = bitCount - 1; bit >= 0; bit--) picture += bit >= firstScanned ? '^' : '.';
  return picture;
}

/**
 * Walks a learner through how TLSF files one request: the size it really needs, which size class that is,
 * why the search starts one class higher (unless the size is already a class boundary), and which bits of
 * the two bitmaps the constant-time search looks at.
 */
export function explainCommand(size: number, align: 4 | 8 | 16, slLog2: number, json: boolean, io: CliIo): number {
  let mapping: ReturnType<typeof mapRequest>;
  try {
    mapping = mapRequest(size, { align, slLog2 });
  } catch (error) {
    throw new InputError(`explain: ${(error as Error).message}`);
  }
  const slCount = 1 << slLog2;
  const slScanFirst = mapping.searchSecondLevel;
  const document = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    command: 'explain',
    align,
    slLog2,
    secondLevelClasses: slCount,
    ...mapping,
    scan: {
      secondLevelBitmap: { row: mapping.searchFirstLevel, firstBit: slScanFirst, lastBit: slCount - 1 },
      firstLevelBitmap: { firstBit: mapping.searchFirstLevel + 1 },
    },
  };
  if (json) {
    io.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
    return 0;
  }
  const out = (line = ''): void => void io.stdout.write(`${line}\n`);
  const classWidth = mapping.classMax - mapping.classMin + 1;
  out(
    `malloc(${size}) on a TLSF heap with align ${align} and ${slCount} second-level classes per power of two (--sl ${slLog2})`,
  );
  out();
  out(`1. Block size needed: ${formatBytes(mapping.adjustedSize)}`);
  out(`   The request, plus the block's size word, rounded up to the alignment and to the minimum block size.`);
  out();
  out(`2. Its size class: first level ${mapping.firstLevelIndex}, second level ${mapping.secondLevelIndex}`);
  out(
    `   Class (${mapping.firstLevelIndex}, ${mapping.secondLevelIndex}) holds free blocks of ${formatBytes(mapping.classMin)} to ${formatBytes(mapping.classMax)} (${classWidth} bytes wide).`,
  );
  const smallBlockSize = align * slCount;
  if (mapping.firstLevelIndex === 0) {
    out(
      `   Blocks below ${formatBytes(smallBlockSize)} (align × ${slCount}) all share first-level row 0, cut into ${slCount}`,
    );
    out(
      `   classes exactly ${align} bytes wide: a power-of-two row that small would have slices narrower than the alignment.`,
    );
  } else {
    const power = Math.floor(Math.log2(mapping.classMin));
    out(
      `   The first level picks the power of two the size falls in: [${2 ** power}, ${2 ** (power + 1)}) is row ${mapping.firstLevelIndex}`,
    );
    out(
      `   (row 0 holds everything below ${smallBlockSize}). The second level cuts that range into ${slCount} slices of ${classWidth} bytes.`,
    );
  }
  out(`   A freed block of exactly this size is filed in this class's free list.`);
  out();
  out(
    `3. Search size: ${formatBytes(mapping.searchSize)} -> class (${mapping.searchFirstLevel}, ${mapping.searchSecondLevel})`,
  );
  if (mapping.searchSize === mapping.adjustedSize) {
    out(`   The size already starts its class, so every block in that class is big enough: no rounding needed.`);
  } else {
    out(
      `   A block in class (${mapping.firstLevelIndex}, ${mapping.secondLevelIndex}) may be smaller than ${formatBytes(mapping.adjustedSize)}, so the search starts at`,
    );
    out(
      `   the next class, where every block is big enough. The price: a free block of ${formatBytes(mapping.adjustedSize)} to`,
    );
    out(
      `   ${formatBytes(mapping.classMax)} in class (${mapping.firstLevelIndex}, ${mapping.secondLevelIndex}) would fit but is not looked at. Not walking that list is`,
    );
    out(`   what makes malloc O(1): TLSF is a "good fit", not a best fit.`);
  }
  out();
  out(`4. Bitmap search (two bit scans, whatever the heap holds):`);
  out(
    `   a. second-level bitmap of row ${mapping.searchFirstLevel}: ${bitRange(slScanFirst, slCount - 1)} (${mapping.searchSecondLevel === slCount - 1 ? `class ${mapping.searchSecondLevel}` : `classes ${mapping.searchSecondLevel}..${slCount - 1}`});`,
  );
  out(
    `        bit ${String(slCount - 1).padStart(2)} ${bitPicture(slCount, slScanFirst)} bit 0   (^ looked at, . ignored)`,
  );
  out(`      the lowest set bit is the smallest non-empty class that fits.`);
  out(
    `   b. if none is set: first-level bitmap, bits ${mapping.searchFirstLevel + 1} and up (every larger power of two);`,
  );
  out(`      the lowest set bit names a row, and the lowest set bit of that row's second-level bitmap the class.`);
  out(`   c. if none is set there either, malloc returns NULL: no free block is large enough.`);
  const minBlockSize = tlsfGeometry({ align, slLog2 }).minBlockSize;
  out(`   The first block of the class found is taken. If it has at least ${minBlockSize} B (a minimum block) beyond`);
  out(`   ${formatBytes(mapping.adjustedSize)}, the rest is split off and filed as a free block of its own.`);
  return 0;
}
