// The number grammars of board files and the command line: byte counts (binary units) and clock frequencies
// (decimal units).

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
    if (multiplier === undefined)
      return { problem: `"${text}" has an unknown unit "${match[2]}" (use K, KiB, M or MiB)` };
    bytes = Number(match[1]) * multiplier;
    if (!Number.isInteger(bytes)) return { problem: `"${text}" is not a whole number of bytes (${bytes})` };
  }
  if (!Number.isSafeInteger(bytes) || bytes > MAX_TARGET_BYTES) {
    return { problem: `"${text}" is larger than a 32-bit target can address (4 GiB)` };
  }
  return { bytes };
}

/**
 * Clock frequencies use SI prefixes, unlike byte counts: "48M" and "48MHz" are 48,000,000 Hz, "32.768k" is
 * 32,768 Hz. Only k/K, M and G are accepted; a lowercase "m" (milli) is refused rather than guessed at.
 */
const FREQUENCY_MULTIPLIERS: Record<string, number> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9 };

/** No Cortex-M core is clocked anywhere near this; a larger figure is a typo (e.g. a unit written twice). */
export const MAX_CLOCK_HZ = 10e9;

/** The frequency in Hz that `text` denotes (`48000000`, `48M`, `48 MHz`, `32.768kHz`, `1.2G`), or the reason it is not one. */
export function parseFrequency(text: string): { hertz: number } | { problem: string } {
  const trimmed = String(text).trim();
  const match = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]?)(hz)?$/i.exec(trimmed);
  if (!match) return { problem: 'is not a frequency (write e.g. 48000000, "48M" or "48MHz")' };
  const prefix = match[2]!;
  const multiplier = FREQUENCY_MULTIPLIERS[prefix];
  if (multiplier === undefined) {
    const hint = prefix === 'm' ? '; "m" is milli, write "M" for mega' : '';
    return { problem: `has an unknown prefix "${prefix}" (use k, M or G${hint})` };
  }
  // Scale by whole powers of ten on the decimal digits, so "32.768k" is exactly 32768 (no binary rounding).
  const [whole = '', fraction = ''] = match[1]!.split('.');
  const exponent = Math.round(Math.log10(multiplier));
  if (fraction.length > exponent && /[1-9]/.test(fraction.slice(exponent))) {
    return { problem: 'is not a whole number of Hz' };
  }
  const hertz = Number(whole + fraction.padEnd(exponent, '0').slice(0, exponent)) || 0;
  if (hertz === 0) return { problem: 'must be positive' };
  if (hertz > MAX_CLOCK_HZ) return { problem: `is above ${MAX_CLOCK_HZ / 1e9} GHz` };
  return { hertz };
}
