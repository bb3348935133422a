export type TlsfErrorCode =
  | 'misaligned' // pointer not a multiple of the heap's alignment
  | 'out-of-pool' // pointer outside every pool's block area
  | 'double-free' // the block is already free
  | 'not-a-block' // the word before the pointer is not a live block's header
  | 'bad-size' // a size argument that is not a non-negative integer
  | 'bad-option' // createTlsf / addPool options out of range
  | 'overlap' // addPool region overlaps an existing pool
  | 'corrupt' // the heap's own metadata points outside every pool
  | 'detached'; // a pool's ArrayBuffer was detached (WebAssembly.Memory.grow, transfer): see rebind()

export function hex(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}

/** Misuse of the heap. `address` is the offending pointer (or NaN when the problem is not one). */
export class TlsfError extends Error {
  readonly code: TlsfErrorCode;
  readonly address: number;

  constructor(code: TlsfErrorCode, message: string, address = Number.NaN) {
    super(message);
    this.name = 'TlsfError';
    this.code = code;
    this.address = address;
  }
}

/**
 * A value as an error message quotes it: numbers as written, strings in quotes (so that '0x20000000' the string
 * does not read as an address), anything else by its type; at most about 80 characters.
 */
export function quote(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (typeof value === 'bigint') text = `${value}n (a BigInt)`;
  else if (value === null || typeof value !== 'object') text = String(value);
  else text = Object.prototype.toString.call(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
