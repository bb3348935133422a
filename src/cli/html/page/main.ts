import { hex } from '../../../allocator/index.js';
import { regionsOf } from '../../heap-map.js';
import { callText, fromText } from '../../learn-run.js';
import { describeDivergence } from '../../replay.js';
import { formatBytes, formatPercent } from '../../units.js';
import { heapMapSvg } from '../heap-map-svg.js';
import type { ReportMeta } from '../report-data.js';
import { CallCursor, type Moment } from './cursor.js';
import { byId, escapeHtml } from './dom.js';
import { histogramSvg } from './histograms.js';
import { loadRun, siteColour, type RunModel } from './model.js';
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
  interface Window { tlsfReport?: PageHandle; tlsfReportError?: string }
}

const started = performance.now();

function skeleton(model: RunModel): string {
  const run = model.meta.run;
  const ok = run.result === 'ok';
  const stop: string[] = [];
  if (!ok && run.message) stop.push(`<p class="stop"><b>Stopped:</b> ${escapeHtml(String(run.message))}</p>`);
  const fault = run.fault as { kind: string; address?: number; size: number; pc: number; symbol?: string; nearestBlock?: string } | null;
  if (fault) {
    stop.push(`<p class="stop"><b>Fault:</b> ${escapeHtml(fault.kind)}, ${fault.size} bytes${fault.address === undefined ? '' : ` at ${hex(fault.address)}`}, pc ${hex(fault.pc)}${fault.symbol ? ` in ${escapeHtml(fault.symbol)}` : ''}${fault.nearestBlock ? `; ${escapeHtml(fault.nearestBlock)}` : ''}</p>`);
  }
  const stopped = run.stoppedAt as { pc: number; symbol?: string; reason: string } | null;
  if (stopped) stop.push(`<p class="stop"><b>Stopped at:</b> pc ${hex(stopped.pc)}${stopped.symbol ? ` in ${escapeHtml(stopped.symbol)}` : ''} (${escapeHtml(stopped.reason)})</p>`);
  const assertion = run.assertion as { file: string; line: number; expression: string } | null;
  if (assertion) stop.push(`<p class="stop"><b>Assertion:</b> ${escapeHtml(`${assertion.file}:${assertion.line}: ${assertion.expression}`)}</p>`);
  if (model.divergence) stop.push(`<p class="stop"><b>Replay:</b> ${escapeHtml(describeDivergence(model.divergence))}</p>`);
  if (model.failedCall !== null) stop.push(`<p class="stop">First failed allocation: call #${model.failedCall} (${escapeHtml(callText(model.eventOfCall.get(model.failedCall)!))})</p>`);
  const ops = run.ops as Record<string, number>;
  const figure = (name: string, value: string): string => `<div class="figure"><span>${name}</span><b>${value}</b></div>`;
  const output = String(run.output ?? '').trimEnd();
  return `
  <header>
    <h1>${escapeHtml(model.meta.target)} <small>on ${escapeHtml(model.meta.board.name)}${model.meta.board.cpu ? ` (${escapeHtml(model.meta.board.cpu)})` : ''}</small>
      <span class="result ${ok ? 'ok' : 'failed'}" id="result">${escapeHtml(String(run.result))}</span></h1>
    ${stop.join('\n')}
    <div class="figures">
      ${figure('heap', `${hex(model.meta.setup.heapBase)}, ${formatBytes(model.meta.setup.heapSize)}, align ${model.meta.setup.align}, SL 2^${model.meta.setup.slLog2}`)}
      ${figure('heap calls', `${model.points.toLocaleString('en-US')} (malloc ${ops.malloc}, free ${ops.free}, realloc ${ops.realloc}, calloc ${ops.calloc}, memalign ${ops.memalign}, failed ${ops.failed})`)}
      ${figure('peak used', formatBytes(Number(run.peakUsed)))}
      ${figure('peak requested', formatBytes(Number(run.peakRequested)))}
      ${figure('largest free at peak', formatBytes(Number(run.largestFreeAtPeak)))}
      ${figure('fragmentation at the end', formatPercent(Number(run.fragmentation)))}
    </div>
  </header>
  <nav id="stepper" aria-label="stepping">
    <button id="go-first" title="before the first call (Home)">first</button>
    <button id="go-back" title="previous call (←; Shift: 100)">◀</button>
    <input id="call-slider" type="range" min="0" max="${model.lastCall}" step="1" value="0" aria-label="heap call">
    <button id="go-next" title="next call (→; Shift: 100)">▶</button>
    <button id="go-last" title="last call (End)">last</button>
    <label>call <input id="call-number" type="number" min="0" max="${model.lastCall}" value="0"></label>
    <button id="go-peak" title="jump to the peak (P)">peak</button>
    <button id="go-failure" title="jump to the failure (F)"${failureCall(model) === null ? ' disabled' : ''}>failure</button>
    <span id="step-status"></span>
  </nav>
  <section class="timeline">
    <div class="section-head"><h2>Timeline</h2>
      <label>x axis <select id="x-axis"><option value="calls">heap calls</option><option value="instructions">instructions</option><option value="time">time</option></select></label>
      <span class="hint">drag to zoom, wheel to zoom, shift+wheel to pan, double-click to reset, click to select a call</span></div>
    <div id="chart-figures"></div>
    <div id="chart-sites"></div>
  </section>
  <section class="moment">
    <h2 id="moment-title">The heap</h2>
    <div id="heap-map"></div>
    <p class="legend map-legend"><span style="background:#c9a227"></span> control structure <span style="background:#222"></span> end sentinel
      <span style="background:hsl(140,35%,80%)"></span> free (darker: larger class) <span class="outlined"></span> block of the selected call; used blocks coloured by call site as in the chart above; hover a block for its facts</p>
    <div id="tlsf-panel" class="tlsf-panel"></div>
  </section>
  <section class="where">
    <h2>Where the bytes are at the peak (call #${model.peakCall})</h2>
    <div id="peak-table"></div>
  </section>
  <section class="histograms" id="histograms"></section>
  ${output ? `<details><summary>Firmware output</summary><pre>${escapeHtml(output)}</pre></details>` : ''}
  <footer>tlsf-sim report · data format ${model.meta.format} · ${model.meta.eventCount.toLocaleString('en-US')} logged events · works offline</footer>`;
}

