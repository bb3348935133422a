import type { HeapEvent } from '../../../board/index.js';
import { HeapReplay, type HeapSnapshot } from '../../replay.js';
import { analyseStep, type StepFacts } from '../../step-analysis.js';
import type { ElfImage } from '../../../board/index.js';
import type { RunModel } from './model.js';

// One moment of the run: the heap just after heap call N (and the marks logged with it), with what that call
// did. Reached by replaying the log forward from where the cursor stands, or from a fresh heap when going back
// (the allocator replays a hundred thousand calls in a few tens of milliseconds).

export interface Moment {
  call: number;
  event: HeapEvent | null;
  before: HeapSnapshot | null;
  after: HeapSnapshot;
  facts: StepFacts | null;
  replay: HeapReplay;
}

export class CallCursor {
  private replay: HeapReplay;

  constructor(private readonly model: RunModel) {
    this.replay = this.fresh();
  }

  private fresh(): HeapReplay {
    return new HeapReplay(this.model.setup, this.model.events);
  }

  at(call: number): Moment {
    const events = this.model.events;
    const firstOfCall = lowerBound(events, call);
    if (this.replay.position > firstOfCall || this.replay.divergence) this.replay = this.fresh();
    const replay = this.replay;
    replay.runWhile((event) => event.call < call);
    const before = call > 0 ? replay.snapshot() : null;
    let event: HeapEvent | null = null;
    while (!replay.done && events[replay.position]!.call === call) {
      const stepped = replay.step();
      if (stepped && stepped.op !== 'mark') event = stepped;
    }
    const after = replay.snapshot();
    // analyseStep asks its image for symbols only; the page's stand-in answers from the report's sites.
    const image = this.model.symbols as unknown as ElfImage;
    const facts = event && before ? analyseStep(replay, event, before, after, image, 64) : null;
    return { call, event, before, after, facts, replay };
  }
}

/** Index of the first event with a call number >= call. */
function lowerBound(events: HeapEvent[], call: number): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (events[middle]!.call < call) low = middle + 1;
    else high = middle;
  }
  return low;
}
