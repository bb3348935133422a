import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectParam, parseChoice, parseCount, parseFraction, parseParam, parseSize } from '../src/cli/units.js';
import { InputError } from '../src/cli/errors.js';
import { evaluateChecks, hasAnyLimit, LIMITS, type RunFigures } from '../src/cli/checks.js';
import { limitsFromFlags, runParametersFrom } from '../src/cli/options.js';
import { RUN_PARAMETER_FIELDS } from '../src/cli/run-parameters.js';
import { classifyTarget, findDefaultBudgetFile, loadBudgetFile, parseBudget } from '../src/cli/budget.js';
import { parseTrace } from '../src/cli/trace.js';
import { encodeTrace } from '../src/cli/trace-encoding.js';
import { toGithubAnnotations, toJUnit, toMarkdown } from '../src/cli/ci.js';
import { colourEnabled, palette, ProgressBar } from '../src/cli/terminal.js';
import { worstCaseBounds } from '../src/cli/robson.js';
import { describeEngine, formatRunReport, runReportJson } from '../src/cli/report.js';

describe('parseSize', () => {
  it.each([
    ['32768', 32768],
    ['32K', 32768],
    ['32k', 32768],
    ['32KiB', 32768],
    ['32KB', 32768],
    ['0x8000', 32768],
    ['0X8000', 32768],
    ['1.5K', 1536],
    ['1M', 1048576],
    ['64 KiB', 65536],
    ['0', 0],
  ])('%s = %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['', 'abc', '-4K', '32Q', '0.3K', '1.2.3', '0x', '5G', '0x100000000', '32 K B'])(
    'refuses %j, naming it',
    (text) => {
      expect(() => parseSize(text, '--heap')).toThrow(InputError);
      expect(() => parseSize(text, '--heap')).toThrow(/--heap/);
      if (text !== '') expect(() => parseSize(text, '--heap')).toThrow(text);
    },
  );
});

describe('parseFraction', () => {
  it('reads percentages and fractions', () => {
    expect(parseFraction('30%')).toBeCloseTo(0.3);
    expect(parseFraction('12.5%')).toBeCloseTo(0.125);
    expect(parseFraction('0.3')).toBeCloseTo(0.3);
    expect(parseFraction('1')).toBe(1);
    expect(parseFraction('0%')).toBe(0);
  });
  it('refuses ambiguous or out-of-range values', () => {
    expect(() => parseFraction('30', '--max-fragmentation')).toThrow(/ambiguous.*30%/);
    expect(() => parseFraction('120%', 'x')).toThrow(/outside/);
    expect(() => parseFraction('lots', 'x')).toThrow(/"lots"/);
  });
});

describe('counts, choices and params', () => {
  it('reads counts in several spellings', () => {
    expect(parseCount('2e9')).toBe(2e9);
    expect(parseCount('2_000_000')).toBe(2_000_000);
    expect(parseCount('0x10')).toBe(16);
    expect(() => parseCount('1.5', '--max-instructions')).toThrow(/--max-instructions: "1.5"/);
  });
  it('limits choices', () => {
    expect(parseChoice('16', [4, 8, 16] as const, '--align')).toBe(16);
    expect(() => parseChoice('12', [4, 8, 16] as const, '--align')).toThrow(/--align: "12" must be one of 4, 8, 16/);
  });
  it('parses --param name=value with sizes and negatives', () => {
    expect(parseParam('packets=200')).toEqual(['packets', 200]);
    expect(parseParam('buffer=4K')).toEqual(['buffer', 4096]);
    expect(parseParam('offset=-3')).toEqual(['offset', -3]);
    expect(collectParam('b=2', collectParam('a=1'))).toEqual({ a: 1, b: 2 });
    expect(collectParam('a=2', { a: 1 })).toEqual({ a: 2 });
    expect(() => parseParam('noequals')).toThrow(/"noequals" is not name=value/);
    expect(() => parseParam('bad name=1')).toThrow(/"bad name"/);
    expect(() => parseParam('n=abc')).toThrow(/"abc"/);
    expect(() => parseParam('n=3G')).toThrow(InputError);
    expect(() => parseParam(`${'x'.repeat(28)}=1`)).toThrow(/at most 27/);
  });
});