/** Where "jump to failure" goes: the first failed allocation, else where a failed run stopped or the replay diverged. */
function failureCall(model: RunModel): number | null {
  if (model.failedCall !== null) return model.failedCall;
  if (model.divergence) return model.divergence.call;
  return model.meta.run.result === 'ok' ? null : model.lastCall;
}

function peakTableHtml(model: RunModel): string {
  const rows = model.peakTable.map((row) => `<tr data-site="${row.site}"><td><span class="swatch" style="background:${siteColour(model, row.site ?? undefined)}"></span>${escapeHtml(row.name)}</td>`
    + `<td class="number">${row.blocks}</td><td class="number" data-bytes="${row.bytes}">${formatBytes(row.bytes)}</td><td class="number">${formatPercent(row.share)}</td></tr>`);
  const total = model.peakTable.reduce((sum, row) => sum + row.bytes, 0);
  const boardPeak = Number(model.meta.run.peakUsed);
  const note = total === boardPeak ? '' : `<p class="note">The board's peak used (${formatBytes(boardPeak)}) is the allocator's high-water mark; it can be reached inside a realloc that moves a block (old and new block both used while copying), a moment between no two calls. The table is the highest point between calls.</p>`;
  return `<table class="peak-table"><thead><tr><th>allocating call site</th><th>blocks</th><th>bytes (headers included)</th><th>share of peak</th></tr></thead>`
    + `<tbody>${rows.join('')}</tbody><tfoot><tr><th>total</th><th class="number">${model.peakTable.reduce((sum, row) => sum + row.blocks, 0)}</th>`
    + `<th class="number" id="peak-total" data-bytes="${total}">${formatBytes(total)}</th><th class="number">${formatPercent(model.peakUsed === 0 ? 0 : total / model.peakUsed)}</th></tr></tfoot></table>${note}`;
}

