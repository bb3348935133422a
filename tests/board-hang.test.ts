// Hangs and limits: a core that branches to itself or waits for an interrupt ends the run at once with
// 'hang'; an endless loop of another shape ends at the wall-clock limit or the instruction budget, with
// 'timeout'. The fixture's main_dispatch is overwritten in the loaded image with the few instructions under
// test (flashPatches), so no cross compiler is needed.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBoard, parseElf, runFirmware, type RunOptions, type RunReport } from '../src/board/index.js';

const fixtureDir = join(import.meta.dirname, 'fixtures', 'elf');
const RUNAWAY_TEST = 10;

function fixture(board: string): Uint8Array {
  return readFileSync(join(fixtureDir, `fixture-${board}.elf`));
}

function mainDispatch(board: string): number {
  return parseElf(fixture(board)).symbolByName.get('main_dispatch')!.value & ~1;
}

/** Runs the fixture with main_dispatch replaced by `code` (Thumb halfwords, little-endian). */
function runCode(board: string, code: number[], extra: Partial<RunOptions> = {}): RunReport {
  const bytes = new Uint8Array(code.flatMap((halfword) => [halfword & 0xff, halfword >> 8]));
  return runFirmware({
    elf: fixture(board),
    elfName: `fixture-${board}.elf`,
    board: loadBoard(board),
    flashPatches: [{ address: mainDispatch(board), bytes }],
    ...extra,
  });
}

const B_SELF = 0xe7fe;
const NOP = 0xbf00;
const WFI = 0xbf30;
const WFE = 0xbf20;
const SEV = 0xbf40;
const RETURN_0 = [0x2000, 0x4770]; // movs r0, #0; bx lr

describe('hang: nothing can wake the core', () => {
  for (const board of ['stm32f411re', 'tiny']) {
    it(`${board}: b . ends the run at once, naming the PC and the function`, () => {
      const report = runCode(board, [NOP, B_SELF]);
      expect(report.result, report.message).toBe('hang');
      expect(report.stoppedAt).toEqual({
        pc: mainDispatch(board) + 2,
        symbol: 'main_dispatch+0x2',
        reason: 'branch-to-self',
      });
      expect(report.message).toMatch(
        /^hang: the core branches to itself at 0x[0-9a-f]+ \(main_dispatch\+0x2\) and nothing can wake it/,
      );
      // The default budget is 2e9; the hang is seen after the first slice or two.
      expect(report.instructions).toBeLessThan(5_000_000);
    });

    it(`${board}: wfi in a loop is a hang at the wfi`, () => {
      const report = runCode(board, [NOP, WFI, 0xe7fc]); // nop; wfi; b (back to the nop)
      expect(report.result, report.message).toBe('hang');
      expect(report.stoppedAt).toMatchObject({ pc: mainDispatch(board) + 2, reason: 'wait-for-interrupt' });
      expect(report.message).toMatch(/waits for an interrupt \(wfi\) at 0x[0-9a-f]+ \(main_dispatch\+0x2\)/);
      expect(report.instructions).toBeLessThan(1000);
    });

    it(`${board}: wfe is a hang (no event can arrive), but not right after sev`, () => {
      const report = runCode(board, [WFE, B_SELF]);
      expect(report.result, report.message).toBe('hang');
      expect(report.stoppedAt).toMatchObject({ pc: mainDispatch(board), reason: 'wait-for-interrupt' });
      expect(report.message).toMatch(/waits for an event \(wfe\)/);
      // sev sets the event register, so the wfe after it returns at once and main_dispatch returns 0:
      // the fixture's reset handler then exits with 100.
      const woken = runCode(board, [SEV, WFE, ...RETURN_0]);
      expect(woken.result, woken.message).toBe('exit-failure');
      expect(woken.exitCode).toBe(100);
    });
  }

  it('sev; wfe in a loop never sleeps: not a hang, it ends at the wall-clock limit', () => {
    const report = runCode('stm32f411re', [SEV, WFE, 0xe7fc], { timeoutMs: 200 }); // b back to the sev
    expect(report.result, report.message).toBe('timeout');
    expect(report.stoppedAt).toMatchObject({ reason: 'wall-clock', symbol: expect.stringMatching(/^main_dispatch/) });
  });

  it('b.w . (the 32-bit branch to itself) is a hang too', () => {
    const report = runCode('stm32h743', [0xf7ff, 0xbffe]);
    expect(report.result, report.message).toBe('hang');
    expect(report.stoppedAt).toMatchObject({ pc: mainDispatch('stm32h743'), reason: 'branch-to-self' });
  });

  it('a b . made conditional by an IT block whose condition fails falls through: no hang', () => {
    // movs r0, #1; cmp r0, #0; it eq; b . (taken only if r0 == 0); movs r0, #0; bx lr. Also with 1-instruction
    // slices, which end everywhere outside IT blocks (Unicorn runs an IT block to its end).
    const code = [0x2001, 0x2800, 0xbf08, B_SELF, ...RETURN_0];
    const counts: number[] = [];
    for (const sliceInstructions of [undefined, 1]) {
      const report = runCode('stm32f411re', code, sliceInstructions ? { sliceInstructions } : {});
      expect(report.result, report.message).toBe('exit-failure');
      expect(report.exitCode).toBe(100);
      counts.push(report.instructions);
    }
    // A slice boundary inside an IT block under-counts by up to 3 (docs/board.md, Open problems).
    expect(Math.abs(counts[1]! - counts[0]!)).toBeLessThanOrEqual(3);
    // Taken (r0 == 0): the same code is a hang, with any slice size.
    for (const sliceInstructions of [undefined, 1]) {
      const taken = runCode(
        'stm32f411re',
        [0x2000, 0x2800, 0xbf08, B_SELF, ...RETURN_0],
        sliceInstructions ? { sliceInstructions } : {},
      );
      expect(taken.result, taken.message).toBe('hang');
    }
  });
});

