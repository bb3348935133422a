import { resolve } from 'node:path';
import { hex, Tlsf } from '../allocator/index.js';
import type { RunRequest } from './engine.js';
import { EXIT_CHECK_FAILED, EXIT_OK, InputError, quoteInput } from './errors.js';
import { defaultScale, drawRegion, MAP_LEGEND, regionsOf } from './heap-map.js';
import { callerSymbol, callText, classText, fromText, headline, replayLine, startLearnRun } from './learn-run.js';
import { fileFlag, writeJson, type CliIo } from './options.js';
import { REPORT_SCHEMA_VERSION } from './report.js';
import { HeapReplay } from './replay.js';
import { writeMapSvg } from './html/map-svg-file.js';
import type { Palette } from './terminal.js';
import { formatBytes, formatPercent, parseCount } from './units.js';

// `tlsf-sim map`: the heap at one moment of a run (the end, the peak, or just after call N), drawn as an
// ASCII map and tabulated block by block, with the free lists and bitmaps.

export type MapPoint = { kind: 'end' } | { kind: 'peak' } | { kind: 'call'; call: number };

export function parseMapPoint(text: string): MapPoint {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === 'end') return { kind: 'end' };
  if (trimmed === 'peak') return { kind: 'peak' };
  const match = /^call:(\d+)$/.exec(trimmed);
  if (match) return { kind: 'call', call: Number(match[1]) };
  throw new InputError(
    `--at: ${quoteInput(text)} is not a point of the run; use end, peak or call:N (after heap call N, e.g. call:120)`,
  );
}

export interface MapFlags {
  at?: string;
  width?: string;
  scale?: string;
  json?: boolean;
  svg?: string;
}

