// An outside tester's input to the built CLI: hostile files and options (each one line on stderr naming the
// problem, exit 2, nothing on stdout), and firmware built the ways the docs tell a user to, whose runs must end as
// the docs say (tests/fixtures/Makefile builds those ELFs).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCount, parseParamValue } from '../src/cli/units.js';
import { classifyTarget } from '../src/cli/target.js';
import { type CliResult, root, runCli } from './support/cli.js';

const work = mkdtempSync(join(tmpdir(), 'tlsf-cli-audit-'));
const ELF = join(root, 'firmware-sim', 'elf', 'stm32f411re', 'packet-pool.elf');
const SHORT = ['--param', 'bursts=5'];

function cli(args: string[]): Promise<CliResult> {
  return runCli(args, { cwd: work });
}

/** Exit 2 with exactly one line on stderr matching `message`, and nothing on stdout. */
function expectOneLineInputError(result: CliResult, message: RegExp): void {
  expect(result.stderr).toMatch(message);
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
}

/** packet-pool.elf with one field of program header `index` (a PT_LOAD) replaced. */
function patchedSegment(name: string, index: number, field: 'vaddr' | 'paddr' | 'memSize', value: number): string {
  const bytes = Buffer.from(readFileSync(ELF));
  const programHeaders = bytes.readUInt32LE(28);
  const entrySize = bytes.readUInt16LE(42);
  const at = programHeaders + index * entrySize;
  expect(bytes.readUInt32LE(at), 'a PT_LOAD program header').toBe(1);
  const offset = { vaddr: 8, paddr: 12, memSize: 20 }[field];
  bytes.writeUInt32LE(value >>> 0, at + offset);
  const path = join(work, name);
  writeFileSync(path, bytes);
  return path;
}

function mkfifo(path: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('mkfifo', [path], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(`mkfifo exited ${code}`))));
  });
}

describe.concurrent('ELF segments that do not fit the board where they run', () => {
  // Before: the loader placed only each segment's file bytes at its load address, so these ran as "ok".
  it('a RAM segment whose size in memory runs past the RAM', async () => {
    const path = patchedSegment('ram-memsz.elf', 1, 'memSize', 16 * 1024 * 1024);
    expectOneLineInputError(
      await cli(['run', path, ...SHORT]),
      /ram-memsz\.elf: segment 1 \(16777216 bytes in memory at 0x20000000\) does not fit the memory of board stm32f411re/,
    );
  });

  it('a RAM segment linked at an address the board has no memory at', async () => {
    const path = patchedSegment('ram-vaddr.elf', 1, 'vaddr', 0x3000_0000);
    expectOneLineInputError(
      await cli(['run', path, ...SHORT]),
      /ram-vaddr\.elf: segment 1 \(\d+ bytes in memory at 0x30000000\) does not fit the memory of board stm32f411re/,
    );
  });

  it('a flash segment larger in memory than the flash', async () => {
    const path = patchedSegment('flash-memsz.elf', 0, 'memSize', 0x1000_0000);
    expectOneLineInputError(
      await cli(['run', path, ...SHORT]),
      /flash-memsz\.elf: segment 0 \(268435456 bytes in memory at 0x08000000\) does not fit the memory/,
    );
  });
});

describe.concurrent('check: an ELF one of its boards cannot load', () => {
  // Before: the runs went in order, so the first board's PASS lines were printed before the second board's
  // exit-2 line, and a reader of the log saw a pass. Every image is now loaded before any run.
  it('is exit 2 with one line and no PASS line', async () => {
    const elf = join(root, 'tests', 'fixtures', 'elf', 'fixture-stm32f411re.elf');
    const args = ['check', elf, '--board', 'stm32f411re,tiny', '--param', 'test=13', '--param', 'status=0'];
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/on tiny: .*initial stack pointer 0x20020000 is not inside a RAM bank of board tiny/);
    const alone = await cli(args.map((arg) => (arg === 'stm32f411re,tiny' ? 'stm32f411re' : arg)));
    expect(alone.code, alone.stderr).toBe(0);
  });
});

