import { hex } from '../../../allocator/index.js';
import { callText } from '../../learn-run.js';
import { describeDivergence } from '../../replay.js';
import { formatBytes, formatPercent } from '../../units.js';
import { escapeHtml } from './dom.js';
import type { RunModel } from './model.js';

// The top of the page: what ran where, its result, and for a run that did not complete, where and why it
// stopped (the report's message, fault, stop point or assertion, the first failed allocation, a replay that
// diverged), then the report's figures.

interface Fault {
  kind: string;
  address?: number;
  size: number;
  pc: number;
  symbol?: string;
  nearestBlock?: string;
}
interface StoppedAt {
  pc: number;
  symbol?: string;
  reason: string;
}
interface Assertion {
  file: string;
  line: number;
  expression: string;
}

function stopLines(model: RunModel): string[] {
  const run = model.meta.run;
  const lines: string[] = [];
  const line = (label: string, text: string): void =>
    void lines.push(`<p class="stop">${label ? `<b>${label}:</b> ` : ''}${escapeHtml(text)}</p>`);
  if (run.result !== 'ok' && run.message) line('Stopped', String(run.message));
  const fault = run.fault as Fault | null;
  if (fault) {
    const where = fault.address === undefined ? '' : ` at ${hex(fault.address)}`;
    const inside = fault.symbol ? ` in ${fault.symbol}` : '';
    line(
      'Fault',
      `${fault.kind}, ${fault.size} bytes${where}, pc ${hex(fault.pc)}${inside}${fault.nearestBlock ? `; ${fault.nearestBlock}` : ''}`,
    );
  }
  const stopped = run.stoppedAt as StoppedAt | null;
  if (stopped)
    line('Stopped at', `pc ${hex(stopped.pc)}${stopped.symbol ? ` in ${stopped.symbol}` : ''} (${stopped.reason})`);
  const assertion = run.assertion as Assertion | null;
  if (assertion) line('Assertion', `${assertion.file}:${assertion.line}: ${assertion.expression}`);
  if (model.divergence) line('Replay', describeDivergence(model.divergence));
  if (model.failedCall !== null) {
    line(
      '',
      `First failed allocation: call #${model.failedCall} (${callText(model.eventOfCall.get(model.failedCall)!)})`,
    );
  }
  return lines;
}

export function runHeaderHtml(model: RunModel): string {
  const { meta } = model;
  const run = meta.run;
  const ops = run.ops as Record<string, number>;
  const figure = (name: string, value: string): string =>
    `<div class="figure"><span>${name}</span><b>${escapeHtml(value)}</b></div>`;
  const cpu = meta.board.cpu ? ` (${escapeHtml(meta.board.cpu)})` : '';
  const calls =
    `${model.points.toLocaleString('en-US')} (malloc ${ops.malloc}, free ${ops.free}, realloc ${ops.realloc}, ` +
    `calloc ${ops.calloc}, memalign ${ops.memalign}, failed ${ops.failed})`;
  const heap = `${hex(meta.setup.heapBase)}, ${formatBytes(meta.setup.heapSize)}, align ${meta.setup.align}, SL 2^${meta.setup.slLog2}`;
  return `<header>
    <h1>${escapeHtml(meta.target)} <small>on ${escapeHtml(meta.board.name)}${cpu}</small>
      <span class="result ${run.result === 'ok' ? 'ok' : 'failed'}" id="result">${escapeHtml(String(run.result))}</span></h1>
    ${stopLines(model).join('\n')}
    <div class="figures">
      ${figure('heap', heap)}
      ${figure('heap calls', calls)}
      ${figure('peak used', formatBytes(Number(run.peakUsed)))}
      ${figure('peak requested', formatBytes(Number(run.peakRequested)))}
      ${figure('largest free at peak', formatBytes(Number(run.largestFreeAtPeak)))}
      ${figure('fragmentation at the end', formatPercent(Number(run.fragmentation)))}
    </div>
  </header>`;
}
