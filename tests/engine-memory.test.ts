// RAM permissions (executable only where the ELF puts code) and the Unicorn 2.1 IT-state repair.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBoard, runFirmware } from '../src/board/index.js';
import { hasFastStores } from '../src/board/engine-locate.js';
import { complementRanges, rangesWithCode } from '../src/board/memory-protection.js';
import { Engine } from '../src/board/engine.js';
import {
  engineInfo,
  UC_CPU_ARM_CORTEX_M4,
  UC_HOOK_MEM_WRITE,
  UC_PROT_EXEC,
  UC_PROT_READ,
  UC_PROT_WRITE,
} from '../src/board/unicorn.js';

const benchElf = (name: string) => readFileSync(join(import.meta.dirname, '..', 'firmware-sim', 'bench', 'elf', name));

describe('RAM permissions', () => {
  it('a call into RAM the ELF puts no code in is a fetch fault that says so', () => {
    const report = runFirmware({
      elf: benchElf('workload-stm32f411re.elf'),
      board: loadBoard('stm32f411re'),
      params: { kind: 4 },
    });
    expect(report.result).toBe('fault');
    expect(report.fault?.kind).toBe('fetch-protected');
    expect(report.message).toMatch(
      new RegExp(
        '^fetch-protected: fetched 2 bytes at 0x200000[0-9a-f]{2} ' +
          '\\(fetch from non-executable RAM: the ELF puts no code there\\); ' +
          'pc 0x200000[0-9a-f]{2} \\(lr 0x080[0-9a-f]+ \\(main\\+0x[0-9a-f]+\\)\\)$',
      ),
    );
  });

  it('a function the ELF places in RAM runs there', () => {
    const report = runFirmware({ elf: benchElf('ram-code-stm32f411re.elf'), board: loadBoard('stm32f411re') });
    expect(report.result).toBe('ok');
    expect(report.output).toBe('ram function 42\n');
  });

  it('finds the executable ranges from the LOAD segments and hooks everything else', () => {
    const ram = { base: 0x20000000, size: 0x20000 };
    const ccm = { base: 0x10000000, size: 0x10000 };
    const segment = (vaddr: number, memSize: number, flags: number) => ({
      paddr: vaddr,
      vaddr,
      fileSize: memSize,
      memSize,
      flags,
      data: new Uint8Array(),
    });
    expect(rangesWithCode([segment(0x08000000, 0x100, 5), segment(0x20000000, 0x40, 6)], [ram, ccm]).size).toBe(0);
    expect([...rangesWithCode([segment(0x1000fff0, 0x20, 7)], [ram, ccm])]).toEqual([ccm]);
    expect(complementRanges([ram, ccm])).toEqual([
      [0, 0x0fffffff],
      [0x10010000, 0x1fffffff],
      [0x20020000, 0xffffffff],
    ]);
  });
});

// `movs r2, #1; cmp r2, #1; it eq; strbeq r2, [r0]; cmp r2, #2; b next; next: movs r4, #7; nop`: the store in
// the IT block goes through Unicorn's slow path (a memory hook or the first touch of a page with the virtual
// TLB); `movs r4, #7` starts the next translated block and must run.
function runItBlockStore(setUp: (engine: Engine) => void): number {
  const engine = new Engine(UC_CPU_ARM_CORTEX_M4);
  try {
    setUp(engine);
    engine.map('code', 0x08000000, 0x1000, UC_PROT_READ | UC_PROT_EXEC);
    const code = [0x01, 0x22, 0x01, 0x2a, 0x08, 0xbf, 0x02, 0x70, 0x02, 0x2a, 0xff, 0xe7, 0x07, 0x24, 0x00, 0xbf];
    engine.write(0x08000000, new Uint8Array(code));
    engine.map('ram', 0x20000000, 0x10000, UC_PROT_READ | UC_PROT_WRITE);
    engine.writeReg(66, 0x20000400);
    engine.writeReg(70, 0);
    expect(engine.start(0x08000000, 0x0800000e, 0)).toBe(0);
    return engine.readReg(70);
  } finally {
    engine.close();
  }
}

describe('the engine in use', () => {
  it('reports its path and full version', () => {
    const info = engineInfo();
    expect(info.version).toMatch(/^2\.\d+\.\d+$/);
    expect(info.path).toMatch(/unicorn/);
  });

  it('every run report names it', () => {
    const report = runFirmware({ elf: benchElf('ram-code-stm32f411re.elf'), board: loadBoard('stm32f411re') });
    expect(report.engine).toEqual(engineInfo());
  });

  it('an instruction after an IT block whose store went through a memory hook runs', () => {
    expect(runItBlockStore((engine) => engine.addMemHook(UC_HOOK_MEM_WRITE, () => true, 0x20000000, 0x2000ffff))).toBe(
      7,
    );
  });

  it.runIf(hasFastStores(engineInfo().version))(
    'the same after a store that filled the virtual TLB (Unicorn 2.1+)',
    () => {
      expect(runItBlockStore((engine) => engine.useVirtualTlb(() => UC_PROT_READ | UC_PROT_WRITE | UC_PROT_EXEC))).toBe(
        7,
      );
    },
  );
});