export function mapCommand(request: RunRequest, flags: MapFlags, io: CliIo, colours: Palette): number {
  const point = parseMapPoint(flags.at ?? 'end');
  const svgFile = fileFlag(flags.svg, '--svg');
  const width = flags.width === undefined ? 64 : parseCount(flags.width, '--width', { min: 8, max: 1024 });
  const scaleOption =
    flags.scale === undefined ? undefined : parseCount(flags.scale, '--scale', { min: 1, max: 1 << 30 });
  const run = startLearnRun(request);
  const { replay, report, events } = run;
  if (point.kind === 'call' && point.call > run.lastCall) {
    throw new InputError(
      `--at call:${point.call}: the run made ${run.lastCall} heap calls (use call:0..call:${run.lastCall}, peak or end)`,
    );
  }

  // The peak is the first moment usedBytes reaches its highest value: found by a replay, then replayed to.
  let peakCall = 0;
  // The allocator's own high-water mark (the board's peakUsed) can be reached inside a realloc that moves a
  // block, when old and new block are both used for the copy: a moment no between-call view can show.
  let transientPeak: { call: number; op: string; peakUsed: number; betweenCalls: number } | null = null;
  if (point.kind === 'peak') {
    const probe = new HeapReplay(replay.setup, events);
    let highest = probe.heap.usedBytes;
    let inside: { call: number; op: string; peakUsed: number } | null = null;
    while (!probe.done) {
      const peakBefore = probe.heap.peakUsed;
      const event = probe.step();
      if (!event) break;
      if (probe.heap.usedBytes > highest) {
        highest = probe.heap.usedBytes;
        peakCall = event.call;
      }
      if (probe.heap.peakUsed > peakBefore && probe.heap.peakUsed > probe.heap.usedBytes)
        inside = { call: event.call, op: event.op, peakUsed: probe.heap.peakUsed };
    }
    if (inside && inside.peakUsed > highest) transientPeak = { ...inside, betweenCalls: highest };
  }
  const stopAfter = point.kind === 'end' ? Infinity : point.kind === 'peak' ? peakCall : point.call;
  replay.runWhile((event) => event.call <= stopAfter);
  const snapshot = replay.snapshot();
  if (svgFile !== undefined) writeMapSvg(resolve(io.cwd, svgFile), run, snapshot);
  const replayedCalls = events.slice(0, replay.position).filter((event) => event.op !== 'mark').length;
  const atCall = replay.position === 0 ? 0 : events[replay.position - 1]!.call;
  const lastMark =
    events
      .slice(0, replay.position)
      .reverse()
      .find((event) => event.op === 'mark')?.label ?? null;
  const byCall = new Map(events.filter((event) => event.op !== 'mark').map((event) => [event.call, event]));
  const regions = regionsOf(replay);
  const scale = scaleOption ?? defaultScale(regions[0]!.end - regions[0]!.start, width, 16, replay.geometry.align);
  // What the board itself measured at this point, where it measured anything, to set beside the replay.
  const boardFigures =
    point.kind === 'peak'
      ? { usedBytes: report.peakUsed, largestFree: report.largestFreeAtPeak, fragmentation: report.fragmentationAtPeak }
      : point.kind === 'end' && !replay.divergence
        ? { usedBytes: null, largestFree: report.largestFree, fragmentation: report.fragmentation }
        : null;
  const exitCode = report.result === 'ok' && !replay.divergence ? EXIT_OK : EXIT_CHECK_FAILED;

  if (flags.json) {
    writeJson(io, {
      schemaVersion: REPORT_SCHEMA_VERSION,
      command: 'map',
      target: run.prepared.label,
      board: report.board,
      result: report.result,
      message: report.message ?? null,
      at: { point: point.kind, call: atCall, lastMark, transientPeak },
      heapBase: report.heapBase,
      heapSize: report.heapSize,
      allocator: run.prepared.settings.allocator ?? 'tlsf',
      align: run.prepared.settings.align,
      slLog2: run.prepared.settings.slLog2,
      controlAddress: replay.heap.controlAddress,
      controlBytes: replay.heap instanceof Tlsf ? replay.heap.layout.controlBytes : replay.heap.controlBytes,
      usedBytes: snapshot.usedBytes,
      freeBytes: snapshot.freeBytes,
      usedBlocks: snapshot.usedBlocks,
      freeBlocks: snapshot.freeBlocks,
      largestFree: snapshot.largestFree,
      fragmentation: snapshot.fragmentation,
      boardFigures,
      replay: { calls: replayedCalls, matches: replay.divergence === null, divergence: replay.divergence },
      blocks: snapshot.blocks.map((block) => ({
        header: block.header,
        address: block.address,
        blockSize: block.blockSize,
        used: block.used,
        class: block.sizeClass,
        allocatedBy: block.allocatedBy,
        pool: block.pool,
      })),
      bitmaps: {
        firstLevel: snapshot.firstLevelBitmap,
        secondLevel: snapshot.secondLevelBitmaps,
        freeLists: snapshot.freeLists.map((list) => ({
          fl: list.fl,
          sl: list.sl,
          classMin: list.classMin,
          classMax: list.classMax,
          blocks: list.blocks,
          bytes: list.bytes,
        })),
        consistent: snapshot.consistent,
        problems: snapshot.problems,
      },
      scale,
      map: regions.map((region) => ({
        start: region.start,
        end: region.end,
        cells: drawRegion(region, snapshot.blocks, scale, null),
      })),
    });
    return exitCode;
  }

  const out = (line = ''): void => void io.stdout.write(`${line}\n`);
  out(headline(run, colours));
  if (report.result !== 'ok' && report.message) out(`  ${colours.red('stopped')}: ${report.message}`);
  const where =
    point.kind === 'end'
      ? 'at the end of the run'
      : point.kind === 'peak'
        ? 'at the peak (first call that reached the highest used bytes)'
        : `after call #${point.call}`;
  const callEvent = byCall.get(atCall);
  const callPart =
    atCall === 0
      ? 'before the first heap call'
      : `${point.kind === 'call' ? '' : `after call #${atCall} `}${callEvent ? callText(callEvent) : ''}`;
  out(`  ${where}: ${callPart.trim()}${lastMark ? `, in phase "${lastMark}"` : ''}`);
  out(replayLine(run, replayedCalls));
  const blocksText = (n: number): string => `${n} block${n === 1 ? '' : 's'}`;
  out(
    `  used ${formatBytes(snapshot.usedBytes)} in ${blocksText(snapshot.usedBlocks)}, free ${formatBytes(snapshot.freeBytes)} in ${blocksText(snapshot.freeBlocks)}, largest free ${formatBytes(snapshot.largestFree)}, fragmentation ${formatPercent(snapshot.fragmentation)}`,
  );
  if (point.kind === 'peak')
    out(
      `  the board measured at its peak: used ${formatBytes(report.peakUsed)}, largest free ${formatBytes(report.largestFreeAtPeak)}, fragmentation ${formatPercent(report.fragmentationAtPeak)}`,
    );
  if (transientPeak) {
    out(
      `  note: the board's peak used ${formatBytes(transientPeak.peakUsed)} is the allocator's high-water mark, reached inside call #${transientPeak.call} (${transientPeak.op}),`,
    );
    out(
      `        which moved a block: old and new block were both used while the data was copied. Between calls the highest is ${formatBytes(transientPeak.betweenCalls)}, shown here.`,
    );
  }
  if (point.kind === 'end' && !replay.divergence)
    out(
      `  the board measured at the end: largest free ${formatBytes(report.largestFree)}, fragmentation ${formatPercent(report.fragmentation)}`,
    );
  out();
  out(`heap map, ${scale} B per character:  ${MAP_LEGEND}`);
  regions.forEach((region, index) => {
    if (regions.length > 1) out(`${index === 0 ? 'main heap' : 'extra bank'} ${hex(region.start)}..${hex(region.end)}`);
    const cells = drawRegion(region, snapshot.blocks, scale, null);
    for (let at = 0; at < cells.length; at += width)
      out(`  ${hex(region.start + at * scale)}  ${cells.slice(at, at + width)}`);
  });
  out();
  out(`blocks (${snapshot.blocks.length}):`);
  out(`  ${'address'.padEnd(10)}  ${'block'.padStart(9)}  state  ${'class'.padEnd(8)}  allocated by`);
  const shown = snapshot.blocks.slice(0, 200);
  for (const block of shown) {
    const by =
      block.allocatedBy === null
        ? ''
        : (() => {
            const event = byCall.get(block.allocatedBy);
            return event
              ? `#${block.allocatedBy} ${callText(event)}${fromText(callerSymbol(run.image, event.caller), event.caller)}`
              : `#${block.allocatedBy}`;
          })();
    out(
      `  ${hex(block.address)}  ${block.blockSize.toLocaleString('en-US').padStart(9)}  ${block.used ? 'used ' : 'free '}  ${(block.sizeClass ? classText(block.sizeClass) : '').padEnd(8)}  ${by}`.trimEnd(),
    );
  }
  if (snapshot.blocks.length > shown.length)
    out(`  ... ${snapshot.blocks.length - shown.length} more blocks (--json lists them all)`);
  const headerBytes = replay.heap instanceof Tlsf ? 4 : replay.heap.headerBytes;
  out(
    `  (address: the payload, what malloc returned; block: whole block bytes, its ${headerBytes}-byte header included)`,
  );
  out();
  if (!(replay.heap instanceof Tlsf)) {
    // The other heaps have no classes or bitmaps to show; their own check says whether list and walk agree.
    out(
      `free blocks: ${snapshot.freeBlocks} (the ${replay.heap.kind} heap; docs/allocator.md, "Other heaps", says how it keeps them)`,
    );
    out(
      snapshot.consistent
        ? '  its free list and a walk of the heap agree'
        : `  ${colours.red('inconsistent')}: ${snapshot.problems.slice(0, 5).join('; ')}`,
    );
    return exitCode;
  }
  const rows = snapshot.secondLevelBitmaps.map((bits, fl) => (bits !== 0 ? fl : -1)).filter((fl) => fl >= 0);
  out(
    `free lists: first-level bitmap ${hex(snapshot.firstLevelBitmap)} (non-empty rows: ${rows.length > 0 ? rows.join(', ') : 'none'})`,
  );
  for (const fl of rows) {
    const lists = snapshot.freeLists.filter((list) => list.fl === fl);
    out(`  row ${String(fl).padEnd(2)} second-level bitmap ${hex(snapshot.secondLevelBitmaps[fl]!)}`);
    for (const list of lists) {
      const blocksText =
        list.blocks
          .slice(0, 4)
          .map((header) => hex(header + 4))
          .join(', ') + (list.blocks.length > 4 ? `, ... (${list.blocks.length - 4} more)` : '');
      out(
        `    class (${list.fl}, ${list.sl}) ${formatBytes(list.classMin)}..${formatBytes(list.classMax)}: ${list.blocks.length} block${list.blocks.length === 1 ? '' : 's'}, ${formatBytes(list.bytes)}; head first: ${blocksText}`,
      );
    }
  }
  out(
    snapshot.consistent
      ? '  the bitmaps, the list heads and a walk of the heap agree'
      : `  ${colours.red('inconsistent')}: ${snapshot.problems.slice(0, 5).join('; ')}`,
  );
  return exitCode;
}
