import { closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { RunTarget } from './budget.js';

// What a command-line target names: a firmware ELF, a malloc-lab trace, or a built-in scenario.

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46]; // "\x7fELF"
const ELF_EXTENSIONS = ['.elf', '.axf', '.out'];
const TRACE_EXTENSIONS = ['.rep', '.trace'];
/** Enough of a file to see past a few comment lines to a trace's first number or operation. */
const SNIFF_BYTES = 512;

/**
 * A trace's opening: optional blank and `#` comment lines, then a header number alone on its line or a first
 * operation (`a 0 16`, `f 3`, `r 0 32`), after a UTF-8 byte order mark if there is one (read as latin1: the three
 * bytes EF BB BF). Plain text that opens otherwise is not taken for a trace.
 */
const TRACE_OPENING =
  /^(?:\u00ef\u00bb\u00bf)?(?:[ \t]*(?:#[^\n]*)?\r?\n)*[ \t]*(?:\d+[ \t]*(?:#[^\n]*)?\r?\n|[afr][ \t]+\d)/;

/** The first bytes of `path` if it is a regular file that can be read; undefined otherwise (never blocks). */
function firstBytes(path: string): Buffer | undefined {
  try {
    // stat before open: opening a FIFO for reading would wait for a writer.
    if (!statSync(path).isFile()) return undefined;
    const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    try {
      const buffer = Buffer.alloc(SNIFF_BYTES);
      return buffer.subarray(0, readSync(fd, buffer, 0, SNIFF_BYTES, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/** Whether something exists at `path` that is not a regular file (a directory, FIFO, device or socket). */
function existsButIsNotAFile(path: string): boolean {
  try {
    return !statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** What the content of a file says it is, when it says. */
function sniff(bytes: Buffer): 'elf' | 'trace' | undefined {
  if (bytes.length >= 4 && ELF_MAGIC.every((byte, index) => bytes[index] === byte)) return 'elf';
  if (TRACE_OPENING.test(bytes.toString('latin1'))) return 'trace';
  return undefined;
}

/**
 * Decides what a command-line argument names. An existing regular file is classified by its first bytes (the
 * ELF magic, or a trace's opening), so `firmware/app` without an extension runs as firmware; otherwise by its
 * extension (`.elf`/`.axf`/`.out`, `.rep`/`.trace`), so a missing or broken file is reported as the firmware or
 * trace it was meant to be; any other path (with a slash), FIFO, device or socket is firmware too, and refused
 * as such; anything else is a scenario name.
 */
export function classifyTarget(argument: string, baseDirectory = process.cwd()): RunTarget {
  const path = resolve(baseDirectory, argument);
  const bytes = firstBytes(path);
  const kind = bytes === undefined ? undefined : sniff(bytes);
  if (kind !== undefined) return { kind, path };
  const extension = extname(argument).toLowerCase();
  if (ELF_EXTENSIONS.includes(extension)) return { kind: 'elf', path };
  if (TRACE_EXTENSIONS.includes(extension)) return { kind: 'trace', path };
  // A path (no scenario name has a slash) or a FIFO, device or socket by name is a file to run, so that its
  // error says what is wrong with it ("it is a directory") rather than "unknown scenario". A directory named
  // without a slash stays a scenario name: a folder called packet-pool must not shadow the scenario.
  const looksLikePath = argument.includes('/') || argument.includes(sep);
  if (looksLikePath || (existsButIsNotAFile(path) && !isDirectory(path))) return { kind: 'elf', path };
  return { kind: 'scenario', name: argument };
}

/** Scenario name, or the file path relative to the working directory when it lies below it. */
export function targetLabel(target: RunTarget): string {
  if (target.kind === 'scenario') return target.name;
  const shown = relative(process.cwd(), target.path);
  return shown === '' || shown.startsWith('..') || isAbsolute(shown) ? target.path : shown;
}
