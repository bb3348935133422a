import { hex } from '../../allocator/index.js';
import type { Region } from '../heap-map.js';
import type { HeapBlock } from '../replay.js';
import { formatBytes } from '../units.js';

// The heap map as SVG, for `map --svg` and the report page: each pool to scale as rows of equal byte spans,
// every block a group of rectangles (one per row it crosses) carrying its facts as data attributes and a
// <title> (the hover text in a browser or an SVG viewer). Built as text so the CLI and the page share it.

export interface HeapMapSvgInput {
  regions: Region[];
  blocks: HeapBlock[];
  /** The pool's control structure (main region only): drawn apart from padding. */
  controlAddress: number;
  controlBytes: number;
  /** The block the selected call returned or released: outlined. */
  highlight?: { header: number; blockSize: number } | null;
  /** Fill of a used block (e.g. by call site); default one colour for all. */
  usedColour?: (block: HeapBlock) => string;
  /** More hover text for a block, e.g. the call that allocated it. */
  describe?: (block: HeapBlock) => string;
  /** Drawing width in pixels. */
  width?: number;
}

/** Colours of call sites (colour-blind-safe first), shared by the page's charts and map and by `map --svg`. */
export const SITE_COLOURS = ['#4477aa', '#ee6677', '#228833', '#ccbb44', '#66ccee', '#aa3377', '#8c564b', '#e377c2'];

const ROW_HEIGHT = 18;
const ROW_GAP = 4;
const LABEL_HEIGHT = 16;
const MAX_ROWS = 16;
const USED_COLOUR = '#4477aa';
const CONTROL_COLOUR = '#c9a227';
const SENTINEL_COLOUR = '#222222';

/** Free blocks: lighter for small classes, darker for large, so fragmentation shows as pale specks. */
export function freeColour(firstLevelIndex: number): string {
  const lightness = Math.max(45, 88 - firstLevelIndex * 3);
  return `hsl(140, 35%, ${lightness}%)`;
}

/** formatBytes through a cache: a map repeats few sizes, and number formatting with locale is slow in browsers. */
function cachedBytes(): (bytes: number) => string {
  const cache = new Map<number, string>();
  return (bytes) => {
    let text = cache.get(bytes);
    if (text === undefined) {
      text = formatBytes(bytes);
      cache.set(bytes, text);
    }
    return text;
  };
}
const bytesText = cachedBytes();

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Bytes per row: a power of two, so that all pools together fit in about MAX_ROWS rows (a few more for each
 * extra pool); a small main heap beside a large extra bank would otherwise take pages.
 */
export function bytesPerRow(regions: Region[]): number {
  const allowed = MAX_ROWS + 4 * Math.max(0, regions.length - 1);
  const rows = (span: number): number =>
    regions.reduce((sum, region) => sum + Math.ceil((region.end - region.start) / span), 0);
  let span = 256;
  while (rows(span) > allowed) span *= 2;
  return span;
}

