// CI at scale (issue 12): check --jobs, --shard and merge, --baseline and --max-growth, and sweep. Through the
// built CLI where a user's command line is the point, call sites included (real runs carry peakSites); the
// comparison's corner cases and the markdown's shape through their functions, with hand-written reports.
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareRuns, grownSites, growthOutcomes, matchBaseline, withPeakSites } from '../src/cli/baseline.js';
import { checkDocument, writeCheckOutputs } from '../src/cli/check-report.js';
import { parseBudget } from '../src/cli/budget.js';
import { toMarkdown } from '../src/cli/ci.js';
import { InputError } from '../src/cli/errors.js';
import type { CliIo } from '../src/cli/options.js';
import { palette } from '../src/cli/terminal.js';
import { assignShards, parseShardSpec, shardEntries } from '../src/cli/shard.js';
import { collectSweepParam, fitLine } from '../src/cli/sweep-range.js';
import { type CliResult, runCli } from './support/cli.js';

const work = mkdtempSync(join(tmpdir(), 'tlsf-ci-scale-'));
let caseCount = 0;

/** A fresh directory with the given files. */
function directoryWith(files: Record<string, string>): string {
  const directory = join(work, `case-${caseCount++}`);
  mkdirSync(directory);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(directory, name), text);
  return directory;
}

function cli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { cwd, env });
}

function expectBadInput(result: CliResult, message: RegExp): void {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(message);
}

/** A check document without what differs between two runs of the same thing: host time. */
function withoutHostTime(text: string): unknown {
  const document = JSON.parse(text) as { runs: Record<string, unknown>[] };
  for (const run of document.runs) delete run.hostMs;
  return document;
}

/**
 * What GitHub needs to render a markdown report as meant: a blank line and a separator row after each table's
 * header, every row with the header's number of cells (an unescaped | inside a cell would add one), fences and
 * <details> closed, and no `<` outside them that could open HTML.
 */
function expectSaneMarkdown(markdown: string): void {
  const lines = markdown.split('\n');
  const cellCount = (row: string): number => row.replace(/\\./g, '').split('|').length - 2;
  let fenced = false;
  let tableCells: number | null = null;
  let details = 0;
  lines.forEach((line, number) => {
    const where = `line ${number + 1}: ${line}`;
    if (line.startsWith('```')) {
      fenced = !fenced;
      return;
    }
    if (fenced) return;
    if (line === '<details>' || line === '</details>') {
      details += line === '<details>' ? 1 : -1;
      return;
    }
    if (!line.startsWith('<summary>')) expect(line, where).not.toMatch(/(^|[^\\])</);
    if (!line.startsWith('|')) {
      tableCells = null;
      return;
    }
    expect(line.endsWith('|'), where).toBe(true);
    if (tableCells === null) {
      expect(lines[number - 1], where).toBe('');
      expect(lines[number + 1], where).toMatch(/^\|(-+:?\|)+$/);
      tableCells = cellCount(line);
    } else {
      expect(cellCount(line), where).toBe(tableCells);
    }
  });
  expect(fenced).toBe(false);
  expect(details).toBe(0);
}

const withoutXmlTimes = (xml: string): string => xml.replace(/ time="[0-9.]+"/g, '');

// Five runs on three boards, one of which (packet-pool on the 8 KiB teaching board) runs out of memory, and
// the same scenario twice on one board with different parameters, so that entries are told apart by number.
const BUDGET = `
defaults: { limits: { max-peak: 16K, no-oom: true } }
checks:
  - scenario: packet-pool
    params: { bursts: 20 }
    boards: [stm32f411re, tiny]
  - scenario: packet-pool
    params: { bursts: 40 }
    board: stm32f411re
  - scenario: rtos-queues
    params: { rounds: 40 }
  - scenario: json-doc
    params: { docs: 2 }
    board: nrf52840
`;

