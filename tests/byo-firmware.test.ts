// Bring your own firmware (issue 10): `tlsf-sim build` and `tlsf-sim flags`, the corpus in firmware-sim/tests
// (thread-locals, a %g round trip, C++ on the heap, picolibc) built with the CLI and run on boards, the worked
// Make and CMake examples, board JSON files, and the one-line errors. Builds need arm-none-eabi-gcc (and
// picolibc, make, cmake for their parts); without them those tests are skipped and say why.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseElf } from '../src/board/index.js';
import { allocatorObjectsInMap } from '../src/cli/build/build-command.js';
import { scenarioElfForBoard } from '../src/cli/build/scenario-elf.js';
import { cliPath, root, runCli, type CliResult } from './support/cli.js';

const firmwareDir = join(root, 'firmware-sim');
const corpus = (file: string): string => join(firmwareDir, 'tests', file);

const haveCross = spawnSync('arm-none-eabi-gcc', ['--version']).status === 0;
const picolibcSpecs = haveCross
  ? spawnSync('arm-none-eabi-gcc', ['-print-file-name=picolibc.specs'], { encoding: 'utf8' }).stdout.trim()
  : '';
const havePicolibc = picolibcSpecs !== '' && picolibcSpecs !== 'picolibc.specs';
const haveMake = spawnSync('make', ['--version']).status === 0;
const haveCmake = spawnSync('cmake', ['--version']).status === 0;

const PACKAGES = 'apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib';
const crossSkip = haveCross ? '' : ` (skipped: arm-none-eabi-gcc is not installed; ${PACKAGES})`;
const picolibcSkip = havePicolibc
  ? ''
  : haveCross
    ? ' (skipped: picolibc is not installed; apt-get install picolibc-arm-none-eabi)'
    : crossSkip;
const makeSkip = !haveCross ? crossSkip : haveMake ? '' : ' (skipped: make is not installed)';
const cmakeSkip = !haveCross ? crossSkip : haveCmake ? '' : ' (skipped: cmake is not installed)';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tlsf-sim-byo-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** The CLI with a private cache directory, so generated linker scripts never touch the user's. */
function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { cwd: work, env: { TLSF_SIM_CACHE: join(work, 'cache'), ...env } });
}

async function build(args: string[]): Promise<string> {
  const result = await cli(['build', ...args]);
  expect(result.code, result.stderr).toBe(0);
  const output = args[args.indexOf('-o') + 1]!;
  return join(work, output);
}

interface RunJson {
  result: string;
  exitCode: number | null;
  output: string;
  ops: Record<string, number>;
}

async function run(elf: string, board: string): Promise<{ code: number | null; report: RunJson }> {
  const result = await cli(['run', elf, '--board', board, '--json']);
  return { code: result.code, report: JSON.parse(result.stdout) as RunJson };
}

/** What a one-line error looks like: exactly one line on stderr, from tlsf-sim. */
function expectOneLineError(result: CliResult, pattern: RegExp): void {
  expect(result.code, result.stderr).toBe(2);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^tlsf-sim: /);
  expect(lines[0]).toMatch(pattern);
}

const TLS_LINE = 'tls: counter=1236 short=0xbeef wide=0x0123456789abcdef aligned=5..8 other=-76 zero-word=0xa5a5a5a5\n';

