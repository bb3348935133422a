// Budget files and check's list options under hostile or careless input (issue 15, holes 3 and 4): every
// mistake is exit 2 with one line naming the file and the field, and a gate never passes by running nothing.
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBudgetFile, parseBudget } from '../src/cli/budget.js';
import { InputError } from '../src/cli/errors.js';
import { type CliResult, runCli } from './support/cli.js';

const work = mkdtempSync(join(tmpdir(), 'tlsf-budget-hostile-'));
let fileCount = 0;

/** Writes a budget file with the given text into a fresh directory and returns its path. */
function budgetFile(text: string, name = 'tlsf-budget.yaml'): string {
  const directory = join(work, `case-${fileCount++}`);
  mkdirSync(directory);
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

function cli(args: string[], cwd = work): Promise<CliResult> {
  return runCli(args, { cwd });
}

/** The one-line error a bad input must give: exit 2, nothing on stdout, one line on stderr. */
function expectBadInput(result: CliResult, message: RegExp): void {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(message);
}

describe('budget file: wrong shapes are refused, naming the file and field (hole 3)', () => {
  it('defaults.limits given as a string is an error, not an empty set of limits', () => {
    const path = budgetFile('defaults: { limits: "max-peak: 1K" }\nchecks:\n  - scenario: packet-pool\n');
    expect(() => loadBudgetFile(path)).toThrow(InputError);
    expect(() => loadBudgetFile(path)).toThrow(
      `${path}: defaults.limits must be a mapping of limit: value, got "max-peak: 1K"`,
    );
  });

  it('the same budget through the CLI is exit 2 instead of a passing gate', async () => {
    const path = budgetFile('defaults: { limits: "max-peak: 1K" }\nchecks:\n  - scenario: packet-pool\n');
    expectBadInput(await cli(['check', '--budget', path]), /defaults\.limits must be a mapping/);
  });

  const wrongShapes: [string, unknown, RegExp][] = [
    [
      'defaults as a list',
      { defaults: [], checks: [{ scenario: 'x' }] },
      /b\.json: defaults must be a mapping, got a list/,
    ],
    ['checks as a mapping', { checks: { scenario: 'x' } }, /"checks" must be a list, got a mapping/],
    ['an entry as a string', { checks: ['packet-pool'] }, /checks\[0\] must be a mapping, got "packet-pool"/],
    ['scenario as a number', { checks: [{ scenario: 5 }] }, /checks\[0\]\.scenario must be a non-empty string, got 5/],
    [
      'name as a mapping',
      { checks: [{ scenario: 'x', name: { a: 1 } }] },
      /checks\[0\]\.name must be a non-empty string, got a mapping/,
    ],
    [
      'heap as a list',
      { checks: [{ scenario: 'x', heap: [1] }] },
      /checks\[0\]\.heap: expected a size such as 32K, got a list/,
    ],
    [
      'heap as true',
      { checks: [{ scenario: 'x', heap: true }] },
      /checks\[0\]\.heap: expected a size such as 32K, got true/,
    ],
    ['sl as null', { checks: [{ scenario: 'x', sl: null }] }, /checks\[0\]\.sl: expected a number 1\.\.5, got nothing/],
    [
      'maxInstructions as a mapping',
      { checks: [{ scenario: 'x', maxInstructions: {} }] },
      /checks\[0\]\.maxInstructions: expected a count/,
    ],
    [
      'timeout as words',
      { checks: [{ scenario: 'x', timeout: 'soon' }] },
      /checks\[0\]\.timeout: "soon" is not a duration/,
    ],
    [
      'guard as a string',
      { checks: [{ scenario: 'x', guard: 'yes' }] },
      /checks\[0\]\.guard must be true or false, got "yes"/,
    ],
    ['board as a number', { checks: [{ scenario: 'x', board: 5 }] }, /checks\[0\]\.board must be a board name, got 5/],
    [
      'boards as a string',
      { checks: [{ scenario: 'x', boards: 'tiny' }] },
      /checks\[0\]\.boards must be a non-empty list of board names, got "tiny"/,
    ],
    [
      'a board in boards as a number',
      { checks: [{ scenario: 'x', boards: ['tiny', 3] }] },
      /checks\[0\]\.boards\[1\] must be a board name, got 3/,
    ],
    [
      'params as a list',
      { checks: [{ scenario: 'x', params: [1] }] },
      /checks\[0\]\.params must be a mapping of name: value, got a list/,
    ],
    [
      'a param as a list',
      { checks: [{ scenario: 'x', params: { n: [1] } }] },
      /checks\[0\]\.params\.n must be a number, got a list/,
    ],
    [
      'limits as a list',
      { checks: [{ scenario: 'x', limits: ['max-peak'] }] },
      /checks\[0\]\.limits must be a mapping of limit: value, got a list/,
    ],
    [
      'a limit as a mapping',
      { checks: [{ scenario: 'x', limits: { maxPeak: { value: 1 } } }] },
      /checks\[0\]\.limits\.maxPeak: expected a value, got a mapping/,
    ],
    [
      'a size limit as true',
      { checks: [{ scenario: 'x', limits: { minFree: true } }] },
      /checks\[0\]\.limits\.minFree: expected a value, got true/,
    ],
    [
      'defaults.params as a string',
      { defaults: { params: 'n=1' }, checks: [{ scenario: 'x' }] },
      /b\.json: defaults\.params must be a mapping/,
    ],
    [
      'defaults.heap as a list',
      { defaults: { heap: ['1K'] }, checks: [{ scenario: 'x' }] },
      /b\.json: defaults\.heap: expected a size/,
    ],
    [
      'the same key in both spellings',
      { checks: [{ scenario: 'x', 'max-instructions': 5, maxInstructions: 6 }] },
      /checks\[0\]: field "maxInstructions" is given twice/,
    ],
    [
      'the same limit in both spellings',
      { checks: [{ scenario: 'x', limits: { 'max-peak': '1K', maxPeak: '2K' } }] },
      /checks\[0\]\.limits: limit "maxPeak" is given twice \(as camelCase and kebab-case\)/,
    ],
  ];
  it.each(wrongShapes)('%s', (_name, document, message) => {
    expect(() => parseBudget(document, 'b.json')).toThrow(InputError);
    expect(() => parseBudget(document, 'b.json')).toThrow(message);
  });

  it('keeps a quoted value short however long it is', () => {
    const long = 'x'.repeat(100_000);
    let message = '';
    try {
      parseBudget({ checks: [{ scenario: 'x', guard: long }] }, 'b.json');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/guard must be true or false/);
    expect(message.length).toBeLessThan(200);
  });
});

describe('budget file: unknown keys, __proto__ included, are refused (hole 3)', () => {
  it.each([
    [
      'in an entry',
      '{"checks":[{"scenario":"packet-pool","__proto__":{"limits":{"maxPeak":"1"}}}]}',
      /checks\[0\]: unknown field "__proto__"/,
    ],
    [
      'at the top',
      '{"__proto__":{"checks":[{"scenario":"packet-pool"}]},"checks":[{"scenario":"packet-pool"}]}',
      /unknown top-level field "__proto__"/,
    ],
    [
      'in defaults',
      '{"defaults":{"__proto__":{"heap":"1K"}},"checks":[{"scenario":"packet-pool"}]}',
      /defaults: unknown field "__proto__"/,
    ],
    [
      'in limits',
      '{"checks":[{"scenario":"packet-pool","limits":{"__proto__":{"maxPeak":"1"}}}]}',
      /checks\[0\]\.limits: unknown limit "__proto__"/,
    ],
    [
      'as constructor',
      '{"checks":[{"scenario":"packet-pool","constructor":1}]}',
      /checks\[0\]: unknown field "constructor"/,
    ],
  ])('JSON %s', (_name, text, message) => {
    const path = budgetFile(text, 'tlsf-budget.json');
    expect(() => loadBudgetFile(path)).toThrow(message);
  });

  it('YAML __proto__ in an entry and in limits', () => {
    const entry = budgetFile('checks:\n  - scenario: packet-pool\n    __proto__: { limits: { max-peak: 1 } }\n');
    expect(() => loadBudgetFile(entry)).toThrow(/checks\[0\]: unknown field "__proto__"/);
    const limits = budgetFile('checks:\n  - scenario: packet-pool\n    limits: { __proto__: { max-peak: 1 } }\n');
    expect(() => loadBudgetFile(limits)).toThrow(/checks\[0\]\.limits: unknown limit "__proto__"/);
  });

  it('a parameter named __proto__ stays a parameter (then unknown to the scenario), not a prototype', () => {
    const [job] = parseBudget(JSON.parse('{"checks":[{"scenario":"x","params":{"__proto__":5}}]}'), 'b.json');
    expect(Object.keys(job!.params!)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(job!.params, '__proto__')?.value).toBe(5);
  });

  it('suggests the key that was probably meant and lists the known ones', () => {
    expect(() => parseBudget({ checks: [{ scenario: 'x', limits: { 'max-peek': '1K' } }] }, 'b.json')).toThrow(
      /checks\[0\]\.limits: unknown limit "max-peek" \(did you mean "maxPeak"\?\); known: maxPeak, maxSpan, maxStack, maxRam, maxFragmentation, minFree, noOom/,
    );
    expect(() => parseBudget({ checks: [{ scenario: 'x', boardz: ['tiny'] }] }, 'b.json')).toThrow(
      /checks\[0\]: unknown field "boardz" \(did you mean "board"\?\); known: scenario, elf, trace, name, board, boards, /,
    );
  });

  it('YAML merge keys are not merged but refused as an unknown key', () => {
    const path = budgetFile('base: &base { heap: 8K }\nchecks:\n  - scenario: packet-pool\n    <<: *base\n');
    expect(() => loadBudgetFile(path)).toThrow(/unknown top-level field "base"/);
    const merged = budgetFile('checks:\n  - &first { scenario: packet-pool, heap: 8K }\n  - <<: *first\n');
    expect(() => loadBudgetFile(merged)).toThrow(/checks\[1\]: unknown field "<<"/);
  });

  it('a YAML alias bomb is refused in one line, without expanding it', async () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let level = 1; level < 9; level++) {
      const previous = String.fromCharCode(96 + level);
      const name = String.fromCharCode(97 + level);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(', ')}]`);
    }
    const path = budgetFile(`${levels.join('\n')}\nchecks: [ { scenario: packet-pool } ]\n`);
    expect(() => loadBudgetFile(path)).toThrow(/is not valid YAML: .*alias/i);
    expectBadInput(await cli(['check', '--budget', path]), /is not valid YAML/);
  });

  it('YAML tags outside the core schema and non-string keys are refused', () => {
    expect(() => loadBudgetFile(budgetFile('checks:\n  - scenario: !custom packet-pool\n'))).toThrow(
      /is not valid YAML: .*tag/i,
    );
    expect(() => loadBudgetFile(budgetFile('checks:\n  - scenario: packet-pool\n    params: { 1: 5 }\n'))).toThrow(
      /params has a key that is not a string/,
    );
  });

  it('a key given twice in JSON is refused, not silently the last one', () => {
    const path = budgetFile(
      '{"checks":[{"scenario":"packet-pool","limits":{"maxPeak":"1K","maxPeak":"1M"}}]}',
      'tlsf-budget.json',
    );
    expect(() => loadBudgetFile(path)).toThrow(/key "maxPeak" appears twice in one object/);
    const escaped = budgetFile(
      '{"checks":[{"scenario":"a\\"b","limits":{"maxPeak":"1K"}},{"scenario":"x","limits":{"maxPeak":"1K"}}]}',
      'tlsf-budget.json',
    );
    expect(loadBudgetFile(escaped).map((job) => job.target)).toEqual([
      { kind: 'scenario', name: 'a"b' },
      { kind: 'scenario', name: 'x' },
    ]);
    const yaml = budgetFile('checks:\n  - scenario: x\n    heap: 1K\n    heap: 2K\n');
    expect(() => loadBudgetFile(yaml)).toThrow(/is not valid YAML: Map keys must be unique/);
  });

  it('deep nesting is refused before it can exhaust the stack', () => {
    const path = budgetFile(`{"checks":${'['.repeat(5000)}${']'.repeat(5000)}}`, 'tlsf-budget.json');
    expect(() => loadBudgetFile(path)).toThrow(/nested more than 64 levels/);
  });
});

describe('budget file: what is not a budget file is refused before it is read', () => {
  it('a file larger than any budget file', () => {
    const path = budgetFile(
      `${' '.repeat(2 * 1024 * 1024)}{"checks":[{"scenario":"packet-pool"}]}`,
      'tlsf-budget.json',
    );
    expect(() => loadBudgetFile(path)).toThrow(
      /is 2,097,191 bytes, more than any budget file can be \(at most 1,048,576\)/,
    );
  });

  it('a device that never ends', async () => {
    expectBadInput(
      await cli(['check', '--budget', '/dev/zero']),
      /budget file \/dev\/zero: it is a character device, not a regular file/,
    );
  }, 20_000);
});

describe('budget file: unknown names inside it name the file and the entry (hole 3)', () => {
  const cases: [string, string, RegExp][] = [
    [
      'scenario',
      'checks:\n  - scenario: packet-pool\n    params: { bursts: 2 }\n  - scenario: packet-poool\n',
      /tlsf-budget\.yaml: checks\[1\]: unknown scenario "packet-poool"/,
    ],
    [
      'board',
      'checks:\n  - scenario: packet-pool\n    boards: [tiny, esp32]\n',
      /tlsf-budget\.yaml: checks\[0\]: unknown board "esp32"/,
    ],
    [
      'parameter',
      'checks:\n  - scenario: packet-pool\n    params: { packets: 3 }\n',
      /tlsf-budget\.yaml: checks\[0\]: scenario packet-pool has no parameter "packets"; its parameters: .*bursts/,
    ],
  ];
  it.each(cases)('unknown %s', async (_name, text, message) => {
    const path = budgetFile(text);
    expectBadInput(await cli(['check', '--budget', path]), message);
  });
});

describe('empty lists and names are bad input, never a vacuous pass (hole 4)', () => {
  it.each([
    ['--board ,', ['check', 'packet-pool', '--board', ',', '--max-peak', '1K'], /--board: empty board name in ","/],
    ["--board ''", ['check', 'packet-pool', '--board', '', '--max-peak', '1K'], /--board: empty name/],
    [
      '--board a,,b',
      ['check', 'packet-pool', '--board', 'tiny,,rp2040'],
      /--board: empty board name in "tiny,,rp2040"/,
    ],
    ["run --board ''", ['run', '--board', ''], /--board: empty name/],
    ["min-heap --board ' '", ['min-heap', '--board', ' '], /--board: empty name/],
    ["--bank ''", ['run', '--bank', ''], /--bank: "" is not a RAM bank name/],
    ["--budget ''", ['check', '--budget', ''], /--budget: empty file name/],
    ["--junit ''", ['check', 'packet-pool', '--junit', ''], /--junit: empty file name/],
    ["--markdown ''", ['check', 'packet-pool', '--markdown', ''], /--markdown: empty file name/],
    ['--budget with a target', ['check', 'packet-pool', '--budget', ''], /not both/],
  ])('%s', async (_name, args, message) => {
    expectBadInput(await cli(args), message);
  });

  it('--board and --param with a budget file would be ignored, so they are refused', async () => {
    const path = budgetFile('checks:\n  - scenario: packet-pool\n');
    expectBadInput(await cli(['check', '--budget', path, '--board', 'tiny']), /--board and --param go with a target/);
  });

  it.each([
    ['no entries', { checks: [] }, /"checks" is empty/],
    ['a bare empty list', [], /"checks" is empty/],
    ['no boards', { checks: [{ scenario: 'x', boards: [] }] }, /checks\[0\]\.boards must be a non-empty list/],
    [
      'no boards in defaults',
      { defaults: { boards: [] }, checks: [{ scenario: 'x' }] },
      /defaults\.boards must be a non-empty list/,
    ],
    [
      'an empty board name',
      { checks: [{ scenario: 'x', boards: [' '] }] },
      /checks\[0\]\.boards\[0\] must be a board name/,
    ],
    ['no params', { checks: [{ scenario: 'x', params: {} }] }, /checks\[0\]\.params is empty/],
    ['no limits', { checks: [{ scenario: 'x', limits: {} }] }, /checks\[0\]\.limits is empty/],
    ['no defaults.limits', { defaults: { limits: {} }, checks: [{ scenario: 'x' }] }, /defaults\.limits is empty/],
  ])('budget with %s', (_name, document, message) => {
    expect(() => parseBudget(document, 'b.json')).toThrow(message);
  });
});
