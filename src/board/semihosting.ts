// Arm semihosting (bkpt 0xAB; r0 the operation, r1 its argument block): console output, the clock, the heap
// info block and exit, the operations firmware built with --specs=rdimon.specs or a debug probe uses.
import { hex } from '../allocator/index.js';
import type { Engine } from './engine.js';
import { REG_R0 } from './unicorn.js';
import { CPI, type BoardProfile } from './profiles.js';
import type { RunOutcome } from './run-outcome.js';
import type { InstructionCount } from './instruction-count.js';
import { readCString, readText } from './target-text.js';

/** SYS_EXIT's reason code for a normal end (ADP_Stopped_ApplicationExit). */
const APPLICATION_EXIT = 0x20026;

/** What SYS_HEAPINFO answers. */
export interface HeapInfoBlock {
  heapStart: number;
  heapEnd: number;
  initialSp: number;
}

export class Semihosting {
  constructor(
    private readonly engine: Engine,
    private readonly registerFile: Uint32Array | null,
    private readonly board: BoardProfile,
    private readonly count: InstructionCount,
    private readonly outcome: RunOutcome,
    private readonly heapInfo: HeapInfoBlock,
  ) {}

  /** Serves the request at a bkpt 0xAB; r0 gets the result unless the request ended the run. */
  serve(): void {
    const engine = this.engine;
    const outcome = this.outcome;
    engine.readBatch();
    const operation = engine.batchValue(0);
    const argument = engine.batchValue(1);
    const word = (address: number) => {
      const bytes = engine.read(address, 4, 'semihosting: reading the argument block');
      return (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
    };
    let result = 0;
    switch (operation) {
      case 0x03: // SYS_WRITEC: r1 points to the character
        outcome.output += String.fromCharCode(engine.read(argument, 1)[0]!);
        break;
      case 0x04: // SYS_WRITE0: r1 points to a NUL-terminated string
        outcome.output += readCString(engine, argument, 1 << 20);
        break;
      case 0x05: {
        // SYS_WRITE: [handle, buffer, length]; returns bytes not written
        const handle = word(argument);
        const text = readText(engine, word(argument + 4), word(argument + 8));
        if (handle === 1 || handle === 2) outcome.output += text;
        result = 0;
        break;
      }
      case 0x10: // SYS_CLOCK: centiseconds since the start, from the estimated cycles
        result = Math.floor(((this.count.now() * CPI[this.board.cpu]) / this.board.clockHz) * 100) >>> 0;
        break;
      case 0x16: {
        // SYS_HEAPINFO: r1 points to a pointer to [heap base, heap limit, stack base, stack limit]
        const block = word(argument);
        const { heapStart, heapEnd, initialSp } = this.heapInfo;
        const words = new Uint32Array([heapStart, heapEnd, initialSp, heapEnd]);
        engine.write(block, new Uint8Array(words.buffer), 'semihosting SYS_HEAPINFO: writing the result');
        break;
      }
      case 0x18: {
        // SYS_EXIT: r1 is the reason code (32-bit semihosting)
        if (argument === APPLICATION_EXIT) outcome.stop('ok', '');
        else
          outcome.stop('exit-failure', `firmware stopped through semihosting SYS_EXIT with reason ${hex(argument)}`, 1);
        return;
      }
      case 0x20: {
        // SYS_EXIT_EXTENDED: r1 points to [reason, status]
        const reason = word(argument);
        const status = word(argument + 4) | 0;
        if (reason === APPLICATION_EXIT && status === 0) outcome.stop('ok', '');
        else if (reason === APPLICATION_EXIT)
          outcome.stop('exit-failure', `firmware exited with status ${status}`, status);
        else
          outcome.stop(
            'exit-failure',
            `firmware stopped through semihosting SYS_EXIT_EXTENDED with reason ${hex(reason)}, status ${status}`,
            status || 1,
          );
        return;
      }
      default:
        result = 0xffffffff;
    }
    if (this.registerFile) this.registerFile[0] = result >>> 0;
    else engine.writeReg(REG_R0, result);
  }
}