const okFigures: RunFigures = {
  result: 'ok',
  ops: { failed: 0 },
  peakUsed: 10_000,
  peakSpan: 12_000,
  largestFreeAtPeak: 4096,
  fragmentation: 0.2,
};

describe('evaluateChecks', () => {
  it('always checks that the run completes', () => {
    const outcomes = evaluateChecks('s', 'b', okFigures, {});
    expect(outcomes.map((o) => o.check)).toEqual(['completes']);
    expect(outcomes[0]!.pass).toBe(true);
    const fault = evaluateChecks('s', 'b', { ...okFigures, result: 'fault', message: 'wrote past block' }, {});
    expect(fault[0]!.pass).toBe(false);
    expect(fault[0]!.summary).toContain('wrote past block');
  });
  it('compares each limit with its measured figure, boundaries inclusive', () => {
    const outcomes = evaluateChecks('s', 'b', okFigures, {
      maxPeak: 10_000,
      maxSpan: 11_999,
      maxFragmentation: 0.25,
      minFree: 4097,
      noOom: true,
    });
    const byName = Object.fromEntries(outcomes.map((o) => [o.check, o]));
    expect(byName['max-peak']!.pass).toBe(true);
    expect(byName['max-peak']!.measured).toBe(10_000);
    expect(byName['max-span']!.pass).toBe(false);
    expect(byName['max-fragmentation']!.pass).toBe(true);
    expect(byName['min-free']!.pass).toBe(false);
    expect(byName['min-free']!.summary).toBe('largest free block at peak 4,096 B < min 4,097 B');
    expect(byName['no-oom']!.pass).toBe(true);
  });
  it('no-oom fails on any failed allocation or an out-of-memory stop', () => {
    expect(evaluateChecks('s', 'b', { ...okFigures, ops: { failed: 1 } }, { noOom: true })[1]!.pass).toBe(false);
    expect(evaluateChecks('s', 'b', { ...okFigures, result: 'out-of-memory' }, { noOom: true })[1]!.pass).toBe(false);
  });
  it('knows when no limit was given', () => {
    expect(hasAnyLimit({})).toBe(false);
    expect(hasAnyLimit({ noOom: false })).toBe(false);
    expect(hasAnyLimit({ minFree: 0 })).toBe(true);
  });
});

describe('one definition per limit and per run parameter', () => {
  // A value each kind of limit accepts, as a flag and as a budget-file value.
  const LIMIT_SAMPLES: Record<string, [flagValue: string | boolean, budgetValue: string | number | boolean]> = {
    bytes: ['2K', 2048],
    fraction: ['25%', 0.25],
    count: [false, true],
    cycles: ['200', 200],
  };

  // max-growth is held against a baseline, not by evaluateChecks: tests/cli-ci-scale.test.ts covers it.
  const RUN_LIMITS = LIMITS.filter((definition) => !('againstBaseline' in definition));
  it.each(RUN_LIMITS.map((definition) => [definition.name, definition] as const))(
    'limit %s: flag, both budget spellings, one outcome',
    (name, definition) => {
      const [flagValue, budgetValue] = LIMIT_SAMPLES[definition.unit]!;
      // commander's property for the flag: --max-peak as maxPeak, --no-oom as oom (false when given).
      const flagProperty = definition.option.startsWith('--no-')
        ? definition.key.replace(/^no(.)/, (_, letter: string) => letter.toLowerCase())
        : definition.key;
      const fromFlag = limitsFromFlags({ [flagProperty]: flagValue });
      const fromKebab = parseBudget({ checks: [{ scenario: 's', limits: { [name]: budgetValue } }] }, 'b.json')[0]!
        .limits;
      const fromCamel = parseBudget(
        { checks: [{ scenario: 's', limits: { [definition.key]: budgetValue } }] },
        'b.json',
      )[0]!.limits;
      expect(Object.keys(fromFlag)).toEqual([definition.key]);
      expect(fromKebab).toEqual(fromFlag);
      expect(fromCamel).toEqual(fromFlag);
      expect(hasAnyLimit(fromFlag)).toBe(true);
      const outcomes = evaluateChecks('s', 'b', okFigures, fromFlag);
      expect(outcomes.map((outcome) => outcome.check)).toEqual(['completes', name]);
      expect(outcomes[1]!.unit).toBe(definition.unit);
    },
  );

  // A value each run parameter accepts, the same text as a flag and in a budget file.
  const PARAMETER_SAMPLES: Record<string, [given: string | boolean, read: unknown]> = {
    heap: ['8K', 8192],
    stack: ['8K', 8192],
    align: ['16', 16],
    sl: ['3', 3],
    maxInstructions: ['1e6', 1e6],
    timeout: ['90s', 90_000],
    guard: [true, true],
    alignCheck: [true, true],
    host: [true, true],
    allocator: ['best-fit', 'best-fit'],
    callCost: [true, true],
  };

  it.each(RUN_PARAMETER_FIELDS.map((field) => [field.key, field] as const))(
    'run parameter %s: the flag and the budget key fill the same field',
    (key, field) => {
      expect(PARAMETER_SAMPLES, `a sample value for ${key}`).toHaveProperty(key);
      const [given, read] = PARAMETER_SAMPLES[key]!;
      const fromFlag = runParametersFrom({ [key]: given });
      const [job] = parseBudget({ checks: [{ scenario: 's', [key]: given }] }, 'b.json');
      expect(fromFlag).toEqual({ [field.field]: read });
      expect(job![field.field]).toEqual(read);
    },
  );
});

