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
    const range = bucket === 0 ? '0..1 B' : `${formatBytes(2 ** bucket)}..${formatBytes(2 ** (bucket + 1) - 1)}`;
    const label = bucket === 0 ? '0' : formatBytes(2 ** bucket).replace(' ', '');
    const middle = x + (barWidth - 4) / 2;
    const text = (y: number, content: string | number): string =>
      `<text x="${middle}" y="${y}" font-size="9" text-anchor="middle">${content}</text>`;
    bars.push(
      `<g class="bar" data-bucket="${bucket}" data-count="${count}"><title>${escapeHtml(`${range}: ${count}`)}</title>` +
        `<rect x="${x}" y="${height - 20 - barHeight}" width="${barWidth - 4}" height="${barHeight}" fill="${colour}"/>` +
        text(height - 6, label) +
        (count > 0 ? text(height - 23 - barHeight, count) : '') +
        '</g>',
    );
  }
  const caption = `${escapeHtml(title)} (${values.length.toLocaleString('en-US')}; bars by power of two)`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">${bars.join('')}</svg>`;
  return `<figure class="histogram"><figcaption>${caption}</figcaption>${svg}</figure>`;
}