describe.concurrent('a target that is a path to something other than a file', () => {
  // Before: each was "unknown scenario "/dev/zero"; scenarios: ...".
  it('a directory, a FIFO and a device named by path are refused as what they are', async () => {
    mkdirSync(join(work, 'build'), { recursive: true });
    await mkfifo(join(work, 'pipe'));
    expectOneLineInputError(
      await cli(['run', './build']),
      /cannot read firmware .*build: it is a directory, not a regular file$/m,
    );
    expectOneLineInputError(
      await cli(['check', join(work, 'pipe'), '--no-oom']),
      /cannot read firmware .*pipe: it is a FIFO \(named pipe\), not a regular file$/m,
    );
    expectOneLineInputError(await cli(['run', 'pipe']), /pipe: it is a FIFO \(named pipe\), not a regular file$/m);
    expectOneLineInputError(
      await cli(['map', '/dev/zero']),
      /cannot read firmware \/dev\/zero: it is a character device, not a regular file$/m,
    );
    expectOneLineInputError(
      await cli(['run', './no-such-thing']),
      /cannot read firmware .*no-such-thing: no such file/,
    );
  });

  it('classifyTarget: a path is a file, a bare directory name still a scenario name', () => {
    mkdirSync(join(work, 'packet-pool'), { recursive: true });
    expect(classifyTarget('packet-pool', work)).toEqual({ kind: 'scenario', name: 'packet-pool' });
    expect(classifyTarget('./packet-pool', work)).toEqual({ kind: 'elf', path: join(work, 'packet-pool') });
    expect(classifyTarget('/dev/null', work)).toEqual({ kind: 'elf', path: '/dev/null' });
    expect(classifyTarget('pakcet-pool', work)).toEqual({ kind: 'scenario', name: 'pakcet-pool' });
  });
});

describe.concurrent("commander's usage errors are one line", () => {
  // Before: the error, then "(run with --help for usage)" on a second line.
  it.each([
    [['run', '--frobnicate'], /^error: unknown option '--frobnicate' \(run with --help for usage\)$/m],
    [['run', 'a', 'b'], /^error: too many arguments for 'run'\. .*\(run with --help for usage\)$/m],
    [['frobnicate'], /^error: unknown command 'frobnicate' \(run with --help for usage\)$/m],
    [['explain'], /^error: missing required argument 'size' \(run with --help for usage\)$/m],
    [['run', '--heap'], /^error: option '--heap <size>' argument missing \(run with --help for usage\)$/m],
  ])('tlsf-sim %j', async (args, message) => {
    expectOneLineInputError(await cli(args), message);
  });
});

describe.concurrent('impossible instruction budgets', () => {
  // Before: "0" reached the board and came back as "maxInstructions must be a positive integer, got 0";
  // "1e30" was called "not a whole number".
  it('--max-instructions 0 names the flag and its range', async () => {
    expectOneLineInputError(
      await cli(['run', '--max-instructions', '0', ...SHORT]),
      /^tlsf-sim: --max-instructions: "0" must be a whole number from 1 to \d+$/m,
    );
  });

  it('a budget file entry with maxInstructions 0 is refused with the entry', async () => {
    const budget = join(work, 'zero-budget.json');
    writeFileSync(budget, JSON.stringify({ checks: [{ scenario: 'packet-pool', maxInstructions: 0 }] }));
    expectOneLineInputError(
      await cli(['check', '--budget', budget]),
      /zero-budget\.json: checks\[0\]\.maxInstructions: "0" must be a whole number from 1/,
    );
  });

  it('a parameter of many digits does not fit, rather than being no integer', () => {
    // Before: "99999999999" (over 4 GiB, past the size parser) was "is not an integer".
    expect(() => parseParamValue('99999999999', '--param bursts')).toThrow(
      /"99999999999" does not fit a 32-bit signed parameter/,
    );
    expect(() => parseParamValue('-99999999999', '--param bursts')).toThrow(/does not fit a 32-bit signed parameter/);
    expect(parseParamValue('-2147483648', '--param bursts')).toBe(-2147483648);
    expect(() => parseParamValue('12Q', '--param bursts')).toThrow(/"12Q" is not an integer/);
  });

  it('a whole number too large to count is out of range, not malformed', () => {
    expect(() => parseCount('1e30', '--max-instructions', { min: 1 })).toThrow(
      /"1e30" must be a whole number from 1 to 9007199254740991/,
    );
    expect(() => parseCount('2.5', '--count')).toThrow(/"2\.5" is not a whole number/);
    expect(parseCount('2e9', '--max-instructions', { min: 1 })).toBe(2e9);
  });
});