function renderMoment(model: RunModel, moment: Moment): void {
  const { replay, after, facts } = moment;
  const siteOfCall = (call: number | null): number | undefined => {
    if (call === null) return undefined;
    const event = model.eventOfCall.get(call);
    return event ? model.siteOfCaller.get(event.caller) : undefined;
  };
  const highlight = facts?.block ?? facts?.released ?? null;
  byId('heap-map').innerHTML = heapMapSvg({
    regions: regionsOf(replay), blocks: after.blocks, controlAddress: replay.heap.controlAddress, controlBytes: replay.heap.layout.controlBytes,
    highlight,
    usedColour: (block) => siteColour(model, siteOfCall(block.allocatedBy)),
    describe: (block) => {
      if (block.allocatedBy === null) return '';
      const event = model.eventOfCall.get(block.allocatedBy);
      if (!event) return `allocated by call #${block.allocatedBy}`;
      return `allocated by #${event.call} ${callText(event)}${fromText(model.symbols.symbolOf(event.caller) ?? null, event.caller)}`;
    },
  });
  renderTlsfPanel(byId('tlsf-panel'), moment);
  const phase = [...model.phases].reverse().find((candidate) => candidate.fromCall <= moment.call);
  byId('moment-title').textContent = `The heap after call #${moment.call}${phase ? ` (phase "${phase.label}")` : ''}`;
}

async function start(): Promise<void> {
  const meta = JSON.parse(byId('report-meta').textContent ?? '{}') as ReportMeta;
  const model = await loadRun(meta, byId('report-log').textContent ?? '');
  const app = byId('app');
  app.innerHTML = skeleton(model);
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
    if (pending === null) requestAnimationFrame(() => { const next = pending!; pending = null; select(next); });
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
  const peakBlocks = cursor.at(model.peakCall).after.blocks.filter((block) => block.used).map((block) => block.blockSize);
  byId('histograms').innerHTML = `<h2>Sizes</h2><div class="histogram-row">${histogramSvg(model.requestSizes, 'Requested sizes, every allocation', '#4477aa')}`
    + `${histogramSvg(peakBlocks, `Used block sizes at the peak (call #${model.peakCall})`, '#ee6677')}</div>`;

  slider.addEventListener('input', () => selectSoon(Number(slider.value)));
  number.addEventListener('change', () => select(Number(number.value)));
  byId('go-first').addEventListener('click', () => select(0));
  byId('go-back').addEventListener('click', () => select(current - 1));
  byId('go-next').addEventListener('click', () => select(current + 1));
  byId('go-last').addEventListener('click', () => select(model.lastCall));
  byId('go-peak').addEventListener('click', () => select(model.peakCall));
  byId('go-failure').addEventListener('click', () => { const call = failureCall(model); if (call !== null) select(call); });
  byId<HTMLSelectElement>('x-axis').addEventListener('change', (event) => timeline?.setAxis((event.target as HTMLSelectElement).value as XAxis));
  addEventListener('hashchange', () => { const call = callFromHash(); if (call !== null && call !== current) select(call); });
  addEventListener('keydown', (event) => {
    const target = event.target as HTMLElement;
    if (target.tagName === 'SELECT' || (target.tagName === 'INPUT' && target !== slider)) return;
    const step = event.shiftKey ? 100 : 1;
    const actions: Record<string, () => void> = {
      ArrowRight: () => select(current + step), ArrowLeft: () => select(current - step),
      PageDown: () => select(current + 1000), PageUp: () => select(current - 1000),
      Home: () => select(0), End: () => select(model.lastCall),
      p: () => select(model.peakCall), f: () => { const call = failureCall(model); if (call !== null) select(call); },
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
