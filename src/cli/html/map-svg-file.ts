import { Tlsf } from '../../allocator/index.js';
import { writeFileSync } from 'node:fs';
import { regionsOf } from '../heap-map.js';
import { InputError } from '../errors.js';
import { callerSymbol, callText, fromText, type LearnRun } from '../learn-run.js';
import type { HeapSnapshot } from '../replay.js';
import { heapMapSvg, SITE_COLOURS } from './heap-map-svg.js';

// `map --svg FILE`: the heap map of the chosen moment alone, as the report page draws it, used blocks coloured
// by the call site that allocated them (sites numbered in order of first call).

export function writeMapSvg(path: string, run: LearnRun, snapshot: HeapSnapshot): void {
  const byCall = new Map(run.events.filter((event) => event.op !== 'mark').map((event) => [event.call, event]));
  const sites = new Map<number, number>();
  for (const event of byCall.values()) if (!sites.has(event.caller)) sites.set(event.caller, sites.size);
  const svg = heapMapSvg({
    regions: regionsOf(run.replay),
    blocks: snapshot.blocks,
    controlAddress: run.replay.heap.controlAddress,
    controlBytes: run.replay.heap instanceof Tlsf ? run.replay.heap.layout.controlBytes : run.replay.heap.controlBytes,
    usedColour: (block) => {
      const event = block.allocatedBy === null ? undefined : byCall.get(block.allocatedBy);
      return SITE_COLOURS[(event ? sites.get(event.caller)! : 0) % SITE_COLOURS.length]!;
    },
    describe: (block) => {
      const event = block.allocatedBy === null ? undefined : byCall.get(block.allocatedBy);
      if (!event) return '';
      return `allocated by #${event.call} ${callText(event)}${fromText(callerSymbol(run.image, event.caller), event.caller)}`;
    },
  });
  try {
    writeFileSync(path, `<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`);
  } catch (error) {
    throw new InputError(`cannot write the SVG map ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}
