// Hostile input to the built CLI (issue 15, holes 1, 2, 8, 10 and 11): files that are not files, inputs far
// larger than any real one, names that are nearly right, and failures that are the tool's, not the user's.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyTarget } from '../src/cli/target.js';
import { quoteInput } from '../src/cli/errors.js';
import { closestName, didYouMean } from '../src/cli/suggest.js';
import { parseCount, parseDuration } from '../src/cli/units.js';
import { MAX_TRACE_OPS, parseTrace } from '../src/cli/trace.js';
import { runRequestFrom } from '../src/cli/options.js';
import { formatRunReport, runReportJson, type RunReportFigures, type RunSettings } from '../src/cli/report.js';
import { palette } from '../src/cli/terminal.js';
import { cliPath, root, type CliResult } from './support/cli.js';

const work = mkdtempSync(join(tmpdir(), 'tlsf-cli-input-'));
const SHORT = ['--param', 'bursts=20'];
const ELF = join(root, 'firmware-sim', 'elf', 'stm32f411re', 'packet-pool.elf');

/**
 * The CLI in a child process, killed after `killAfterMs`: before the fixes several of these inputs hung (a FIFO)
 * or read /dev/zero without end, and a test must fail on that rather than leave the process behind.
 */
function cli(
  args: string[],
  env: Record<string, string> = {},
  killAfterMs = 30_000,
): Promise<CliResult & { killed: boolean }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  delete childEnv.GITHUB_ACTIONS;
  delete childEnv.TLSF_SIM_DEBUG;
  Object.assign(childEnv, env);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: work,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, killAfterMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr, killed });
    });
  });
}

function mkfifo(path: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('mkfifo', [path], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(`mkfifo exited ${code}`))));
  });
}

/** Exit 2 with exactly one short line on stderr, matching `message`, and nothing on stdout. */
function expectOneLineInputError(result: CliResult & { killed: boolean }, message: RegExp): void {
  expect(result.killed, 'the CLI had to be killed').toBe(false);
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(message);
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stdout).toBe('');
}

describe.concurrent('oversized input is quoted, never echoed whole (hole 1)', () => {
  it('a trace with a 4 MB bad line: one short line on stderr', async () => {
    const path = join(work, 'long-line.rep');
    writeFileSync(path, `a 0 16\na 1 ${'9'.repeat(4_000_000)}x\nf 0\n`);
    const result = await cli(['run', path]);
    expectOneLineInputError(result, /long-line\.rep:2: line longer than 1024 characters, starting "a 1 9{76}"…$/m);
    expect(result.stderr.length).toBeLessThan(300);
  });

  it('a trace line just under the cap that is bad is quoted to ~80 characters', async () => {
    const path = join(work, 'wide-line.rep');
    writeFileSync(path, `a 0 16\nq ${'z'.repeat(1000)}\n`);
    const result = await cli(['run', path]);
    expectOneLineInputError(result, /wide-line\.rep:2: unknown operation "q" .*: "q zzz+"… \(1,002 characters\)/);
    expect(result.stderr.length).toBeLessThan(300);
  });

  it('option values and names are quoted short: --heap, --sl, --param, --bank, scenario, option and command names', async () => {
    const huge = 'x'.repeat(100_000);
    for (const args of [
      ['run', '--heap', huge],
      ['run', '--sl', huge],
      ['run', '--param', huge],
      ['run', huge],
      ['step', '--from', huge],
      ['run', '--timeout', huge],
      ['run', '--bank', huge],
      ['run', `--${huge}`],
      [huge],
    ]) {
      const result = await cli(args);
      expect(result.code, args[1]).toBe(2);
      expect(result.stderr.length, args.slice(0, 2).join(' ')).toBeLessThan(400);
    }
  });

  it('a trace of more operations than any flash can hold is refused at the first one too many', () => {
    const text = `${'a 0 1\nf 0\n'.repeat(MAX_TRACE_OPS / 2)}a 0 1\n`;
    expect(() => parseTrace(text, 'many.rep')).toThrow(
      new RegExp(`many\\.rep:${MAX_TRACE_OPS + 1}: more than 2,097,152 operations`),
    );
  });

  it('quoteInput cuts at 80 characters, says how long the whole was, and escapes control characters', () => {
    expect(quoteInput('abc')).toBe('"abc"');
    expect(quoteInput('a\u001b[2Jb\r\n"')).toBe('"a\\x1b[2Jb\\r\\n\\""');
    const quoted = quoteInput('y'.repeat(300_000_000 / 1000));
    expect(quoted).toBe(`"${'y'.repeat(80)}"… (300,000 characters)`);
  });
});