describe('budget files', () => {
  const directory = mkdtempSync(join(tmpdir(), 'tlsf-budget-'));

  it('expands boards, merges defaults and resolves paths against the file', () => {
    const path = join(directory, 'tlsf-budget.yaml');
    writeFileSync(
      path,
      [
        'defaults:',
        '  board: stm32f411re',
        '  limits: { max-peak: 24K, noOom: true }',
        'checks:',
        '  - scenario: packet-pool',
        '    boards: [nrf52840, rp2040]',
        '    params: { packets: 50, size: 1K }',
        '    limits: { maxFragmentation: 30% }',
        '  - elf: fw/app.elf',
        '    heap: 0x4000',
        '    limits: { maxPeak: 8K }',
      ].join('\n'),
    );
    expect(findDefaultBudgetFile(directory)).toBe(path);
    const jobs = loadBudgetFile(path);
    expect(jobs).toHaveLength(3);
    expect(jobs[0]).toMatchObject({
      board: 'nrf52840',
      params: { packets: 50, size: 1024 },
      limits: { maxPeak: 24576, noOom: true, maxFragmentation: 0.3 },
    });
    expect(jobs[1]!.board).toBe('rp2040');
    expect(jobs[2]).toMatchObject({
      board: 'stm32f411re',
      heapSize: 0x4000,
      target: { kind: 'elf', path: join(directory, 'fw/app.elf') },
      limits: { maxPeak: 8192, noOom: true },
    });
  });

  it('accepts a bare list in JSON', () => {
    const path = join(directory, 'list.json');
    writeFileSync(path, JSON.stringify([{ scenario: 'json-doc', limits: { minFree: '2K' } }]));
    expect(loadBudgetFile(path)).toEqual([
      {
        target: { kind: 'scenario', name: 'json-doc' },
        board: undefined,
        params: {},
        limits: { minFree: 2048 },
        heapSize: undefined,
        align: undefined,
        slLog2: undefined,
        maxInstructions: undefined,
        origin: `${path}: checks[0]`,
      },
    ]);
  });

  it('names the file and field of every mistake', () => {
    const cases: [unknown, RegExp][] = [
      [{ checks: [{ scenario: 'x', limits: { maxPeak: 'big' } }] }, /b\.yaml: checks\[0\]\.limits\.maxPeak: "big"/],
      [
        { checks: [{ scenario: 'x', maxPeak: '1K' }] },
        /checks\[0\]: unknown field "maxPeak" \(put it under "limits"\)/,
      ],
      [{ checks: [{ limits: {} }] }, /checks\[0\]: needs exactly one of "scenario", "elf" or "trace"/],
      [{ checks: [{ scenario: 'x', elf: 'y.elf' }] }, /has scenario and elf/],
      [{ checks: [{ scenario: 'x', limits: { maxFrag: 1 } }] }, /unknown limit "maxFrag"/],
      [{ checks: [{ scenario: 'x', limits: { noOom: 'yes' } }] }, /noOom must be true or false/],
      [{ checks: [{ scenario: 'x', boards: [] }] }, /boards must be a non-empty list/],
      [{ checks: [] }, /"checks" is empty/],
      [{ check: [] }, /unknown top-level field "check"/],
      [{ defaults: { scenario: 'x' }, checks: [{ scenario: 'y' }] }, /defaults\.scenario is not a field/],
      [{ checks: [{ scenario: 'x', params: { n: 'many' } }] }, /checks\[0\]\.params\.n: "many"/],
      [{ checks: [{ scenario: 'x', align: 3 }] }, /checks\[0\]\.align: "3" must be one of 4, 8, 16/],
      ['text', /must be a list of checks/],
    ];
    for (const [document, message] of cases) {
      expect(() => parseBudget(document, 'b.yaml')).toThrow(message);
    }
  });

  it('reports unreadable and unparsable files', () => {
    expect(() => loadBudgetFile(join(directory, 'missing.yaml'))).toThrow(
      /cannot read budget file .*missing\.yaml: no such file/,
    );
    const broken = join(directory, 'broken.json');
    writeFileSync(broken, '{ "checks": [');
    expect(() => loadBudgetFile(broken)).toThrow(/broken\.json is not valid JSON/);
  });

  it('classifies command-line targets by extension', () => {
    expect(classifyTarget('packet-pool')).toEqual({ kind: 'scenario', name: 'packet-pool' });
    expect(classifyTarget('fw.elf', '/x')).toEqual({ kind: 'elf', path: '/x/fw.elf' });
    expect(classifyTarget('t.rep', '/x')).toEqual({ kind: 'trace', path: '/x/t.rep' });
  });
});

