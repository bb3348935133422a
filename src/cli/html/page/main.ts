import type { ReportMeta } from '../report-data.js';
import { CallCursor, type Moment } from './cursor.js';
import { byId, escapeHtml } from './dom.js';
import { heapMapHtml } from './heap-map-view.js';
import { histogramSvg } from './histograms.js';
import { pageHtml } from './layout.js';
import { failureCall, loadRun, type RunModel } from './model.js';
import { peakTableHtml } from './peak-table.js';
import { createTimeline, type Timeline, type XAxis } from './timeline.js';
import { renderTlsfPanel } from './tlsf-panel.js';
import './page.css';

// The report page: reads the run from the page itself, lays out the views and steps them together. The state
// worth sharing (the selected call) lives in the address: report.html#call=1406.

interface PageHandle {
  model: RunModel;
  select(call: number): void;
  selected(): number;
  /** Milliseconds from the script's start to the first complete drawing, of the last step, and of its replay. */
  timings: { firstPaint: number; lastStep: number; lastReplay: number };
}

declare global {
  interface Window {
    tlsfReport?: PageHandle;
    tlsfReportError?: string;
  }
}

const started = performance.now();

function renderMoment(model: RunModel, moment: Moment): void {
  byId('heap-map').innerHTML = heapMapHtml(model, moment);
  renderTlsfPanel(byId('tlsf-panel'), moment);
  const phase = [...model.phases].reverse().find((candidate) => candidate.fromCall <= moment.call);
  byId('moment-title').textContent = `The heap after call #${moment.call}${phase ? ` (phase "${phase.label}")` : ''}`;
}

async function start(): Promise<void> {
  const meta = JSON.parse(byId('report-meta').textContent ?? '{}') as ReportMeta;
  const model = await loadRun(meta, byId('report-log').textContent ?? '');
  const app = byId('app');
  app.innerHTML = pageHtml(model);
  byId('peak-table').innerHTML = peakTableHtml(model);
  const cursor = new CallCursor(model);
  const slider = byId<HTMLInputElement>('call-slider');
  const number = byId<HTMLInputElement>('call-number');
  const status = byId('step-status');
  let current = -1;
  let pending: number | null = null;
  const timings = { firstPaint: 0, lastStep: 0, lastReplay: 0 };
  let timeline: Timeline | null = null;

  const select = (call: number): void => {
    const target = Math.max(0, Math.min(model.lastCall, Math.round(call)));
    const begun = performance.now();
    const moment = cursor.at(target);
    timings.lastReplay = performance.now() - begun;
    renderMoment(model, moment);
    current = target;
    slider.value = String(target);
    number.value = String(target);
    timeline?.select(target);
    scheduleHash(target);
    timings.lastStep = performance.now() - begun;
    status.textContent = `call #${target} of ${model.lastCall} · drawn in ${timings.lastStep.toFixed(1)} ms`;
  };
  /** Slider drags fire faster than frames: draw the latest position once per frame. */
  const selectSoon = (call: number): void => {
    if (pending === null)
      requestAnimationFrame(() => {
        const next = pending!;
        pending = null;
        select(next);
      });
    pending = call;
  };
  // The address follows the selection once stepping pauses: browsers throttle rapid history updates.
  let hashTimer: ReturnType<typeof setTimeout> | undefined;
  const scheduleHash = (call: number): void => {
    clearTimeout(hashTimer);
    hashTimer = setTimeout(() => history.replaceState(null, '', `#call=${call}`), 120);
  };
  const callFromHash = (): number | null => {
    const match = /call=(\d+)/.exec(location.hash);
    return match ? Number(match[1]) : null;
  };

  timeline = createTimeline(model, byId('chart-figures'), byId('chart-sites'), select);
  const peakBlocks = cursor
    .at(model.peakCall)
    .after.blocks.filter((block) => block.used)
    .map((block) => block.blockSize);
  const requests = histogramSvg(model.requestSizes, 'Requested sizes, every allocation', '#4477aa');
  const blocks = histogramSvg(peakBlocks, `Used block sizes at the peak (call #${model.peakCall})`, '#ee6677');
  byId('histograms').innerHTML = `<h2>Sizes</h2><div class="histogram-row">${requests}${blocks}</div>`;

  slider.addEventListener('input', () => selectSoon(Number(slider.value)));
  number.addEventListener('change', () => select(Number(number.value)));
  byId('go-first').addEventListener('click', () => select(0));
  byId('go-back').addEventListener('click', () => select(current - 1));
  byId('go-next').addEventListener('click', () => select(current + 1));
  byId('go-last').addEventListener('click', () => select(model.lastCall));
  byId('go-peak').addEventListener('click', () => select(model.peakCall));
  byId('go-failure').addEventListener('click', () => {
    const call = failureCall(model);
    if (call !== null) select(call);
  });
  const axis = byId<HTMLSelectElement>('x-axis');
  axis.addEventListener('change', () => timeline?.setAxis(axis.value as XAxis));
  addEventListener('hashchange', () => {
    const call = callFromHash();
    if (call !== null && call !== current) select(call);
  });
  addEventListener('keydown', (event) => {
    const target = event.target as HTMLElement;
    if (target.tagName === 'SELECT' || (target.tagName === 'INPUT' && target !== slider)) return;
    const step = event.shiftKey ? 100 : 1;
    const actions: Record<string, () => void> = {
      ArrowRight: () => select(current + step),
      ArrowLeft: () => select(current - step),
      PageDown: () => select(current + 1000),
      PageUp: () => select(current - 1000),
      Home: () => select(0),
      End: () => select(model.lastCall),
      p: () => select(model.peakCall),
      f: () => {
        const call = failureCall(model);
        if (call !== null) select(call);
      },
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });

  select(callFromHash() ?? failureCall(model) ?? model.peakCall);
  timings.firstPaint = performance.now() - started;
  window.tlsfReport = { model, select, selected: () => current, timings };
}

start().catch((error: Error) => {
  window.tlsfReportError = error.message;
  const app = document.getElementById('app');
  if (app) app.innerHTML = `<p class="problem">This report could not be drawn: ${escapeHtml(error.message)}</p>`;
  console.error(error);
});
