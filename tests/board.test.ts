// The emulated board with the test fixtures (tests/fixtures/src/fixture.c, one ELF per board, committed).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_BOARD,
  Engine,
  Machine,
  loadBoard,
  listBoards,
  parseElf,
  readParams,
  runFirmware,
  tlsfHeap,
  validateBoard,
  type RunOptions,
  type RunReport,
} from '../src/board/index.js';
import { REG_R0, UC_PROT_READ, UC_PROT_WRITE, UC_PROT_EXEC, UC_CPU_ARM_CORTEX_M4 } from '../src/board/unicorn.js';

const fixtureDir = join(import.meta.dirname, 'fixtures', 'elf');
const fixture = (board: string) => readFileSync(join(fixtureDir, `fixture-${board}.elf`));
const BOARDS = ['stm32f103c8', 'stm32f411re', 'stm32f407vg', 'nrf52840', 'rp2040', 'stm32h743', 'tiny'];

const TEST = {
  roundTrip: 0,
  semihosting: 1,
  writeUnmapped: 2,
  writeFlash: 3,
  readUnmapped: 4,
  fetchUnmapped: 5,
  doubleFree: 6,
  invalidFree: 7,
  overflow: 8,
  unaligned: 9,
  runaway: 10,
  assertion: 11,
  exhaust: 12,
  exit: 13,
  compute: 14,
  otherBkpt: 17,
  undefinedInstruction: 18,
  ticks: 19,
  useAfterFree: 20,
} as const;

function run(
  board: string,
  test: number,
  extra: Partial<RunOptions> = {},
  params: Record<string, number> = {},
): RunReport {
  return runFirmware({
    elf: fixture(board),
    elfName: `fixture-${board}.elf`,
    board: loadBoard(board),
    params: { test, ...params },
    maxInstructions: 5e6,
    ...extra,
  });
}

/** Runs on a Machine kept open so the test can read memory after the run. */
function runKept(board: string, test: number, extra: Partial<RunOptions> = {}) {
  const machine = new Machine({ elf: fixture(board), board: loadBoard(board), params: { test }, ...extra }, tlsfHeap);
  const report = machine.run();
  return { machine, report };
}

function ramWord(machine: Machine, address: number): number {
  const bank = machine.banks.find(
    (candidate) => address >= candidate.base && address < candidate.base + candidate.size,
  )!;
  return new DataView(bank.bytes.buffer, bank.bytes.byteOffset).getUint32(address - bank.base, true);
}

describe('boards', () => {
  it('lists the built-in boards with sources, and the default exists', () => {
    const names = listBoards().map((board) => board.name);
    expect(names).toEqual(expect.arrayContaining(BOARDS));
    expect(names).toContain(DEFAULT_BOARD);
    for (const board of listBoards()) expect(board.source.length).toBeGreaterThan(10);
    const f407 = loadBoard('STM32F407VG');
    expect(f407.ram.map((bank) => [bank.name, bank.base, bank.size])).toEqual([
      ['SRAM1', 0x20000000, 112 * 1024],
      ['SRAM2', 0x2001c000, 16 * 1024],
      ['CCM', 0x10000000, 64 * 1024],
    ]);
    expect(loadBoard('rp2040').ram[0]!.size).toBe(264 * 1024);
  });

  it('rejects a board JSON with a missing or bad field, naming it', () => {
    const good = JSON.parse(JSON.stringify(loadBoard('tiny'))) as Record<string, unknown>;
    const withoutClock = { ...good };
    delete withoutClock.clockHz;
    expect(() => validateBoard(withoutClock, 'my.json')).toThrow(/missing field "clockHz"/);
    const badBank = { ...good, ram: [{ name: 'SRAM', base: '0x20000000', heap: true }] };
    expect(() => validateBoard(badBank, 'my.json')).toThrow(/missing field "ram\[0\]\.size"/);
    expect(() => validateBoard({ ...good, cpu: 'cortex-a53' }, 'my.json')).toThrow(/field "cpu" must be one of/);
    expect(() => validateBoard({ ...good, flash: { base: '0x08000000', size: 'lots' } }, 'my.json')).toThrow(
      /"flash.size"/,
    );
    expect(() => loadBoard('no-such-board')).toThrow(/unknown board "no-such-board"; built-in boards: .*stm32f411re/);
  });

  it('loads a user board JSON file and runs firmware on a Cortex-M33 model', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlsf-board-'));
    const path = join(dir, 'm33.json');
    writeFileSync(
      path,
      JSON.stringify({
        name: 'my-m33',
        description: 'a Cortex-M33 board from a file',
        cpu: 'cortex-m33',
        clockHz: 150e6,
        flash: { base: '0x08000000', size: '0x80000' },
        ram: [{ name: 'SRAM', base: '0x20000000', size: '0x20000', heap: true }],
        source: 'test',
      }),
    );
    const board = loadBoard(path);
    expect(board.cpu).toBe('cortex-m33');
    const report = runFirmware({ elf: fixture('stm32f411re'), board, params: { test: TEST.roundTrip } });
    expect(report.result, report.message).toBe('ok');
    expect(report.board).toBe('my-m33');
  });
});