describe('parseTrace', () => {
  it('reads a malloc-lab trace with its header', () => {
    const trace = parseTrace(['20000', '2', '5', '1', 'a 0 2040', 'a 1 2040', 'f 1', 'r 0 4000', 'f 0', ''].join('\n'));
    expect(trace.suggestedHeapSize).toBe(20000);
    expect(trace.ops).toHaveLength(5);
    expect(trace.ops[3]).toEqual({ kind: 'realloc', id: 0, size: 4000, line: 8 });
    expect(trace.idCount).toBe(2);
    expect(trace.largestRequest).toBe(4000);
    expect(trace.peakLiveBytes).toBe(4080);
  });
  it('accepts a trace without header and with comments', () => {
    const trace = parseTrace('# demo\na 3 16  # sixteen\nf 3\n');
    expect(trace.ops.map((op) => op.kind)).toEqual(['alloc', 'free']);
    expect(trace.idCount).toBe(4);
  });
  it.each([
    ['a 0 16\nx 1\n', /t\.rep:2: unknown operation "x"/],
    ['a 0\n', /t\.rep:1: "a" takes an id and a size/],
    ['a 0 -5\n', /t\.rep:1: size must be a non-negative integer/],
    ['a 0 16\nf 1\n', /t\.rep:2: id 1 is freed but not allocated/],
    ['a 0 16\na 0 8\n', /t\.rep:2: id 0 is allocated again/],
    ['1\n1\n3\n1\na 0 8\n', /declares 3 operations but the trace has 1/],
    ['', /no operations/],
  ])('reports %j with its line number', (text, message) => {
    expect(() => parseTrace(text, 't.rep')).toThrow(message);
  });
});

describe('encodeTrace', () => {
  it('writes the TRC1 header and two words per operation, little-endian, ids renumbered into slots', () => {
    const encoded = encodeTrace(parseTrace('a 0 100\nr 0 300\na 5 8\nf 0\n'));
    const view = new DataView(encoded.bytes.buffer, encoded.bytes.byteOffset, encoded.bytes.byteLength);
    const word = (index: number) => view.getUint32(index * 4, true);
    expect(encoded.bytes.byteLength).toBe((4 + 4 * 2) * 4);
    expect(String.fromCharCode(...encoded.bytes.subarray(0, 4))).toBe('TRC1');
    expect([word(1), word(2), word(3)]).toEqual([4, 2, 0]);
    expect([word(4), word(5)]).toEqual([0x0000_0000, 100]);
    expect([word(6), word(7)]).toEqual([0x2000_0000, 300]);
    expect([word(8), word(9)]).toEqual([0x0000_0001, 8]);
    expect([word(10), word(11)]).toEqual([0x1000_0000, 0]);
    expect(encoded.flashPatches).toEqual([
      { symbol: '__tlsf_trace_start', endSymbol: '__tlsf_trace_end', bytes: encoded.bytes },
    ]);
  });
});

