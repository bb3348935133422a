import { Tlsf } from '../../../allocator/index.js';
import { regionsOf } from '../../heap-map.js';
import { callText, fromText } from '../../learn-run.js';
import { heapMapSvg } from '../heap-map-svg.js';
import type { Moment } from './cursor.js';
import { siteColour, type RunModel } from './model.js';

// The heap map of one moment (heap-map-svg.ts, the drawing `map --svg` writes): used blocks in the colour of
// the call site that allocated them, the block the call returned or released outlined.

export function heapMapHtml(model: RunModel, moment: Moment): string {
  const { replay, after, facts } = moment;
  const allocatingEvent = (call: number | null) => (call === null ? undefined : model.eventOfCall.get(call));
  return heapMapSvg({
    regions: regionsOf(replay),
    blocks: after.blocks,
    controlAddress: replay.heap.controlAddress,
    controlBytes: replay.heap instanceof Tlsf ? replay.heap.layout.controlBytes : replay.heap.controlBytes,
    highlight: facts?.block ?? facts?.released ?? null,
    usedColour: (block) => {
      const event = allocatingEvent(block.allocatedBy);
      return siteColour(model, event ? model.siteOfCaller.get(event.caller) : undefined);
    },
    describe: (block) => {
      const event = allocatingEvent(block.allocatedBy);
      if (!event) return block.allocatedBy === null ? '' : `allocated by call #${block.allocatedBy}`;
      const from = fromText(model.symbols.symbolOf(event.caller) ?? null, event.caller);
      return `allocated by #${event.call} ${callText(event)}${from}`;
    },
  });
}