describe.concurrent('check --shard and merge', () => {
  it('shards 1..3 merged give the unsharded JSON, JUnit, text and exit code', async () => {
    const directory = directoryWith({ 'tlsf-budget.yaml': BUDGET });
    const whole = await cli(['check', '--json', '--jobs', '1', '--junit', 'whole.xml'], directory);
    expect(whole.code, whole.stderr).toBe(1);
    const shards = await Promise.all(
      [1, 2, 3].map((index) => cli(['check', '--json', '--jobs', '1', '--shard', `${index}/3`], directory)),
    );
    shards.forEach((shard, index) => {
      expect(shard.code === 0 || shard.code === 1, shard.stderr).toBe(true);
      writeFileSync(join(directory, `shard-${index + 1}.json`), shard.stdout);
    });
    // Every entry in exactly one shard, dealt out in turn when costs are unknown.
    expect(shards.map((shard) => JSON.parse(shard.stdout).shard.entries)).toEqual([[0, 3], [1, 4], [2]]);

    const merged = await cli(
      ['merge', 'shard-3.json', 'shard-1.json', 'shard-2.json', '--json', '--junit', 'merged.xml'],
      directory,
    );
    expect(merged.code, merged.stderr).toBe(1);
    expect(withoutHostTime(merged.stdout)).toEqual(withoutHostTime(whole.stdout));
    expect(withoutXmlTimes(readFileSync(join(directory, 'merged.xml'), 'utf8'))).toBe(
      withoutXmlTimes(readFileSync(join(directory, 'whole.xml'), 'utf8')),
    );

    const wholeText = await cli(['check', '--jobs', '1'], directory);
    const mergedText = await cli(['merge', 'shard-1.json', 'shard-2.json', 'shard-3.json'], directory);
    expect(mergedText.stdout).toBe(wholeText.stdout);
    expect(mergedText.code).toBe(wholeText.code);
  });

  it('JUnit keeps two entries of the same target and board apart (one testsuite per entry)', async () => {
    const directory = directoryWith({ 'tlsf-budget.yaml': BUDGET });
    const result = await cli(['check', '--junit', 'junit.xml'], directory);
    expect(result.code, result.stderr).toBe(1);
    const xml = readFileSync(join(directory, 'junit.xml'), 'utf8');
    expect(xml.match(/<testsuite name="packet-pool on stm32f411re"/g)).toHaveLength(2);
  });

  it("--shard auto reads GitLab's CI_NODE_INDEX / CI_NODE_TOTAL", async () => {
    const directory = directoryWith({ 'tlsf-budget.yaml': BUDGET });
    const auto = await cli(['check', '--json', '--shard', 'auto'], directory, {
      CI_NODE_INDEX: '2',
      CI_NODE_TOTAL: '3',
    });
    const explicit = await cli(['check', '--json', '--shard', '2/3'], directory);
    expect(withoutHostTime(auto.stdout)).toEqual(withoutHostTime(explicit.stdout));
    expect(JSON.parse(auto.stdout).shard).toEqual({ index: 2, count: 3, entries: [1, 4] });
  });

  const badShards: [string, RegExp][] = [
    ['0/3', /--shard: shard 0 of 3 does not exist/],
    ['4/3', /--shard: shard 4 of 3 does not exist/],
    ['1/0', /--shard: 0 shards; give 1 to 1000/],
    ['a/b', /--shard: "a" is not a whole number/],
    ['2-3', /--shard: "2-3" is not i\/n \(e\.g\. 2\/4\) or auto/],
    ['1/3/5', /--shard: "3\/5" is not a whole number/],
    ['auto', /--shard auto: CI_NODE_INDEX and CI_NODE_TOTAL are not both set/],
  ];
  it.each(badShards)('a malformed --shard %s is exit 2 with one line', async (spec, message) => {
    const directory = directoryWith({ 'tlsf-budget.yaml': BUDGET });
    expectBadInput(await cli(['check', '--shard', spec], directory), message);
  });

  it('a shard with no entries passes and merges', async () => {
    const directory = directoryWith({
      'tlsf-budget.yaml': 'checks:\n  - scenario: packet-pool\n    params: { bursts: 5 }\n',
    });
    const empty = await cli(['check', '--json', '--shard', '2/2'], directory);
    expect(empty.code, empty.stderr).toBe(0);
    expect(JSON.parse(empty.stdout).runs).toEqual([]);
    const first = await cli(['check', '--json', '--shard', '1/2'], directory);
    writeFileSync(join(directory, 'a.json'), first.stdout);
    writeFileSync(join(directory, 'b.json'), empty.stdout);
    const merged = await cli(['merge', 'a.json', 'b.json'], directory);
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stdout).toMatch(/^1 check passed \(1 run, tlsf-budget\.yaml\)$/m);
  });

  it('mismatched merges are exit 2 naming the file', async () => {
    const directory = directoryWith({
      'tlsf-budget.yaml': BUDGET,
      'other.yaml': BUDGET.replace('max-peak: 16K', 'max-peak: 15K'),
      'broken.json': '{"schemaVersion": 1, "command": "check", ',
      'future.json': JSON.stringify({ schemaVersion: 2, command: 'check', checks: [], runs: [] }),
    });
    const shard = async (index: number, budget = 'tlsf-budget.yaml'): Promise<string> => {
      const result = await cli(['check', '--budget', budget, '--json', '--shard', `${index}/3`], directory);
      return result.stdout;
    };
    writeFileSync(join(directory, 's1.json'), await shard(1));
    writeFileSync(join(directory, 's2.json'), await shard(2));
    writeFileSync(join(directory, 's3.json'), await shard(3));
    writeFileSync(join(directory, 'o3.json'), await shard(3, 'other.yaml'));
    const run = await cli(['run', 'packet-pool', '--param', 'bursts=5', '--json'], directory);
    writeFileSync(join(directory, 'run.json'), run.stdout);

    expectBadInput(
      await cli(['merge', 's1.json', 's3.json'], directory),
      /budget entries 1, 4 are in none of the 2 reports; missing shard 2\/3/,
    );
    expectBadInput(
      await cli(['merge', 's1.json', 's2.json', 's2.json', 's3.json'], directory),
      /report s2\.json \(shard 2\/3\) overlaps s2\.json \(shard 2\/3\)/,
    );
    expectBadInput(
      await cli(['merge', 's1.json', 's2.json', 'o3.json'], directory),
      /report o3\.json is of a different budget than s1\.json/,
    );
    expectBadInput(await cli(['merge', 's1.json', 'broken.json'], directory), /report broken\.json is not JSON/);
    expectBadInput(
      await cli(['merge', 'future.json'], directory),
      /report future\.json has schema version 2; this tlsf-sim reads version 1/,
    );
    expectBadInput(
      await cli(['merge', 's1.json', 'run.json'], directory),
      /report run\.json: not a `check --json` report \(command "run"\)/,
    );
    expectBadInput(await cli(['merge', 'nothing.json'], directory), /cannot read report nothing\.json: no such file/);
  });
});

