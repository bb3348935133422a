// The other heaps behind the board, through the command line (issue 13): every built-in scenario on the default
// board under each of them ends ok or out-of-memory, never a fault or a corrupted heap, and the choice is checked
// like any other input.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CliResult, root, runCli } from './support/cli.js';

interface Scenario {
  name: string;
}
const scenarioList = JSON.parse(readFileSync(join(root, 'firmware-sim', 'scenarios.json'), 'utf8')) as Scenario[];
const scenarios = scenarioList.map((scenario) => scenario.name);

/** Runs the jobs two at a time: the machine is shared, and each run is a whole emulator. */
async function inPairs<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = [];
  for (let index = 0; index < jobs.length; index += 2) {
    results.push(...(await Promise.all(jobs.slice(index, index + 2).map((job) => job()))));
  }
  return results;
}

function expectBadInput(result: CliResult, message: RegExp): void {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(message);
}

describe.each(['first-fit', 'best-fit', 'half-fit'])('run <scenario> --allocator %s', (allocator) => {
  it('every built-in scenario ends ok or out-of-memory, and the report names the heap', async () => {
    const results = await inPairs(
      scenarios.map((scenario) => () => runCli(['run', scenario, '--allocator', allocator, '--json'])),
    );
    results.forEach((result, index) => {
      const scenario = scenarios[index]!;
      expect(result.code, `${scenario}: ${result.stderr}`).not.toBe(2);
      expect(result.code, `${scenario}: ${result.stderr}`).not.toBe(3);
      const report = JSON.parse(result.stdout) as {
        result: string;
        allocator: string;
        message: string | null;
        peakUsed: number;
      };
      expect(['ok', 'out-of-memory'], `${scenario} under ${allocator}: ${report.result} ${report.message}`).toContain(
        report.result,
      );
      expect(report.allocator).toBe(allocator);
      expect(report.peakUsed).toBeGreaterThan(0);
    });
  }, 600_000);
});

describe('misuse and corruption under another heap are reported as under TLSF', () => {
  const fixture = join(root, 'tests', 'fixtures', 'elf', 'fixture-tiny.elf');
  // fixture.c: test 6 frees twice, 7 frees a pointer into a block, 8 overflows into the next header, 20 writes
  // into a block after freeing it (caught by --guard).
  const cases = [
    [['--param', 'test=6'], 'fault', 'double-free'],
    [['--param', 'test=7'], 'fault', 'invalid-free'],
    [['--param', 'test=8'], 'heap-corruption', 'corrupted-heap'],
    [['--param', 'test=20', '--guard'], 'heap-corruption', 'metadata-write'],
  ] as const;
  it.each(['first-fit', 'best-fit', 'half-fit'])('%s', async (allocator) => {
    const run = (args: readonly string[]) => () =>
      runCli(['run', fixture, '--board', 'tiny', '--allocator', allocator, ...args, '--json']);
    const results = await inPairs(cases.map(([args]) => run(args)));
    results.forEach((result, index) => {
      const [args, expected, kind] = cases[index]!;
      const report = JSON.parse(result.stdout) as { result: string; fault: { kind: string } | null };
      expect(report.result, args.join(' ')).toBe(expected);
      expect(report.fault?.kind, args.join(' ')).toBe(kind);
    });
  });
});

describe('map and step with another heap', () => {
  it.each(['first-fit', 'best-fit', 'half-fit'])(
    'map replays the run on a %s heap and every address matches',
    async (allocator) => {
      const result = await runCli(['map', 'fragmenter', '--allocator', allocator, '--at', 'peak', '--json']);
      expect(result.code, result.stderr).toBe(0);
      const map = JSON.parse(result.stdout) as {
        allocator: string;
        replay: { matches: boolean; calls: number };
        bitmaps: { consistent: boolean };
        blocks: { used: boolean; class: unknown }[];
      };
      expect(map.allocator).toBe(allocator);
      expect(map.replay.matches).toBe(true);
      expect(map.replay.calls).toBeGreaterThan(10);
      expect(map.bitmaps.consistent).toBe(true);
      expect(map.blocks.some((block) => block.used)).toBe(true);
      expect(map.blocks.every((block) => block.class === null)).toBe(true);
    },
  );

  it('step, which narrates TLSF classes, refuses another heap before running', async () => {
    expectBadInput(
      await runCli(['step', 'packet-pool', '--allocator', 'half-fit']),
      /step explains how TLSF places each block .* use map --at call:N/,
    );
  });
});

