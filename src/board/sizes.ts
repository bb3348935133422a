/**
 * The one grammar for byte counts, shared by board files and the command line so that "20K" means the same
 * in both: `32768`, `0x8000`, `32K`, `32k`, `32KB`, `32KiB`, `1.5K`, `1M`.
 *
 * Embedded datasheets write "20 KB" for 20 × 1024 bytes of SRAM, so K, KB and KiB all mean 1024 here;
 * nobody sizes a microcontroller memory in powers of ten. A fraction is accepted only when it lands on a
 * whole byte (`1.5K` = 1536; `0.3K` is refused), and nothing above what a 32-bit target can address.
 */
const UNIT_MULTIPLIERS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 * 1024,
  mb: 1024 * 1024,
  mib: 1024 * 1024,
};

const MAX_TARGET_BYTES = 0xffff_ffff;

/** The byte count `text` denotes, or the reason it is not one (callers wrap it in their own error). */
export function parseByteCount(text: string): { bytes: number } | { problem: string } {
  const trimmed = String(text).trim();
  const hex = /^0x([0-9a-f]+)$/i.exec(trimmed);
  let bytes: number;
  if (hex) {
    bytes = parseInt(hex[1]!, 16);
  } else {
    const match = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)$/i.exec(trimmed);
    if (!match) return { problem: `"${text}" is not a size (write e.g. 32768, 32K, 32KiB or 0x8000)` };
    const multiplier = UNIT_MULTIPLIERS[match[2]!.toLowerCase()];
    if (multiplier === undefined) return { problem: `"${text}" has an unknown unit "${match[2]}" (use K, KiB, M or MiB)` };
    bytes = Number(match[1]) * multiplier;
    if (!Number.isInteger(bytes)) return { problem: `"${text}" is not a whole number of bytes (${bytes})` };
  }
  if (!Number.isSafeInteger(bytes) || bytes > MAX_TARGET_BYTES) {
    return { problem: `"${text}" is larger than a 32-bit target can address (4 GiB)` };
  }
  return { bytes };
}
