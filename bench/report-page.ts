// Benchmark of the HTML report page (docs/cli.md, "report"): a generated malloc-lab trace of 100,000 heap calls
// run on a board, written as a page, then opened in headless Chromium to measure the page's size, its first
// complete drawing and the time to step to a call. Run after `npm run build`:
//   node dist/bench/report-page.js [calls] [board]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomSource } from './traces.js';

/** The page's handle (src/cli/html/page/main.ts), as seen from the benchmark. */
declare const requestAnimationFrame: (callback: () => void) => number;
declare const window: {
  tlsfReport?: {
    select(call: number): void;
    model: { lastCall: number };
    timings: { firstPaint: number; lastStep: number; lastReplay: number };
  };
  tlsfReportError?: string;
};

const calls = Number(process.argv[2] ?? 100_000);
const board = process.argv[3] ?? 'nrf52840';
const root = resolve(import.meta.dirname, '..', '..');
const cache = join(root, 'bench', '.cache');
mkdirSync(cache, { recursive: true });

/**
 * A firmware-like mix: mostly small blocks (16..256 B) with tree-like lifetimes, some buffers of 1..4 KiB,
 * reallocs that grow buffers; at most 400 live at once, about 40 KiB live at most.
 */
function makeTrace(count: number): string {
  const next = randomSource(12345);
  const live: number[] = [];
  const free: number[] = Array.from({ length: 400 }, (_, id) => 399 - id);
  const lines: string[] = [];
  const size = (): number => (next() < 0.08 ? 1024 + Math.floor(next() * 3072) : 16 + Math.floor(next() ** 2 * 240));
  while (lines.length < count) {
    const roll = next();
    if (live.length > 0 && (roll < 0.45 || free.length === 0 || (live.length > 200 && roll < 0.6))) {
      const index = Math.floor(next() * live.length);
      const id = live[index]!;
      live[index] = live[live.length - 1]!;
      live.pop();
      free.push(id);
      lines.push(`f ${id}`);
    } else if (live.length > 0 && roll < 0.52) {
      lines.push(`r ${live[Math.floor(next() * live.length)]!} ${size()}`);
    } else {
      const id = free.pop()!;
      live.push(id);
      lines.push(`a ${id} ${size()}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

const trace = join(cache, `report-${calls}.rep`);
writeFileSync(trace, makeTrace(calls));
const page = join(cache, `report-${calls}.html`);
const started = Date.now();
const made = spawnSync(
  process.execPath,
  [join(root, 'dist', 'cli.js'), 'report', trace, '--board', board, '-o', page],
  { encoding: 'utf8' },
);
if (made.status !== 0 && made.status !== 1) throw new Error(`report failed (${made.status}): ${made.stderr}`);
const writeSeconds = (Date.now() - started) / 1000;
const bytes = statSync(page).size;

const { chromium } = await import('playwright-core');
const profile = mkdtempSync(join(tmpdir(), 'tlsf-bench-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.TLSF_SIM_CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  viewport: { width: 1280, height: 1000 },
});
try {
  const tab = await browser.newPage();
  const opened = Date.now();
  await tab.goto(pathToFileURL(page).href);
  await tab.waitForFunction(() => window.tlsfReport !== undefined || window.tlsfReportError !== undefined, null, {
    timeout: 60_000,
  });
  const loadMs = Date.now() - opened;
  const error = await tab.evaluate(() => window.tlsfReportError ?? null);
  if (error) throw new Error(`the page failed: ${error}`);
  const firstPaint = await tab.evaluate(() => window.tlsfReport!.timings.firstPaint);
  const lastCall = await tab.evaluate(() => window.tlsfReport!.model.lastCall);
  // Steps as a user makes them: one forward, one back, and jumps anywhere.
  const next = randomSource(99);
  const targets = [
    1,
    2,
    1,
    lastCall,
    lastCall - 1,
    0,
    ...Array.from({ length: 20 }, () => Math.floor(next() * lastCall)),
  ];
  const steps: number[] = [];
  const replays: number[] = [];
  const framed: number[] = [];
  for (const target of targets) {
    // The page's own timing (replay and drawing), and until the browser has laid out and painted the result.
    const timing = await tab.evaluate(
      (call) =>
        new Promise<{ lastStep: number; lastReplay: number; toPaint: number }>((done) => {
          const begun = performance.now();
          window.tlsfReport!.select(call);
          requestAnimationFrame(() =>
            setTimeout(() => done({ ...window.tlsfReport!.timings, toPaint: performance.now() - begun }), 0),
          );
        }),
      target,
    );
    steps.push(timing.lastStep);
    replays.push(timing.lastReplay);
    framed.push(timing.toPaint);
  }
  steps.sort((a, b) => a - b);
  replays.sort((a, b) => a - b);
  framed.sort((a, b) => a - b);
  const result = {
    calls: lastCall,
    board,
    pageBytes: bytes,
    pageMiB: Number((bytes / 2 ** 20).toFixed(2)),
    writeSeconds,
    loadMs,
    firstPaintMs: Math.round(firstPaint),
    stepMedianMs: Number(steps[steps.length >> 1]!.toFixed(1)),
    stepMaxMs: Number(steps[steps.length - 1]!.toFixed(1)),
    stepToPaintMedianMs: Number(framed[framed.length >> 1]!.toFixed(1)),
    stepToPaintMaxMs: Number(framed[framed.length - 1]!.toFixed(1)),
    replayMedianMs: Number(replays[replays.length >> 1]!.toFixed(1)),
    replayMaxMs: Number(replays[replays.length - 1]!.toFixed(1)),
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