describe('timeout: the wall clock and the instruction budget', () => {
  const runaway = (extra: Partial<RunOptions>) =>
    runFirmware({
      elf: fixture('stm32f411re'),
      board: loadBoard('stm32f411re'),
      params: { test: RUNAWAY_TEST },
      ...extra,
    });

  it('an endless loop that is not a branch to itself ends at timeoutMs, naming the limit, PC and loop', () => {
    const report = runaway({ timeoutMs: 300 });
    expect(report.result, report.message).toBe('timeout');
    expect(report.stoppedAt).toMatchObject({
      reason: 'wall-clock',
      symbol: expect.stringMatching(/^main_dispatch\+0x/),
    });
    expect(report.message).toMatch(
      /^no exit within 300 ms of host time \(the wall-clock limit; raise it with timeoutMs \/ --timeout\); pc 0x[0-9a-f]+ \(main_dispatch\+0x[0-9a-f]+\)(; the last \d+ slices (all ended at 0x[0-9a-f]+|ended in 0x[0-9a-f]+\.\.0x[0-9a-f]+) \(main_dispatch\))?$/,
    );
    expect(report.instructions).toBeLessThan(2e9);
    expect(report.instructions).toBeGreaterThan(0);
    expect(report.hostMs).toBeGreaterThanOrEqual(300);
  });

  it('the instruction budget, when it comes first, says so', () => {
    const report = runaway({ maxInstructions: 3_000_000, timeoutMs: 60_000 });
    expect(report.result).toBe('timeout');
    expect(report.instructions).toBe(3_000_000);
    expect(report.stoppedAt).toMatchObject({
      reason: 'instruction-budget',
      symbol: expect.stringMatching(/^main_dispatch\+0x/),
    });
    expect(report.message).toMatch(/^no exit after 3000000 instructions \(the instruction budget/);
  });

  it('rejects a timeout that is not a positive number', () => {
    for (const timeoutMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => runaway({ timeoutMs })).toThrow(/timeoutMs must be a positive number of milliseconds/);
    }
  });
});