describe.concurrent("firmware on newlib's semihosting (--specs=rdimon.specs)", () => {
  const fixture = (name: string) => join(root, 'tests', 'fixtures', 'elf', `${name}-stm32f411re.elf`);

  // Before: SYS_OPEN(":tt") failed, so printf wrote nothing, and SYS_EXIT without the features file lost main's 3:
  // the run was "ok" with no output.
  it('prints through the ":tt" handles and exits with main\'s status', async () => {
    const result = await cli(['run', fixture('semihosted'), '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as Record<string, any>;
    expect(report.result).toBe('exit-failure');
    expect(report.exitCode).toBe(3);
    expect(report.output).toBe('semihosted output on stdout\nsemihosted output on stderr\n');
    expect(report.ops.malloc).toBeGreaterThanOrEqual(1);
  });

  // Before: only the allocator's complaints about its bitmaps, nothing saying the heap was never called.
  it('without the heap shim, the heap damage says the firmware never called the heap', async () => {
    const result = await cli(['run', fixture('semihosted-own-malloc')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/: heap-corruption\n/);
    expect(result.stdout).toMatch(
      /the firmware made no heap call: its own code wrote over the heap, such as a C library malloc on _sbrk/,
    );
    expect(result.stdout).toMatch(/\| semihosted output on stdout\n/);
  });
});

describe.concurrent('semihosting given memory the firmware cannot have', () => {
  const fixture = join(root, 'tests', 'fixtures', 'elf', 'semihosting-bad-tiny.elf');
  // Before: "tlsf-sim: internal error: UnicornError: ... UC_ERR_READ_UNMAPPED ... (a bug or an emulator failure)",
  // exit 3, for what is the firmware's own bad pointer. heap_info (modes 4, 5) wrote its 28 bytes into flash
  // behind the firmware's back and the run ended ok, or was an internal error.
  it.each([
    [
      '1',
      'semihosting',
      /semihosting\(0x00000005, 0x[0-9a-f]{8}\) called from .* failed: .*0x30000000.*UC_ERR_READ_UNMAPPED/,
    ],
    ['2', 'semihosting', /semihosting\(0x00000005, 0x[0-9a-f]{8}\) called from .* failed: write of 2147483647 bytes/],
    ['3', 'semihosting', /semihosting\(0x00000001, 0x30000000\) called from .* failed: .*argument block at 0x30000000/],
    [
      '4',
      'heap_info',
      /heap_info\(0x08000100\) called from .* failed: its 28-byte result at 0x08000100 is not in a RAM bank/,
    ],
    [
      '5',
      'heap_info',
      /heap_info\(0x30000000\) called from .* failed: its 28-byte result at 0x30000000 is not in a RAM bank/,
    ],
  ])(
    'mode %s: %s with memory outside RAM stops the run as a fault of the firmware, exit 1',
    async (mode, service, message) => {
      const result = await cli(['run', fixture, '--board', 'tiny', '--param', `mode=${mode}`, '--json']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(1);
      const report = JSON.parse(result.stdout) as Record<string, any>;
      expect(report.result).toBe('fault');
      expect(report.fault.kind).toBe(`${service}-error`);
      expect(report.fault.symbol).toMatch(/^Reset_Handler/);
      expect(report.message).toMatch(message);
    },
  );

  it('the same firmware writing its own string is fine', async () => {
    const result = await cli(['run', fixture, '--board', 'tiny', '--json']);
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as Record<string, any>).output).toBe('semihosting ok\n');
  });
});

describe.concurrent('C++ out of memory', () => {
  // Before: runtime/cxx.cpp ended the run with tlsf_sim_out_of_memory(size), so the report named operator new
  // ("called from ... (_Znwj+0x1a)") instead of the function that said `new`.
  it('a throwing new that fails names the function that said new', async () => {
    const result = await cli([
      'run',
      join(root, 'tests', 'fixtures', 'elf', 'cxx-oom-stm32f103c8.elf'),
      '--board',
      'stm32f103c8',
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/: out-of-memory\n/);
    expect(result.stdout).toMatch(
      /allocating 1024 bytes failed \(called from 0x[0-9a-f]{8} \(_ZL4growP4Node\+0x[0-9a-f]+\)/,
    );
    expect(result.stdout).not.toMatch(/_Znw/);
  });
});

describe.concurrent('output that cannot be written', () => {
  /** The CLI with stdout on /dev/full (every write fails with ENOSPC); stderr collected. */
  function cliIntoFullDisk(args: string[]): Promise<{ code: number | null; stderr: string }> {
    const full = openSync('/dev/full', 'w');
    return new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, [join(root, 'dist', 'cli.js'), ...args], {
        cwd: work,
        stdio: ['ignore', full, 'pipe'],
      });
      closeSync(full);
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code) => resolvePromise({ code, stderr }));
    });
  }

  // Before: Node's "Error: ENOSPC: no space left on device, write" with its stack, exit 1 (a failed check's code).
  it.skipIf(!existsSync('/dev/full'))('stdout on a full disk: one line, exit 3', async () => {
    for (const args of [['boards'], ['run', ...SHORT, '--json']]) {
      const result = await cliIntoFullDisk(args);
      expect(result.stderr).toMatch(/^tlsf-sim: cannot write the output: ENOSPC: no space left on device/);
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(result.code).toBe(3);
    }
  });
});

