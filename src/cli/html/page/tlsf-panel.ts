import { classRange, Tlsf } from '../../../allocator/index.js';
import { callText, fromText } from '../../learn-run.js';
import { formatBytes as formatBytesSlowly } from '../../units.js';
import type { Moment } from './cursor.js';
import { escapeHtml, hexText } from './dom.js';

// The TLSF panel at one moment: the first-level bitmap and every second-level bitmap as grids of bits (as
// stored after the call), with the path of the call's search, the class it took a block from, the classes
// its split and merge filed blocks in, and the `step` explanation of the call beside it.

interface Cell {
  fl: number;
  sl: number;
}

/** Locale number formatting is slow in browsers and the grid repeats the same few hundred sizes. */
const bytesCache = new Map<number, string>();
function formatBytes(bytes: number): string {
  let text = bytesCache.get(bytes);
  if (text === undefined) {
    text = formatBytesSlowly(bytes);
    bytesCache.set(bytes, text);
  }
  return text;
}
const same = (a: Cell | null | undefined, fl: number, sl: number): boolean => !!a && a.fl === fl && a.sl === sl;

/**
 * The second-level bits a search visits: the start row from the start class up (one masked bit scan); when that
 * row has nothing, the first-level bitmap is scanned for the next non-empty row (marked on the first-level row)
 * and that row from its first class up to the one found. Rows in between are skipped by the first-level scan.
 */
function scannedCells(start: Cell, found: Cell, slCount: number): Set<string> {
  const cells = new Set<string>();
  const lastInStartRow = found.fl === start.fl ? found.sl : slCount - 1;
  for (let sl = start.sl; sl <= lastInStartRow; sl++) cells.add(`${start.fl},${sl}`);
  if (found.fl !== start.fl) for (let sl = 0; sl <= found.sl; sl++) cells.add(`${found.fl},${sl}`);
  return cells;
}

/** What the call did to each class, for the grid: search path, the class taken from, classes filed in. */
interface CallMarks {
  search: Cell | null;
  found: Cell | null;
  scanned: Set<string>;
  filed: Cell[];
}

function callMarks(moment: Moment, heap: Tlsf): CallMarks {
  const { facts } = moment;
  // A realloc that resized in place searched nothing.
  const search = facts?.realloc === 'in-place' ? null : (facts?.request?.searchClass ?? null);
  const found = facts?.taken?.class ?? null;
  const scanned = search && found ? scannedCells(search, found, heap.layout.slCount) : new Set<string>();
  const filed = [...(facts?.remainders ?? []).map((block) => block.class), facts?.coalesced?.merged.class].filter(
    (cell): cell is Cell => !!cell,
  );
  return { search, found, scanned, filed };
}

function firstLevelCells(moment: Moment, marks: CallMarks, heap: Tlsf): string {
  const cells: string[] = [];
  for (let fl = heap.layout.flCount - 1; fl >= 0; fl--) {
    const bit = (moment.after.firstLevelBitmap >>> fl) & 1;
    const inScan = marks.search && marks.found && fl > marks.search.fl && fl <= marks.found.fl;
    const title = `first-level bit ${fl}: ${bit ? 'some' : 'no'} class in row ${fl} holds a free block`;
    cells.push(
      `<td class="bit fl-bit${bit ? ' set' : ''}${inScan ? ' scanned' : ''}" data-fl="${fl}" data-bit="${bit}" title="${title}">${bit}</td>`,
    );
  }
  return cells.join('');
}