describe('tlsf-sim build: the corpus', () => {
  it.skipIf(!haveCross)(
    `thread-locals (_Thread_local, __thread; initialised, zero, over-aligned, extern) on M4 and M0${crossSkip}`,
    async () => {
      // tiny has 32 KiB of flash: float printf would not fit beside the program.
      for (const [board, extra] of [
        ['stm32f411re', []],
        ['tiny', ['--no-float-io']],
      ] as const) {
        const elf = await build([
          corpus('tls-main.c'),
          corpus('tls-other.c'),
          '--board',
          board,
          ...extra,
          '-o',
          `tls-${board}.elf`,
        ]);
        const { code, report } = await run(elf, board);
        expect(report.result, report.output).toBe('ok');
        expect(code).toBe(0);
        expect(report.output).toBe(TLS_LINE);
      }
    },
    60_000,
  );

  it.skipIf(!haveCross)(
    `a %g / strtod / sscanf round trip passes with float I/O and fails without it${crossSkip}`,
    async () => {
      const withFloat = await build([corpus('float-io.c'), '--board', 'stm32f411re', '-o', 'float.elf']);
      const passed = await run(withFloat, 'stm32f411re');
      expect(passed.report.result, passed.report.output).toBe('ok');
      expect(passed.report.output).toBe('float-io: 7 of 7 numbers survived %g, strtod and sscanf\n');

      const withoutFloat = await build([
        corpus('float-io.c'),
        '--board',
        'stm32f411re',
        '--no-float-io',
        '-o',
        'no-float.elf',
      ]);
      const failed = await run(withoutFloat, 'stm32f411re');
      expect(failed.code).toBe(1);
      expect(failed.report.result).toBe('exit-failure');
      expect(failed.report.output).toContain('round trip failed for value 0: %g printed ""');
      expect(failed.report.output).toContain('float-io: 0 of 7 numbers survived');
    },
    60_000,
  );

  it.skipIf(!haveCross)(
    `hard-float firmware runs on the FPU of an M4F and an M7 with IEEE results, the FPU enabled by startup${crossSkip}`,
    async () => {
      // The checksum is the program's own (EXPECTED_CHECKSUM), from the same source on an x86-64 host.
      const line = 'float-math: checksum 0x305f59da, sum -2.16609, total 132.415681\n';
      const instructions: Record<string, number> = {};
      for (const [board, abi, fpu] of [
        ['stm32f411re', 'hard', 'fpv4-sp-d16'],
        ['stm32h743', 'hard', 'fpv5-sp-d16'],
        ['stm32f411re', 'soft', ''],
      ] as const) {
        const output = `float-${board}-${abi}.elf`;
        const built = await cli(
          ['build', corpus('float-math.c'), '-l', 'm', '--board', board, '--float-abi', abi].concat(['-o', output]),
        );
        expect(built.code, built.stderr).toBe(0);
        if (fpu) expect(built.stdout).toContain(`, ${abi} float on ${fpu})`);
        const { code, report } = await run(join(work, output), board);
        expect(report.output).toBe(line);
        expect(report.result).toBe('ok');
        expect(code).toBe(0);
        instructions[`${board}-${abi}`] = (report as RunJson & { instructions: number }).instructions;
      }
      // The FPU did the single-precision work: the soft-float build runs over twice the instructions.
      expect(instructions['stm32f411re-soft']!).toBeGreaterThan(2 * instructions['stm32f411re-hard']!);
    },
    90_000,
  );

  it.skipIf(!haveCross)(
    `double-precision FPU code on the M7 (whose emulated FPU is single precision) stops with a fault that says so${crossSkip}`,
    async () => {
      const built = await cli(
        ['build', corpus('float-math.c'), '-l', 'm', '--board', 'stm32h743', '-o', 'float-dp.elf'].concat([
          '--',
          '-mfpu=fpv5-d16',
        ]),
      );
      expect(built.code, built.stderr).toBe(0);
      const { code, report } = await run(join(work, 'float-dp.elf'), 'stm32h743');
      expect(report.result).toBe('fault');
      expect(code).toBe(1);
      expect((report as RunJson & { message: string }).message).toMatch(
        /undefined instruction: .* \(double_precision\+0x[0-9a-f]+\): a double-precision FPU instruction; the emulated cortex-m7 FPU is single precision \(fpv5-sp-d16\): build with -mfpu=fpv5-sp-d16/,
      );
    },
    60_000,
  );

  it.skipIf(!haveCross)(
    `C++: new/delete on the TLSF heap, a static constructor before main, a static destructor at exit${crossSkip}`,
    async () => {
      const elf = await build([corpus('cxx-heap.cpp'), '--board', 'rp2040', '-o', 'cxx.elf']);
      const { report } = await run(elf, 'rp2040');
      expect(report.result, report.output).toBe('ok');
      expect(report.output).toMatch(
        /^c\+\+: static constructor 12 squares, virtual delete 11, heap back to \d+ bytes\nstatic destructor ran\n$/,
      );
      // Squares' array, the Triangle, long[100]; the 64-byte-aligned type through memalign; the failed nothrow new.
      expect(report.ops.malloc).toBeGreaterThanOrEqual(3);
      expect(report.ops.memalign).toBe(1);
      expect(report.ops.failed).toBe(1);
      // The four deletes: the Triangle, long[100], the aligned type, and the static destructor's delete[] at exit.
      expect(report.ops.free).toBe(4);
    },
    60_000,
  );

  it.skipIf(!havePicolibc)(
    `picolibc: thread-locals and the float round trip, with the TLSF shim and not picolibc's malloc${picolibcSkip}`,
    async () => {
      for (const [name, sources] of [
        ['tls', [corpus('tls-main.c'), corpus('tls-other.c')]],
        ['float', [corpus('float-io.c')]],
      ] as const) {
        const elf = await build([...sources, '--board', 'stm32f103c8', '--libc', 'picolibc', '-o', `pico-${name}.elf`]);
        const { report } = await run(elf, 'stm32f103c8');
        expect(report.result, report.output).toBe('ok');
        expect(report.output).toBe(
          name === 'tls' ? TLS_LINE : 'float-io: 7 of 7 numbers survived %g, strtod and sscanf\n',
        );
        const symbols = parseElf(readFileSync(elf), elf).symbolByName;
        for (const allocatorState of ['__malloc_free_list', '__malloc_sbrk_start', '__malloc_sbrk_top'])
          expect(symbols.has(allocatorState)).toBe(false);
      }
      const integerOnly = await build([
        corpus('float-io.c'),
        '--board',
        'stm32f103c8',
        '--libc',
        'picolibc',
        '--no-float-io',
        '-o',
        'pico-int.elf',
      ]);
      expect((await run(integerOnly, 'stm32f103c8')).report.result).toBe('exit-failure');
    },
    60_000,
  );

  it.skipIf(!havePicolibc)(
    `picolibc's own malloc cannot be linked: the link fails${picolibcSkip}`,
    async () => {
      const source = join(work, 'wants-pico-malloc.c');
      writeFileSync(
        source,
        'void *__malloc_malloc(unsigned long size);\nint main(void) { return __malloc_malloc(8) != 0; }\n',
      );
      const result = await cli(['build', source, '--board', 'nrf52840', '--libc', 'picolibc', '-o', 'wants.elf']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/multiple definition of `(malloc|free)'/);
      expect(result.stderr.trimEnd().split('\n').at(-1)).toMatch(/^tlsf-sim: build: arm-none-eabi-gcc failed/);
      expect(existsSync(join(work, 'wants.elf'))).toBe(false);
    },
    60_000,
  );

  it.skipIf(!haveCross)(
    `--stack sets the linked stack, and the heap ends below it${crossSkip}`,
    async () => {
      const elf = await build([
        corpus('tls-main.c'),
        corpus('tls-other.c'),
        '--board',
        'nrf52840',
        '--stack',
        '8K',
        '-o',
        'stack.elf',
      ]);
      const symbols = parseElf(readFileSync(elf), elf).symbolByName;
      expect(symbols.get('__stack_size')?.value).toBe(8192);
      expect(symbols.get('__heap_end')?.value).toBe(symbols.get('_estack')!.value - 8192);
    },
    60_000,
  );
});

describe('the ABI header in code with strict warnings', () => {
  // Third-party code often builds with -Werror: including tlsf_sim.h must add no warning of its own. Before,
  // C++ got an old-style cast per service, a useless cast in the slot address and 0 as a null pointer.
  const source = [
    '#include "tlsf_sim.h"',
    'int main(void) {',
    '  tlsf_sim_heap_info_t info;',
    '  tlsf_sim_heap_info(&info);',
    '  void *block = tlsf_sim_malloc(24);',
    '  block = tlsf_sim_realloc(block, 48);',
    '  tlsf_sim_free(block);',
    '  tlsf_sim_free(tlsf_sim_memalign(32, 8));',
    '  tlsf_sim_free(tlsf_sim_calloc(4, 4));',
    '  tlsf_sim_mark("done");',
    '  if (info.used == 0u) tlsf_sim_out_of_memory(16);',
    '  tlsf_sim_exit(0);',
    '  return 0;',
    '}',
    '',
  ].join('\n');
  const strictCxx = [
    '-Wall',
    '-Wextra',
    '-Wpedantic',
    '-Wold-style-cast',
    '-Wuseless-cast',
    '-Wzero-as-null-pointer-constant',
  ];
  it.skipIf(!haveCross).each([
    ['arm-none-eabi-g++', 'c++', ['-std=c++17', ...strictCxx]],
    [
      'arm-none-eabi-g++',
      'c++',
      ['-std=c++98', ...strictCxx.filter((flag) => flag !== '-Wzero-as-null-pointer-constant')],
    ],
    ['arm-none-eabi-gcc', 'c', ['-std=c99', '-Wall', '-Wextra', '-Wpedantic']],
  ] as const)(`%s -x %s %j -Werror compiles it${crossSkip}`, (compiler, language, flags) => {
    const result = spawnSync(
      compiler,
      [
        '-mcpu=cortex-m4',
        '-mthumb',
        '-Os',
        '-Werror',
        ...flags,
        '-I',
        join(firmwareDir, 'include'),
        '-x',
        language,
        '-c',
        '-',
        '-o',
        '/dev/null',
      ],
      { input: source, encoding: 'utf8' },
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('tlsf-sim flags', () => {
  async function flags(args: string[]): Promise<string[]> {
    const result = await cli(['flags', ...args]);
    expect(result.code, result.stderr).toBe(0);
    return result.stdout.trim().split(/\s+/);
  }

  it('prints the compile flags, link flags and runtime sources for a board', async () => {
    const cflags = await flags(['--board', 'nrf52840', '--cflags']);
    expect(cflags).toEqual([
      '-mcpu=cortex-m4',
      '-mthumb',
      '-mfloat-abi=hard',
      '-mfpu=fpv4-sp-d16',
      '--specs=nano.specs',
      '-Os',
      '-ffunction-sections',
      '-fdata-sections',
      `-I${join(firmwareDir, 'include')}`,
    ]);
    expect(await flags(['--board', 'nrf52840', '--cxxflags'])).toEqual([...cflags, '-fno-exceptions', '-fno-rtti']);
    const ldflags = await flags(['--board', 'nrf52840', '--ldflags']);
    expect(ldflags).toContain(`-T${join(firmwareDir, 'ld', 'nrf52840.ld')}`);
    expect(ldflags.join(' ')).toContain('-u _printf_float -u _scanf_float');
    expect((await flags(['--board', 'nrf52840', '--ldflags', '--no-float-io'])).join(' ')).not.toContain(
      '_printf_float',
    );
    expect(await flags(['--board', 'rp2040', '--cflags', '-O2'])).toContain('-mcpu=cortex-m0plus');
    expect(await flags(['--board', 'tiny', '--ldflags', '--stack', '3K'])).toContain('-Wl,--defsym=__stack_size=3072');

    const runtime = ['startup.c', 'heap.c', 'syscalls.c', 'tlsf_sim.c'].map((file) =>
      join(firmwareDir, 'runtime', file),
    );
    expect(await flags(['--board', 'nrf52840', '--sources'])).toEqual(runtime);
    expect(await flags(['--board', 'nrf52840', '--sources', '--cxx'])).toEqual([
      ...runtime,
      join(firmwareDir, 'runtime', 'cxx.cpp'),
    ]);
    expect(await flags(['--board', 'nrf52840', '--sources', '--libc', 'picolibc'])).toEqual([
      ...runtime,
      join(firmwareDir, 'runtime', 'picolibc_stdio.c'),
    ]);
    const picolibc = (await flags(['--board', 'nrf52840', '--ldflags', '--libc', 'picolibc', '--no-float-io'])).join(
      ' ',
    );
    expect(picolibc).toContain('--specs=picolibc.specs');
    expect(picolibc).toContain('-Wl,--defsym=vfprintf=__i_vfprintf');
  });

  it('builds hard float where the core has an FPU unless --float-abi says otherwise', async () => {
    const machine = async (args: string[]) =>
      (await flags([...args, '--cflags'])).filter((word) => /^-m(cpu|float-abi|fpu)=/.test(word));
    expect(await machine(['--board', 'stm32f411re'])).toEqual([
      '-mcpu=cortex-m4',
      '-mfloat-abi=hard',
      '-mfpu=fpv4-sp-d16',
    ]);
    expect(await machine(['--board', 'stm32h743'])).toEqual([
      '-mcpu=cortex-m7',
      '-mfloat-abi=hard',
      '-mfpu=fpv5-sp-d16',
    ]);
    expect(await machine(['--board', 'stm32h743', '--float-abi', 'softfp'])).toEqual([
      '-mcpu=cortex-m7',
      '-mfloat-abi=softfp',
      '-mfpu=fpv5-sp-d16',
    ]);
    expect(await machine(['--board', 'stm32f411re', '--float-abi', 'soft'])).toEqual([
      '-mcpu=cortex-m4',
      '-mfloat-abi=soft',
    ]);
    expect(await machine(['--board', 'stm32f103c8'])).toEqual(['-mcpu=cortex-m3', '-mfloat-abi=soft']);
    // The link line selects the C library's multilib: it must carry the same ABI.
    expect(await flags(['--board', 'stm32f411re', '--ldflags'])).toContain('-mfloat-abi=hard');

    expectOneLineError(
      await cli(['flags', '--board', 'stm32f103c8', '--float-abi', 'hard']),
      /--float-abi hard: board stm32f103c8's core \(cortex-m3\) has no FPU/,
    );
    expectOneLineError(
      await cli(['flags', '--board', 'stm32f411re', '--float-abi', 'double']),
      /--float-abi: "double" is not one of soft, softfp, hard/,
    );
  });

  it('prints every list as a Make variable when no list is chosen, and refuses two', async () => {
    const result = await cli(['flags', '--board', 'tiny']);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n').map((line) => line.split(' :=')[0])).toEqual([
      'TLSF_SIM_CFLAGS',
      'TLSF_SIM_CXXFLAGS',
      'TLSF_SIM_LDFLAGS',
      'TLSF_SIM_SOURCES',
      '',
    ]);
    expectOneLineError(await cli(['flags', '--board', 'tiny', '--cflags', '--ldflags']), /give one of --cflags/);
  });

  it.skipIf(!haveCross)(
    `build runs exactly the flags that flags prints${crossSkip}`,
    async () => {
      const result = await cli([
        'build',
        corpus('float-io.c'),
        '--board',
        'stm32f103c8',
        '--verbose',
        '-o',
        'verbose.elf',
      ]);
      expect(result.code, result.stderr).toBe(0);
      const command = result.stdout.split('\n')[0]!.split(' ');
      expect(command[0]).toBe('arm-none-eabi-gcc');
      const cflags = await flags(['--board', 'stm32f103c8', '--cflags']);
      const ldflags = await flags(['--board', 'stm32f103c8', '--ldflags']);
      const sources = await flags(['--board', 'stm32f103c8', '--sources']);
      expect(command.slice(1, 1 + cflags.length)).toEqual(cflags);
      expect(command.slice(1 + cflags.length, 2 + cflags.length + sources.length)).toEqual([
        corpus('float-io.c'),
        ...sources,
      ]);
      const linkOnly = ldflags.filter((word) => !cflags.includes(word));
      const rest = command.slice(2 + cflags.length + sources.length);
      expect(rest.slice(0, linkOnly.length)).toEqual(linkOnly);
      expect(result.stdout.split('\n')[1]).toMatch(
        /verbose\.elf: stm32f103c8 \(cortex-m3\), newlib-nano with float I\/O; flash [\d,]+ B, static RAM/,
      );
    },
    60_000,
  );
});

describe('board JSON files', () => {
  const board = {
    name: 'big-f411',
    description: 'an STM32F411 with twice the RAM, for testing',
    cpu: 'cortex-m4f',
    clockHz: 100000000,
    flash: { base: '0x08000000', size: '0x80000' },
    ram: [{ name: 'SRAM', base: '0x20000000', size: '0x40000', heap: true }],
    source: 'made up for the test',
  };

  it('get a linker script generated into the cache, named by the content', async () => {
    const file = join(work, 'big-f411.json');
    writeFileSync(file, JSON.stringify(board, null, 2));
    const script = (await cli(['flags', '--board', file, '--ldflags'])).stdout
      .split(' ')
      .find((word) => word.startsWith('-T'))!
      .slice(2);
    expect(script.startsWith(join(work, 'cache', 'ld'))).toBe(true);
    const text = readFileSync(script, 'utf8');
    expect(text).toContain('RAM   (rwx) : ORIGIN = 0x20000000, LENGTH = 0x00040000');
    expect(text).toContain('INCLUDE common.ld');
    // The same content elsewhere: the same script. Edited content: another.
    const copy = join(work, 'copy.json');
    writeFileSync(copy, JSON.stringify(board, null, 2));
    expect((await cli(['flags', '--board', copy, '--ldflags'])).stdout).toContain(`-T${script}`);
    writeFileSync(copy, JSON.stringify({ ...board, ram: [{ ...board.ram[0], size: '0x30000' }] }, null, 2));
    expect((await cli(['flags', '--board', copy, '--ldflags'])).stdout).not.toContain(`-T${script}`);
  });

  it.skipIf(!haveCross)(
    `build firmware that runs on them, reproducibly${crossSkip}`,
    async () => {
      const file = join(work, 'big-f411.json');
      writeFileSync(file, JSON.stringify(board, null, 2));
      const first = await build([corpus('float-io.c'), '--board', file, '-o', 'big-1.elf']);
      const second = await build([corpus('float-io.c'), '--board', file, '-o', 'big-2.elf']);
      expect(Buffer.compare(readFileSync(first), readFileSync(second))).toBe(0);
      const { report } = await run(first, file);
      expect(report.result, report.output).toBe('ok');
      const symbols = parseElf(readFileSync(first), first).symbolByName;
      expect(symbols.get('_estack')?.value).toBe(0x20040000);
    },
    60_000,
  );
});

describe('built-in scenarios on board JSON files', () => {
  it.skipIf(makeSkip !== '')(
    `are linked on first use into the cache, byte-identical to the committed ELF for the same board${makeSkip}`,
    async () => {
      const file = join(work, 'f411-copy.json');
      writeFileSync(file, readFileSync(join(root, 'src', 'board', 'boards', 'stm32f411re.json')));
      const env = { TLSF_SIM_CACHE: join(work, 'scenario-cache') };
      const elf = scenarioElfForBoard({ name: 'third-party' }, file, env);
      expect(elf.startsWith(join(work, 'scenario-cache', 'scenarios'))).toBe(true);
      expect(
        Buffer.compare(readFileSync(elf), readFileSync(join(firmwareDir, 'elf', 'stm32f411re', 'third-party.elf'))),
      ).toBe(0);
      expect(scenarioElfForBoard({ name: 'third-party' }, file, env)).toBe(elf);
      const { report } = await run(elf, file);
      expect(report.result, report.output).toBe('ok');
    },
    120_000,
  );

  it.skipIf(makeSkip !== '')(
    `run by name on a board JSON file: tlsf-sim run <scenario> --board file.json${makeSkip}`,
    async () => {
      const file = join(work, 'user-board.json');
      writeFileSync(
        file,
        JSON.stringify({
          ...JSON.parse(readFileSync(join(root, 'src', 'board', 'boards', 'stm32f411re.json'), 'utf8')),
          name: 'big-f411',
        }),
      );
      const result = await runCli(['run', 'trace-player', '--board', file, '--json'], {
        env: { TLSF_SIM_CACHE: join(work, 'named-cache') },
      });
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as { result: string; board: string };
      expect(report.result).toBe('ok');
      expect(report.board).toBe('big-f411');
    },
    120_000,
  );

  it('without a cross compiler, say so and name tlsf-sim build', () => {
    const file = join(work, 'other-board.json');
    writeFileSync(file, readFileSync(join(root, 'src', 'board', 'boards', 'tiny.json')));
    const env = {
      TLSF_SIM_CACHE: join(work, 'scenario-cache'),
      TLSF_SIM_CROSS: join(work, 'no-such-dir', 'arm-none-eabi-'),
    };
    expect(() => scenarioElfForBoard({ name: 'packet-pool' }, file, env)).toThrow(
      /^scenario packet-pool is not built for board tiny, and linking it needs the Arm cross compiler \(apt-get install .*\); or build your own firmware with tlsf-sim build$/,
    );
  });
});

describe('tlsf-sim build: errors', () => {
  let source: string;
  beforeAll(() => {
    source = join(work, 'small.c');
    writeFileSync(source, 'int main(void) { return 0; }\n');
  });

  it('a missing cross compiler is one line naming the packages (exit 2)', async () => {
    const result = await cli(['build', source, '--board', 'tiny', '-o', 'small.elf'], {
      TLSF_SIM_CROSS: join(work, 'no-such-dir', 'arm-none-eabi-'),
    });
    expectOneLineError(
      result,
      /cross compiler .* is not installed; install it: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc\+\+-arm-none-eabi-newlib$/,
    );
  });

  it('bad options and sources are one line each (exit 2), before any compiler runs', async () => {
    expectOneLineError(await cli(['build', source, '-o', 'x.elf']), /--board is required/);
    expectOneLineError(
      await cli(['build', source, '--board', 'tiny', '--stack', '100']),
      /--stack: "100" must be a positive multiple of 8/,
    );
    expectOneLineError(
      await cli(['build', source, '--board', 'tiny', '--libc', 'musl']),
      /--libc: "musl" is not one of newlib-nano, picolibc/,
    );
    expectOneLineError(await cli(['build', source, '--board', 'tiny', '-O', '9']), /-O: "9" is not one of/);
    expectOneLineError(await cli(['build', source, '--board', 'no-such-board']), /unknown board "no-such-board"/);
    expectOneLineError(await cli(['build', join(work, 'missing.c'), '--board', 'tiny']), /missing\.c: no such file/);
    writeFileSync(join(work, 'header.h'), '');
    expectOneLineError(await cli(['build', join(work, 'header.h'), '--board', 'tiny']), /unknown kind of file/);
    expectOneLineError(
      await cli(['build', corpus('cxx-heap.cpp'), '--board', 'tiny', '--libc', 'picolibc']),
      /C\+\+ with --libc picolibc is not supported/,
    );
  });

  it("finds either C library's allocator objects in a linker map", () => {
    const map = [
      ' .text.malloc   0x08000100   0x20 /usr/lib/arm-none-eabi/newlib/thumb/v7e-m/nofp/libc_nano.a(lib_a-nano-mallocr.o)',
      ' .text.free     0x08000120   0x20 /usr/lib/picolibc/arm-none-eabi/lib/thumb/v7e-m/nofp/libc.a(nano-malloc-free.c.o)',
      ' .text.strdup   0x08000140   0x20 /usr/lib/arm-none-eabi/newlib/thumb/v7e-m/nofp/libc_nano.a(lib_a-strdup.o)',
      ' .text.malloc   0x08000160   0x08 /tmp/ccABCD.o',
    ].join('\n');
    expect(allocatorObjectsInMap(map)).toEqual(['lib_a-nano-mallocr.o', 'nano-malloc-free.c.o']);
    expect(allocatorObjectsInMap(map.split('\n').slice(2).join('\n'))).toEqual([]);
  });

  it.skipIf(!haveCross)(
    `a compiler error passes the compiler's diagnostics through and exits 2${crossSkip}`,
    async () => {
      const broken = join(work, 'broken.c');
      writeFileSync(broken, 'int main(void) {\n  return undeclared_name;\n}\n');
      const result = await cli(['build', broken, '--board', 'tiny', '-o', 'broken.elf']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/broken\.c:2:10: error: 'undeclared_name' undeclared/);
      expect(result.stderr.trimEnd().split('\n').at(-1)).toBe(
        'tlsf-sim: build: arm-none-eabi-gcc failed (exit 1); its messages are above',
      );
    },
    60_000,
  );

  it.skipIf(!haveCross)(
    `a flash overflow with float I/O suggests --no-float-io${crossSkip}`,
    async () => {
      const result = await cli(['build', corpus('float-io.c'), '--board', 'tiny', '-o', 'too-big.elf']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("region `FLASH' overflowed");
      expect(result.stderr).toContain('--no-float-io leaves them out');
    },
    60_000,
  );
});

describe('worked examples', () => {
  it.skipIf(makeSkip !== '')(
    `firmware-sim/examples/make builds with tlsf-sim flags and runs${makeSkip}`,
    async () => {
      const out = join(work, 'make-example');
      execFileSync(
        'make',
        ['-s', '-C', join(firmwareDir, 'examples', 'make'), `OUT=${out}`, `TLSF_SIM=${process.execPath} ${cliPath}`],
        {
          env: { ...process.env, TLSF_SIM_CACHE: join(work, 'cache') },
          stdio: 'pipe',
        },
      );
      const { report } = await run(join(out, 'app.elf'), 'nrf52840');
      expect(report.result, report.output).toBe('ok');
      expect(report.output).toBe('make example: 3220 bytes through 3 rings\n');
    },
    120_000,
  );

  it.skipIf(cmakeSkip !== '')(
    `firmware-sim/examples/cmake builds with the toolchain file (C and C++) and runs${cmakeSkip}`,
    async () => {
      const out = join(work, 'cmake-example');
      mkdirSync(out, { recursive: true });
      const env = { ...process.env, TLSF_SIM_CACHE: join(work, 'cache') };
      execFileSync(
        'cmake',
        [
          '-S',
          join(firmwareDir, 'examples', 'cmake'),
          '-B',
          out,
          `-DCMAKE_TOOLCHAIN_FILE=${join(firmwareDir, 'cmake', 'tlsf-sim-toolchain.cmake')}`,
          '-DTLSF_SIM_BOARD=stm32f407vg',
        ],
        { env, stdio: 'pipe' },
      );
      execFileSync('cmake', ['--build', out], { env, stdio: 'pipe' });
      const { report } = await run(join(out, 'inventory.elf'), 'stm32f407vg');
      expect(report.result, report.output).toBe('ok');
      expect(report.output).toBe('cmake example: 30 items, 675 parts in stock\n');
    },
    180_000,
  );
});
