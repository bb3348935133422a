import { formatBytes, formatPercent } from '../../units.js';
import { escapeHtml } from './dom.js';
import { siteColour, type RunModel } from './model.js';

// Who holds the bytes at the peak: one row per allocating call site, its blocks, bytes (headers included) and
// share; the rows add up to the used bytes at the between-call peak.

export function peakTableHtml(model: RunModel): string {
  const rows = model.peakTable.map((row) => {
    const swatch = `<span class="swatch" style="background:${siteColour(model, row.site ?? undefined)}"></span>`;
    return (
      `<tr data-site="${row.site}"><td>${swatch}${escapeHtml(row.name)}</td><td class="number">${row.blocks}</td>` +
      `<td class="number" data-bytes="${row.bytes}">${formatBytes(row.bytes)}</td><td class="number">${formatPercent(row.share)}</td></tr>`
    );
  });
  const total = model.peakTable.reduce((sum, row) => sum + row.bytes, 0);
  const blocks = model.peakTable.reduce((sum, row) => sum + row.blocks, 0);
  const boardPeak = Number(model.meta.run.peakUsed);
  const note =
    total === boardPeak
      ? ''
      : `<p class="note">The report's peak used (${formatBytes(boardPeak)}) is the allocator's ` +
        'high-water mark, reached inside a realloc that moved a block (old and new block both used while copying): a moment ' +
        'between no two calls. The table is the highest point between calls.</p>';
  const share = formatPercent(model.peakUsed === 0 ? 0 : total / model.peakUsed);
  return (
    '<table class="peak-table"><thead><tr><th>allocating call site</th><th>blocks</th><th>bytes (headers included)</th>' +
    `<th>share of peak</th></tr></thead><tbody>${rows.join('')}</tbody>` +
    `<tfoot><tr><th>total</th><th class="number">${blocks}</th><th class="number" id="peak-total" data-bytes="${total}">` +
    `${formatBytes(total)}</th><th class="number">${share}</th></tr></tfoot></table>${note}`
  );
}
