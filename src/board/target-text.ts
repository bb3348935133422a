// Text the firmware hands the host: console buffers and NUL-terminated strings in target memory.
import type { Engine } from './engine.js';

const MAX_WRITE = 1 << 20;

function decodeCString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/** `length` bytes at `address` as UTF-8; an error above 1 MiB. */
export function readText(engine: Engine, address: number, length: number): string {
  if (length === 0) return '';
  if (length > MAX_WRITE) throw new Error(`write of ${length} bytes is larger than 1 MiB`);
  return new TextDecoder().decode(engine.read(address, length, 'reading firmware output'));
}

/** The string at `address` up to its NUL, `limit` bytes or the end of mapped memory, whichever is first. */
export function readCString(engine: Engine, address: number, limit = 4096): string {
  let text = '';
  // 64 bytes at a time; byte by byte where a chunk would run past the end of a mapping.
  for (let at = address; at < address + limit; ) {
    const chunk = engine.tryRead(at, 64) ?? engine.tryRead(at, 1);
    if (!chunk) break;
    const end = chunk.indexOf(0);
    if (end >= 0) return text + decodeCString(chunk.subarray(0, end));
    text += decodeCString(chunk);
    at += chunk.length;
  }
  return text;
}
