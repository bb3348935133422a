import { gzipSync } from 'node:zlib';
import type { PageBundle } from './page-bundle.js';
import { base64FromBytes, type ReportMeta } from './report-data.js';

// One report page as one file: the bundled script and style, the run's figures as JSON and its packed call log
// (gzip + base64) inline. The content security policy allows no network at all, so the page provably works
// offline from file://.

/** Inline <script> text must not close its element early; `<\/` means the same inside JS strings and JSON. */
function inlineSafe(text: string): string {
  return text.replace(/<\/(script|style)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const POLICY = [
  "default-src 'none'",
  "script-src 'unsafe-inline'",
  "style-src 'unsafe-inline'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

export function reportPageHtml(meta: ReportMeta, packedLog: Uint8Array, bundle: PageBundle): string {
  const log = base64FromBytes(gzipSync(packedLog, { level: 9 }));
  const title = `${meta.target} on ${meta.board.name}: ${String(meta.run.result)} — tlsf-sim`;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${POLICY}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${bundle.style.replace(/<\/style/gi, '<\\/style')}</style>`,
    '</head><body>',
    '<main id="app"><p id="loading">Loading the run…</p></main>',
    // In JSON `<` occurs only inside strings, where \u003c means the same: no markup can start in the data.
    `<script type="application/json" id="report-meta">${JSON.stringify(meta).replace(/</g, '\\u003c')}</script>`,
    `<script type="application/octet-stream" id="report-log">${log}</script>`,
    `<script>${inlineSafe(bundle.script)}</script>`,
    '</body></html>',
    '',
  ].join('\n');
}