describe.concurrent('paths that are not regular files, and files larger than any input (hole 2)', () => {
  it('a symbolic link to /dev/zero named like firmware is refused, not read', async () => {
    const path = join(work, 'zero.elf');
    symlinkSync('/dev/zero', path);
    expectOneLineInputError(
      await cli(['run', path]),
      /cannot read firmware .*zero\.elf: it is a character device, not a regular file/,
    );
  });

  it('a FIFO as a trace, a firmware and a budget file is refused without blocking', async () => {
    const fifo = join(work, 'pipe.rep');
    await mkfifo(fifo);
    expectOneLineInputError(await cli(['run', fifo]), /cannot read trace .*pipe\.rep: it is a FIFO/);
    const fifoElf = join(work, 'pipe.elf');
    await mkfifo(fifoElf);
    expectOneLineInputError(await cli(['run', fifoElf]), /cannot read firmware .*pipe\.elf: it is a FIFO/);
    const fifoBudget = join(work, 'pipe-budget.json');
    await mkfifo(fifoBudget);
    expectOneLineInputError(
      await cli(['check', '--budget', fifoBudget]),
      /cannot read budget file .*pipe-budget\.json: it is a FIFO/,
    );
  });

  it('a directory is refused as firmware and a device as a board file', async () => {
    const directory = join(work, 'folder.elf');
    mkdirSync(directory);
    expectOneLineInputError(await cli(['run', directory]), /cannot read firmware .*folder\.elf: it is a directory/);
    const board = join(work, 'zero-board.json');
    symlinkSync('/dev/zero', board);
    expectOneLineInputError(
      await cli(['run', '--board', board]),
      /cannot read board file .*zero-board\.json: it is a character device/,
    );
  });

  it('a 1 GiB sparse ELF and a 1 GiB sparse trace are refused by their size before a byte is read', async () => {
    const elf = join(work, 'sparse.elf');
    writeFileSync(elf, '');
    truncateSync(elf, 1024 ** 3);
    const elfResult = await cli(['run', elf]);
    expectOneLineInputError(
      elfResult,
      /firmware .*sparse\.elf is 1,073,741,824 bytes, more than any firmware can be \(at most 67,108,864\)/,
    );
    const trace = join(work, 'sparse.rep');
    writeFileSync(trace, '');
    truncateSync(trace, 1024 ** 3);
    expectOneLineInputError(
      await cli(['run', trace]),
      /trace .*sparse\.rep is 1,073,741,824 bytes, more than any trace can be/,
    );
  });
});

describe.concurrent('exit 3 for internal errors, 2 for bad input (hole 8)', () => {
  it('an emulator failure is exit 3 with one line, the stack only with --verbose or TLSF_SIM_DEBUG=1', async () => {
    const result = await cli(['run', ...SHORT], { TLSF_SIM_TEST_FAULT: 'emulator' });
    expect(result.code).toBe(3);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      /^tlsf-sim: internal error: UnicornError: uc_emu_start: UC_ERR_EXCEPTION .*--verbose/,
    );
    const verbose = await cli(['run', '--verbose', ...SHORT], { TLSF_SIM_TEST_FAULT: 'emulator' });
    expect(verbose.code).toBe(3);
    expect(verbose.stderr).toMatch(/\n\s+at /);
    const debug = await cli(['run', ...SHORT], { TLSF_SIM_TEST_FAULT: 'internal', TLSF_SIM_DEBUG: '1' });
    expect(debug.code).toBe(3);
    expect(debug.stderr).toMatch(/internal error: Error: injected internal error[^\n]*\n\s+at /);
  });

  it('check exits 3, not 1 or 2, when the tool fails mid-gate', async () => {
    const result = await cli(['check', 'packet-pool', ...SHORT, '--max-peak', '1M'], {
      TLSF_SIM_TEST_FAULT: 'internal',
    });
    expect(result.code).toBe(3);
  });

  it('input errors raised inside the board stay exit 2 (a heap that does not fit)', async () => {
    const result = await cli(['run', '--heap', '4M']);
    expectOneLineInputError(result, /does not fit/);
  });
});

