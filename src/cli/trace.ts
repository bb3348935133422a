import { closeSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { InputError, QUOTE_LIMIT, quoteInput } from './errors.js';
import { MAX_TRACE_BYTES, openInputFile } from './input-file.js';

/**
 * An allocation trace in the CS:APP malloc-lab `.rep` format:
 *
 *   20000     suggested heap size   \
 *   2         number of ids          |  header: up to four numbers, one a line
 *   4         number of operations   |  (all optional here; checked when present)
 *   1         weight                /
 *   a 0 512   allocate id 0, 512 bytes
 *   r 0 1024  reallocate id 0 to 1024 bytes
 *   f 0       free id 0
 *
 * Blank lines and `#` comments are ignored.
 */
export type TraceOp =
  | { kind: 'alloc'; id: number; size: number; line: number }
  | { kind: 'free'; id: number; line: number }
  | { kind: 'realloc'; id: number; size: number; line: number };

export interface Trace {
  suggestedHeapSize?: number;
  declaredIds?: number;
  declaredOps?: number;
  weight?: number;
  ops: TraceOp[];
  /** One more than the largest id used: the size of the id → pointer table the player needs. */
  idCount: number;
  /** The largest single request, for Robson's bound. */
  largestRequest: number;
  /** Largest sum of live requested bytes at any point. */
  peakLiveBytes: number;
}

const MAX_TRACE_ID = 1 << 20;
const MAX_REQUEST = 0x7fff_ffff;
/**
 * Longest line accepted. A well-formed line is at most ~25 characters ("r 1048575 2147483647"); the slack is for
 * comments. A longer line is refused as soon as it passes the cap, so no giant string is ever built.
 */
export const MAX_TRACE_LINE = 1024;

/**
 * Most operations accepted: 2 Mi, 16 MiB once encoded (8 bytes each), eight times the largest built-in board's
 * flash, where the encoded trace must fit. It bounds the memory a huge trace of valid lines can take.
 */
export const MAX_TRACE_OPS = 1 << 21;

/** Bytes read from the file at a time. */
const READ_CHUNK = 1 << 16;

/**
 * Reads a trace file line by line: refused before reading when it is not a regular file or exceeds
 * MAX_TRACE_BYTES (input-file.ts), and a line longer than MAX_TRACE_LINE fails without being kept whole.
 */
export function readTraceFile(path: string): Trace {
  const { fd } = openInputFile(path, { what: 'trace', maxBytes: MAX_TRACE_BYTES });
  const parser = new TraceParser(path);
  try {
    const chunk = Buffer.alloc(READ_CHUNK);
    const decoder = new StringDecoder('utf8');
    let pending = '';
    for (;;) {
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      pending += decoder.write(chunk.subarray(0, read));
      pending = parser.feed(pending);
    }
    parser.feed(pending + decoder.end(), true);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`cannot read trace ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  } finally {
    closeSync(fd);
  }
  return parser.finish();
}

/** Parses a trace held in memory; every error names the file and the 1-based line number. */
export function parseTrace(text: string, name = 'trace'): Trace {
  const parser = new TraceParser(name);
  parser.feed(text, true);
  return parser.finish();
}

/** Builds a Trace from lines fed in pieces of any size; keeps only the running figures and the operations. */
class TraceParser {
  private readonly header: number[] = [];
  private readonly ops: TraceOp[] = [];
  private readonly liveSizes = new Map<number, number>();
  private liveBytes = 0;
  private peakLiveBytes = 0;
  private largestRequest = 0;
  private idCount = 0;
  private lineNumber = 0;

  constructor(private readonly name: string) {}

  /**
   * Parses every complete line of `text` and returns the unfinished rest (all of it when `last`). Refuses a
   * line, finished or not, once it is longer than MAX_TRACE_LINE.
   */
  feed(text: string, last = false): string {
    let start = 0;
    for (;;) {
      const end = text.indexOf('\n', start);
      if (end < 0) break;
      this.line(text.slice(start, end).replace(/\r$/, ''));
      start = end + 1;
    }
    const rest = text.slice(start);
    if (rest.length > MAX_TRACE_LINE) this.tooLong(rest);
    if (!last) return rest;
    if (rest !== '') this.line(rest.replace(/\r$/, ''));
    return '';
  }

  private tooLong(rawLine: string): never {
    // Only the start of the line is known (the rest is never read into memory), so no length is claimed.
    const start = quoteInput(rawLine.slice(0, QUOTE_LIMIT));
    throw new InputError(
      `${this.name}:${this.lineNumber + 1}: line longer than ${MAX_TRACE_LINE} characters, starting ${start}…`,
    );
  }

  private line(rawLine: string): void {
    if (rawLine.length > MAX_TRACE_LINE) this.tooLong(rawLine);
    this.lineNumber++;
    const lineNumber = this.lineNumber;
    const line = rawLine.replace(/#.*$/, '').trim();
    if (line === '') return;
    const fail = (problem: string): never => {
      throw new InputError(`${this.name}:${lineNumber}: ${problem}: ${quoteInput(rawLine.trim())}`);
    };
    const fields = line.split(/\s+/);
    if (this.ops.length === 0 && fields.length === 1 && /^\d+$/.test(fields[0]!)) {
      if (this.header.length >= 4) fail('more than four header numbers (heap size, ids, operations, weight)');
      this.header.push(Number(fields[0]));
      return;
    }
    const parseNumber = (field: string | undefined, what: string, max: number): number => {
      if (field === undefined || !/^\d+$/.test(field)) return fail(`${what} must be a non-negative integer`);
      const value = Number(field);
      if (value > max) return fail(`${what} ${quoteInput(field)} is too large (max ${max})`);
      return value;
    };
    const op = fields[0]!;
    if (this.ops.length >= MAX_TRACE_OPS) {
      fail(
        `more than ${MAX_TRACE_OPS.toLocaleString('en-US')} operations, more than any board's flash can hold once encoded`,
      );
    }
    if (op === 'a' || op === 'r') {
      if (fields.length !== 3) fail(`"${op}" takes an id and a size`);
      const id = parseNumber(fields[1], 'id', MAX_TRACE_ID);
      const size = parseNumber(fields[2], 'size', MAX_REQUEST);
      if (op === 'a' && this.liveSizes.has(id)) fail(`id ${id} is allocated again without being freed`);
      this.liveBytes += size - (this.liveSizes.get(id) ?? 0);
      this.liveSizes.set(id, size);
      this.ops.push({ kind: op === 'a' ? 'alloc' : 'realloc', id, size, line: lineNumber });
      this.largestRequest = Math.max(this.largestRequest, size);
      this.peakLiveBytes = Math.max(this.peakLiveBytes, this.liveBytes);
      this.idCount = Math.max(this.idCount, id + 1);
    } else if (op === 'f') {
      if (fields.length !== 2) fail('"f" takes one id');
      const id = parseNumber(fields[1], 'id', MAX_TRACE_ID);
      if (!this.liveSizes.has(id)) fail(`id ${id} is freed but not allocated`);
      this.liveBytes -= this.liveSizes.get(id)!;
      this.liveSizes.delete(id);
      this.ops.push({ kind: 'free', id, line: lineNumber });
      this.idCount = Math.max(this.idCount, id + 1);
    } else {
      fail(`unknown operation ${quoteInput(op)} (expected a, f or r)`);
    }
  }

  finish(): Trace {
    const { name, ops, idCount } = this;
    if (ops.length === 0) throw new InputError(`${name}: the trace has no operations (a id size / f id / r id size)`);
    const [suggestedHeapSize, declaredIds, declaredOps, weight] = this.header;
    if (declaredOps !== undefined && declaredOps !== ops.length) {
      throw new InputError(`${name}:3: the header declares ${declaredOps} operations but the trace has ${ops.length}`);
    }
    if (declaredIds !== undefined && idCount > declaredIds) {
      throw new InputError(`${name}:2: the header declares ${declaredIds} ids but the trace uses id ${idCount - 1}`);
    }
    const { largestRequest, peakLiveBytes } = this;
    return { suggestedHeapSize, declaredIds, declaredOps, weight, ops, idCount, largestRequest, peakLiveBytes };
  }
}
