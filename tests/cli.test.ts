// The CLI as a user runs it: the built program in a child process, real exit codes, stdout parsed.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CliResult, root, runCli } from './support/cli.js';

const work = mkdtempSync(join(tmpdir(), 'tlsf-cli-'));
// Short scenario runs keep the whole file to a few seconds of emulation.
const SHORT = ['--param', 'bursts=20'];

/** The CLI in a child process, in the scratch directory unless told otherwise. */
function cli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return runCli(args, { cwd: work, ...options });
}

const schema = JSON.parse(readFileSync(join(root, 'docs', 'report.schema.json'), 'utf8')) as {
  $defs: Record<string, { required?: string[]; properties?: Record<string, { const?: unknown }> }>;
};
const SCHEMA_FOR_COMMAND: Record<string, string> = {
  run: 'runReport',
  check: 'checkReport',
  'min-heap': 'minHeapReport',
  explain: 'explainReport',
  boards: 'boardsReport',
  scenarios: 'scenariosReport',
};

/** Parses stdout as the one JSON document and checks it carries every field its schema definition requires. */
function json(result: CliResult): Record<string, any> {
  const document = JSON.parse(result.stdout) as Record<string, any>;
  const definition = schema.$defs[SCHEMA_FOR_COMMAND[document.command as string] ?? ''];
  expect(definition, `schema definition for command ${String(document.command)}`).toBeDefined();
  for (const field of definition!.required ?? [])
    expect(document, `${String(document.command)} --json`).toHaveProperty(field);
  if (document.command === 'check') {
    for (const run of document.runs as Record<string, unknown>[]) {
      for (const field of schema.$defs.runReport!.required ?? []) expect(run).toHaveProperty(field);
    }
  }
  return document;
}