describe('min-heap with another heap', () => {
  it("searches that heap, and for half fit adds o1heap's guarantee for the same workload", async () => {
    const result = await runCli([
      'min-heap',
      'sensor-logger',
      '--param',
      'ticks=40',
      '--allocator',
      'half-fit',
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout) as {
      allocator: string;
      minHeap: number;
      worstCase: { robsonBytes: number; halfFitArenaBytes?: number };
    };
    expect(document.allocator).toBe('half-fit');
    expect(document.worstCase.halfFitArenaBytes).toBeGreaterThan(document.minHeap);
    const text = await runCli(['min-heap', 'sensor-logger', '--param', 'ticks=40', '--allocator', 'half-fit']);
    expect(text.stdout).toMatch(/half fit {8}o1heap's H\(M, n, l = \d+ B\) = [\d,]+ B/);
    const tlsf = await runCli(['min-heap', 'sensor-logger', '--param', 'ticks=40', '--json']);
    expect((JSON.parse(tlsf.stdout) as { worstCase: object }).worstCase).not.toHaveProperty('halfFitArenaBytes');
  }, 120_000);
});

describe('--allocator as input', () => {
  it('the human report names the heap instead of TLSF second-level bits', async () => {
    const result = await runCli(['run', 'sensor-logger', '--allocator', 'half-fit', '--param', 'ticks=50']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/half-fit heap, align 8/);
    expect(result.stdout).toMatch(/bin bitmap and 32 bin heads/);
    expect(result.stdout).not.toMatch(/SL 2\^/);
  });

  it('an unknown name is one line, exit 2, with the names and a suggestion', async () => {
    expectBadInput(
      await runCli(['run', 'packet-pool', '--allocator', 'frist-fit']),
      /--allocator: unknown allocator "frist-fit" \(did you mean "first-fit"\?\); allocators: tlsf, first-fit, best-fit, half-fit/,
    );
  });

  it("TLSF's own knobs are refused with another heap rather than ignored", async () => {
    expectBadInput(
      await runCli(['run', 'packet-pool', '--allocator', 'best-fit', '--sl', '3']),
      /--sl sets TLSF's second level; the best-fit heap has none/,
    );
    expectBadInput(
      await runCli(['run', 'packet-pool', '--board', 'stm32f407vg', '--allocator', 'first-fit', '--bank', 'CCM']),
      /--bank: the first-fit heap manages one region; extra banks need --allocator tlsf/,
    );
  });

  it('a budget file takes allocator like any run parameter', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'tlsf-heaps-'));
    const good = join(directory, 'good.yaml');
    writeFileSync(good, 'checks:\n  - scenario: sensor-logger\n    allocator: first-fit\n    params: { ticks: 50 }\n');
    const result = await runCli(['check', '--budget', good, '--json'], { cwd: directory });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/first-fit/);
    // Entries that differ only in the heap stay apart in check's report.
    const both = join(directory, 'both.yaml');
    writeFileSync(
      both,
      'defaults: { params: { ticks: 50 } }\nchecks:\n  - scenario: sensor-logger\n' +
        '  - scenario: sensor-logger\n    allocator: half-fit\n',
    );
    const text = await runCli(['check', '--budget', both], { cwd: directory });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^PASS {2}sensor-logger on stm32f411re /m);
    expect(text.stdout).toMatch(/^PASS {2}sensor-logger \(half-fit\) on stm32f411re /m);
    const bad = join(directory, 'bad.yaml');
    writeFileSync(bad, 'checks:\n  - scenario: sensor-logger\n    allocator: next-fit\n');
    expectBadInput(
      await runCli(['check', '--budget', bad], { cwd: directory }),
      /checks\[0\]\.allocator: unknown allocator "next-fit"/,
    );
  });
});