export function heapMapSvg(input: HeapMapSvgInput): string {
  const width = input.width ?? 960;
  const span = bytesPerRow(input.regions);
  const scale = width / span;
  const parts: string[] = [];
  let top = 0;
  /** Rectangles for the bytes [from, to) of a region, split at row ends. */
  const rects = (region: Region, regionTop: number, from: number, to: number): string => {
    let text = '';
    for (let at = Math.max(from, region.start); at < Math.min(to, region.end); ) {
      const offset = at - region.start;
      const row = Math.floor(offset / span);
      const rowEnd = region.start + (row + 1) * span;
      const end = Math.min(to, rowEnd, region.end);
      const x = (offset - row * span) * scale;
      const y = regionTop + row * (ROW_HEIGHT + ROW_GAP);
      // At least a hairline: a 16-byte block in a 64 KiB row is a fraction of a pixel.
      const w = Math.max((end - at) * scale, 0.75);
      text += `<rect x="${x.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${ROW_HEIGHT}"/>`;
      at = end;
    }
    return text;
  };
  /** One group per drawn thing: its attributes, its hover text, its rectangles. */
  const group = (
    attributes: string,
    title: string,
    region: Region,
    regionTop: number,
    from: number,
    to: number,
  ): string => `<g ${attributes}><title>${escapeXml(title)}</title>${rects(region, regionTop, from, to)}</g>`;
  input.regions.forEach((region, index) => {
    const rows = Math.max(1, Math.ceil((region.end - region.start) / span));
    const name = index === 0 ? 'main heap' : `extra bank ${index}`;
    const size = `${bytesText(region.end - region.start)}, ${bytesText(span)} per row`;
    parts.push(
      `<text class="region-label" x="0" y="${top + 12}" font-size="12">${name} ${hex(region.start)}..${hex(region.end)} (${size})</text>`,
    );
    const regionTop = top + LABEL_HEIGHT;
    const inRegion = input.blocks.filter((block) => block.header >= region.start && block.header < region.end);
    const firstHeader = inRegion[0]?.header ?? region.end;
    if (firstHeader > region.start) {
      const isControl = input.controlAddress >= region.start && input.controlAddress < firstHeader;
      const what = isControl
        ? `control structure (${bytesText(input.controlBytes)}: bitmaps and free-list heads) and padding`
        : 'padding before the first block';
      const attributes = `class="${isControl ? 'control' : 'padding'}" fill="${CONTROL_COLOUR}"`;
      parts.push(
        group(
          attributes,
          `${hex(region.start)}..${hex(firstHeader)}: ${what}`,
          region,
          regionTop,
          region.start,
          firstHeader,
        ),
      );
    }
    let lastEnd = firstHeader;
    for (const block of inRegion) {
      if (block.header > lastEnd) {
        // A region larger than one pool can span is carved into pieces, each closed by its own sentinel.
        const title = `${hex(lastEnd)}..${hex(block.header)}: the sentinel closing one pool piece and the next piece's start`;
        parts.push(
          group(`class="sentinel" fill="${SENTINEL_COLOUR}"`, title, region, regionTop, lastEnd, block.header),
        );
      }
      const touched =
        input.highlight !== null && input.highlight !== undefined && input.highlight.header === block.header;
      const fill = block.used ? (input.usedColour?.(block) ?? USED_COLOUR) : freeColour(block.sizeClass?.fl ?? 0);
      const classText = block.sizeClass ? ` class (${block.sizeClass.fl}, ${block.sizeClass.sl})` : '';
      const extra = input.describe?.(block) ?? '';
      const title =
        `${block.used ? 'used' : 'free'} block ${hex(block.address)}, ${bytesText(block.blockSize)} ` +
        `(header ${hex(block.header)})${classText}${extra ? `; ${extra}` : ''}`;
      const attributes =
        `class="block ${block.used ? 'used' : 'free'}${touched ? ' touched' : ''}" ` +
        `data-header="${block.header}" data-address="${block.address}" data-size="${block.blockSize}" data-used="${block.used ? 1 : 0}"` +
        (block.sizeClass ? ` data-fl="${block.sizeClass.fl}" data-sl="${block.sizeClass.sl}"` : '') +
        (block.allocatedBy !== null ? ` data-by="${block.allocatedBy}"` : '') +
        ` fill="${fill}"${touched ? ' stroke="#d62728" stroke-width="2.5"' : ' stroke="#ffffff" stroke-width="0.5"'}`;
      parts.push(group(attributes, title, region, regionTop, block.header, block.header + block.blockSize));
      lastEnd = block.header + block.blockSize;
    }
    if (lastEnd < region.end) {
      const title = `${hex(lastEnd)}: end sentinel (a zero-size used header closing the pool)`;
      parts.push(group(`class="sentinel" fill="${SENTINEL_COLOUR}"`, title, region, regionTop, lastEnd, region.end));
    }
    top = regionTop + rows * (ROW_HEIGHT + ROW_GAP) + 8;
  });
  const size = `width="${width}" height="${top}" viewBox="0 0 ${width} ${top}"`;
  return `<svg xmlns="http://www.w3.org/2000/svg" class="heap-map" ${size} font-family="sans-serif">${parts.join('')}</svg>`;
}
