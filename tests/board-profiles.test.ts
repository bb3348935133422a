// Board files (src/board/profiles.ts): the clock and size grammars, and every way a hand-written board file
// can be wrong, each refused in one line that names the file and the field or bank.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBoard, validateBoard, type BoardProfile } from '../src/board/index.js';
import { parseFrequency } from '../src/board/sizes.js';
import { RESERVED_REGIONS, SCS_BASE, SERVICE_PAGE } from '../src/board/reserved-regions.js';

type Json = Record<string, unknown>;

function goodBoard(): Json {
  return {
    name: 'my-board',
    description: 'a test board',
    cpu: 'cortex-m4',
    clockHz: 48000000,
    flash: { base: '0x08000000', size: '64K' },
    ram: [
      { name: 'SRAM1', base: '0x20000000', size: '32K', heap: true },
      { name: 'SRAM2', base: '0x20008000', size: '16K', heap: false, notes: 'retention RAM' },
    ],
    source: 'made up for the tests',
  };
}

function withBank(index: number, fields: Json): Json {
  const board = goodBoard();
  const ram = board.ram as Json[];
  ram[index] = { ...ram[index], ...fields };
  return board;
}

/** The error validateBoard throws for `input`, checked to be one line naming the file. */
function refusal(input: unknown, origin = 'my.json'): string {
  let message = '';
  try {
    validateBoard(input, origin);
  } catch (error) {
    message = (error as Error).message;
  }
  expect(message, 'validateBoard accepted the board').not.toBe('');
  expect(message).not.toContain('\n');
  expect(message).toContain(origin);
  expect(message.length).toBeLessThan(400);
  return message;
}

