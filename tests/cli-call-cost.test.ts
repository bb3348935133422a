// The cost of each heap call in a run (issue 13): `run --call-cost` reports heapCost for every heap, the cycle
// model is per core (Armv6-M has no CLZ), and `check --max-call-cycles` holds a per-call budget.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zeroCost } from '../src/allocator/index.js';
import { cycleModel, estimateCycles } from '../src/cli/cycle-model.js';
import { root, runCli } from './support/cli.js';

interface CallCost {
  calls: number;
  max: number;
  p99: number;
  mean: number;
  maxCall: { call: number; text: string; caller: string | null; cycles: number; work: Record<string, number> } | null;
}
interface HeapCost {
  malloc: CallCost;
  free: CallCost;
  model: { cpu: string; load: number; store: number; branch: number; bitScan: number; note: string };
}

describe('the cycle model', () => {
  it('prices each counted primitive on the core; M0 and M0+ pay for a bit scan without CLZ', () => {
    const work = { ...zeroCost(), nodesVisited: 1, bitmapWordsScanned: 3, splits: 1, wordsRead: 12, wordsWritten: 11 };
    const m4 = cycleModel('cortex-m4');
    const m0 = cycleModel('cortex-m0');
    // load 2 x 12 + store 1 x 11 + branch 3 x (1 + 3 + 1 + 0 + 3) + RBIT and CLZ 2 x 3
    expect(estimateCycles(work, m4)).toBe(24 + 11 + 24 + 6);
    // load 2 x 12 + store 2 x 11 + branch 3 x 8 + bit scan 8 x 3
    expect(estimateCycles(work, m0)).toBe(24 + 22 + 24 + 24);
    expect(m0.bitScan).toBeGreaterThan(m4.bitScan);
    expect(cycleModel('cortex-m0+').bitScan).toBe(m0.bitScan);
    // Copied bytes cost a load and a store per word.
    expect(estimateCycles({ ...zeroCost(), bytesCopied: 8 }, m4) - estimateCycles(zeroCost(), m4)).toBe(2 * 3);
    expect(m4.note).toMatch(/estimate.*counts are exact/);
  });
});

describe('run --call-cost', () => {
  it.each(['tlsf', 'first-fit', 'best-fit', 'half-fit'])(
    'heapCost in run --json for the %s heap',
    async (heap) => {
      const result = await runCli(['run', 'fragmenter', '--allocator', heap, '--call-cost', '--json']);
      expect(result.code, result.stderr).toBe(0);
      const document = JSON.parse(result.stdout) as { heapCost: HeapCost; ops: { malloc: number; free: number } };
      const cost = document.heapCost;
      expect(cost.model.cpu).toBe('cortex-m4f');
      expect(cost.malloc.calls).toBe(document.ops.malloc + 2); // and the two callocs
      expect(cost.free.calls).toBeGreaterThan(0);
      for (const summary of [cost.malloc, cost.free]) {
        expect(summary.max).toBeGreaterThanOrEqual(summary.p99);
        expect(summary.p99).toBeGreaterThanOrEqual(Math.floor(summary.mean));
        expect(summary.maxCall!.cycles).toBe(summary.max);
        expect(summary.maxCall!.work.wordsRead).toBeGreaterThan(0);
      }
      // Documented in docs/report.schema.json.
      const schema = JSON.parse(readFileSync(join(root, 'docs', 'report.schema.json'), 'utf8')) as {
        $defs: { heapCost: { required: string[] }; callCost: { required: string[] } };
      };
      for (const field of schema.$defs.heapCost.required) expect(cost).toHaveProperty(field);
      for (const field of schema.$defs.callCost.required) expect(cost.malloc).toHaveProperty(field);
    },
    60_000,
  );

  it('is off by default (a default run records and replays nothing), and the text report shows it when on', async () => {
    const plain = await runCli(['run', 'fragmenter', '--json']);
    expect((JSON.parse(plain.stdout) as { heapCost: unknown }).heapCost).toBeNull();
    const text = await runCli(['run', 'sensor-logger', '--board', 'tiny', '--sl', '1', '--call-cost']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/malloc cost +max [\d,]+, p99 [\d,]+, mean [\d.]+ cycles; costliest #\d+ /);
    expect(text.stdout).toMatch(/free cost +max /);
    expect(text.stdout).toMatch(
      /cycles are an estimate from counted work .*the counts are exact; cortex-m0: .*bit scan 8/,
    );
  }, 60_000);
});

describe('check --max-call-cycles', () => {
  const costliest = async (): Promise<number> => {
    const result = await runCli(['run', 'fragmenter', '--call-cost', '--json']);
    const cost = (JSON.parse(result.stdout) as { heapCost: HeapCost }).heapCost;
    return Math.max(cost.malloc.max, cost.free.max);
  };

  it('passes at the costliest call and fails one cycle below it', async () => {
    const worst = await costliest();
    const pass = await runCli(['check', 'fragmenter', '--max-call-cycles', String(worst), '--json']);
    expect(pass.code, pass.stderr).toBe(0);
    const passed = JSON.parse(pass.stdout) as { checks: { check: string; pass: boolean; measured: number }[] };
    expect(passed.checks.find((check) => check.check === 'max-call-cycles')).toMatchObject({
      pass: true,
      measured: worst,
    });
    const fail = await runCli(['check', 'fragmenter', '--max-call-cycles', String(worst - 1)]);
    expect(fail.code, fail.stdout).toBe(1);
    expect(fail.stdout).toMatch(new RegExp(`costliest heap call ~${worst.toLocaleString('en-US')} cycles > max`));
  }, 60_000);

  it('--call-cost belongs to run and check: other commands refuse it rather than ignore it', async () => {
    const result = await runCli(['min-heap', 'fragmenter', '--call-cost']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown option '--call-cost'/);
  }, 60_000);

  it('refuses a budget that is not a positive whole number, in one line', async () => {
    for (const bad of ['0', 'fast', '-5']) {
      const result = await runCli(['check', 'fragmenter', '--max-call-cycles', bad]);
      expect(result.code, `${bad}: ${result.stderr}`).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/--max-call-cycles/);
    }
  }, 60_000);
});
