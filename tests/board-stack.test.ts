// The stack on the emulated board: its size at run time, the high-water mark from the paint, and overflows
// named as such (tests/fixtures/src/fixture.c tests 25 and 26; docs/board.md, The stack).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Machine,
  loadBoard,
  parseElf,
  runFirmware,
  tlsfHeap,
  type RunOptions,
  type RunReport,
} from '../src/board/index.js';

const fixtureDir = join(import.meta.dirname, 'fixtures', 'elf');
const fixture = (board: string) => readFileSync(join(fixtureDir, `fixture-${board}.elf`));
const RECURSE = 25;
const BIG_FRAME = 26;
/** Levels of `recurse` (about 74 bytes each on Armv7-M) that need about 6 KiB of stack. */
const SIX_KIB_LEVELS = 80;

function run(board: string, params: Record<string, number>, extra: Partial<RunOptions> = {}): RunReport {
  return runFirmware({
    elf: fixture(board),
    elfName: `fixture-${board}.elf`,
    board: loadBoard(board),
    params,
    maxInstructions: 5e7,
    ...extra,
  });
}

/** Runs `recurse`, then reads the SP its deepest level recorded (g_deepest_sp). */
function deepestRecursion(board: string, levels: number): { report: RunReport; deepestSp: number; top: number } {
  const elf = fixture(board);
  const machine = new Machine({ elf, board: loadBoard(board), params: { test: RECURSE, count: levels } }, tlsfHeap);
  try {
    const report = machine.run();
    const address = parseElf(elf).symbolByName.get('g_deepest_sp')!.value;
    const bank = machine.banks.find(
      (candidate) => address >= candidate.base && address < candidate.base + candidate.size,
    )!;
    const deepestSp = new DataView(bank.bytes.buffer, bank.bytes.byteOffset).getUint32(address - bank.base, true);
    return { report, deepestSp, top: machine.initialSp };
  } finally {
    machine.close();
  }
}

describe('the stack high-water mark', () => {
  for (const board of ['stm32f411re', 'tiny', 'rp2040']) {
    it(`stackPeak is within 8 bytes of the depth the firmware measured (${board})`, () => {
      const { report, deepestSp, top } = deepestRecursion(board, 10);
      expect(report.result).toBe('ok');
      const depth = top - deepestSp;
      expect(depth).toBeGreaterThan(500);
      expect(Math.abs(report.stackPeak - depth)).toBeLessThanOrEqual(8);
      expect(report.stackPeak % 4).toBe(0);
    });
  }

  it('the paint leaves a normal run alone and reports a small peak for it', () => {
    const report = run('stm32f411re', { test: 0 });
    expect(report.result).toBe('ok');
    expect(report.stackPeak).toBeGreaterThan(0);
    expect(report.stackPeak).toBeLessThan(512);
    expect(report.stackSize).toBe(4096);
    expect(report.stackLimit).toBe(0x2002_0000 - 4096);
  });

  it('static RAM is the .data and .bss of the image', () => {
    const image = parseElf(fixture('stm32f411re'));
    const sections = image.sections.filter((section) => section.name === '.data' || section.name === '.bss');
    const expected = sections.reduce((sum, section) => sum + section.size, 0);
    const report = run('stm32f411re', { test: 0 });
    expect(expected).toBeGreaterThan(0);
    expect(report.staticBytes).toBe(expected);
    expect(report.ramBytes).toBe(128 * 1024);
  });
});

