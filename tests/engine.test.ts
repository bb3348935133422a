// The Unicorn binding (src/board/unicorn.ts), the Engine wrapper (engine.ts) and the views the probes
// (engine-probes.ts) locate inside Unicorn's state. The board suites run firmware through all three; these
// check each layer on its own.
import { describe, expect, it } from 'vitest';
import { Engine } from '../src/board/engine.js';
import {
  REG_PC,
  REG_R0,
  UC_CPU_ARM_CORTEX_M3,
  UC_ERR_OK,
  UC_PROT_EXEC,
  UC_PROT_READ,
  UnicornError,
  ucErrorName,
  unicorn,
  unicornVersion,
} from '../src/board/unicorn.js';

const CODE = 0x08000000;
// movs r0, #0; loop: adds r0, #1; b loop
const COUNT_LOOP = new Uint8Array([0x00, 0x20, 0x01, 0x30, 0xfd, 0xe7]);

function withEngine(body: (engine: Engine) => void): void {
  const engine = new Engine(UC_CPU_ARM_CORTEX_M3);
  try {
    engine.map('code', CODE, 0x1000, UC_PROT_READ | UC_PROT_EXEC);
    engine.write(CODE, COUNT_LOOP);
    body(engine);
  } finally {
    engine.close();
  }
}

describe('binding', () => {
  it('loads Unicorn 2 and names its errors as unicorn.h does', () => {
    expect(unicornVersion()).toMatch(/^2\./);
    expect(unicorn().path).not.toBe('');
    expect(ucErrorName(UC_ERR_OK)).toBe('UC_ERR_OK');
    expect(ucErrorName(11)).toBe('UC_ERR_MAP');
    expect(ucErrorName(99)).toBe('uc_err 99');
  });
});

describe('Engine', () => {
  it('runs a counted slice and reports errors naming what was being done', () => {
    withEngine((engine) => {
      expect(engine.start(CODE, 0xffffffff, 1 + 2 * 50)).toBe(UC_ERR_OK);
      expect(engine.readReg(REG_R0)).toBe(50);
      expect(engine.readReg(REG_PC)).toBe(CODE + 2);
      expect(() => engine.write(0x30000000, new Uint8Array(4), 'patching the image')).toThrow(UnicornError);
      expect(() => engine.write(0x30000000, new Uint8Array(4), 'patching the image')).toThrow(
        /^patching the image at 0x30000000 \(4 bytes\): UC_ERR_WRITE_UNMAPPED \(/,
      );
      expect(engine.tryRead(0x30000000, 4)).toBeNull();
      expect([...engine.tryRead(CODE, 2)!]).toEqual([0x00, 0x20]);
    });
  });

  it('reads a batch of registers in one call', () => {
    withEngine((engine) => {
      engine.setBatch([REG_R0 + 1, REG_R0 + 2]);
      engine.writeReg(REG_R0 + 1, 0xdeadbeef);
      engine.writeReg(REG_R0 + 2, 7);
      engine.readBatch();
      expect([engine.batchValue(0), engine.batchValue(1)]).toEqual([0xdeadbeef, 7]);
      expect(() => engine.setBatch(new Array(9).fill(REG_R0))).toThrow(/at most 8/);
    });
  });
});

describe('probes', () => {
  it('locate the instruction counter: after a slice of N it holds N + 1 and the limit N', () => {
    withEngine((engine) => {
      const counter = engine.instructionCounter();
      expect(counter, 'the counter was not located in this Unicorn build').not.toBeNull();
      expect(engine.start(CODE, 0xffffffff, 12_345)).toBe(UC_ERR_OK);
      expect([counter![0], counter![1]]).toEqual([12_346n, 12_345n]);
    });
  });

  it.runIf(process.platform === 'linux')(
    'locate the register file: writes through either path are seen by the other',
    () => {
      withEngine((engine) => {
        const registers = engine.registerFile();
        expect(registers, 'the register file was not located').not.toBeNull();
        engine.writeReg(REG_R0 + 3, 0x12345678);
        expect(registers![3]).toBe(0x12345678);
        registers![5] = 0x0badf00d;
        expect(engine.readReg(REG_R0 + 5)).toBe(0x0badf00d);
      });
    },
  );
});
