// The stack and the whole RAM budget through the built command line: --stack, stack-overflow, the RAM figures
// in text and JSON, check --max-stack/--max-ram (flags and budget keys) and min-heap's whole need.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, runCli as cli } from './support/cli.js';

const haveCross = spawnSync('arm-none-eabi-gcc', ['--version']).status === 0;
const crossSkip = haveCross
  ? ''
  : ' (skipped: arm-none-eabi-gcc is not installed; apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)';

const FIXTURE = 'tests/fixtures/elf/fixture-stm32f411re.elf';
/** `recurse` 80 levels deep: about 6 KiB of stack (tests/fixtures/src/fixture.c test 25). */
const SIX_KIB = ['--param', 'test=25', '--param', 'count=80'];
const SHORT = ['--param', 'bursts=20'];

describe.concurrent('tlsf-sim and the stack', () => {
  it('run names a stack overflow as such, with the function, exit 1', async () => {
    const result = await cli(['run', FIXTURE, ...SIX_KIB]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/: stack-overflow\n/);
    expect(result.stdout).toMatch(
      /stack overflow {2}pc 0x[0-9a-f]{8} in recurse(\+0x[0-9a-f]+)?, sp 0x[0-9a-f]{8}, wrote 0x[0-9a-f]{8}, limit 0x2001f000, [\d,]+ bytes deep/,
    );
    expect(result.stdout).not.toMatch(/heap-corruption|use after free|write-unmapped/);
  });

  it('an overflow whose frames step over the paint and damage the heap is a stack-overflow, not heap-corruption', async () => {
    // tests/fixtures/src/stack-skip.c: 136-byte frames that store one byte each; the stack's lowest word keeps its
    // paint and the heap's last record below it is overwritten (before: heap-corruption, "record length ...").
    const result = await cli(['run', 'tests/fixtures/elf/stack-skip-stm32f411re.elf', '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as Record<string, any>;
    expect(report.result).toBe('stack-overflow');
    expect(report.stackOverflow.symbol).toMatch(/^recurse/);
    expect(report.stackOverflow.limit).toBe(0x2001f000);
    const enough = await cli(['run', 'tests/fixtures/elf/stack-skip-stm32f411re.elf', '--stack', '16K']);
    expect(enough.code).toBe(0);
    expect(enough.stdout).toMatch(/: ok\n/);
  });

  it('run --stack 8K gives the same program the stack it needs; --json carries the stack and the RAM budget', async () => {
    const result = await cli(['run', FIXTURE, ...SIX_KIB, '--stack', '8K', '--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Record<string, any>;
    expect(report.result).toBe('ok');
    expect(report.stackSize).toBe(8192);
    expect(report.stackPeak).toBeGreaterThan(5 * 1024);
    expect(report.stackPeak).toBeLessThan(7 * 1024);
    expect(report.stackOverflow).toBeNull();
    const ram = report.ram as Record<string, number>;
    expect(Object.keys(ram).sort()).toEqual([
      'free',
      'heapPeakSpan',
      'heapSize',
      'needed',
      'stackPeak',
      'stackSize',
      'static',
      'total',
    ]);
    expect(ram.total).toBe(128 * 1024);
    expect(ram.static).toBeGreaterThan(0);
    expect(ram.heapSize).toBe(report.heapSize);
    expect(ram.stackSize).toBe(8192);
    expect(ram.stackPeak).toBe(report.stackPeak);
    expect(ram.static + ram.heapSize + ram.stackSize + ram.free).toBe(ram.total);
    expect(ram.needed).toBe(ram.static + ram.heapPeakSpan + ram.stackPeak);
  });

  it('run shows the stack and the RAM budget in the text report', async () => {
    const result = await cli(['run', ...SHORT]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/\n {2}stack {11}[\d,]+ B +peak of 4,096 B from 0x2001f000\n/);
    expect(result.stdout).toMatch(/\n {2}RAM {13}128 KiB: static \d+ B, heap [\d.]+ KiB, stack 4 KiB, free \d+ B\n/);
    expect(result.stdout).toMatch(
      /\n {2}RAM needed {6}[\d,]+ B +static \d+ B \+ heap peak span [\d.]+ KiB \+ stack peak \d+ B\n/,
    );
  });

  it('refuses stack sizes that do not fit, in one line, exit 2', async () => {
    for (const [size, message] of [
      ['12', /^tlsf-sim: --stack: "12" must be a multiple of 8 bytes \(the AAPCS stack alignment\)\n$/],
      [
        '200K',
        /^tlsf-sim: packet-pool on stm32f411re: stack of 204800 bytes does not fit below the initial stack pointer 0x20020000 \(131072 bytes of SRAM1 below it\)\n$/,
      ],
      ['0', /^tlsf-sim: --stack: "0" must be greater than zero\n$/],
    ] as const) {
      const result = await cli(['run', '--stack', size]);
      expect(result.code, size).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  });

  it('check --max-ram passes at the RAM the run needs and fails one byte below; --max-stack likewise', async () => {
    const report = JSON.parse((await cli(['run', ...SHORT, '--json'])).stdout) as {
      ram: { needed: number };
      stackPeak: number;
    };
    const needed = report.ram.needed;
    const pass = await cli([
      'check',
      'packet-pool',
      ...SHORT,
      '--max-ram',
      String(needed),
      '--max-stack',
      String(report.stackPeak),
    ]);
    expect(pass.code).toBe(0);
    expect(pass.stdout).toMatch(
      /PASS .* max-ram +RAM needed [\d,]+ B \(static \d+ B \+ heap span [\d,]+ B \+ stack [\d,]+ B\) <= max/,
    );
    expect(pass.stdout).toMatch(/PASS .* max-stack +stack peak [\d,]+ B <= max/);
    const fail = await cli([
      'check',
      'packet-pool',
      ...SHORT,
      '--max-ram',
      String(needed - 1),
      '--max-stack',
      String(report.stackPeak - 4),
      '--json',
    ]);
    expect(fail.code).toBe(1);
    const checks = (JSON.parse(fail.stdout) as { checks: { check: string; pass: boolean; measured: number }[] }).checks;
    expect(checks.find((check) => check.check === 'max-ram')).toMatchObject({ pass: false, measured: needed });
    expect(checks.find((check) => check.check === 'max-stack')).toMatchObject({
      pass: false,
      measured: report.stackPeak,
    });
  });

  it('check --markdown adds the RAM budget of each run after the checks', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'tlsf-stack-md-'));
    const summary = join(directory, 'summary.md');
    const result = await cli(['check', 'packet-pool', ...SHORT, '--max-ram', '64K', '--markdown', summary]);
    expect(result.code).toBe(0);
    const text = readFileSync(summary, 'utf8');
    expect(text).toMatch(/\| ✅ \| packet-pool \| stm32f411re \| max-ram \| [\d,]+ B \| 65,536 B \|/);
    expect(text).toMatch(
      /#### RAM budget\n\n\| Target \| Board \| RAM \| Static \| Heap size \/ peak used \/ peak span \| Stack size \/ peak \| Free \| Needed \|\n/,
    );
    expect(text).toMatch(
      /\n\| packet-pool \| stm32f411re \| 128 KiB \| \d+ B \| [\d.]+ KiB \/ [\d.]+ KiB \/ [\d.]+ KiB \| 4 KiB \/ \d+ B \| \d+ B \| [\d.]+ KiB \|\n/,
    );
  });

  it('a budget file takes maxRam / max-stack and the stack size', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'tlsf-stack-'));
    const budget = join(directory, 'budget.json');
    writeFileSync(
      budget,
      JSON.stringify({
        checks: [
          {
            elf: join(process.cwd(), FIXTURE),
            params: { test: 25, count: 80 },
            stack: '8K',
            limits: { 'max-stack': '7K', maxRam: '8K' },
          },
          { elf: join(process.cwd(), FIXTURE), params: { test: 25, count: 80 }, limits: { 'max-stack': '4K' } },
        ],
      }),
    );
    const result = await cli(['check', '--budget', budget, '--json']);
    expect(result.code).toBe(1);
    const checks = (
      JSON.parse(result.stdout) as { checks: { check: string; pass: boolean; measured: number | string }[] }
    ).checks;
    expect(checks.map((check) => [check.check, check.pass])).toEqual([
      ['completes', true],
      ['max-stack', true],
      ['max-ram', true],
      ['completes', false],
      ['max-stack', false],
    ]);
    expect(checks[3]!.measured).toBe('stack-overflow');
  });

  it('min-heap says the whole RAM the workload needs', async () => {
    const result = await cli(['min-heap', ...SHORT]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /\n {2}needs [\d.]+ KiB of RAM: static [\d.]+, heap [\d.]+, stack [\d.]+ \(KiB; the stack's peak of its 4 KiB\)\n/,
    );
    const document = JSON.parse((await cli(['min-heap', ...SHORT, '--json'])).stdout) as Record<string, any>;
    expect(document.ram.heap).toBe(document.minHeap);
    expect(document.ram.total).toBe(document.ram.static + document.ram.heap + document.ram.stackPeak);
    expect(document.ram.stackPeak).toBeGreaterThan(0);
  });

  it.skipIf(!haveCross)(
    `firmware built with tlsf-sim build: ~6 KiB of recursion overflows 4 KiB, passes with --stack 8K; unbounded recursion is stack-overflow${crossSkip}`,
    async () => {
      const directory = mkdtempSync(join(tmpdir(), 'tlsf-stack-build-'));
      const elf = join(directory, 'stack-depth.elf');
      const built = await cli(
        ['build', join(root, 'firmware-sim', 'tests', 'stack-depth.c'), '--board', 'stm32f411re', '-o', elf],
        { env: { TLSF_SIM_CACHE: join(directory, 'cache') } },
      );
      expect(built.code, built.stderr).toBe(0);
      const runJson = async (args: string[]) =>
        JSON.parse((await cli(['run', elf, ...args, '--json'])).stdout) as Record<string, any>;
      const small = await runJson([]);
      expect(small.result).toBe('stack-overflow');
      expect(small.stackOverflow.symbol).toMatch(/^(walk|malloc|free|memset)/);
      const large = await runJson(['--stack', '8K']);
      expect(large.result).toBe('ok');
      expect(large.output).toMatch(/stack-depth: 56 levels/);
      expect(large.stackPeak).toBeGreaterThan(5 * 1024);
      expect(large.stackPeak).toBeLessThan(8 * 1024);
      const unbounded = await runJson(['--param', 'levels=100000', '--stack', '16K']);
      expect(unbounded.result).toBe('stack-overflow');
      expect(unbounded.stackOverflow.depth).toBeGreaterThan(16 * 1024);
    },
    60_000,
  );
});