describe('stack overflow', () => {
  it('unbounded recursion is a stack-overflow naming the function, SP, the limit and the depth, not a fault', () => {
    const report = run('stm32f411re', { test: RECURSE, count: 1e9 });
    expect(report.result).toBe('stack-overflow');
    expect(report.fault).toBeUndefined();
    const overflow = report.stackOverflow!;
    expect(overflow.symbol).toMatch(/^recurse(\+0x[0-9a-f]+)?$/);
    // The push at the function's entry is the first write below the limit: it is named, not a later store.
    expect(overflow.pc).toBe(parseElf(fixture('stm32f411re')).symbolByName.get('recurse')!.value & ~1);
    expect(overflow.address).toBeLessThan(overflow.limit);
    expect(overflow.limit).toBe(report.stackLimit);
    expect(overflow.sp).toBeLessThan(overflow.limit);
    expect(overflow.sp).toBeGreaterThan(overflow.limit - 128);
    expect(overflow.depth).toBeGreaterThan(report.stackSize);
    expect(report.message).toMatch(
      /^stack-overflow: 0x[0-9a-f]{8} \(recurse(\+0x[0-9a-f]+)?\) wrote \d bytes? at 0x[0-9a-f]+ with sp 0x[0-9a-f]+, below the stack's limit 0x2001f000; the stack went \d+ bytes deep/,
    );
  });

  it('a program that needs about 6 KiB of stack overflows 4 KiB and passes with 8 KiB', () => {
    const small = run('stm32f411re', { test: RECURSE, count: SIX_KIB_LEVELS });
    expect(small.result).toBe('stack-overflow');
    expect(small.stackSize).toBe(4096);
    const large = run('stm32f411re', { test: RECURSE, count: SIX_KIB_LEVELS }, { stackSize: 8192 });
    expect(large.result).toBe('ok');
    expect(large.stackSize).toBe(8192);
    expect(large.stackPeak).toBeGreaterThan(5 * 1024);
    expect(large.stackPeak).toBeLessThan(7 * 1024);
  });

  it('one large frame that jumps past the limit is a stack-overflow too', () => {
    const report = run('stm32f411re', { test: BIG_FRAME, size: 6000 });
    expect(report.result).toBe('stack-overflow');
    expect(report.stackOverflow!.symbol).toMatch(/^big_frame\+/);
    expect(report.stackOverflow!.depth).toBeGreaterThanOrEqual(6000);
  });

  for (const board of ['stm32f411re', 'tiny']) {
    it(`with --guard, which stops at the first push into the heap before SP moves, it is still a stack-overflow (${board})`, () => {
      const report = run(board, { test: RECURSE, count: 1e9 }, { guard: true });
      expect(report.result).toBe('stack-overflow');
      expect(report.fault).toBeUndefined();
      expect(report.stackOverflow!.symbol).toMatch(/^recurse(\+0x[0-9a-f]+)?$/);
      expect(report.stackOverflow!.address).toBeLessThan(report.stackLimit);
    });
  }

  it('on the smallest board (Armv6-M, 1 KiB stack) as well', () => {
    const report = run('tiny', { test: RECURSE, count: 1e9 });
    expect(report.result).toBe('stack-overflow');
    expect(report.stackOverflow!.symbol).toMatch(/^recurse(\+0x[0-9a-f]+)?$/);
  });
});

describe('the stack size at run time', () => {
  it('moves the end of a heap that ended at the linked stack', () => {
    const linked = run('stm32f411re', { test: 0 });
    const larger = run('stm32f411re', { test: 0 }, { stackSize: 8192 });
    expect(larger.result).toBe('ok');
    expect(larger.heapBase).toBe(linked.heapBase);
    expect(larger.heapSize).toBe(linked.heapSize - 4096);
    expect(larger.heapBase + larger.heapSize).toBe(larger.stackLimit);
  });

  it("a heap the linker script runs up to the stack's top (shared space) ends below the stack instead", () => {
    // The fixture with __heap_end moved to _estack, as scripts that let heap and stack share the space have it.
    const elf = new Uint8Array(fixture('stm32f411re'));
    const image = parseElf(elf);
    const symtab = image.sections.find((section) => section.name === '.symtab')!;
    const strtab = image.sections.find((section) => section.name === '.strtab')!;
    const view = new DataView(elf.buffer, elf.byteOffset);
    const nameAt = (offset: number) => {
      let name = '';
      for (let at = strtab.offset + offset; elf[at] !== 0; at++) name += String.fromCharCode(elf[at]!);
      return name;
    };
    let patched = 0;
    for (let entry = symtab.offset; entry < symtab.offset + symtab.size; entry += 16) {
      if (nameAt(view.getUint32(entry, true)) === '__heap_end') {
        view.setUint32(entry + 4, image.symbolByName.get('_estack')!.value, true);
        patched++;
      }
    }
    expect(patched).toBe(1);
    const report = runFirmware({ elf, board: loadBoard('stm32f411re'), params: { test: 0 } });
    expect(report.result).toBe('ok');
    expect(report.stackSize).toBe(4096);
    expect(report.heapBase + report.heapSize).toBe(report.stackLimit);
  });

  it('refuses sizes that do not fit, and heaps that reach into the stack, in one line', () => {
    expect(() => run('tiny', { test: 0 }, { stackSize: 8192 })).toThrow(
      /^[^\n]*8192-byte stack below 0x20002000 leaves no room for the heap[^\n]*$/,
    );
    expect(() => run('tiny', { test: 0 }, { stackSize: 16384 })).toThrow(
      /^stack of 16384 bytes does not fit below the initial stack pointer 0x20002000 \(8192 bytes of SRAM below it\)$/,
    );
    expect(() => run('tiny', { test: 0 }, { stackSize: 1020 })).toThrow(
      /^stack size must be a positive multiple of 8 bytes/,
    );
    expect(() => run('tiny', { test: 0 }, { heapSize: 7800 })).toThrow(
      /^heap 0x[0-9a-f]+\.\.0x[0-9a-f]+ reaches into the stack \(1024 bytes from 0x20001c00 to 0x20002000\)/,
    );
  });
});

describe("a stack of the firmware's own", () => {
  for (const board of ['stm32f411re', 'tiny']) {
    it(`SP moved into a live heap block (a coroutine's stack) is no overflow (${board})`, () => {
      const report = run(board, { test: 27 });
      expect(report.message).toBeUndefined();
      expect(report.result).toBe('ok');
      expect(report.ops.malloc).toBe(2);
    });
  }
});