describe.concurrent('check --jobs', () => {
  it('--jobs 2 prints and reports exactly what --jobs 1 does', async () => {
    const directory = directoryWith({ 'tlsf-budget.yaml': BUDGET });
    const [oneText, twoText, oneJson, twoJson] = await Promise.all([
      cli(['check', '--jobs', '1'], directory),
      cli(['check', '--jobs', '2'], directory),
      cli(['check', '--jobs', '1', '--json'], directory),
      cli(['check', '--jobs', '2', '--json'], directory),
    ]);
    expect(twoText.code).toBe(1);
    expect(twoText.stdout).toBe(oneText.stdout);
    expect(twoText.code).toBe(oneText.code);
    expect(withoutHostTime(twoJson.stdout)).toEqual(withoutHostTime(oneJson.stdout));
  });

  it('an entry whose image does not fit its board is exit 2 naming the entry before any run; a failing tool is exit 3', async () => {
    // 64 KiB of heap does not fit the teaching board's 8 KiB: found when every image is loaded onto its board,
    // before any run, so no PASS line of the first entry is printed ahead of the error, with or without workers.
    const directory = directoryWith({
      'tlsf-budget.yaml':
        'checks:\n  - scenario: packet-pool\n    params: { bursts: 2000 }\n  - scenario: packet-pool\n    board: tiny\n    heap: 64K\n',
    });
    const [bad, inOrder] = await Promise.all([
      cli(['check', '--jobs', '2'], directory),
      cli(['check', '--jobs', '1'], directory),
    ]);
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toMatch(/^tlsf-sim: .*tlsf-budget\.yaml: checks\[1\]: /);
    expect(bad.stderr).toMatch(/heap of 65536 bytes .* does not fit/);
    expect(bad.stdout).toBe('');
    expect(bad.stdout).toBe(inOrder.stdout);
    expect(bad.stderr).toBe(inOrder.stderr);
    const broken = await cli(['check', 'packet-pool', '--board', 'stm32f411re,rp2040', '--jobs', '2'], directory, {
      TLSF_SIM_TEST_FAULT: 'internal',
    });
    expect(broken.code, broken.stderr).toBe(3);
    expect(broken.stderr).toMatch(/internal error: Error: injected internal error/);
  });

  it('--jobs must be a whole number from 1', async () => {
    const directory = directoryWith({ 'tlsf-budget.yaml': BUDGET });
    expectBadInput(await cli(['check', '--jobs', '0'], directory), /--jobs: "0" must be a whole number from 1 to 64/);
  });
});

