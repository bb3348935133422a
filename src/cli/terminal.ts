/**
 * Colour and progress: both only for a person watching a terminal. Pipes, files and CI logs get plain text,
 * and NO_COLOR (https://no-color.org: set and not empty) always wins.
 */
export interface Stream {
  isTTY?: boolean;
  write(text: string): unknown;
  columns?: number;
}

export function colourEnabled(stream: Stream, env: NodeJS.ProcessEnv = process.env, forceOff = false): boolean {
  if (forceOff) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}

export interface Palette {
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  bold(text: string): string;
  dim(text: string): string;
}

const plain = (text: string): string => text;
const sgr = (code: number) => (text: string) => `\u001b[${code}m${text}\u001b[0m`;

export function palette(enabled: boolean): Palette {
  if (!enabled) return { green: plain, red: plain, yellow: plain, bold: plain, dim: plain };
  return { green: sgr(32), red: sgr(31), yellow: sgr(33), bold: sgr(1), dim: sgr(2) };
}

/**
 * A one-line progress bar on stderr. The emulator runs synchronously in this thread, so the bar is drawn from
 * inside the run's progress callback; it stays invisible for the first second so quick runs print nothing,
 * and redraws at most ten times a second so drawing never costs emulation time.
 */
export class ProgressBar {
  private readonly startedAt: number;
  private lastDrawAt = 0;
  private drawn = false;

  constructor(
    private readonly stream: Stream,
    private readonly label: string,
    private readonly enabled: boolean,
    private readonly now: () => number = () => Date.now(),
    private readonly delayMs = 1000,
  ) {
    this.startedAt = now();
  }

  static forStderr(label: string): ProgressBar {
    return new ProgressBar(process.stderr, label, process.stderr.isTTY === true);
  }

  /**
   * `fraction` in [0,1] for work of known size; otherwise a count of instructions so far, drawn against the
   * instruction budget `total` (the run's own length is unknown until it exits; the budget is what a timeout hits).
   */
  update(fractionOrCount: number, total?: number): void {
    if (!this.enabled) return;
    const time = this.now();
    if (time - this.startedAt < this.delayMs || time - this.lastDrawAt < 100) return;
    this.lastDrawAt = time;
    const width = 20;
    const seconds = ((time - this.startedAt) / 1000).toFixed(1);
    const bar = (fraction: number): string => {
      const filled = Math.round(Math.min(1, fraction) * width);
      return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
    };
    let line: string;
    if (fractionOrCount <= 1) {
      line = `${this.label} ${bar(fractionOrCount)} ${(fractionOrCount * 100).toFixed(0).padStart(3)}%  ${seconds}s`;
    } else {
      const millions = (fractionOrCount / 1e6).toFixed(0);
      const budget = total
        ? `  ${bar(fractionOrCount / total)} ${((fractionOrCount / total) * 100).toFixed(0)}% of the ${(total / 1e6).toFixed(0)}M-instruction budget`
        : '';
      line = `${this.label}: ${millions}M instructions${budget}  ${seconds}s`;
    }
    this.stream.write(`\r${line}\u001b[K`);
    this.drawn = true;
  }

  /** Clears the bar so the report that follows starts on a clean line. */
  finish(): void {
    if (this.drawn) this.stream.write('\r\u001b[K');
    this.drawn = false;
  }
}
