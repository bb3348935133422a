import type { RunReport } from '../../board/index.js';
import type { PreparedRun } from '../engine.js';
import { replayOfRun } from '../replay.js';

// Used bytes over a run, sampled to a few dozen points for the chart in `check --markdown` (ci.ts draws it).
// The run's log is replayed on a host heap (replay.ts) because the board logs calls, not heap figures.

export interface UsedChart {
  title: string;
  /** Heap call number of each point. */
  calls: number[];
  /** Used bytes (headers included) just after that call: the highest since the previous point. */
  used: number[];
}

export function usedChart(prepared: PreparedRun, report: RunReport, points = 40): UsedChart {
  const events = report.events ?? [];
  const replay = replayOfRun(prepared, report);
  const lastCall = events.reduce((last, event) => Math.max(last, event.call), 0);
  const perPoint = Math.max(1, Math.ceil(lastCall / points));
  const calls: number[] = [0];
  const used: number[] = [replay.heap.usedBytes];
  let bucketEnd = perPoint;
  let highest = 0;
  while (!replay.done) {
    const event = replay.step();
    if (!event) break;
    if (event.op === 'mark') continue;
    // Each point keeps the bucket's highest value, so a short peak is not sampled away.
    highest = Math.max(highest, replay.heap.usedBytes);
    if (event.call >= bucketEnd) {
      calls.push(event.call);
      used.push(highest);
      highest = 0;
      bucketEnd += perPoint;
    }
  }
  if (highest > 0 || calls[calls.length - 1] !== lastCall) {
    calls.push(lastCall);
    used.push(Math.max(highest, replay.heap.usedBytes));
  }
  return { title: `${prepared.label} on ${report.board}`, calls, used };
}