describe.concurrent('check --baseline and --max-growth', () => {
  it('a baseline with fewer bursts fails --max-growth 5% while the absolute limit passes, naming the site', async () => {
    const directory = directoryWith({});
    // The baseline stands for the main branch, whose firmware did 100 bursts where this one does its default 300:
    // the run report of 100 bursts, under the parameters this check runs with (none given).
    const old = await cli(['run', 'packet-pool', '--param', 'bursts=100', '--json'], directory);
    const baseline = JSON.parse(old.stdout) as Record<string, unknown>;
    baseline.params = {};
    writeFileSync(join(directory, 'main.json'), JSON.stringify(baseline));
    // The receive path's packet_alloc holds the frames: more bursts reach a deeper queue, so it holds more.
    const grew = /packet_alloc\+0x[0-9a-f]+ holds 11,400 B in 15 blocks, \+1,472 B against the baseline/;

    const absolute = await cli(['check', 'packet-pool', '--max-peak', '64K', '--baseline', 'main.json'], directory);
    expect(absolute.code, absolute.stdout + absolute.stderr).toBe(0);
    expect(absolute.stdout).toMatch(/vs baseline +peak used 10,248 B -> 11,720 B \(\+1,472 B\)/);

    const gate = ['check', 'packet-pool', '--max-peak', '64K', '--max-growth', '5%', '--baseline', 'main.json'];
    const [result, text] = await Promise.all([
      cli([...gate, '--json', '--markdown', 'pr.md', '--junit', 'junit.xml'], directory),
      cli(gate, directory),
    ]);
    expect(result.code, result.stderr).toBe(1);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(
      new RegExp(
        `^FAIL {2}packet-pool on stm32f411re {2}max-growth +peak used 10,248 B -> 11,720 B \\(\\+14\\.4%\\) > max growth 5\\.0%; grew: ${grew.source}$`,
        'm',
      ),
    );
    const document = JSON.parse(result.stdout);
    const byCheck = (name: string) => document.checks.filter((check: { check: string }) => check.check === name);
    expect(byCheck('max-peak')[0].pass).toBe(true);
    expect(byCheck('max-growth').map((check: { figure: string; pass: boolean }) => [check.figure, check.pass])).toEqual(
      [
        ['peakUsed', false],
        ['peakSpan', false],
      ],
    );
    for (const check of byCheck('max-growth')) expect(check.summary).toMatch(grew);
    expect(document.runs[0].baseline.figures.peakUsed).toEqual({ old: 10248, new: 11720, delta: 1472 });
    expect(document.runs[0].baseline.sites[0]).toMatchObject({
      bytes: 11_400,
      blocks: 15,
      oldBytes: 9_928,
      delta: 1_472,
    });
    expect(document.baseline).toEqual({ file: 'main.json', digest: expect.stringMatching(/^[0-9a-f]{16}$/) });

    const junit = readFileSync(join(directory, 'junit.xml'), 'utf8');
    const failures = junit.match(/<failure type="max-growth" message="[^"]*"/g) ?? [];
    expect(failures).toHaveLength(2);
    for (const failure of failures) expect(failure).toMatch(grew);

    const markdown = readFileSync(join(directory, 'pr.md'), 'utf8');
    expectSaneMarkdown(markdown);
    expect(markdown).toContain('| ❌ | packet-pool | stm32f411re | 10,248 B -> 11,720 B (+1,472 B) |');
    expect(markdown).toMatch(
      /\| packet-pool \| stm32f411re \| `packet_alloc\+0x[0-9a-f]+` \| 11,400 B in 15 blocks \| 9,928 B \| \+1,472 B \|/,
    );
    // The reason in prose, escaped so that the underscore stays an underscore when rendered.
    expect(markdown).toMatch(/^- packet-pool on stm32f411re, max-growth \(peak used\): .*grew: packet\\_alloc\+0x/m);
    expect(markdown).toContain('Unchanged in every run: failed allocations, stack peak.');
  });

  it('a failing max-peak check names the three largest sites in text, JSON, markdown and JUnit', async () => {
    // third-party holds its peak in seven sites; the three largest are named, largest first.
    const directory = directoryWith({});
    const args = ['check', 'third-party', '--max-peak', '2K'];
    const [json, text] = await Promise.all([
      cli([...args, '--json', '--markdown', 'pr.md', '--junit', 'junit.xml'], directory),
      cli(args, directory),
    ]);
    expect(json.code, json.stderr).toBe(1);
    const run = JSON.parse(json.stdout).runs[0] as { peakSites: { bytes: number }[] };
    expect(run.peakSites.length).toBeGreaterThan(3);
    const named = [
      '__smakebuf_r+0x4e holds 1,032 B in 1 block',
      'hashmap_add+0x64 holds 920 B in 38 blocks',
      'textlist_push+0x18 holds 912 B in 38 blocks',
    ].join('; ');
    const summary = `peak used 4,184 B > max 2,048 B; ${named}`;
    expect(text.stdout).toContain(`FAIL  third-party on stm32f411re  max-peak          ${summary}\n`);
    const check = JSON.parse(json.stdout).checks.find((outcome: { check: string }) => outcome.check === 'max-peak');
    expect(check.summary).toBe(summary);
    const junit = readFileSync(join(directory, 'junit.xml'), 'utf8');
    expect(junit).toContain(`<failure type="max-peak" message="${summary.replace('>', '&gt;')}">`);
    const markdown = readFileSync(join(directory, 'pr.md'), 'utf8');
    expectSaneMarkdown(markdown);
    expect(markdown).toContain(
      '- third-party on stm32f411re, max-peak: peak used 4,184 B > max 2,048 B; \\_\\_smakebuf\\_r+0x4e holds 1,032 B',
    );
  });

  it('a run against its own baseline passes, and an entry the baseline lacks is new, not failed', async () => {
    const directory = directoryWith({ 'tlsf-budget.yaml': BUDGET });
    const first = await cli(['check', '--json'], directory);
    writeFileSync(join(directory, 'main.json'), first.stdout);
    const again = await cli(['check', '--json', '--max-growth', '0%', '--baseline', 'main.json'], directory);
    const document = JSON.parse(again.stdout);
    const growth = document.checks.filter((check: { check: string }) => check.check === 'max-growth');
    // The teaching board's run fails its absolute limits as before, but nothing grew.
    expect(growth.length).toBe(10);
    expect(growth.every((check: { pass: boolean }) => check.pass)).toBe(true);

    const more = directoryWith({
      'tlsf-budget.yaml': `${BUDGET}  - scenario: sensor-logger\n`,
      'main.json': first.stdout,
    });
    const withNew = await cli(
      ['check', '--json', '--max-growth', '0%', '--baseline', 'main.json', '--jobs', '1', '--markdown', 'pr.md'],
      more,
    );
    const added = JSON.parse(withNew.stdout);
    // Nothing changed: the table keeps peak used alone; the new run neither fails nor widens it.
    const markdown = readFileSync(join(more, 'pr.md'), 'utf8');
    expectSaneMarkdown(markdown);
    expect(markdown).toContain('| | Target | Board | peak used |\n');
    expect(markdown).toMatch(/\n\| 🆕 \| sensor-logger \| stm32f411re \| [\d,]+ B \(new\) \|\n/);
    expect(markdown).toContain(
      'Unchanged in every run in the baseline: peak span, fragmentation, failed allocations, instructions, stack peak, RAM needed.',
    );
    expect(added.runs[5].baseline).toBeNull();
    const newCheck = added.checks.find(
      (check: { entry: number; check: string }) => check.entry === 5 && check.check === 'max-growth',
    );
    expect(newCheck).toMatchObject({ pass: true, measured: 'new' });
  });

  it("balances shards by the baseline's instructions when it has them", async () => {
    const directory = directoryWith({ 'tlsf-budget.yaml': BUDGET });
    const first = await cli(['check', '--json'], directory);
    writeFileSync(join(directory, 'main.json'), first.stdout);
    const shard = await cli(['check', '--json', '--shard', '1/2', '--baseline', 'main.json'], directory);
    const runs = JSON.parse(first.stdout).runs as { instructions: number }[];
    const costs = runs.map((run) => run.instructions);
    expect(JSON.parse(shard.stdout).shard.entries).toEqual(
      shardEntries(assignShards(costs, 2), { index: 1, count: 2 }),
    );
  });

  it('merge refuses shards compared with different versions of the baseline file', async () => {
    const budget =
      'checks:\n  - scenario: packet-pool\n    params: { bursts: 5 }\n  - scenario: rtos-queues\n    params: { rounds: 5 }\n';
    const directory = directoryWith({ 'tlsf-budget.yaml': budget });
    const first = await cli(['check', '--json'], directory);
    writeFileSync(join(directory, 'main.json'), first.stdout);
    const shardOne = await cli(['check', '--json', '--shard', '1/2', '--baseline', 'main.json'], directory);
    writeFileSync(join(directory, 's1.json'), shardOne.stdout);
    // main.json fetched again later: the main branch's report has moved on.
    const moved = JSON.parse(first.stdout);
    moved.runs[1].peakUsed += 8;
    writeFileSync(join(directory, 'main.json'), JSON.stringify(moved));
    const shardTwo = await cli(['check', '--json', '--shard', '2/2', '--baseline', 'main.json'], directory);
    writeFileSync(join(directory, 's2.json'), shardTwo.stdout);
    expectBadInput(
      await cli(['merge', 's1.json', 's2.json'], directory),
      /report s2\.json was compared with baseline main\.json, s1\.json with main\.json \(or another version of it\)/,
    );
  });

  it('bad baselines and a growth limit without one are exit 2', async () => {
    const directory = directoryWith({
      'future.json': JSON.stringify({ schemaVersion: 9, command: 'run' }),
      'min-heap.json': JSON.stringify({ schemaVersion: 1, command: 'min-heap' }),
      'text.json': 'peak used 1,234 B',
    });
    const target = ['check', 'packet-pool', '--param', 'bursts=5', '--max-peak', '64K'];
    expectBadInput(
      await cli([...target, '--baseline', 'future.json'], directory),
      /baseline .*future\.json has schema version 9; this tlsf-sim reads version 1/,
    );
    expectBadInput(
      await cli([...target, '--baseline', 'min-heap.json'], directory),
      /baseline .*min-heap\.json is not a check or run report \(command "min-heap"\)/,
    );
    expectBadInput(await cli([...target, '--baseline', 'text.json'], directory), /baseline .*text\.json is not JSON/);
    expectBadInput(await cli([...target, '--max-growth', '5%'], directory), /--max-growth needs --baseline FILE/);
  });
});