describe.concurrent('control characters in error messages', () => {
  // Before: JSON.parse's message quoted the file's bytes raw, so an escape sequence in a "budget file" or
  // "baseline" reached the terminal (and a NUL or newline split the one line); commander echoed an option raw.
  it('a JSON file with an escape sequence: the message escapes it', async () => {
    const path = join(work, 'escape.json');
    writeFileSync(path, '{"a": \u001b[2J\u001b[31mred\u0007');
    for (const args of [
      ['check', '--budget', path],
      ['merge', path],
      ['check', 'packet-pool', '--max-peak', '1M', ...SHORT, '--baseline', path],
      ['run', '--board', path, ...SHORT],
    ]) {
      const result = await cli(args);
      expectOneLineInputError(result, /escape\.json/);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is that none is left
      expect(result.stderr.trimEnd()).not.toMatch(/[\u0000-\u001f\u007f]/);
    }
  });

  it('an ELF read as a baseline: no raw bytes of it in the message', async () => {
    const result = await cli(['check', 'packet-pool', '--max-peak', '1M', ...SHORT, '--baseline', ELF]);
    expectOneLineInputError(result, /is not JSON: .*\\x7fELF\\x01/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is that none is left
    expect(result.stderr.trimEnd()).not.toMatch(/[\u0000-\u001f\u007f]/);
  });

  it("commander's own errors escape the option they quote", async () => {
    const result = await cli(['run', '--x\u001b[31m']);
    expectOneLineInputError(result, /^error: unknown option '--x\\x1b\[31m' \(run with --help for usage\)$/m);
  });
});

describe.concurrent('--host refuses what only a board has', () => {
  // Before: --stack was taken and silently dropped (the host replay has no stack).
  it('--stack with --host is exit 2, on the command line and in a budget entry', async () => {
    const trace = join(work, 'small.rep');
    writeFileSync(trace, 'a 0 16\nf 0\n');
    expectOneLineInputError(
      await cli(['run', trace, '--host', '--stack', '8K']),
      /^tlsf-sim: --stack does not apply with --host, which replays the trace without a board$/m,
    );
    const budget = join(work, 'host-stack.json');
    writeFileSync(budget, JSON.stringify({ checks: [{ trace, host: true, stack: '8K' }] }));
    expectOneLineInputError(
      await cli(['check', '--budget', budget]),
      /host-stack\.json: checks\[0\]: --stack does not apply with --host/,
    );
  });
});

describe.concurrent('a board named twice', () => {
  // Before: each was run and reported twice ("4 checks passed (2 runs)").
  it('check --board a,a and a budget entry with boards [a, a] are exit 2', async () => {
    expectOneLineInputError(
      await cli(['check', 'packet-pool', '--board', 'tiny,TINY', '--no-oom', ...SHORT]),
      /^tlsf-sim: --board: board "TINY" is named twice$/m,
    );
    const budget = join(work, 'twice.json');
    writeFileSync(budget, JSON.stringify({ checks: [{ scenario: 'packet-pool', boards: ['tiny', 'tiny'] }] }));
    expectOneLineInputError(
      await cli(['check', '--budget', budget]),
      /twice\.json: checks\[0\]\.boards: board "tiny" is named twice/,
    );
  });
});

describe.concurrent('files saved with a UTF-8 byte order mark (as Windows editors save them)', () => {
  const BOM = '\uFEFF';
  // Before: JSON files were "not valid JSON: Unexpected token '﻿'", a trace without an extension was not
  // recognised (so it was taken for firmware), and gen-ld.mjs failed on the board file.
  it('budget, baseline and board JSON files and an extensionless trace are read past it', async () => {
    const budget = join(work, 'bom-budget.json');
    writeFileSync(budget, `${BOM}${JSON.stringify({ checks: [{ scenario: 'packet-pool', params: { bursts: 5 } }] })}`);
    const checked = await cli(['check', '--budget', budget]);
    expect(checked.stderr).toBe('');
    expect(checked.code).toBe(0);

    const report = await cli(['run', ...SHORT, '--json']);
    const baseline = join(work, 'bom-baseline.json');
    writeFileSync(baseline, `${BOM}${report.stdout}`);
    const compared = await cli(['check', 'packet-pool', ...SHORT, '--max-peak', '1M', '--baseline', baseline]);
    expect(compared.stderr).toBe('');
    expect(compared.code).toBe(0);

    const boardText = readFileSync(join(root, 'src', 'board', 'boards', 'stm32f411re.json'), 'utf8');
    const board = join(work, 'bom-board.json');
    writeFileSync(board, `${BOM}${boardText.replace('"stm32f411re"', '"my-f411"')}`);
    const fixture = join(root, 'tests', 'fixtures', 'elf', 'fixture-stm32f411re.elf');
    const onBoard = await cli(['run', fixture, '--board', board]);
    expect(onBoard.stderr).toBe('');
    expect(onBoard.stdout).toMatch(/ on my-f411 /);

    const trace = join(work, 'bom-trace');
    writeFileSync(trace, `${BOM}a 0 16\r\nf 0\r\n`);
    const replayed = await cli(['run', './bom-trace', '--host']);
    expect(replayed.stderr).toBe('');
    expect(replayed.stdout).toMatch(/^bom-trace on host: ok$/m);
  });

  it('the linker script generator reads a board file past it', async () => {
    const boardText = readFileSync(join(root, 'src', 'board', 'boards', 'tiny.json'), 'utf8');
    const board = join(work, 'bom-tiny.json');
    writeFileSync(board, `${BOM}${boardText.replace('"tiny"', '"my-tiny"')}`);
    const script = join(work, 'bom-tiny.ld');
    const generated = await new Promise<{ code: number | null; stderr: string }>((resolvePromise, reject) => {
      const child = spawn(
        process.execPath,
        [join(root, 'firmware-sim', 'tools', 'gen-ld.mjs'), '--board', board, '--out', script],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code) => resolvePromise({ code, stderr }));
    });
    expect(generated.stderr).toBe('');
    expect(generated.code).toBe(0);
    expect(readFileSync(script, 'utf8')).toMatch(/MEMORY/);
  });
});
