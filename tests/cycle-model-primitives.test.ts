// The cycle model's primitives (src/cli/cycle-model.ts) against the emulator: firmware-sim/tests/primitives.c
// runs each primitive sequence the model prices, built with `tlsf-sim build` for an M0 (tiny) and an M4
// (stm32f411re) and counted by the board instruction by instruction. What is checked is the instruction count
// of each sequence (the board counts instructions, not cycles); the cycles per instruction kind come from the
// Arm TRMs and are not checked here. Needs arm-none-eabi-gcc; without it the test is skipped and says why.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIT_SCAN_SEQUENCE, cycleModel } from '../src/cli/cycle-model.js';
import { root, runCli } from './support/cli.js';

const haveCross = spawnSync('arm-none-eabi-gcc', ['--version']).status === 0;
const crossSkip = haveCross ? '' : ' (skipped: arm-none-eabi-gcc is not installed; apt-get install gcc-arm-none-eabi)';
const source = join(root, 'firmware-sim', 'tests', 'primitives.c');

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tlsf-sim-primitives-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** Instructions per primitive on `board`, from the firmware's "name short long" lines and its repeat counts. */
async function countedOn(board: string): Promise<Map<string, number>> {
  const env = { TLSF_SIM_CACHE: join(work, 'cache') };
  const elf = join(work, `primitives-${board}.elf`);
  // tiny has 32 KiB of flash: float printf would not fit beside the program (and it prints no floats).
  const built = await runCli(['build', source, '--board', board, '--no-float-io', '-o', elf], { cwd: work, env });
  expect(built.code, built.stderr).toBe(0);
  const ran = await runCli(['run', elf, '--board', board, '--json'], { cwd: work, env });
  const report = JSON.parse(ran.stdout) as { result: string; output: string };
  expect(report.result, report.output).toBe('ok');
  const lines = report.output.trimEnd().split('\n');
  expect(lines.at(-1)).toBe('primitives: ok'); // the bit scan found the right bit for every position
  const [, shortRepeats, longRepeats] = lines
    .find((line) => line.startsWith('repeats '))!
    .split(' ')
    .map(Number);
  const counted = new Map<string, number>();
  for (const line of lines) {
    const [name, shortSpan, longSpan] = line.split(' ');
    if (name === 'repeats' || name === 'primitives:') continue;
    const perPrimitive = (Number(longSpan) - Number(shortSpan)) / (longRepeats! - shortRepeats!);
    counted.set(name!, perPrimitive);
  }
  return counted;
}

describe('the cycle model against the board', () => {
  it.skipIf(!haveCross)(
    `M0 (tiny): a load, a store, a taken branch are one instruction each; the bit scan is the model's${crossSkip}`,
    async () => {
      const counted = await countedOn('tiny');
      expect(Object.fromEntries(counted)).toEqual({
        load: 1,
        store: 1,
        branch: 1,
        'bit-scan-armv6m': BIT_SCAN_SEQUENCE.armv6m.length,
      });
      // The model's 8 cycles are those six instructions: two loads at the TRM's 2, four single-cycle ones.
      const m0 = cycleModel('cortex-m0');
      expect(m0.bitScan).toBe(2 * m0.load + 4);
      expect(cycleModel('cortex-m0+').bitScan).toBe(m0.bitScan);
    },
    60_000,
  );

  it.skipIf(!haveCross)(
    `M4 (stm32f411re): one instruction per primitive, CLZ one; a find-first-set is RBIT + CLZ${crossSkip}`,
    async () => {
      const counted = await countedOn('stm32f411re');
      expect(counted.get('load')).toBe(1);
      expect(counted.get('store')).toBe(1);
      expect(counted.get('branch')).toBe(1);
      expect(counted.get('clz')).toBe(1);
      // Finding the lowest set bit (what the searches do) is RBIT + CLZ: the model prices exactly that sequence.
      expect(counted.get('find-first-set-armv7m')).toBe(BIT_SCAN_SEQUENCE.armv7m.length);
      expect(cycleModel('cortex-m4').bitScan).toBe(BIT_SCAN_SEQUENCE.armv7m.length);
      // The Armv6-M sequence counts the same on the M4: the count is the sequence's, not the core's.
      expect(counted.get('bit-scan-armv6m')).toBe(BIT_SCAN_SEQUENCE.armv6m.length);
    },
    60_000,
  );
});
