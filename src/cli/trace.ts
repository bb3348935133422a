import { readFileSync } from 'node:fs';
import { InputError } from './errors.js';

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

export function readTraceFile(path: string): Trace {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read trace ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return parseTrace(text, path);
}

/** Parses a trace; every error names the file and the 1-based line number. */
export function parseTrace(text: string, name = 'trace'): Trace {
  const header: number[] = [];
  const ops: TraceOp[] = [];
  const liveSizes = new Map<number, number>();
  let liveBytes = 0;
  let peakLiveBytes = 0;
  let largestRequest = 0;
  let idCount = 0;
  const lines = text.split(/\r?\n/);

  lines.forEach((rawLine, index) => {
    const lineNumber = index + 1;
    const line = rawLine.replace(/#.*$/, '').trim();
    if (line === '') return;
    const fail = (problem: string): never => {
      throw new InputError(`${name}:${lineNumber}: ${problem}: "${rawLine.trim()}"`);
    };
    const fields = line.split(/\s+/);
    if (ops.length === 0 && fields.length === 1 && /^\d+$/.test(fields[0]!)) {
      if (header.length >= 4) fail('more than four header numbers (heap size, ids, operations, weight)');
      header.push(Number(fields[0]));
      return;
    }
    const parseNumber = (field: string | undefined, what: string, max: number): number => {
      if (field === undefined || !/^\d+$/.test(field)) return fail(`${what} must be a non-negative integer`);
      const value = Number(field);
      if (value > max) return fail(`${what} ${value} is too large (max ${max})`);
      return value;
    };
    const op = fields[0];
    if (op === 'a' || op === 'r') {
      if (fields.length !== 3) fail(`"${op}" takes an id and a size`);
      const id = parseNumber(fields[1], 'id', MAX_TRACE_ID);
      const size = parseNumber(fields[2], 'size', MAX_REQUEST);
      if (op === 'a' && liveSizes.has(id)) fail(`id ${id} is allocated again without being freed`);
      liveBytes += size - (liveSizes.get(id) ?? 0);
      liveSizes.set(id, size);
      ops.push({ kind: op === 'a' ? 'alloc' : 'realloc', id, size, line: lineNumber });
      largestRequest = Math.max(largestRequest, size);
      peakLiveBytes = Math.max(peakLiveBytes, liveBytes);
      idCount = Math.max(idCount, id + 1);
    } else if (op === 'f') {
      if (fields.length !== 2) fail('"f" takes one id');
      const id = parseNumber(fields[1], 'id', MAX_TRACE_ID);
      if (!liveSizes.has(id)) fail(`id ${id} is freed but not allocated`);
      liveBytes -= liveSizes.get(id)!;
      liveSizes.delete(id);
      ops.push({ kind: 'free', id, line: lineNumber });
      idCount = Math.max(idCount, id + 1);
    } else {
      fail(`unknown operation "${op}" (expected a, f or r)`);
    }
  });

  if (ops.length === 0) throw new InputError(`${name}: the trace has no operations (a id size / f id / r id size)`);
  const [suggestedHeapSize, declaredIds, declaredOps, weight] = header;
  if (declaredOps !== undefined && declaredOps !== ops.length) {
    throw new InputError(`${name}:3: the header declares ${declaredOps} operations but the trace has ${ops.length}`);
  }
  if (declaredIds !== undefined && idCount > declaredIds) {
    throw new InputError(`${name}:2: the header declares ${declaredIds} ids but the trace uses id ${idCount - 1}`);
  }
  return { suggestedHeapSize, declaredIds, declaredOps, weight, ops, idCount, largestRequest, peakLiveBytes };
}