// A run report as the board will write it once it attributes the peak to call sites (peakSites), by hand.
function handRun(
  peakUsed: number,
  sites: [symbol: string, offset: number, blocks: number, bytes: number][],
): Record<string, unknown> {
  return {
    schemaVersion: 1,
    command: 'run',
    target: 'packet-pool',
    board: 'stm32f411re',
    params: {},
    result: 'ok',
    message: null,
    ops: { failed: 0 },
    peakUsed,
    peakSpan: peakUsed + 1000,
    largestFreeAtPeak: 50_000,
    fragmentation: 0,
    fragmentationAtPeak: 0,
    instructions: 1_000_000,
    heapSize: 126_840,
    peakSites: sites.map(([symbol, offset, blocks, bytes]) => ({
      site: 0x0800_0100 + offset,
      symbol,
      offset,
      blocks,
      bytes,
    })),
  };
}

describe('baseline comparison with call sites (hand-written reports with peakSites)', () => {
  const old = handRun(8_000, [
    ['packet_alloc', 0x1a, 4, 6_144],
    ['queue_create', 0x10, 2, 1_000],
    ['timer_new', 0x8, 1, 400],
  ]);
  const now = handRun(10_500, [
    ['packet_alloc', 0x1a, 6, 8_192],
    ['queue_create', 0x10, 2, 1_000],
    ['log_buffer', 0x22, 1, 900],
    ['timer_new', 0x8, 1, 100],
  ]);

  it('names the sites that grew in a failing growth check, most growth first', () => {
    const comparison = compareRuns(now, old);
    expect(comparison.sites!.map((site) => [site.site, site.delta])).toEqual([
      ['packet_alloc+0x1a', 2_048],
      ['queue_create+0x10', 0],
      ['log_buffer+0x22', 900],
      ['timer_new+0x8', -300],
    ]);
    const [peak] = growthOutcomes('packet-pool', 'stm32f411re', comparison, { peakUsed: 0.05 });
    expect(peak!.pass).toBe(false);
    expect(peak!.summary).toBe(
      'peak used 8,000 B -> 10,500 B (+31.3%) > max growth 5.0%; grew: ' +
        'packet_alloc+0x1a holds 8,192 B in 6 blocks, +2,048 B against the baseline; ' +
        'log_buffer+0x22 holds 900 B in 1 block, +900 B against the baseline',
    );
  });

  it('gives the source line of a site when the firmware has line tables', () => {
    const withLines = handRun(10_500, [['packet_alloc', 0x1a, 6, 8_192]]);
    Object.assign((withLines.peakSites as Record<string, unknown>[])[0]!, { file: 'src/net/packet.c', line: 97 });
    const comparison = compareRuns(withLines, old);
    expect(comparison.sites![0]).toMatchObject({ site: 'packet_alloc+0x1a', source: 'src/net/packet.c:97' });
    const [peak] = growthOutcomes('packet-pool', 'stm32f411re', comparison, { peakUsed: 0.05 });
    expect(peak!.summary).toContain(
      'grew: packet_alloc+0x1a (src/net/packet.c:97) holds 8,192 B in 6 blocks, +2,048 B against the baseline',
    );
    const markdown = toMarkdown([], {
      baselineFile: 'main.json',
      headers: ['peak used'],
      runs: [
        {
          target: 'packet-pool',
          board: 'stm32f411re',
          cells: ['8,000 B -> 10,500 B (+2,500 B)'],
          changed: [true],
          failed: true,
          grownSites: grownSites(comparison.sites!),
        },
      ],
    });
    expectSaneMarkdown(markdown);
    expect(markdown).toContain(
      '| packet-pool | stm32f411re | `packet_alloc+0x1a` (src/net/packet.c:97) | 8,192 B in 6 blocks | 6,144 B | +2,048 B |',
    );
  });

  it('names the three largest sites in a failing max-peak check', () => {
    const comparison = compareRuns(now, old);
    const outcomes = withPeakSites(
      [
        {
          target: 'packet-pool',
          board: 'stm32f411re',
          check: 'max-peak',
          pass: false,
          measured: 10_500,
          limit: 10_000,
          unit: 'bytes',
          summary: 'peak used 10,500 B > max 10,000 B',
        },
      ],
      comparison.sites,
    );
    expect(outcomes[0]!.summary).toBe(
      'peak used 10,500 B > max 10,000 B; packet_alloc+0x1a holds 8,192 B in 6 blocks, +2,048 B against the baseline; ' +
        'queue_create+0x10 holds 1,000 B in 2 blocks, ±0 B against the baseline; log_buffer+0x22 holds 900 B in 1 block, +900 B against the baseline',
    );
  });

  it('draws a PR-comment table of changed figures and a table of the sites that grew', () => {
    const [match] = matchBaseline({ file: 'main.json', runs: [old] }, [now]);
    const comparison = compareRuns(now, match!);
    const run = { ...now, entry: 0, baseline: comparison };
    const checks = growthOutcomes('packet-pool', 'stm32f411re', comparison, { peakUsed: 0.05 }).map((outcome) => ({
      ...outcome,
      entry: 0,
    }));
    const document = checkDocument({
      budgetFile: null,
      budget: { digest: 'x', entries: 1 },
      baseline: { file: 'main.json', digest: 'y' },
      checks,
      runs: [run],
    });
    const directory = directoryWith({});
    const stdout = { write: () => true };
    writeCheckOutputs(
      document,
      { json: false, markdownFile: join(directory, 'pr.md'), writeRunLines: false, colours: palette(false) },
      { stdout, stderr: stdout, env: {}, cwd: directory } as unknown as CliIo,
    );
    const markdown = readFileSync(join(directory, 'pr.md'), 'utf8');
    expectSaneMarkdown(markdown);
    expect(markdown).toContain('| ❌ | packet-pool | stm32f411re | max-growth (peak used) | 31.3% | 5.0% |');
    expect(markdown).toContain('#### Against the baseline (main.json)');
    // Only the figures that changed get a column; the rest are named once.
    expect(markdown).toContain('| | Target | Board | peak used | peak span |\n|---|---|---|---:|---:|\n');
    expect(markdown).toContain(
      '| ❌ | packet-pool | stm32f411re | 8,000 B -> 10,500 B (+2,500 B) | 9,000 B -> 11,500 B (+2,500 B) |',
    );
    expect(markdown).toContain('Unchanged in every run: fragmentation, failed allocations, instructions.');
    expect(markdown).toContain(
      '| Target | Board | Call site | At the peak | Baseline | Change |\n|---|---|---|---:|---:|---:|\n' +
        '| packet-pool | stm32f411re | `packet_alloc+0x1a` | 8,192 B in 6 blocks | 6,144 B | +2,048 B |\n' +
        '| packet-pool | stm32f411re | `log_buffer+0x22` | 900 B in 1 block | 0 B | +900 B |\n',
    );
  });

  it('escapes what would break the markdown: pipes, backticks, emphasis and HTML in names and summaries', () => {
    const markdown = toMarkdown(
      [
        {
          target: 'a|b',
          board: 'board<1>',
          check: 'max-peak',
          pass: false,
          measured: 10,
          limit: 8,
          unit: 'bytes',
          summary: 'peak used 10 B > max 8 B; __init_array+0x4 holds 10 B in 1 block; *x* [y](z) <script>',
        },
      ],
      {
        baselineFile: 'main_branch.json',
        headers: ['peak used'],
        runs: [
          {
            target: 'a|b',
            board: 'board<1>',
            cells: ['8 B -> 10 B (+2 B)'],
            changed: [true],
            failed: true,
            grownSites: [{ site: 'operator|`x`', bytes: 10, blocks: 1, oldBytes: null, delta: 10 }],
          },
        ],
      },
    );
    expectSaneMarkdown(markdown);
    expect(markdown).toContain(
      '- a\\|b on board\\<1>, max-peak: peak used 10 B > max 8 B; \\_\\_init\\_array+0x4 holds 10 B in 1 block; ' +
        '\\*x\\* \\[y\\](z) \\<script>',
    );
    expect(markdown).toContain('#### Against the baseline (main\\_branch.json)');
    expect(markdown).toContain('| a\\|b | board\\<1> | `` operator\\|`x` `` | 10 B in 1 block | new | +10 B |');
  });
});