describe('host-backed SRAM', () => {
  it('a host write is seen by the firmware and a firmware write by the host', () => {
    const engine = new Engine(UC_CPU_ARM_CORTEX_M4);
    try {
      const sram = new ArrayBuffer(0x1000);
      const words = new Uint32Array(sram);
      engine.mapHost('SRAM', 0x20000000, sram);
      engine.map('code', 0x08000000, 0x1000, UC_PROT_READ | UC_PROT_EXEC);
      // ldr r1, [r0]; adds r1, #1; str r1, [r0, #4]; b .
      engine.write(0x08000000, new Uint8Array([0x01, 0x68, 0x01, 0x31, 0x41, 0x60, 0xfe, 0xe7]));
      words[0] = 41;
      engine.writeReg(REG_R0, 0x20000000);
      expect(engine.start(0x08000000, 0x08000006, 0)).toBe(0);
      expect(words[1]).toBe(42);
      expect(engine.readReg(REG_R0 + 1)).toBe(42);
      engine.map('scratch', 0x30000000, 0x1000, UC_PROT_READ | UC_PROT_WRITE);
      expect(() => engine.map('SRAM again', 0x20000000, 0x1000, UC_PROT_READ)).toThrow(
        /mapping SRAM again at 0x20000000 \(4096 bytes\): UC_ERR_MAP/,
      );
    } finally {
      engine.close();
    }
  });
});

describe('firmware on every board', () => {
  for (const board of BOARDS) {
    it(`${board}: allocation round trip, data read back by the host`, () => {
      const { machine, report } = runKept(board, TEST.roundTrip, { recordEvents: true });
      try {
        expect(report.result, report.message).toBe('ok');
        expect(report.output).toBe('round trip ok\n');
        expect(report.ops).toEqual({ malloc: 9, free: 11, realloc: 1, calloc: 1, memalign: 2, failed: 1 });
        expect(report.peakRequested).toBeGreaterThanOrEqual(16 + 40 + 64 + 88 + 112 + 136 + 160 + 184);
        expect(report.peakUsed).toBeGreaterThanOrEqual(report.peakRequested);
        expect(report.instructions).toBeGreaterThan(1000);
        expect(report.cycles).toBeGreaterThan(0);
        expect(report.heapBase).toBe(machine.image.symbolByName.get('__heap_start')!.value);
        // The block the firmware kept holds its string, read straight from the host-backed SRAM.
        const blockAddress = ramWord(machine, machine.image.symbolByName.get('g_block')!.value);
        const bank = machine.banks.find(
          (candidate) => blockAddress >= candidate.base && blockAddress < candidate.base + candidate.size,
        )!;
        const text = new TextDecoder().decode(
          bank.bytes.subarray(blockAddress - bank.base, blockAddress - bank.base + 23),
        );
        expect(text).toBe('written by the firmware');
        expect(machine.heap.usableSize(blockAddress)).toBeGreaterThanOrEqual(32);
        const marks = report.events!.filter((event) => event.op === 'mark');
        expect(marks.map((event) => event.label)).toEqual(['kept block']);
        expect(report.events!.filter((event) => event.op === 'malloc')).toHaveLength(9);
      } finally {
        machine.close();
      }
    });
  }
});

