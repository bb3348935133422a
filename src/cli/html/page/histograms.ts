import { formatBytes } from '../../units.js';
import { escapeHtml } from './dom.js';

// Histograms of sizes in power-of-two buckets (the way TLSF's first level sees them), as small SVG bar charts.

export function histogramSvg(values: number[], title: string, colour: string): string {
  if (values.length === 0) return `<p class="empty">${escapeHtml(title)}: none</p>`;
  const counts = new Map<number, number>();
  for (const value of values) {
    const bucket = value <= 0 ? 0 : 31 - Math.clz32(value);
    counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
  }
  const buckets = [...counts.keys()];
  const low = Math.min(...buckets);
  const high = Math.max(...buckets);
  const most = Math.max(...counts.values());
  const barWidth = 34;
  const height = 140;
  const width = (high - low + 1) * barWidth + 10;
  const bars: string[] = [];
  for (let bucket = low; bucket <= high; bucket++) {
    const count = counts.get(bucket) ?? 0;
    const barHeight = count === 0 ? 0 : Math.max(1, (count / most) * (height - 40));
    const x = 5 + (bucket - low) * barWidth;
    const range = bucket === 0 && low === 0 ? '0..1 B' : `${formatBytes(2 ** bucket)}..${formatBytes(2 ** (bucket + 1) - 1)}`;
    bars.push(`<g class="bar" data-bucket="${bucket}" data-count="${count}"><title>${escapeHtml(`${range}: ${count}`)}</title>`
      + `<rect x="${x}" y="${height - 20 - barHeight}" width="${barWidth - 4}" height="${barHeight}" fill="${colour}"/>`
      + `<text x="${x + (barWidth - 4) / 2}" y="${height - 6}" font-size="9" text-anchor="middle">${bucket === 0 && low === 0 ? '0' : formatBytes(2 ** bucket).replace(' ', '')}</text>`
      + (count > 0 ? `<text x="${x + (barWidth - 4) / 2}" y="${height - 23 - barHeight}" font-size="9" text-anchor="middle">${count}</text>` : '')
      + '</g>');
  }
  return `<figure class="histogram"><figcaption>${escapeHtml(title)} (${values.length.toLocaleString('en-US')}; bars by power of two)</figcaption>`
    + `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">${bars.join('')}</svg></figure>`;
}
