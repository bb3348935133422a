import type { HeapBlock, HeapReplay } from './replay.js';

// The ASCII heap map of `map` and `step`: each character a cell of `scale` bytes, drawn by what the cell holds.

const KIND_TAIL = 0;
const KIND_CONTROL = 1;
const KIND_USED_HEADER = 2;
const KIND_USED = 3;
const KIND_FREE_HEADER = 4;
const KIND_FREE = 5;
const KIND_HIGHLIGHT = 6;

export const MAP_LEGEND =
  'C control structure and padding  # used  . free  : used and free in one cell  h block header  | end sentinel';

export interface Region {
  start: number;
  end: number;
}

/** Byte-exact kinds for one pool region, then cells of `scale` bytes each drawn by what they hold. */
export function drawRegion(
  region: Region,
  blocks: HeapBlock[],
  scale: number,
  highlight: { header: number; blockSize: number } | null,
): string {
  const length = region.end - region.start;
  const kinds = new Uint8Array(length).fill(KIND_TAIL);
  const inRegion = blocks.filter((block) => block.header >= region.start && block.header < region.end);
  const firstHeader = inRegion.length > 0 ? inRegion[0]!.header : region.end;
  kinds.fill(KIND_CONTROL, 0, firstHeader - region.start);
  for (const block of inRegion) {
    const from = block.header - region.start;
    const to = Math.min(from + block.blockSize, length);
    kinds.fill(block.used ? KIND_USED : KIND_FREE, from, to);
    kinds.fill(
      block.used ? KIND_USED_HEADER : KIND_FREE_HEADER,
      from,
      Math.min(from + (block.address - block.header), to),
    );
  }
  if (highlight && highlight.header >= region.start && highlight.header < region.end) {
    const from = highlight.header - region.start;
    kinds.fill(KIND_HIGHLIGHT, from, Math.min(from + highlight.blockSize, length));
  }
  let text = '';
  const counts = new Uint32Array(7);
  for (let cell = 0; cell < length; cell += scale) {
    counts.fill(0);
    const end = Math.min(cell + scale, length);
    for (let at = cell; at < end; at++) counts[kinds[at]!]!++;
    const used = counts[KIND_USED]! + counts[KIND_USED_HEADER]!;
    const free = counts[KIND_FREE]! + counts[KIND_FREE_HEADER]!;
    const headers = counts[KIND_USED_HEADER]! + counts[KIND_FREE_HEADER]!;
    if (counts[KIND_HIGHLIGHT]! > 0) text += '@';
    else if (used > 0 && free > 0) text += ':';
    else if (headers === end - cell) text += 'h';
    else {
      const candidates: [number, string][] = [
        [used, '#'],
        [free, '.'],
        [counts[KIND_CONTROL]!, 'C'],
        [counts[KIND_TAIL]!, '|'],
      ];
      let best = candidates[0]!;
      for (const candidate of candidates) if (candidate[0] > best[0]) best = candidate;
      text += best[1];
    }
  }
  return text;
}

/** Pool regions: the main heap first, then extra banks (pieces of one region share its start). */
export function regionsOf(replay: HeapReplay): Region[] {
  const regions: Region[] = [];
  for (const pool of replay.heap.poolList()) {
    if (!regions.some((region) => region.start === pool.start)) regions.push({ start: pool.start, end: pool.end });
  }
  return regions;
}

/** The smallest power-of-two multiple of the alignment per cell that fits `length` bytes in `rows` lines of `width`. */
export function defaultScale(length: number, width: number, rows: number, align: number): number {
  let scale = align;
  while (Math.ceil(length / scale) > width * rows) scale *= 2;
  return scale;
}