describe('semihosting and exits', () => {
  it('prints through SYS_WRITE0/WRITEC/WRITE and exits through SYS_EXIT_EXTENDED with the status', () => {
    const ok = run('stm32f103c8', TEST.semihosting);
    expect(ok.result, ok.message).toBe('ok');
    expect(ok.output).toBe('hello from SYS_WRITE0\n!\nSYS_WRITE text\n');
    const failed = run('rp2040', TEST.semihosting, {}, { status: 7 });
    expect(failed.result).toBe('exit-failure');
    expect(failed.exitCode).toBe(7);
    expect(failed.message).toMatch(/status 7/);
  });

  it('SYS_HEAPINFO reports the heap base', () => {
    const { machine, report } = runKept('tiny', TEST.semihosting);
    try {
      expect(report.result).toBe('ok');
      expect(ramWord(machine, machine.image.symbolByName.get('g_value')!.value)).toBe(machine.heapStart);
    } finally {
      machine.close();
    }
  });

  it('exit service: 0 is ok, anything else exit-failure with the code', () => {
    expect(run('stm32h743', TEST.exit, {}, { status: 0 }).result).toBe('ok');
    const report = run('stm32h743', TEST.exit, {}, { status: 3 });
    expect(report.result).toBe('exit-failure');
    expect(report.exitCode).toBe(3);
  });

  it('assertion and out-of-memory stop the run with their results', () => {
    const assertion = run('nrf52840', TEST.assertion);
    expect(assertion.result).toBe('assertion');
    expect(assertion.assertion).toEqual({
      file: 'src/fixture.c',
      line: expect.any(Number),
      expression: 'PARAM(1) == 12345',
    });
    const exhausted = run('tiny', TEST.exhaust, {}, { size: 100 });
    expect(exhausted.result).toBe('out-of-memory');
    expect(exhausted.ops.failed).toBe(1);
    expect(exhausted.message).toMatch(/allocating 100 bytes failed/);
    expect(exhausted.peakUsed).toBeGreaterThan(exhausted.heapSize * 0.8);
  });

  it('ticks counts executed instructions exactly', () => {
    const { machine, report } = runKept('stm32f411re', TEST.ticks);
    try {
      expect(report.result).toBe('ok');
      const elapsed = ramWord(machine, machine.image.symbolByName.get('g_value')!.value);
      // movs + 100 × (subs, bne) between the two calls, plus the call sequence of the second ticks().
      expect(elapsed).toBeGreaterThanOrEqual(201);
      expect(elapsed).toBeLessThan(215);
    } finally {
      machine.close();
    }
  });

  it('resuming between instruction slices loses and repeats nothing', () => {
    const iterations = 1_000_003;
    let expected = 1;
    for (let i = iterations; i > 0; i--) expected = (Math.imul(expected, 1664525) + 1013904223) >>> 0;
    const counts: number[] = [];
    for (const sliceInstructions of [undefined, 999_983, 77_777]) {
      const progress: number[] = [];
      const machine = new Machine(
        {
          elf: fixture('rp2040'),
          board: loadBoard('rp2040'),
          params: { test: TEST.compute, count: iterations },
          ...(sliceInstructions ? { sliceInstructions } : {}),
          onProgress: (done) => progress.push(done),
        },
        tlsfHeap,
      );
      try {
        const report = machine.run();
        expect(report.result).toBe('ok');
        expect(ramWord(machine, machine.image.symbolByName.get('sink')!.value)).toBe(expected);
        counts.push(report.instructions);
        if (sliceInstructions) expect(progress.length).toBe(Math.floor(report.instructions / sliceInstructions));
      } finally {
        machine.close();
      }
    }
    expect(new Set(counts).size).toBe(1);
  });

  it('a slice that ends on a service slot does not run the service twice when the run resumes', () => {
    // The slot's block hook has run (the service is done) when the count stops the core before the slot's
    // bx lr; resuming at the slot would run the hook, and the free, again (a false double free).
    const pairs = 300;
    const counts: number[] = [];
    for (const sliceInstructions of [undefined, 3, 7, 13, 101]) {
      const report = run(
        'rp2040',
        15,
        { ...(sliceInstructions ? { sliceInstructions } : {}) },
        { count: pairs, size: 24 },
      );
      expect(report.result, `slice ${sliceInstructions}: ${report.message}`).toBe('ok');
      expect(report.ops).toMatchObject({ malloc: pairs, free: pairs, failed: 0 });
      counts.push(report.instructions);
    }
    expect(new Set(counts).size).toBe(1);
  });

  it('resuming inside IT blocks keeps their condition state (slices of a few instructions)', () => {
    const iterations = 3000;
    let x = 12345;
    let acc = 0;
    for (let i = 0; i < iterations; i++) {
      if (x > 777) {
        x -= 777;
        acc += 3;
      } else x += 2 * 777;
    }
    const expected = (x ^ acc) >>> 0;
    for (const board of ['stm32f411re', 'stm32h743', 'stm32f103c8']) {
      const counts: number[] = [];
      for (const sliceInstructions of [undefined, 1000, 3]) {
        const machine = new Machine(
          {
            elf: fixture(board),
            board: loadBoard(board),
            params: { test: 23, count: iterations },
            ...(sliceInstructions ? { sliceInstructions } : {}),
          },
          tlsfHeap,
        );
        try {
          const report = machine.run();
          expect(report.result, report.message).toBe('ok');
          expect(
            ramWord(machine, machine.image.symbolByName.get('sink')!.value),
            `${board} slice ${sliceInstructions}`,
          ).toBe(expected);
          counts.push(report.instructions);
        } finally {
          machine.close();
        }
      }
      // A stop requested inside an IT block takes effect at its end, so a slice boundary there under-counts
      // by up to 3 instructions (docs/board.md); with 3-instruction slices only the results are compared.
      expect(Math.abs(counts[1]! - counts[0]!), board).toBeLessThanOrEqual(3 * Math.ceil(counts[0]! / 1000));
    }
  });

  it('stops a runaway loop at the instruction budget with a clear message', () => {
    const report = run('stm32f411re', TEST.runaway, { maxInstructions: 3_000_000 });
    expect(report.result).toBe('timeout');
    expect(report.instructions).toBe(3_000_000);
    expect(report.message).toMatch(/no exit after 3000000 instructions/);
    expect(report.message).toMatch(/main_dispatch/);
  });

  it('patches parameters and rejects unknown ones, listing the known', () => {
    const params = readParams(parseElf(fixture('tiny')));
    expect(params.map((param) => param.name)).toEqual(['test', 'count', 'status', 'size']);
    expect(() => run('tiny', TEST.roundTrip, {}, { bogus: 1 })).toThrow(
      /unknown parameter "bogus"; known parameters: test, count, status, size/,
    );
  });
});

