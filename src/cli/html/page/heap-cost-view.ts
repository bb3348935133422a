import type { CallCostSummary, HeapCostReport } from '../../call-cost.js';
import { formatBytes } from '../../units.js';
import { escapeHtml } from './dom.js';
import type { RunModel } from './model.js';

// What each heap call would cost on the board's core (the run document's heapCost, which the CLI fills when it
// writes the page): estimated cycles per malloc and per free, the costliest call with the exact counts its
// estimate comes from, and the model's primitives beside its caveat.

const number = (value: number): string => value.toLocaleString('en-US');

function workText(summary: CallCostSummary): string {
  const work = summary.maxCall?.work;
  if (!work) return '';
  const parts = [
    `${work.wordsRead} reads`,
    `${work.wordsWritten} writes`,
    `${work.nodesVisited} node${work.nodesVisited === 1 ? '' : 's'}`,
    `${work.bitmapWordsScanned} bitmap word${work.bitmapWordsScanned === 1 ? '' : 's'}`,
    `${work.splits} split${work.splits === 1 ? '' : 's'}`,
    `${work.merges} merge${work.merges === 1 ? '' : 's'}`,
  ];
  if (work.bytesCopied > 0) parts.push(`${formatBytes(work.bytesCopied)} copied`);
  return parts.join(', ');
}

function rowHtml(kind: string, summary: CallCostSummary): string {
  const worst = summary.maxCall;
  const costliest = worst
    ? `#${worst.call} ${escapeHtml(worst.text)}${worst.caller ? ` from ${escapeHtml(worst.caller)}` : ''}` +
      `<br><span class="hint">${escapeHtml(workText(summary))}</span>`
    : 'no calls';
  const cell = (value: string): string => `<td class="number">${value}</td>`;
  return (
    `<tr data-kind="${kind}"><td>${kind}</td>${cell(number(summary.calls))}${cell(number(summary.max))}` +
    `${cell(number(summary.p99))}${cell(summary.mean.toFixed(1))}<td>${costliest}</td></tr>`
  );
}

/** The section, or nothing for a page whose run document has no heapCost (written before the page showed it). */
export function heapCostHtml(model: RunModel): string {
  const cost = model.meta.run.heapCost as HeapCostReport | null | undefined;
  if (cost === undefined) return '';
  const title = '<h2>Cost of each heap call</h2>';
  if (cost === null) {
    return `<section class="heap-cost" id="heap-cost">${title}<p class="note">Not counted: the replay of the calls diverged from the run.</p></section>`;
  }
  const { model: cycles } = cost;
  const primitives =
    `${escapeHtml(cycles.cpu)}: load ${cycles.load}, store ${cycles.store}, branch ${cycles.branch}, ` +
    `bit scan ${cycles.bitScan} cycles`;
  return `<section class="heap-cost" id="heap-cost">${title}
    <table class="cost-table"><thead><tr><th>calls</th><th>count</th><th>max cycles</th><th>p99</th>
      <th>mean</th><th>costliest call</th></tr></thead>
      <tbody>${rowHtml('malloc', cost.malloc)}${rowHtml('free', cost.free)}</tbody></table>
    <p class="note" id="heap-cost-note">${escapeHtml(cycles.note)}; ${primitives}. malloc counts every allocating
      call (malloc, calloc, realloc, memalign).</p>
  </section>`;
}