describe('budget max-growth, shard specs and assignment, sweep ranges (functions)', () => {
  it('max-growth takes a percentage or a mapping of figure: percentage', () => {
    const [scalar] = parseBudget({ checks: [{ scenario: 's', limits: { 'max-growth': '5%' } }] }, 'b.json');
    expect(scalar!.limits.maxGrowth).toEqual({ peakUsed: 0.05, peakSpan: 0.05 });
    const [mapping] = parseBudget(
      { checks: [{ scenario: 's', limits: { maxGrowth: { 'peak-used': '2%', instructions: '10%' } } }] },
      'b.json',
    );
    expect(mapping!.limits.maxGrowth).toEqual({ peakUsed: 0.02, instructions: 0.1 });
    expect(() => parseBudget({ checks: [{ scenario: 's', limits: { maxGrowth: { heap: '2%' } } }] }, 'b.json')).toThrow(
      /b\.json: checks\[0\]\.limits\.maxGrowth: unknown figure "heap"; figures: peak-used, peak-span/,
    );
    expect(() => parseBudget({ checks: [{ scenario: 's', limits: { maxPeak: { a: 1 } } }] }, 'b.json')).toThrow(
      InputError,
    );
  });

  it('growth of a byte figure from zero fails any limit; fragmentation grows in points', () => {
    const zero = compareRuns(
      { ...handRun(1000, []), ops: { failed: 1 } },
      { ...handRun(1000, []), ops: { failed: 0 } },
    );
    const [failed] = growthOutcomes('t', 'b', zero, { failed: 1 });
    expect(failed).toMatchObject({ pass: false, measured: 'from zero' });
    const fragmented = compareRuns({ ...handRun(1000, []), fragmentation: 0.04 }, handRun(1000, []));
    const [points] = growthOutcomes('t', 'b', fragmented, { fragmentation: 0.05 });
    expect(points).toMatchObject({ pass: true, measured: 0.04 });
  });

  it('parses shard specs', () => {
    expect(parseShardSpec('2/5', {})).toEqual({ index: 2, count: 5 });
    expect(parseShardSpec(' 1 / 1 ', {})).toEqual({ index: 1, count: 1 });
    expect(parseShardSpec('auto', { CI_NODE_INDEX: '3', CI_NODE_TOTAL: '4' })).toEqual({ index: 3, count: 4 });
    expect(() => parseShardSpec('auto', { CI_NODE_INDEX: '5', CI_NODE_TOTAL: '4' })).toThrow(
      '--shard: shard 5 of 4 does not exist',
    );
    expect(() => parseShardSpec('auto', { CI_NODE_INDEX: 'x', CI_NODE_TOTAL: '4' })).toThrow(
      '--shard auto: CI_NODE_INDEX: "x" is not a whole number',
    );
  });

  it('balances by cost, longest first onto the least loaded shard; every entry in exactly one shard', () => {
    expect(assignShards([100, 1, 1, 1, 50, 50], 2)).toEqual([0, 0, 1, 0, 1, 1]);
    expect(assignShards([undefined, undefined, undefined, undefined, undefined], 3)).toEqual([0, 1, 2, 0, 1]);
    // An entry new since the baseline counts as the mean of the known ones.
    expect(assignShards([10, undefined, 10, 10], 2)).toEqual([0, 1, 0, 1]);
    const assignment = assignShards([5, 3, 8, 1, 9, 2, 7], 3);
    const covered = [1, 2, 3].flatMap((index) => shardEntries(assignment, { index, count: 3 })).sort();
    expect(covered).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('reads one sweep range among fixed parameters and fits a line', () => {
    const params = ['tx_queue=1', 'rx_queue=1:10:3'].reduce(
      (previous, text) => collectSweepParam(text, previous),
      undefined as never,
    );
    expect(params).toEqual({ fixed: { tx_queue: 1 }, ranges: [{ name: 'rx_queue', from: 1, to: 10, step: 3 }] });
    expect(() => collectSweepParam('n=1:2:3:4')).toThrow(
      '--param: "n=1:2:3:4" is not name=FROM:TO or name=FROM:TO:STEP',
    );
    expect(() => collectSweepParam('n=1:1e6')).toThrow(/is not an integer/);
    expect(() => collectSweepParam('n=1:5000')).toThrow(
      '--param n: 5,000 values; a sweep runs at most 1000 (raise STEP)',
    );
    const fit = fitLine(
      [
        [1, 1_000],
        [2, 1_500],
        [3, 2_000],
      ],
      3_000,
      500,
    )!;
    expect(fit).toMatchObject({ slope: 500, intercept: 500, r2: 1, points: 3, crossesHeapAt: 5, crossesUsableAt: 4 });
    expect(fitLine([[1, 1_000]], 3_000)).toBeNull();
  });
});

describe.concurrent('sweep', () => {
  it('finds the first failing value on the teaching board', async () => {
    const directory = directoryWith({});
    const args = [
      'sweep',
      'packet-pool',
      '--board',
      'tiny',
      '--param',
      'rx_queue=1:9',
      '--param',
      'tx_queue=1',
      '--param',
      'max_frame=600',
    ];
    const result = await cli([...args, '--json', '--markdown', 'sweep.md'], directory);
    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout);
    expect(document).toMatchObject({
      command: 'sweep',
      board: 'tiny',
      param: 'rx_queue',
      firstFailing: 7,
      largestCompleting: 6,
    });
    expect(document.points.map((point: { result: string }) => point.result)).toEqual([
      'ok',
      'ok',
      'ok',
      'ok',
      'ok',
      'ok',
      'out-of-memory',
      'out-of-memory',
      'out-of-memory',
    ]);
    // Each queue slot holds one 600-byte frame and its header: peak use rises by the same amount per value.
    expect(document.fit.slope).toBeCloseTo(624, 0);
    expect(document.fit.crossesUsableAt).toBeGreaterThan(6);
    expect(document.fit.crossesUsableAt).toBeLessThan(8);
    expect(readFileSync(join(directory, 'sweep.md'), 'utf8')).toContain('| 7 | ❌ out-of-memory |');
    const text = await cli([...args, '--jobs', '1'], directory);
    expect(text.stdout).toContain(
      'largest value that completes: rx_queue=6 (first failing: rx_queue=7, out-of-memory)',
    );
  });

  it('bad ranges are exit 2 with one line', async () => {
    const directory = directoryWith({});
    expectBadInput(
      await cli(['sweep', 'packet-pool'], directory),
      /sweep: give the parameter to sweep as --param name=FROM:TO\[:STEP\]/,
    );
    expectBadInput(await cli(['sweep', 'packet-pool', '-p', 'bursts=5:1'], directory), /range 5:1 runs backwards/);
    expectBadInput(
      await cli(['sweep', 'packet-pool', '-p', 'bursts=1:5', '-p', 'seed=1:2'], directory),
      /one range at a time; got bursts and seed/,
    );
    expectBadInput(
      await cli(['sweep', 'packet-pool', '-p', 'bursts=1:5', '-p', 'bursts=3'], directory),
      /given both as a range and a value/,
    );
    expectBadInput(
      await cli(['sweep', 'packet-pool', '-p', 'burst=1:5'], directory),
      /scenario packet-pool has no parameter "burst"/,
    );
  });
});
