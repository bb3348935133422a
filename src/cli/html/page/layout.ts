import { escapeHtml } from './dom.js';
import { heapCostHtml } from './heap-cost-view.js';
import { failureCall, type RunModel } from './model.js';
import { runHeaderHtml } from './run-header.js';

// The page's sections, top to bottom; each view fills its own element (main.ts wires them).

const MAP_LEGEND =
  '<p class="legend map-legend"><span style="background:#c9a227"></span> control structure ' +
  '<span style="background:#222"></span> end sentinel <span style="background:hsl(140,35%,80%)"></span> free (darker: larger class) ' +
  '<span class="outlined"></span> block of the selected call; used blocks coloured by call site as in the chart above; ' +
  'hover a block for its facts</p>';

function stepperHtml(model: RunModel): string {
  const noFailure = failureCall(model) === null ? ' disabled' : '';
  return `<nav id="stepper" aria-label="stepping">
    <button id="go-first" title="before the first call (Home)">first</button>
    <button id="go-back" title="previous call (←; Shift: 100)">◀</button>
    <input id="call-slider" type="range" min="0" max="${model.lastCall}" step="1" value="0" aria-label="heap call">
    <button id="go-next" title="next call (→; Shift: 100)">▶</button>
    <button id="go-last" title="last call (End)">last</button>
    <label>call <input id="call-number" type="number" min="0" max="${model.lastCall}" value="0"></label>
    <button id="go-peak" title="jump to the peak (P)">peak</button>
    <button id="go-failure" title="jump to the failure (F)"${noFailure}>failure</button>
    <span id="step-status"></span>
  </nav>`;
}

export function pageHtml(model: RunModel): string {
  const output = String(model.meta.run.output ?? '').trimEnd();
  const axes =
    '<option value="calls">heap calls</option><option value="instructions">instructions</option><option value="time">time</option>';
  return `${runHeaderHtml(model)}
  ${stepperHtml(model)}
  <section class="timeline">
    <div class="section-head"><h2>Timeline</h2>
      <label>x axis <select id="x-axis">${axes}</select></label>
      <span class="hint">drag to zoom, wheel to zoom, shift+wheel to pan, double-click to reset, click to select a call</span></div>
    <div id="chart-figures"></div>
    <div id="chart-sites"></div>
  </section>
  <section class="moment">
    <h2 id="moment-title">The heap</h2>
    <div id="heap-map"></div>
    ${MAP_LEGEND}
    <div id="tlsf-panel" class="tlsf-panel"></div>
  </section>
  <section class="where">
    <h2>Where the bytes are at the peak (call #${model.peakCall})</h2>
    <div id="peak-table"></div>
  </section>
  ${heapCostHtml(model)}
  <section class="histograms" id="histograms"></section>
  ${output ? `<details><summary>Firmware output</summary><pre>${escapeHtml(output)}</pre></details>` : ''}
  <footer>tlsf-sim report · data format ${model.meta.format} · ${model.meta.eventCount.toLocaleString('en-US')} logged events · works offline</footer>`;
}
