import { hex } from '../allocator/index.js';
import type { HeapEvent } from '../board/index.js';
import type { RunRequest } from './engine.js';
import { EXIT_CHECK_FAILED, EXIT_OK, InputError } from './errors.js';
import { MAP_LEGEND } from './heap-map.js';
import { callText, fromText, headline, replayLine, startLearnRun } from './learn-run.js';
import { writeJson, type CliIo } from './options.js';
import { REPORT_SCHEMA_VERSION } from './report.js';
import { describeDivergence } from './replay.js';
import { analyseStep, type StepFacts } from './step-analysis.js';
import type { Palette } from './terminal.js';
import { formatBytes, parseCount } from './units.js';

// `tlsf-sim step`: a range of heap calls, each with how TLSF placed or released its block and a one-line map.

export interface StepFlags {
  from?: string;
  count?: string;
  width?: string;
  json?: boolean;
}

export function stepCommand(request: RunRequest, flags: StepFlags, io: CliIo, colours: Palette): number {
  const from = flags.from === undefined ? 1 : parseCount(flags.from, '--from', { min: 1 });
  const count = flags.count === undefined ? 20 : parseCount(flags.count, '--count', { min: 1, max: 100_000 });
  const width = flags.width === undefined ? 64 : parseCount(flags.width, '--width', { min: 8, max: 1024 });
  if (request.allocator !== undefined && request.allocator !== 'tlsf') {
    // Checked before the run: step narrates TLSF's class search, which the other heaps do not have.
    throw new InputError(
      `step explains how TLSF places each block (classes, bitmaps); with --allocator ${request.allocator} use map --at call:N`,
    );
  }
  const run = startLearnRun(request);
  const { replay, report, events } = run;
  if (from > run.lastCall) throw new InputError(`--from ${from}: the run made ${run.lastCall} heap calls`);
  const until = from + count; // exclusive
  replay.runWhile((event) => event.call < from);
  const steps: (StepFacts | { call: number; op: 'mark'; label: string })[] = [];
  let before = replay.snapshot();
  while (!replay.done) {
    const next = events[replay.position]!;
    if (next.call >= until) break;
    const event = replay.step();
    if (!event) break;
    if (event.op === 'mark') {
      steps.push({ call: event.call, op: 'mark', label: event.label ?? '' });
      continue;
    }
    const after = replay.snapshot();
    steps.push(analyseStep(replay, event, before, after, run.image, width));
    before = after;
  }
  const exitCode = report.result === 'ok' && !replay.divergence ? EXIT_OK : EXIT_CHECK_FAILED;

  if (flags.json) {
    writeJson(io, {
      schemaVersion: REPORT_SCHEMA_VERSION,
      command: 'step',
      target: run.prepared.label,
      board: report.board,
      result: report.result,
      message: report.message ?? null,
      heapBase: report.heapBase,
      heapSize: report.heapSize,
      align: run.prepared.settings.align,
      slLog2: run.prepared.settings.slLog2,
      calls: run.lastCall,
      from,
      count,
      replay: { matches: replay.divergence === null, divergence: replay.divergence },
      steps,
    });
    return exitCode;
  }

  const out = (line = ''): void => void io.stdout.write(`${line}\n`);
  out(headline(run, colours));
  if (report.result !== 'ok' && report.message) out(`  ${colours.red('stopped')}: ${report.message}`);
  out(replayLine(run, events.slice(0, replay.position).filter((event) => event.op !== 'mark').length));
  out(
    `  calls #${from}..#${Math.min(until - 1, run.lastCall)}; the line under each is the whole heap (${MAP_LEGEND}  @ this call's block)`,
  );
  for (const step of steps) {
    if (step.op === 'mark') {
      out(colours.dim(`-- mark "${step.label}"`));
      continue;
    }
    const facts = step as StepFacts;
    const returns = facts.op === 'free' ? '' : ` -> ${facts.result === 0 ? 'NULL' : hex(facts.result)}`;
    out();
    out(
      `${colours.bold(`#${facts.call}`)} ${callText({ ...facts, instructions: 0 } as HeapEvent)}${fromText(facts.callerSymbol, facts.caller)}${returns}`,
    );
    for (const line of facts.explanation) out(`     ${line}`);
    out(`     [${facts.miniMap}]  used ${formatBytes(facts.usedAfter)}`);
  }
  if (replay.divergence) out(`\n${colours.red('replay diverged')}: ${describeDivergence(replay.divergence)}`);
  return exitCode;
}
