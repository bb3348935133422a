// Arm semihosting (bkpt 0xAB; r0 the operation, r1 its argument block): console output (the ":tt" handles newlib's
// --specs=rdimon.specs opens), the clock, the heap info block, and exit with a status (the ":semihosting-features"
// file says SYS_EXIT_EXTENDED is served); no file system.
import { hex } from '../allocator/index.js';
import type { Engine } from './engine.js';
import { REG_R0 } from './unicorn.js';
import { CPI, type BoardProfile } from './profiles.js';
import type { RunOutcome } from './run-outcome.js';
import type { InstructionCount } from './instruction-count.js';
import { readCString, readText } from './target-text.js';

/** SYS_EXIT's reason code for a normal end (ADP_Stopped_ApplicationExit). */
const APPLICATION_EXIT = 0x20026;

/**
 * Handles SYS_OPEN gives out (nonzero: 0 is not a handle). newlib's semihosting library (`--specs=rdimon.specs`,
 * `initialise_monitor_handles()`) opens ":tt" for stdin, stdout and stderr and writes to what it got back; 1 and
 * 2 are also what firmware that writes without opening passes, so both reach the console.
 */
const HANDLE_STDOUT = 1;
const HANDLE_STDERR = 2;
const HANDLE_STDIN = 3;
const HANDLE_FEATURES = 4;
/**
 * The ":semihosting-features" file: magic "SHFB" and one byte of feature bits, SH_EXT_EXIT_EXTENDED (bit 0: the
 * exit status reaches the host, so `return 3` from main is exit-failure with status 3) and SH_EXT_STDOUT_STDERR
 * (bit 1: ":tt" opened for append is stderr).
 */
const FEATURES = new Uint8Array([0x53, 0x48, 0x46, 0x42, 0x03]);

/** What SYS_HEAPINFO answers. */
export interface HeapInfoBlock {
  heapStart: number;
  heapEnd: number;
  initialSp: number;
}

export class Semihosting {
  /** Read position in the ":semihosting-features" file (SYS_READ, SYS_SEEK). */
  private featuresAt = 0;

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
      case 0x01: // SYS_OPEN: [name, mode, name length]; the console (":tt") and the features file only
        result = this.open(readText(engine, word(argument), word(argument + 8)), word(argument + 4));
        break;
      case 0x02: // SYS_CLOSE: [handle]
        result = word(argument) === 0 ? 0xffffffff : 0;
        break;
      case 0x06: {
        // SYS_READ: [handle, buffer, length]; returns bytes not read (stdin is at its end)
        const handle = word(argument);
        const length = word(argument + 8);
        if (handle !== HANDLE_FEATURES) {
          result = handle === HANDLE_STDIN ? length : 0xffffffff;
          break;
        }
        const bytes = FEATURES.subarray(this.featuresAt, this.featuresAt + length);
        engine.write(word(argument + 4), bytes, 'semihosting SYS_READ: writing the features file');
        this.featuresAt += bytes.length;
        result = length - bytes.length;
        break;
      }
      case 0x09: {
        // SYS_ISTTY: [handle]
        const handle = word(argument);
        result = handle === HANDLE_STDOUT || handle === HANDLE_STDERR || handle === HANDLE_STDIN ? 1 : 0;
        break;
      }
      case 0x0a: // SYS_SEEK: [handle, position]
        if (word(argument) === HANDLE_FEATURES) this.featuresAt = Math.min(word(argument + 4), FEATURES.length);
        break;
      case 0x0c: // SYS_FLEN: [handle]
        result = word(argument) === HANDLE_FEATURES ? FEATURES.length : 0xffffffff;
        break;
      case 0x13: // SYS_ERRNO: nothing above sets one
        break;
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

  /** SYS_OPEN: ":tt" by mode (0-3 read: stdin, 4-7 write: stdout, 8-11 append: stderr); no file system. */
  private open(name: string, mode: number): number {
    if (name === ':tt') return mode < 4 ? HANDLE_STDIN : mode < 8 ? HANDLE_STDOUT : HANDLE_STDERR;
    if (name === ':semihosting-features' && mode < 4) {
      this.featuresAt = 0;
      return HANDLE_FEATURES;
    }
    return 0xffffffff;
  }
}
