import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { InputError } from './errors.js';

// Every file the CLI reads on the user's behalf (firmware, traces, board and budget files) comes through here, so
// that a device, a FIFO, a directory or a file far larger than any real input is refused with one line before a
// byte is read, instead of hanging on /dev/zero or allocating gigabytes for a sparse file.

/**
 * Largest firmware ELF: 64 MiB. The loadable part must fit a board's flash (2 MiB at most among the built-in
 * boards) and the rest is symbols and debug sections, which for a microcontroller image stay well below this.
 * A larger file is not firmware for these boards, whatever it holds.
 */
export const MAX_ELF_BYTES = 64 * 1024 * 1024;

/**
 * Largest malloc-lab trace: 256 MiB, about 25 million operations. Far beyond what fits a board's flash once
 * encoded (8 bytes an operation), so nothing runnable is refused; the cap only stops runaway inputs.
 */
export const MAX_TRACE_BYTES = 256 * 1024 * 1024;

/** Largest board or budget file (JSON/YAML written by hand): 1 MiB. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export interface InputFileRules {
  /** What the file is, for messages: "firmware", "trace", "budget file", "board file". */
  what: string;
  maxBytes: number;
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

function whyUnreadable(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOTDIR') return 'a part of the path is not a directory';
  if (code === 'ELOOP') return 'too many symbolic links';
  return code ?? String(error);
}

function refuseUnlessSmallRegularFile(path: string, stats: Stats, rules: InputFileRules): void {
  if (!stats.isFile())
    throw new InputError(`cannot read ${rules.what} ${path}: it is ${kindOf(stats)}, not a regular file`);
  if (stats.size > rules.maxBytes) {
    const size = stats.size.toLocaleString('en-US');
    const most = rules.maxBytes.toLocaleString('en-US');
    throw new InputError(
      `${rules.what} ${path} is ${size} bytes, more than any ${rules.what} can be (at most ${most})`,
    );
  }
}

/**
 * Opens an input file for reading after checking it is a regular file of at most `maxBytes`; returns the
 * descriptor and the size. The path is stat-ed first (stat never blocks, whereas opening a FIFO for reading waits
 * for a writer), then opened non-blocking and checked again on the descriptor, so a file swapped between the two
 * (or a symbolic link to a device) is caught on what was really opened.
 */
export function openInputFile(path: string, rules: InputFileRules): { fd: number; size: number } {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    throw new InputError(`cannot read ${rules.what} ${path}: ${whyUnreadable(error)}`);
  }
  refuseUnlessSmallRegularFile(path, stats, rules);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    throw new InputError(`cannot read ${rules.what} ${path}: ${whyUnreadable(error)}`);
  }
  try {
    const opened = fstatSync(fd);
    refuseUnlessSmallRegularFile(path, opened, rules);
    return { fd, size: opened.size };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** Reads a whole input file (see openInputFile for what is refused before reading). */
export function readInputFile(path: string, rules: InputFileRules): Buffer {
  const { fd, size } = openInputFile(path, rules);
  try {
    // One byte more than the size: a file that grows while being read is refused rather than cut short.
    const buffer = Buffer.alloc(size + 1);
    let filled = 0;
    for (;;) {
      const read = readSync(fd, buffer, filled, buffer.length - filled, null);
      if (read === 0) break;
      filled += read;
      if (filled === buffer.length) throw new InputError(`${rules.what} ${path} changed size while being read`);
    }
    return buffer.subarray(0, filled);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`cannot read ${rules.what} ${path}: ${whyUnreadable(error)}`);
  } finally {
    closeSync(fd);
  }
}