describe('strings from the firmware', () => {
  /** Thumb-2 movw/movt of a 32-bit constant into register `rd`. */
  const load32 = (rd: number, value: number): number[] => {
    const half = (top: number, imm16: number) => [
      top | (((imm16 >> 11) & 1) << 10) | (imm16 >> 12),
      (((imm16 >> 8) & 7) << 12) | (rd << 8) | (imm16 & 0xff),
    ];
    return [...half(0xf240, value & 0xffff), ...half(0xf2c0, value >>> 16)];
  };

  it('a string that ends right at the end of a mapping is read whole', () => {
    // "near the end" and its NUL as the last bytes of the CCM bank (0x10000000, 64 KiB; unmapped above), then
    // assert_fail(text, 7, text) from main_dispatch: a 64-byte read there runs past the mapping.
    const text = new TextEncoder().encode('near the end\0');
    const at = 0x1001_0000 - text.length;
    const code = [
      ...load32(0, at),
      0x2107 /* movs r1, #7 */,
      0x4602 /* mov r2, r0 */,
      ...load32(3, 0x9fff_f001 + 4 * 9),
      0x4798 /* blx r3 */,
      0xe7fe,
    ];
    const elf = fixture('stm32f407vg');
    const mainDispatch = parseElf(elf).symbolByName.get('main_dispatch')!.value & ~1;
    const report = runFirmware({
      elf,
      board: loadBoard('stm32f407vg'),
      flashPatches: [
        { address: mainDispatch, bytes: new Uint8Array(code.flatMap((halfword) => [halfword & 0xff, halfword >> 8])) },
        { address: at, bytes: text },
      ],
    });
    expect(report.result, report.message).toBe('assertion');
    expect(report.assertion).toEqual({ file: 'near the end', line: 7, expression: 'near the end' });
  });
});