describe.concurrent('targets are classified by content; names get suggestions (hole 11)', () => {
  it('a firmware ELF without an extension runs as firmware', async () => {
    const path = join(work, 'firmware-image');
    copyFileSync(ELF, path);
    const result = await cli(['run', 'firmware-image', ...SHORT, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ targetKind: 'elf', result: 'ok' });
  });

  it('a trace without an extension runs as a trace', async () => {
    writeFileSync(join(work, 'small-trace'), '# three calls\n20000\n2\n3\n1\na 0 100\na 1 200\nf 0\n');
    const result = await cli(['run', 'small-trace', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ targetKind: 'trace', result: 'ok' });
  });

  it('classifyTarget: content first, then extension, else a scenario name', () => {
    copyFileSync(ELF, join(work, 'renamed.rep'));
    expect(classifyTarget('renamed.rep', work)).toEqual({ kind: 'elf', path: join(work, 'renamed.rep') });
    expect(classifyTarget('missing.elf', work)).toEqual({ kind: 'elf', path: join(work, 'missing.elf') });
    expect(classifyTarget('missing.rep', work)).toEqual({ kind: 'trace', path: join(work, 'missing.rep') });
    writeFileSync(join(work, 'notes'), 'some notes, not a trace\n');
    expect(classifyTarget('notes', work)).toEqual({ kind: 'scenario', name: 'notes' });
    expect(classifyTarget('packet-pool', work)).toEqual({ kind: 'scenario', name: 'packet-pool' });
  });

  it('a scenario on a board JSON file without the cross compiler: one line naming tlsf-sim build', async () => {
    const board = JSON.parse(readFileSync(join(root, 'src', 'board', 'boards', 'stm32f411re.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const path = join(work, 'my-board.json');
    writeFileSync(path, JSON.stringify({ ...board, name: 'my-board' }));
    const result = await cli(['run', 'packet-pool', '--board', path], {
      TLSF_SIM_CACHE: join(work, 'empty-cache'),
      TLSF_SIM_CROSS: join(work, 'no-such-dir', 'arm-none-eabi-'),
    });
    expectOneLineInputError(
      result,
      /scenario packet-pool is not built for board my-board, and linking it needs the Arm cross compiler .*tlsf-sim build/,
    );
  });

  it('near-miss scenario, board and parameter names get "did you mean"', async () => {
    expectOneLineInputError(
      await cli(['run', 'pakcet-pool']),
      /unknown scenario "pakcet-pool" \(did you mean "packet-pool"\?\)/,
    );
    expectOneLineInputError(
      await cli(['run', '--board', 'stm32f411']),
      /unknown board "stm32f411" \(did you mean "stm32f411re"\?\)/,
    );
    expectOneLineInputError(
      await cli(['run', '--param', 'burst=3']),
      /no parameter "burst" \(did you mean "bursts"\?\)/,
    );
    const far = await cli(['run', 'tetris']);
    expect(far.stderr).not.toContain('did you mean');
  });

  it('didYouMean offers only names within a third of the length', () => {
    expect(closestName('sensor-loger', ['sensor-logger', 'packet-pool'])).toBe('sensor-logger');
    expect(closestName('nrf52480', ['nrf52840', 'rp2040'])).toBe('nrf52840');
    expect(didYouMean('esp32', ['nrf52840', 'rp2040', 'stm32f411re'])).toBe('');
  });
});

describe.concurrent('--timeout and how a stopped run is printed (hole 10, CLI side)', () => {
  it('parses 90s, 10m, 500ms and plain seconds; refuses zero, junk and more than a day', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2.5')).toBe(2_500);
    expect(parseDuration('1h')).toBe(3_600_000);
    for (const bad of ['0', '0s', '-5s', '5x', '', 's', '2d', '25h'])
      expect(() => parseDuration(bad, '--timeout'), bad).toThrow(/--timeout/);
  });

  it('--timeout reaches the run request; a bad one is exit 2 before any run', async () => {
    expect(runRequestFrom({ kind: 'scenario', name: 'packet-pool' }, { timeout: '90s' }).timeoutMs).toBe(90_000);
    expectOneLineInputError(await cli(['run', '--timeout', '0']), /--timeout: "0" must be longer than zero/);
    expectOneLineInputError(
      await cli(['check', 'packet-pool', '--max-peak', '1M', '--timeout', 'soon']),
      /--timeout: "soon" is not a duration/,
    );
    const ok = await cli(['run', ...SHORT, '--timeout', '10m']);
    expect(ok.code).toBe(0);
  });

  it('a hang prints where it stopped; a fault without an address prints none', () => {
    const settings: RunSettings = {
      target: 'hang.elf',
      targetKind: 'elf',
      boardName: 'stm32f411re',
      align: 8,
      slLog2: 5,
      params: {},
      guard: false,
      alignmentCheck: false,
    };
    const report: RunReportFigures = {
      result: 'hang',
      exitCode: 0,
      output: '',
      board: 'stm32f411re',
      firmware: 'hang.elf',
      ops: { malloc: 1, free: 0, realloc: 0, calloc: 0, memalign: 0, failed: 0 },
      peakUsed: 16,
      peakRequested: 8,
      peakSpan: 16,
      largestFreeAtPeak: 100,
      largestFree: 100,
      fragmentation: 0,
      controlBytes: 800,
      heapBase: 0x2000_0000,
      heapSize: 4096,
      instructions: 120,
      cycles: 150,
      seconds: 1e-6,
      hostMs: 3,
      message: 'the core branches to itself at 0x08000124 in main',
      stoppedAt: { pc: 0x0800_0124, symbol: 'main', reason: 'branch-to-self' },
      fault: { kind: 'heap-corruption', size: 100, pc: 0x0800_0200, symbol: 'malloc' },
    };
    const text = formatRunReport(report, settings, palette(false));
    expect(text).toContain('stopped at      pc 0x08000124 in main: branches to itself');
    expect(text).toMatch(/fault {11}heap-corruption, 100 bytes, pc 0x08000200 in malloc/);
    expect(text).not.toMatch(/undefined|NaN/);
    const json = runReportJson(report, settings);
    expect(json.stoppedAt).toEqual({ pc: 0x0800_0124, symbol: 'main', reason: 'branch-to-self' });
    expect(json.result).toBe('hang');
  });
});

describe('one count parser (structure)', () => {
  it('hex and exponents are counts everywhere; bounds are checked', () => {
    expect(parseCount('0x10', '--from', { min: 1 })).toBe(16);
    expect(parseCount('2e3', '--count', { min: 1, max: 100_000 })).toBe(2000);
    expect(() => parseCount('0', '--from', { min: 1 })).toThrow(/--from: "0" must be a whole number from 1/);
    expect(() => parseCount('4096', '--width', { min: 8, max: 1024 })).toThrow(/from 8 to 1024/);
  });

  it('step --from 0x2 is accepted like --max-instructions 0x10', async () => {
    const trace = join(work, 'count.rep');
    writeFileSync(trace, 'a 0 100\na 1 200\nf 0\nf 1\n');
    const result = await cli(['step', trace, '--from', '0x2', '--count', '1', '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ from: 2, count: 1 });
  });
});