const directory = mkdtempSync(join(tmpdir(), 'tlsf-sim-boards-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function boardFile(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

describe('clockHz takes decimal prefixes (sizes keep binary ones)', () => {
  it.each([
    ['48M', 48_000_000],
    ['48MHz', 48_000_000],
    ['48 MHz', 48_000_000],
    ['48000000', 48_000_000],
    ['32.768k', 32_768],
    ['32.768kHz', 32_768],
    ['100K', 100_000],
    ['1.2G', 1_200_000_000],
    ['16000000Hz', 16_000_000],
  ])('"%s" is %d Hz', (text, hertz) => {
    expect(validateBoard({ ...goodBoard(), clockHz: text }, 'my.json').clockHz).toBe(hertz);
  });

  it('a plain integer is Hz; the sizes of the same board still use K = 1024', () => {
    const board = validateBoard(goodBoard(), 'my.json');
    expect(board.clockHz).toBe(48_000_000);
    expect(board.flash.size).toBe(65_536);
    expect(board.ram[0]!.size).toBe(32_768);
  });

  it.each([
    ['48m', /"48m" has an unknown prefix "m" .*"m" is milli, write "M" for mega/],
    ['48MiB', /"48MiB" is not a frequency/],
    ['48.5', /"48.5" is not a whole number of Hz/],
    ['0', /"0" must be positive/],
    ['0M', /"0M" must be positive/],
    ['fast', /"fast" is not a frequency/],
    ['0x2dc6c00', /"0x2dc6c00" is not a frequency/],
    ['20G', /"20G" is above 10 GHz/],
    [48.5, /field "clockHz" must be a positive whole number of Hz/],
    [-1, /field "clockHz" must be a positive whole number of Hz/],
    [true, /field "clockHz" must be a number of Hz or a string/],
  ])('refuses clockHz %j', (value, expected) => {
    expect(refusal({ ...goodBoard(), clockHz: value })).toMatch(expected);
  });

  it('parseFrequency converts decimal fractions exactly', () => {
    expect(parseFrequency('0.000001G')).toEqual({ hertz: 1000 });
    expect(parseFrequency('.5k')).toEqual({ hertz: 500 });
    expect(parseFrequency('1.0000')).toEqual({ hertz: 1 });
    expect(parseFrequency('1.5')).toHaveProperty('problem');
  });
});

describe('memory regions', () => {
  it('refuses a bank or the flash running past 4 GiB', () => {
    expect(refusal(withBank(0, { base: '0xfffff000', size: '0x2000' }))).toMatch(
      /ram\[0\] \(bank "SRAM1"\) at 0xfffff000 size 0x2000 runs past the end of the 32-bit address space/,
    );
    expect(refusal({ ...goodBoard(), flash: { base: '0xffff0000', size: '0x20000' } })).toMatch(
      /flash at 0xffff0000 size 0x20000 runs past the end of the 32-bit address space/,
    );
    // Ending exactly at 4 GiB is allowed.
    expect(validateBoard(withBank(1, { base: '0xfffff000', size: '0x1000' }), 'my.json').ram[1]!.base).toBe(0xfffff000);
  });

  it('refuses duplicate bank names, also differing only in case (--extra-bank matches either)', () => {
    expect(refusal(withBank(1, { name: 'SRAM1' }))).toMatch(
      /ram\[1\] and ram\[0\] are both named "SRAM1"; bank names must be unique/,
    );
    expect(refusal(withBank(1, { name: 'sram1' }))).toMatch(/ram\[1\] and ram\[0\] are both named "sram1"/);
  });

  it('refuses banks that overlap each other or the flash', () => {
    expect(refusal(withBank(1, { base: '0x20004000' }))).toMatch(
      /ram\[0\] \(bank "SRAM1"\) \(0x20000000\.\.0x20007fff\) and ram\[1\] \(bank "SRAM2"\) \(0x20004000\.\.0x20007fff\) overlap/,
    );
    expect(refusal(withBank(1, { base: '0x08008000' }))).toMatch(
      /flash \(0x8000000\.\.0x800ffff\) and ram\[1\] \(bank "SRAM2"\) .* overlap/,
    );
  });

  it('refuses a bank over the System Control Space / Private Peripheral Bus, naming the bank', () => {
    expect(refusal(withBank(1, { base: SCS_BASE, size: '4K' }))).toMatch(
      /ram\[1\] \(bank "SRAM2"\) at 0xe000e000 size 0x1000 overlaps the Private Peripheral Bus \(System Control Space\) at 0xe0000000\.\.0xe00fffff, which the machine maps itself/,
    );
    expect(refusal(withBank(1, { base: '0xe0000000', size: '4K' }))).toMatch(
      /bank "SRAM2".* overlaps the Private Peripheral Bus/,
    );
    expect(refusal(withBank(1, { base: '0xdff00000', size: '0x200000' }))).toMatch(
      /bank "SRAM2".* overlaps the Private Peripheral Bus/,
    );
    expect(refusal({ ...goodBoard(), flash: { base: '0xe00ff000', size: '8K' } })).toMatch(
      /flash at 0xe00ff000 .* overlaps the Private Peripheral Bus/,
    );
    // The vendor system region above the PPB is not mapped by the machine.
    expect(validateBoard(withBank(1, { base: '0xe0100000', size: '4K' }), 'my.json').ram[1]!.base).toBe(0xe0100000);
  });

  it('refuses a bank or the flash over the heap service page', () => {
    expect(refusal(withBank(1, { base: '0x9fff0000', size: '64K' }))).toMatch(
      /ram\[1\] \(bank "SRAM2"\) at 0x9fff0000 size 0x10000 overlaps the heap service page at 0x9ffff000\.\.0x9fffffff/,
    );
    expect(refusal({ ...goodBoard(), flash: { base: SERVICE_PAGE, size: '4K' } })).toMatch(
      /flash at 0x9ffff000 .* overlaps the heap service page/,
    );
  });

  it('every reserved region lies inside the 32-bit address space and they do not overlap', () => {
    for (const region of RESERVED_REGIONS) expect(region.base + region.size).toBeLessThanOrEqual(2 ** 32);
    const [a, b] = RESERVED_REGIONS;
    expect(a!.base + a!.size <= b!.base || b!.base + b!.size <= a!.base).toBe(true);
  });

  it('refuses regions that are not whole 4 KiB pages, and empty ones (Unicorn maps pages)', () => {
    expect(refusal(withBank(1, { base: '0x20008800' }))).toMatch(
      /ram\[1\] \(bank "SRAM2"\) at 0x20008800 size 0x4000 must be 4 KiB aligned/,
    );
    expect(refusal(withBank(1, { size: 5000 }))).toMatch(
      /ram\[1\] \(bank "SRAM2"\) at 0x20008000 size 0x1388 must be 4 KiB aligned/,
    );
    expect(refusal({ ...goodBoard(), flash: { base: '0x08000000', size: 0 } })).toMatch(/flash at 0x8000000 is empty/);
  });
});

describe('fields', () => {
  it('refuses unknown keys at the top level, in flash and in a bank, listing the known ones', () => {
    expect(refusal({ ...goodBoard(), clockHZ: 1 })).toMatch(
      /board "my-board" \(my\.json\): unknown field "clockHZ" \(known fields: name, description, cpu, clockHz, flash, ram, source\)/,
    );
    expect(refusal({ ...goodBoard(), flash: { base: 0x08000000, size: '64K', wait: 1 } })).toMatch(
      /flash: unknown field "wait" \(known fields: base, size\)/,
    );
    expect(refusal(withBank(0, { heaps: true }))).toMatch(
      /ram\[0\] \(bank "SRAM1"\): unknown field "heaps" \(known fields: name, base, size, heap, notes\)/,
    );
  });

  it('refuses a bank whose notes are not text, a non-object bank, and names that are not one path component', () => {
    expect(refusal(withBank(1, { notes: 3 }))).toMatch(/field "ram\[1\]\.notes" must be a string, got 3/);
    expect(refusal({ ...goodBoard(), ram: ['SRAM'] })).toMatch(/field "ram\[0\]" must be an object, got "SRAM"/);
    expect(refusal({ ...goodBoard(), ram: [[]] })).toMatch(/field "ram\[0\]" must be an object/);
    expect(refusal({ ...goodBoard(), name: '../../etc' })).toMatch(/field "name" must be 1-64 letters/);
    expect(refusal(withBank(0, { name: 'SRAM\n1' }))).toMatch(
      /field "ram\[0\]\.name" must be 1-64 printable ASCII characters, got "SRAM\\n1"/,
    );
  });

  it('quotes at most ~80 characters of an offending value', () => {
    const message = refusal({ ...goodBoard(), cpu: 'x'.repeat(100_000) });
    expect(message).toMatch(/field "cpu" must be one of .*, got "x{76}\.\.\.$/);
  });

  it('reads only own fields: an inherited "constructor" or "toString" is not a field', () => {
    const board = goodBoard();
    delete board.source;
    expect(refusal(board)).toMatch(/missing field "source"/);
    const bank = Object.create({ heap: true }) as Json;
    Object.assign(bank, { name: 'SRAM', base: '0x20000000', size: '4K' });
    expect(refusal({ ...goodBoard(), ram: [bank] })).toMatch(/missing field "ram\[0\]\.heap"/);
  });
});

describe('board files', () => {
  it('loads a good file with a decimal clock', () => {
    const path = boardFile('good.json', JSON.stringify({ ...goodBoard(), clockHz: '64MHz' }));
    const board: BoardProfile = loadBoard(path);
    expect(board.clockHz).toBe(64_000_000);
    expect(board.ram.map((bank) => bank.name)).toEqual(['SRAM1', 'SRAM2']);
  });

  it('refuses "__proto__" and "constructor" keys instead of applying them', () => {
    const protoText = JSON.stringify(goodBoard()).replace(/^\{/, '{"__proto__": {"polluted": true, "clockHz": 1},');
    expect(() => loadBoard(boardFile('proto.json', protoText))).toThrow(
      /proto\.json\): unknown field "__proto__" \(known fields:/,
    );
    const bankProto = JSON.stringify(goodBoard()).replace(
      '{"name":"SRAM1"',
      '{"__proto__": {"heap": true}, "name":"SRAM1"',
    );
    expect(() => loadBoard(boardFile('bank-proto.json', bankProto))).toThrow(
      /ram\[0\] \(bank "SRAM1"\): unknown field "__proto__"/,
    );
    const constructorText = JSON.stringify(goodBoard()).replace(/^\{/, '{"constructor": {"name": "x"},');
    expect(() => loadBoard(boardFile('constructor.json', constructorText))).toThrow(/unknown field "constructor"/);
    expect(({} as Json).polluted).toBeUndefined();
  });

  it('refuses a directory, a device and a huge file before reading, in one line naming the path', () => {
    const folder = join(directory, 'folder.json');
    mkdirSync(folder);
    expect(() => loadBoard(folder)).toThrow(/^board file .*folder\.json is not a regular file$/);
    const zero = join(directory, 'zero.json');
    symlinkSync('/dev/zero', zero);
    expect(() => loadBoard(zero)).toThrow(/^board file .*zero\.json is not a regular file$/);
    const huge = boardFile('huge.json', ' '.repeat(2 * 1024 * 1024));
    expect(() => loadBoard(huge)).toThrow(/huge\.json is 2097152 bytes; a board file is at most 1048576 bytes/);
    expect(() => loadBoard(join(directory, 'missing.json'))).toThrow(
      /^cannot read board file .*missing\.json: no such file$/,
    );
  });

  it('a JSON syntax error is one short line naming the file', () => {
    const path = boardFile('broken.json', `{"name": "${'y'.repeat(5000)}`);
    let message = '';
    try {
      loadBoard(path);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^board file .*broken\.json is not valid JSON: /);
    expect(message).not.toContain('\n');
    expect(message.length).toBeLessThan(path.length + 120);
  });
});