describe('CI outputs', () => {
  const outcomes = [
    ...evaluateChecks('packet-pool', 'STM32F411RE', okFigures, { maxPeak: 8192 }),
    ...evaluateChecks('a<b>&"c"', 'RP2040', { ...okFigures, result: 'fault' }, {}),
  ];

  it('writes JUnit with one testcase per check and escaped names', () => {
    const xml = toJUnit(outcomes, [
      { target: 'packet-pool', board: 'STM32F411RE', seconds: 0.5, output: 'hi \u0001there' },
    ]);
    expect(xml).toMatch(/^<\?xml version="1.0"/);
    expect(xml).toContain('<testsuites name="tlsf-sim check" tests="3" failures="2"');
    expect(xml.match(/<testcase /g)).toHaveLength(3);
    expect(xml).toContain('<failure type="max-peak" message="peak used 10,000 B &gt; max 8,192 B">');
    expect(xml).toContain('a&lt;b&gt;&amp;&quot;c&quot; on RP2040');
    expect(xml).toContain('<system-out>hi there</system-out>');
  });

  it('writes a markdown table with a row per check', () => {
    const markdown = toMarkdown(outcomes);
    expect(markdown).toContain('2 of 3 checks failed');
    expect(markdown).toContain('| ❌ | packet-pool | STM32F411RE | max-peak | 10,000 B | 8,192 B |');
    expect(markdown).toContain('| ✅ | packet-pool | STM32F411RE | completes | ok | ok |');
  });

  it('writes ::error annotations for failures only, escaped', () => {
    const lines = toGithubAnnotations(outcomes, 'ci/tlsf-budget.yaml');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(
      '::error file=ci/tlsf-budget.yaml,title=tlsf-sim max-peak::packet-pool on STM32F411RE: peak used 10,000 B > max 8,192 B',
    );
    expect(toGithubAnnotations([{ ...outcomes[1]!, summary: '50% \n' }])[0]).toContain('50%25 %0A');
  });
});

describe('terminal', () => {
  it('colours only a TTY without NO_COLOR', () => {
    expect(colourEnabled({ isTTY: true, write: () => true }, {})).toBe(true);
    expect(colourEnabled({ isTTY: false, write: () => true }, {})).toBe(false);
    expect(colourEnabled({ isTTY: true, write: () => true }, { NO_COLOR: '1' })).toBe(false);
    expect(colourEnabled({ isTTY: true, write: () => true }, { NO_COLOR: '' })).toBe(true);
    expect(palette(false).red('x')).toBe('x');
    expect(palette(true).red('x')).toBe('\u001b[31mx\u001b[0m');
  });

  it('draws progress only after the delay, only when enabled', () => {
    let clock = 0;
    const written: string[] = [];
    const stream = { isTTY: true, write: (text: string) => written.push(text) };
    const bar = new ProgressBar(stream, 'run', true, () => clock);
    bar.update(0.1);
    expect(written).toHaveLength(0);
    clock = 1500;
    bar.update(0.5);
    expect(written.join('')).toContain(' 50%');
    bar.finish();
    expect(written.at(-1)).toBe('\r\u001b[K');
    const silent = new ProgressBar(stream, 'run', false, () => clock);
    clock = 5000;
    silent.update(0.9);
    expect(written.join('')).not.toContain('90%');
  });
});

describe('progress against the instruction budget', () => {
  it('shows instructions and the share of the budget', () => {
    let clock = 0;
    const written: string[] = [];
    const bar = new ProgressBar(
      { isTTY: true, write: (text: string) => written.push(text) },
      'x on y',
      true,
      () => clock,
    );
    clock = 2000;
    bar.update(500e6, 2e9);
    expect(written[0]).toContain('x on y: 500M instructions');
    expect(written[0]).toContain('25% of the 2000M-instruction budget');
  });
});