describe('faults', () => {
  it.each([
    [
      'stm32f411re',
      TEST.writeUnmapped,
      'write-unmapped',
      0x60000000,
      /wrote 4 bytes at 0x60000000 \(outside the memory map\)/,
    ],
    ['stm32f103c8', TEST.readUnmapped, 'read-unmapped', 0x60000010, /read 4 bytes at 0x60000010/],
    ['nrf52840', TEST.writeFlash, 'write-protected', undefined, /\(flash is read-only\)/],
    ['rp2040', TEST.fetchUnmapped, 'fetch-unmapped', 0x70000000, /fetched .* at 0x70000000/],
  ])('%s test %i: %s', (board, test, kind, address, message) => {
    const report = run(board, test);
    expect(report.result).toBe('fault');
    expect(report.fault!.kind).toBe(kind);
    if (address !== undefined) expect(report.fault!.address).toBe(address);
    expect(report.message).toMatch(message);
    if (kind !== 'fetch-unmapped') expect(report.fault!.symbol).toMatch(/^main_dispatch\+0x/);
    else expect(report.message).toMatch(/lr 0x[0-9a-f]+ \(main_dispatch/);
  });

  it('double free and invalid free name the address and the caller', () => {
    const double = run('stm32f407vg', TEST.doubleFree);
    expect(double.result).toBe('fault');
    expect(double.fault!.kind).toBe('double-free');
    expect(double.message).toMatch(
      /double-free: free\(0x[0-9a-f]+\) called from 0x[0-9a-f]+ \(main_dispatch\+0x[0-9a-f]+\): block 0x[0-9a-f]+ was already freed by call #2/,
    );
    const invalid = run('tiny', TEST.invalidFree);
    expect(invalid.fault!.kind).toBe('invalid-free');
    expect(invalid.message).toMatch(
      /is not a block returned by the allocator \(4 bytes into block 0x[0-9a-f]+ \(24 bytes\) allocated by call #1 from main_dispatch\+0x[0-9a-f]+\)/,
    );
  });

  it('an overflow into the next header is heap corruption; --guard catches it at the writing instruction', () => {
    const unguarded = run('stm32f411re', TEST.overflow);
    expect(unguarded.result).toBe('heap-corruption');
    const guarded = run('stm32f411re', TEST.overflow, { guard: true });
    expect(guarded.result).toBe('heap-corruption');
    expect(guarded.fault!.kind).toBe('metadata-write');
    expect(guarded.message).toMatch(
      /wrote 1 byte at 0x[0-9a-f]+ into the header of block 0x[0-9a-f]+ \(allocated by call #2 from main_dispatch\+0x[0-9a-f]+\), right after the end of block 0x[0-9a-f]+ \(100 bytes\) allocated by call #1 from main_dispatch\+0x/,
    );
    expect(guarded.fault!.symbol).toMatch(/^main_dispatch/);
    expect(guarded.instructions).toBeLessThan(unguarded.instructions);
  });

  it('--guard catches a write into a freed block', () => {
    expect(run('tiny', TEST.useAfterFree).result).not.toBe('heap-corruption');
    const report = run('tiny', TEST.useAfterFree, { guard: true });
    expect(report.result).toBe('heap-corruption');
    expect(report.message).toMatch(/into free block 0x[0-9a-f]+/);
  });

  it('unaligned access: HardFault on Armv6-M for a word load, on Armv7-M for LDRD (with alignmentCheck)', () => {
    for (const board of ['tiny', 'rp2040', 'stm32f103c8', 'stm32h743']) {
      expect(run(board, TEST.unaligned).result).toBe('exit-failure'); // Unicorn itself lets it pass
      const report = run(board, TEST.unaligned, { alignmentCheck: true });
      expect(report.result, board).toBe('fault');
      expect(report.fault!.kind).toBe('unaligned-read');
      expect(report.message).toMatch(/2 bytes into block 0x[0-9a-f]+ \(64 bytes\) allocated by call #1/);
    }
  });

  it('bkpt other than 0xAB and undefined instructions are faults', () => {
    const bkpt = run('stm32f411re', TEST.otherBkpt);
    expect(bkpt.fault!.kind).toBe('breakpoint');
    expect(bkpt.message).toMatch(/bkpt #1/);
    const udf = run('tiny', TEST.undefinedInstruction);
    expect(udf.result).toBe('fault');
    expect(udf.fault!.kind).toBe('undefined-instruction');
  });
});

describe('floating point and fallbacks', () => {
  it('hard-float firmware runs on an M4F board after the CMSIS-style FPU enable', () => {
    const report = runFirmware({
      elf: readFileSync(join(fixtureDir, 'fixture-stm32f411re-hardfp.elf')),
      board: loadBoard('stm32f411re'),
      params: { test: 22 },
    });
    expect(report.result).toBe('exit-failure');
    expect(report.exitCode).toBe(487);
  });

  it('without the direct register view (FFI register access) the service gives the same results', () => {
    process.env.TLSF_SIM_SAFE_REGISTERS = '1';
    try {
      const report = run('stm32f103c8', TEST.roundTrip);
      expect(report.result, report.message).toBe('ok');
      expect(report.ops).toEqual({ malloc: 9, free: 11, realloc: 1, calloc: 1, memalign: 2, failed: 1 });
      expect(run('stm32f103c8', TEST.exit, {}, { status: 5 }).exitCode).toBe(5);
    } finally {
      delete process.env.TLSF_SIM_SAFE_REGISTERS;
    }
  });

  it('without the located instruction counter, counts are per slice and the budget still holds', () => {
    process.env.TLSF_SIM_SAFE_COUNTER = '1';
    // Native block counting does not need the located counter: only Unicorn's count falls back to slices.
    process.env.TLSF_SIM_COUNTER = 'unicorn';
    try {
      const engineCount = run('tiny', TEST.roundTrip);
      expect(engineCount.result, engineCount.message).toBe('ok');
      expect(engineCount.instructionsApproximate).toBe(true);
      const runaway = run('tiny', TEST.runaway, { maxInstructions: 2_500_000 });
      expect(runaway.result).toBe('timeout');
      expect(runaway.instructions).toBe(2_500_000);
    } finally {
      delete process.env.TLSF_SIM_SAFE_COUNTER;
      delete process.env.TLSF_SIM_COUNTER;
    }
  });
});

describe('loader errors', () => {
  it('rejects malformed ELF files clearly', () => {
    const truncated = readFileSync(join(fixtureDir, 'malformed-truncated.elf'));
    expect(() => parseElf(truncated, 'bad.elf')).toThrow(
      /bad.elf: not a loadable ELF32 Arm executable: .* runs past the end of the 200-byte file/,
    );
    expect(() => parseElf(new Uint8Array(10), 'tiny.elf')).toThrow(/shorter than an ELF32 header/);
    const wrongMagic = Uint8Array.from(fixture('tiny'));
    wrongMagic[1] = 0x46;
    expect(() => parseElf(wrongMagic)).toThrow(/bad magic 7f 46 4c 46/);
    const wrongMachine = Uint8Array.from(fixture('tiny'));
    wrongMachine[18] = 62;
    expect(() => parseElf(wrongMachine)).toThrow(/machine 62 is not EM_ARM/);
    const wrongClass = Uint8Array.from(fixture('tiny'));
    wrongClass[4] = 2;
    expect(() => parseElf(wrongClass)).toThrow(/not ELFCLASS32/);
  });

  it('rejects firmware linked for another board, and heap sizes that do not fit', () => {
    expect(() => runFirmware({ elf: fixture('nrf52840'), board: loadBoard('stm32f411re') })).toThrow(
      /does not fit the memory of board stm32f411re/,
    );
    expect(() => runFirmware({ elf: fixture('tiny'), board: loadBoard('tiny'), heapSize: 64 * 1024 })).toThrow(
      /heap of 65536 bytes .* does not fit SRAM/,
    );
    const small = runFirmware({
      elf: fixture('stm32f411re'),
      board: loadBoard('stm32f411re'),
      heapSize: 4096,
      params: { test: TEST.roundTrip },
    });
    expect(small.result, small.message).toBe('ok');
    expect(small.heapSize).toBe(4096);
  });

  it('adds a whole extra bank to the heap with addPool', () => {
    const report = runFirmware({
      elf: fixture('stm32f407vg'),
      board: loadBoard('stm32f407vg'),
      extraBanks: ['CCM'],
      params: { test: TEST.exhaust, size: 1000 },
      maxInstructions: 5e6,
    });
    expect(report.result).toBe('out-of-memory');
    // SRAM1 minus stack and image, plus the 64 KiB CCM.
    expect(report.heapSize).toBeGreaterThan(170 * 1024);
    expect(report.ops.malloc - report.ops.failed).toBeGreaterThan(170);
    expect(() =>
      runFirmware({ elf: fixture('stm32f407vg'), board: loadBoard('stm32f407vg'), extraBanks: ['SRAM1'] }),
    ).toThrow(/SRAM1 already holds/);
  });
});