function secondLevelRows(moment: Moment, marks: CallMarks, heap: Tlsf): string {
  const { replay, after, before } = moment;
  const { flCount, slCount } = heap.layout;
  const changed = (fl: number, sl: number): string => {
    if (!before) return '';
    const was = (before.secondLevelBitmaps[fl]! >>> sl) & 1;
    const now = (after.secondLevelBitmaps[fl]! >>> sl) & 1;
    return was === now ? '' : now ? ' bit-set-now' : ' bit-cleared-now';
  };
  const rows: string[] = [];
  for (let fl = flCount - 1; fl >= 0; fl--) {
    const bits = after.secondLevelBitmaps[fl]!;
    const cells: string[] = [];
    for (let sl = slCount - 1; sl >= 0; sl--) {
      const bit = (bits >>> sl) & 1;
      const { classMin, classMax } = classRange(replay.geometry, fl, sl);
      const list = after.freeLists.find((candidate) => candidate.fl === fl && candidate.sl === sl);
      const roles = [
        marks.scanned.has(`${fl},${sl}`) ? ' scanned' : '',
        same(marks.search, fl, sl) ? ' search' : '',
        same(marks.found, fl, sl) ? ' found' : '',
        marks.filed.some((cell) => same(cell, fl, sl)) ? ' filed' : '',
        changed(fl, sl),
      ].join('');
      const content = list ? `${list.blocks.length} free, ${formatBytes(list.bytes)}` : 'empty';
      const title = escapeHtml(
        `class (${fl}, ${sl}): blocks of ${formatBytes(classMin)}..${formatBytes(classMax)}; ${content}`,
      );
      cells.push(
        `<td class="bit sl-bit${bit ? ' set' : ''}${roles}" data-fl="${fl}" data-sl="${sl}" data-bit="${bit}" title="${title}">${bit}</td>`,
      );
    }
    const rowMin = formatBytes(classRange(replay.geometry, fl, 0).classMin);
    const head = `<th title="row ${fl}: blocks from ${rowMin}">${fl}<small>${rowMin}+</small></th><td class="hex">${hexText(bits)}</td>`;
    rows.push(`<tr>${head}${cells.join('')}</tr>`);
  }
  return rows.join('');
}

/** The call in one line, as `step` heads it, then `step`'s explanation of it. */
function callTextHtml(moment: Moment): string {
  const { event, facts, after } = moment;
  let callLine: string;
  if (event) {
    const returned = event.op === 'free' ? '' : ` → ${event.result === 0 ? 'NULL' : hexText(event.result)}`;
    const text = `${callText(event)}${fromText(facts?.callerSymbol ?? null, event.caller)}${returned}`;
    callLine = `<p class="call-line"><b>#${event.call}</b> ${escapeHtml(text)}</p>`;
  } else {
    const text =
      moment.call === 0
        ? 'Before the first heap call: the heap as initialised.'
        : `Call #${moment.call} is not in the replayed log.`;
    callLine = `<p class="call-line">${text}</p>`;
  }
  const explanation = facts
    ? `<ul class="explanation">${facts.explanation.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>`
    : '';
  const figures =
    `after the call: used ${formatBytes(after.usedBytes)} in ${after.usedBlocks} blocks, ` +
    `free ${formatBytes(after.freeBytes)} in ${after.freeBlocks}, largest free ${formatBytes(after.largestFree)}`;
  const problems = after.consistent
    ? ''
    : `<p class="problem">inconsistent: ${escapeHtml(after.problems.slice(0, 3).join('; '))}</p>`;
  return `${callLine}${explanation}<p class="figures">${figures}</p>${problems}`;
}

const LEGEND =
  '<p class="legend"><span class="bit set">1</span> non-empty <span class="bit scanned">&nbsp;</span> scanned by the search ' +
  '<span class="bit search">&nbsp;</span> search starts <span class="bit found">&nbsp;</span> block taken from ' +
  '<span class="bit filed">&nbsp;</span> split or merge filed a block ' +
  '<span class="bit bit-cleared-now">&nbsp;</span> bit cleared by this call</p>';

export function renderTlsfPanel(container: HTMLElement, moment: Moment): void {
  const heap = moment.replay.heap;
  if (!(heap instanceof Tlsf)) {
    // first-fit, best-fit and half-fit keep no TLSF bitmaps (--allocator); the map and timeline still apply.
    container.innerHTML =
      '<p class="legend">This run used another heap (--allocator): it has no TLSF bitmaps to show.</p>';
    return;
  }
  const marks = callMarks(moment, heap);
  const slCount = heap.layout.slCount;
  const slHeader = Array.from({ length: slCount }, (_, index) => `<th>${slCount - 1 - index}</th>`).join('');
  container.innerHTML = `
    <div class="tlsf-grids">
      <h3>First-level bitmap <span class="hex">${hexText(moment.after.firstLevelBitmap)}</span></h3>
      <table class="bitmap fl-bitmap"><tr>${firstLevelCells(moment, marks, heap)}</tr></table>
      <h3>Second-level bitmaps (row = first-level index, column = second-level index)</h3>
      <table class="bitmap sl-bitmap"><tr><th>fl</th><th>bits</th>${slHeader}</tr>${secondLevelRows(moment, marks, heap)}</table>
      ${LEGEND}
    </div>
    <div class="tlsf-text">${callTextHtml(moment)}</div>`;
}