describe('worst-case bounds', () => {
  it('computes Robson and best-fit bounds in alignment units', () => {
    const bounds = worstCaseBounds(10_000, 1536, 8);
    expect(bounds.largestRequestUnits).toBe(192);
    expect(bounds.robsonBytes).toBe(10_000 * (1 + 8)); // ceil(log2 192) = 8
    expect(bounds.bestFitBytes).toBe(10_000 * 190);
    expect(worstCaseBounds(100, 8, 8).robsonBytes).toBe(100); // one unit: log2 1 = 0
    expect(worstCaseBounds(100, 1024, 8).robsonBytes).toBe(100 * 8); // 128 units: exactly 2^7
  });
});

describe('run report', () => {
  const report = {
    result: 'fault',
    exitCode: 0,
    output: 'hello\nworld\n',
    board: 'tiny',
    firmware: 'fw.elf',
    ops: { malloc: 1234, free: 1200, realloc: 3, calloc: 1, memalign: 0, failed: 2 },
    peakUsed: 5000,
    peakRequested: 4500,
    peakSpan: 5200,
    largestFreeAtPeak: 300,
    largestFree: 2000,
    fragmentation: 0.125,
    controlBytes: 400,
    heapBase: 0x20000100,
    heapSize: 6144,
    instructions: 1_000_000,
    cycles: 1_400_000,
    seconds: 0.0875,
    hostMs: 12.4,
    message: 'wrote 4 bytes past block',
    fault: { kind: 'write-unmapped', address: 0x30000000, size: 4, pc: 0x08000123, symbol: 'main+0x10' },
    engine: { path: '/opt/x/libunicorn.so.2', version: '2.1.4', source: 'homebrew' },
  };
  const settings = {
    target: 'fw.elf',
    targetKind: 'elf' as const,
    boardName: 'tiny',
    cpu: 'cortex-m0',
    clockHz: 16e6,
    align: 8,
    slLog2: 5,
    params: { n: 3 },
    guard: false,
  };

  it('prints every figure a line, the stop reason and the firmware output', () => {
    const text = formatRunReport(report, settings, palette(false));
    expect(text.split('\n')[0]).toBe('fw.elf on tiny (cortex-m0, 16 MHz): fault');
    expect(text).toContain('stopped         wrote 4 bytes past block');
    expect(text).toContain('fault           write-unmapped, 4 bytes at 0x30000000, pc 0x08000123 in main+0x10');
    expect(text).toContain('heap            0x20000100, 6 KiB (6,144 B), align 8, SL 2^5');
    expect(text).toContain('parameters      n=3');
    expect(text).toContain('malloc 1,234, free 1,200, realloc 3, calloc 1, memalign 0, failed 2');
    expect(text).toContain('fragmentation   12.5%');
    expect(text).toContain('1,000,000, ~1,400,000 cycles, ~87.50 ms at 16 MHz');
    expect(text).toContain('    | world');
    expect(text).toContain('\n  engine          Unicorn 2.1.4 (Homebrew, /opt/x/libunicorn.so.2)\n');
  });

  it('names the engine with its source, and a path inside the project relative to it', () => {
    const engine = {
      path: '/work/p/.cache/unicorn-py/unicorn/lib/libunicorn.so.2',
      version: '2.1.4',
      source: 'project',
    };
    expect(describeEngine(engine, '/work/p')).toBe(
      'Unicorn 2.1.4 (pip, .cache/unicorn-py/unicorn/lib/libunicorn.so.2)',
    );
    expect(describeEngine(engine, '/elsewhere')).toBe(`Unicorn 2.1.4 (pip, ${engine.path})`);
    expect(runReportJson(report, settings).engine).toEqual(report.engine);
  });

  it('keeps the documented JSON field names', () => {
    const document = runReportJson(report, settings);
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
      expect(document).toHaveProperty(field);
    }
    const schema = JSON.parse(readFileSync(new URL('../docs/report.schema.json', import.meta.url), 'utf8')) as {
      $defs: { runReport: { required: string[]; properties: Record<string, unknown> } };
    };
    for (const field of schema.$defs.runReport.required) expect(document).toHaveProperty(field);
    for (const field of Object.keys(document)) expect(schema.$defs.runReport.properties).toHaveProperty(field);
  });
});
