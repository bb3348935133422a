// V8 settings for a process that runs the board (docs/board.md, "The heap call's cost"). Each firmware malloc enters
// JavaScript once, and the heap service's optimised code for it inlines the allocator, the block table and the
// peak bookkeeping; V8's default budget for bytecode inlined into one function (920 bytes) runs out before the
// last of them, leaving calls in the hot path; 3000 inlines them all (the figures are in docs/board.md).
// The CLI and the benchmarks call this at start-up; a program embedding the board can too, or run node with the
// flag itself. It changes only how V8 optimises, never what the code does.
import { setFlagsFromString } from 'node:v8';

/** The cumulative inlining budget, in bytes of bytecode, for each optimised function. */
export const INLINING_BUDGET = 3000;

/** Raises V8's cumulative inlining budget for this process; the sooner the better (before code gets hot). */
export function tuneV8ForBoard(): void {
  setFlagsFromString(`--max-inlined-bytecode-size-cumulative=${INLINING_BUDGET}`);
}
