// How the run ends and what it printed: the first part of the board to decide a result wins, and asks the
// engine to stop at the next instruction boundary.
import type { Engine } from './engine.js';
import type { FaultInfo, RunReport, RunResult, StoppedAt } from './run-types.js';

export class RunOutcome {
  result: RunResult | null = null;
  message: string | undefined;
  exitCode = 0;
  fault: FaultInfo | undefined;
  stoppedAt: StoppedAt | undefined;
  assertion: RunReport['assertion'];
  /** Firmware console output (the write service and semihosting). */
  output = '';

  constructor(private readonly engine: Engine) {}

  /** Records the result (unless one was already decided) and stops the engine. */
  stop(result: RunResult, message: string, exitCode = 0): void {
    if (this.result === null) {
      this.result = result;
      this.message = message;
      this.exitCode = exitCode;
    }
    this.engine.stop();
  }
}