describe.concurrent('tlsf-sim (built program)', () => {
  it('prints its version and help with exit 0', async () => {
    const version = await cli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(
      (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version,
    );
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['run', 'check', 'min-heap', 'explain', 'boards', 'scenarios', 'bench'])
      expect(help.stdout).toContain(command);
  });

  it('run with no argument runs packet-pool on the default board and prints a plain report', async () => {
    const result = await cli(['run', ...SHORT]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^packet-pool on stm32f411re \(cortex-m4f, 100 MHz\): ok/);
    for (const label of [
      'peak used',
      'peak requested',
      'peak span',
      'largest free',
      'fragmentation',
      'control bytes',
      'instructions',
      'firmware output',
    ]) {
      expect(result.stdout).toContain(label);
    }
    // Not a terminal: no colour codes and no progress bar.
    expect(result.stdout).not.toContain('\u001b[');
    expect(result.stderr).toBe('');
  });

  it('run --json prints one document with the stable field names and consistent figures', async () => {
    const report = json(
      await cli(['run', 'packet-pool', '--board', 'nrf52840', '--align', '16', '--sl', '4', ...SHORT, '--json']),
    );
    for (const field of [
      'result',
      'peakUsed',
      'peakRequested',
      'peakSpan',
      'largestFree',
      'fragmentation',
      'controlBytes',
      'ops',
      'instructions',
    ]) {
      expect(report).toHaveProperty(field);
    }
    expect(report.command).toBe('run');
    expect(report.result).toBe('ok');
    expect(report.board).toMatch(/nrf52840/i);
    expect(report.align).toBe(16);
    expect(report.slLog2).toBe(4);
    expect(report.params).toEqual({ bursts: 20 });
    expect(report.ops.malloc).toBeGreaterThan(20);
    expect(report.peakUsed).toBeGreaterThanOrEqual(report.peakRequested);
    expect(report.peakSpan).toBeGreaterThanOrEqual(report.peakUsed);
    expect(report.heapSize).toBeGreaterThan(report.peakSpan);
    expect(report.instructions).toBeGreaterThan(0);
    expect(report.engine.version).toMatch(/^2\.\d+\.\d+$/);
    expect(report.engine.path).toMatch(/unicorn/);
  });

  it('run --heap sets the heap size', async () => {
    const report = json(await cli(['run', ...SHORT, '--heap', '24K', '--json']));
    expect(report.heapSize).toBe(24 * 1024);
  });

  it('runs a malloc-lab trace through the trace-player firmware', async () => {
    const tracePath = join(work, 'small.rep');
    writeFileSync(
      tracePath,
      ['3000', '3', '7', '1', 'a 0 100', 'a 1 2000', 'r 0 300', 'f 1', 'a 2 50', 'f 0', 'f 2', ''].join('\n'),
    );
    const report = json(await cli(['run', tracePath, '--json']));
    expect(report.result).toBe('ok');
    expect(report.targetKind).toBe('trace');
    // Ids 1 and 2 are never live together, so they share a slot of the player's table.
    expect(report.output).toContain('flash trace, 7 operations, 2 table slots');
    expect(report.ops.realloc).toBe(1);
    // The live requests peak at 100 + 2000 bytes, then 300 + 2000 after the realloc; the player's table is not in the heap.
    expect(report.peakRequested).toBe(2300);
  });

  it('runs a firmware ELF by path', async () => {
    const report = json(
      await cli([
        'run',
        join(root, 'firmware-sim', 'elf', 'stm32f103c8', 'json-doc.elf'),
        '--board',
        'stm32f103c8',
        '--param',
        'docs=2',
        '--json',
      ]),
    );
    expect(report.result).toBe('ok');
    expect(report.targetKind).toBe('elf');
    expect(report.ops.malloc).toBeGreaterThan(0);
  });

  it('--align-check (and alignCheck in a budget entry) turns an unaligned heap access into a fault', async () => {
    // The board fixture's test 9 loads a word from 2 bytes into a heap block: Armv6-M (tiny's Cortex-M0) traps
    // that access, while Unicorn alone lets it through and the fixture falls out of its test with status 100.
    const fixture = join(root, 'tests', 'fixtures', 'elf', 'fixture-tiny.elf');
    const args = ['run', fixture, '--board', 'tiny', '--param', 'test=9'];
    const [checked, unchecked, text] = await Promise.all([
      cli([...args, '--align-check', '--json']),
      cli([...args, '--json']),
      cli([...args, '--align-check']),
    ]);
    expect(checked.code).toBe(1);
    const fault = json(checked);
    expect(fault).toMatchObject({
      result: 'fault',
      alignmentCheck: true,
      guard: false,
      fault: { kind: 'unaligned-read', size: 4 },
    });
    expect(fault.fault.address % 4).toBe(2);
    expect(fault.message).toMatch(/2 bytes into block 0x[0-9a-f]+ \(64 bytes\) allocated by call #1/);
    const passed = json(unchecked);
    expect(passed).toMatchObject({ result: 'exit-failure', exitCode: 100, alignmentCheck: false, fault: null });
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/: fault\n\s+stopped\s+unaligned-read: HardFault: unaligned 4-byte read/);

    const budgetDirectory = mkdtempSync(join(tmpdir(), 'tlsf-cli-align-'));
    writeFileSync(
      join(budgetDirectory, 'tlsf-budget.json'),
      JSON.stringify({
        checks: [{ elf: fixture, board: 'tiny', params: { test: 9 }, alignCheck: true, guard: true }],
      }),
    );
    const budget = await cli(['check', '--json'], { cwd: budgetDirectory });
    expect(budget.code).toBe(1);
    expect(json(budget).runs[0]).toMatchObject({
      result: 'fault',
      alignmentCheck: true,
      guard: true,
      fault: { kind: 'unaligned-read' },
    });
    writeFileSync(
      join(budgetDirectory, 'tlsf-budget.json'),
      JSON.stringify({ checks: [{ elf: fixture, board: 'tiny', alignCheck: 'yes' }] }),
    );
    const bad = await cli(['check'], { cwd: budgetDirectory });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('checks[0].alignCheck must be true or false, got "yes"');
  });

  it('exits 1 when the run does not complete, and says why', async () => {
    const result = await cli(['run', 'fragmenter', '--board', 'tiny']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('fragmenter on tiny');
    expect(result.stdout).toMatch(/: out-of-memory\n\s+stopped\s+.*allocating \d+ bytes failed/);
    const timeout = json(await cli(['run', '--max-instructions', '20000', '--json']));
    expect(timeout.result).toBe('timeout');
    const noHeap = await cli(['min-heap', 'fragmenter', '--board', 'tiny', '--json']);
    expect(noHeap.code).toBe(1);
    expect(json(noHeap)).toMatchObject({ minHeap: null, belowMinimum: { result: 'out-of-memory' } });
    expect(noHeap.stderr).toContain('does not complete even on the whole default heap');
  });

  describe('check', () => {
    const passing = join(work, 'pass');
    const failing = join(work, 'fail');
    beforeAll(() => {
      for (const directory of [passing, failing, join(passing, 'traces')]) mkdirSync(directory, { recursive: true });
      writeFileSync(join(passing, 'traces', 'session.rep'), 'a 0 512\na 1 256\nr 0 1024\nf 1\nf 0\n');
      writeFileSync(
        join(passing, 'tlsf-budget.yaml'),
        [
          'defaults:',
          '  limits: { no-oom: true }',
          'checks:',
          '  - scenario: packet-pool',
          '    boards: [stm32f411re, rp2040]',
          '    params: { bursts: 20 }',
          '    limits: { max-peak: 16K, min-free: 2K, max-fragmentation: 50% }',
          '  - trace: traces/session.rep',
          '    board: tiny',
          '    limits: { max-span: 4K }',
          '',
        ].join('\n'),
      );
      writeFileSync(
        join(failing, 'tlsf-budget.json'),
        JSON.stringify({
          checks: [
            { scenario: 'packet-pool', params: { bursts: 20 }, limits: { maxPeak: '4K', noOom: true } },
            { scenario: 'fragmenter', board: 'tiny', limits: { noOom: true } },
          ],
        }),
      );
    });

    it('passes a budget that holds: exit 0, one line per check with the measured figure', async () => {
      const result = await cli(['check'], { cwd: passing });
      expect(result.code).toBe(0);
      const lines = result.stdout.trim().split('\n');
      expect(lines.filter((line) => line.startsWith('PASS'))).toHaveLength(13);
      expect(result.stdout).toMatch(/PASS\s+packet-pool on rp2040\s+max-peak\s+peak used [\d,]+ B <= max 16,384 B/);
      // The trace path is relative to the budget file and shown relative to the working directory.
      expect(result.stdout).toMatch(
        /PASS\s+traces\/session\.rep on tiny\s+max-span\s+peak span [\d,]+ B <= max 4,096 B/,
      );
      expect(lines.at(-1)).toMatch(/^13 checks passed \(3 runs, .*tlsf-budget\.yaml\)$/);
    });

    it('fails a budget that is broken: exit 1, JUnit, markdown and GitHub annotations', async () => {
      const junitPath = join(failing, 'junit.xml');
      const markdownPath = join(failing, 'summary.md');
      const result = await cli(['check', '--junit', junitPath, '--markdown', markdownPath], {
        cwd: failing,
        env: { GITHUB_ACTIONS: 'true' },
      });
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/FAIL\s+packet-pool on stm32f411re\s+max-peak\s+peak used [\d,]+ B > max 4,096 B/);
      expect(result.stdout).toMatch(/FAIL\s+fragmenter on tiny\s+completes\s+run completes: out-of-memory/);
      expect(result.stdout).toMatch(
        /^::error file=.*tlsf-budget\.json,title=tlsf-sim max-peak::packet-pool on stm32f411re: peak used/m,
      );
      const junit = readFileSync(junitPath, 'utf8');
      expect(junit.match(/<testcase /g)).toHaveLength(5);
      expect(junit.match(/<failure /g)).toHaveLength(3);
      expect(junit).toContain('<testsuite name="fragmenter on tiny"');
      const markdown = readFileSync(markdownPath, 'utf8');
      // The GitHub job summary is appended to, not replaced.
      const summaryPath = join(failing, 'step-summary.md');
      writeFileSync(summaryPath, '# earlier step\n');
      await cli(['check', '--markdown', summaryPath], { cwd: failing, env: { GITHUB_STEP_SUMMARY: summaryPath } });
      expect(readFileSync(summaryPath, 'utf8')).toMatch(
        /^# earlier step\n### tlsf-sim heap budget: 3 of 5 checks failed/,
      );
      expect(markdown).toContain('3 of 5 checks failed');
      expect(markdown).toMatch(/\| ❌ \| packet-pool \| stm32f411re \| max-peak \| [\d,]+ B \| 4,096 B \|/);
    });

    it('takes limits from flags and prints JSON', async () => {
      const result = await cli([
        'check',
        'packet-pool',
        ...SHORT,
        '--board',
        'stm32f411re,stm32f407vg',
        '--max-peak',
        '64K',
        '--no-oom',
        '--json',
      ]);
      expect(result.code).toBe(0);
      const document = json(result);
      expect(document.result).toBe('pass');
      expect(document.checks).toHaveLength(6);
      expect(document.runs).toHaveLength(2);
      expect(document.checks[1]).toMatchObject({ check: 'max-peak', limit: 65536, unit: 'bytes', pass: true });
      expect(document.checks[1].measured).toBe(document.runs[0].peakUsed);
      const tight = await cli(
        ['check', 'packet-pool', ...SHORT, '--max-peak', String(document.runs[0].peakUsed - 1), '--json'],
        { env: { GITHUB_ACTIONS: 'true' } },
      );
      expect(tight.code).toBe(1);
      // With --json, stdout stays one document and the annotations go to stderr.
      expect(json(tight)).toMatchObject({ result: 'fail', failed: 1 });
      expect(tight.stderr).toMatch(/^::error title=tlsf-sim max-peak::packet-pool on stm32f411re: peak used/m);
    });

    it('is bad input (exit 2) with nothing to check or a broken budget file', async () => {
      const empty = mkdtempSync(join(tmpdir(), 'tlsf-cli-empty-'));
      const none = await cli(['check'], { cwd: empty });
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('tlsf-budget.json');
      writeFileSync(
        join(empty, 'tlsf-budget.yaml'),
        'checks:\n  - scenario: packet-pool\n    limits: { max-peak: lots }\n',
      );
      const broken = await cli(['check'], { cwd: empty });
      expect(broken.code).toBe(2);
      expect(broken.stderr).toMatch(/tlsf-budget\.yaml: checks\[0\]\.limits\.maxPeak: "lots"/);
    });
  });

  it('min-heap finds a heap on which the run completes and one alignment step below which it does not', async () => {
    const result = await cli(['min-heap', 'packet-pool', ...SHORT, '--json']);
    expect(result.code).toBe(0);
    const document = json(result);
    expect(document.minHeap % 8).toBe(0);
    expect(document.atMinimum.result).toBe('ok');
    expect(document.minHeap).toBeGreaterThanOrEqual(document.atMinimum.peakSpan);
    expect(document.worstCase.maxLiveBytes).toBe(document.atMinimum.peakRequested);
    expect(document.worstCase.largestRequest).toBeGreaterThanOrEqual(64);
    expect(document.worstCase.robsonBytes).toBeGreaterThan(document.worstCase.maxLiveBytes);
    // Independent confirmation with ordinary runs.
    expect(json(await cli(['run', ...SHORT, '--heap', String(document.minHeap), '--json'])).result).toBe('ok');
    expect(json(await cli(['run', ...SHORT, '--heap', String(document.minHeap - 8), '--json'])).result).not.toBe('ok');
    const human = await cli(['min-heap', 'json-doc', '--board', 'stm32f103c8', '--param', 'docs=2']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/json-doc on stm32f103c8: smallest heap [\d,]+ B/);
    expect(human.stdout).toContain('Robson bound');
  });

  it('explain shows the classes and the bitmap search', async () => {
    const document = json(await cli(['explain', '1500', '--json']));
    expect(document).toMatchObject({ request: 1500, adjustedSize: 1504, align: 8, slLog2: 5 });
    expect(document.classMin).toBeLessThanOrEqual(document.adjustedSize);
    expect(document.classMax).toBeGreaterThanOrEqual(document.adjustedSize);
    const human = await cli(['explain', '0x100', '--sl', '3', '--align', '4']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('malloc(256)');
    expect(human.stdout).toContain('Bitmap search');
    expect(human.stdout).toContain('first level');
  });

  it('lists boards and scenarios', async () => {
    const boards = json(await cli(['boards', '--json']));
    expect(boards.defaultBoard).toBe('stm32f411re');
    expect(boards.boards.map((board: { name: string }) => board.name)).toContain('tiny');
    expect((await cli(['boards'])).stdout).toMatch(/stm32f407vg: cortex-m4f, 168 MHz[\s\S]*CCM\s+0x10000000/);
    const scenarios = json(await cli(['scenarios', '--json']));
    const packetPool = scenarios.scenarios.find((scenario: { name: string }) => scenario.name === 'packet-pool');
    expect(packetPool.params.map((param: { name: string }) => param.name)).toContain('bursts');
    expect((await cli(['scenarios'])).stdout).toContain('--param bursts=300');
  });

  it('bench runs the allocator benchmark (quick)', async () => {
    const result = await cli(['bench', '--only', 'allocator', '--quick']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('tlsf-sim bench: allocator');
    expect(result.stdout).toContain('tlsf-sim (align 8)');
    expect((await cli(['bench', '--only', 'everything'])).code).toBe(2);
  });

  describe('bad input exits 2 and names the problem', () => {
    const cases: [string, string[], RegExp][] = [
      ['unknown board', ['run', '--board', 'esp32'], /unknown board "esp32"/],
      ['unreadable ELF', ['run', 'missing-firmware.elf'], /cannot read firmware .*missing-firmware\.elf: no such file/],
      ['impossible heap size', ['run', '--heap', '4M'], /heap of 4194304 bytes .* does not fit/],
      ['malformed size', ['run', '--heap', '12Q'], /--heap: "12Q"/],
      ['unknown option', ['run', '--frobnicate'], /unknown option '--frobnicate'/],
      ['unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
      ['unknown parameter', ['run', '--param', 'packets=3'], /no parameter "packets".*bursts/],
      ['unknown scenario', ['run', 'tetris'], /unknown scenario "tetris"/],
    ];
    it.each(cases)('%s', async (_name, args, message) => {
      const result = await cli(args);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe('');
    });

    it('malformed trace line, with its line number', async () => {
      const tracePath = join(work, 'broken.rep');
      writeFileSync(tracePath, 'a 0 16\na 1 32\nf 0\nx 1\n');
      const result = await cli(['run', tracePath]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/broken\.rep:4: unknown operation "x"/);
    });

    it('a file that is not an ELF', async () => {
      const fake = join(work, 'fake.elf');
      writeFileSync(fake, 'not an elf at all');
      const result = await cli(['run', fake]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/fake\.elf.*not a loadable ELF32/);
    });
  });
});
