/**
 * Errors the CLI turns into exit codes. Anything that is the user's input being wrong (a bad size, an unknown
 * board, an unreadable file, a malformed budget or trace) is an InputError and exits 2, so CI can tell
 * "your budget file is broken" apart from "your firmware broke its budget" (exit 1). Anything else that escapes
 * a command (an emulator failure, a bug) exits 3, so CI can also tell a broken tool from a typo.
 */
export class InputError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export const EXIT_OK = 0;
export const EXIT_CHECK_FAILED = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_INTERNAL = 3;

/** How much of an offending input an error message echoes: enough to recognise it, never a flood. */
export const QUOTE_LIMIT = 80;

/**
 * `text` in double quotes for an error message: control characters escaped (so a stray escape sequence or
 * carriage return cannot rewrite the terminal), and cut to QUOTE_LIMIT characters with an ellipsis that says
 * how long the whole was, so a 300 MB line in a trace costs 100 bytes of stderr, not 300 MB.
 */
export function quoteInput(text: string): string {
  const shown = text.length > QUOTE_LIMIT ? text.slice(0, QUOTE_LIMIT) : text;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must be escaped before echoing input
  const escaped = shown.replace(/[\u0000-\u001f\u007f-\u009f"\\]/g, (character) => {
    if (character === '"' || character === '\\') return `\\${character}`;
    if (character === '\n') return '\\n';
    if (character === '\r') return '\\r';
    if (character === '\t') return '\\t';
    return `\\x${character.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
  const rest = text.length - shown.length;
  return rest > 0 ? `"${escaped}"… (${text.length.toLocaleString('en-US')} characters)` : `"${escaped}"`;
}

/**
 * A message made safe for one line of a terminal: every control character (C0, DEL, C1; newlines included) written
 * as an escape. Messages quote what they got wrong, and some of that comes from elsewhere: JSON.parse, YAML and the
 * board's parsers quote the offending bytes raw (an escape sequence in a "budget file" would recolour or rewrite
 * the terminal, a NUL or newline would split the line).
 */
export function escapeControlCharacters(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must be escaped
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (character) => {
    if (character === '\n') return '\\n';
    if (character === '\r') return '\\r';
    if (character === '\t') return '\\t';
    return `\\x${character.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/**
 * The board's errors that mean its input was wrong (a malformed ELF, a bad board profile, a heap or parameter the
 * firmware cannot have), recognised by name so this module need not load the board (and the emulator binding).
 * An allocator refusing its options (`TlsfError` code 'bad-option': a heap too small to hold one block) is the
 * user's heap size too. Everything else, UnicornError first of all, is the tool failing.
 */
const INPUT_ERROR_NAMES = new Set(['InputError', 'ElfError', 'BoardError', 'FirmwareError']);

export function isInputError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (INPUT_ERROR_NAMES.has(error.name)) return true;
  return error.name === 'TlsfError' && (error as Error & { code?: string }).code === 'bad-option';
}

/**
 * An error escaping a run, as the CLI reports it: the user's input becomes an InputError prefixed with `context`
 * (which run it was); anything else is returned unchanged and ends the process as an internal error (exit 3).
 */
export function classifyRunError(error: unknown, context: string): unknown {
  if (error instanceof InputError) return error;
  if (isInputError(error)) return new InputError(`${context}: ${(error as Error).message}`);
  return error;
}

/**
 * A hidden hook for the tests of exit code 3: TLSF_SIM_TEST_FAULT=internal throws a plain Error where a run
 * starts, =emulator an error shaped like the engine's UnicornError. Never set outside tests.
 */
export function testFaultHook(env: NodeJS.ProcessEnv = process.env): void {
  const fault = env.TLSF_SIM_TEST_FAULT;
  if (fault === 'internal') throw new Error('injected internal error (TLSF_SIM_TEST_FAULT=internal)');
  if (fault === 'emulator') {
    const error = new Error('uc_emu_start: UC_ERR_EXCEPTION (injected by TLSF_SIM_TEST_FAULT=emulator)');
    error.name = 'UnicornError';
    throw error;
  }
}

/** The one line (or, when asked, the stack) printed for an error that is not the user's input. */
export function internalErrorText(error: unknown, withStack: boolean): string {
  if (withStack && error instanceof Error && error.stack) return `internal error: ${error.stack}`;
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const firstLine = text.split('\n', 1)[0]!;
  // The message may quote input of any length (a RangeError on a giant string): keep it to a line.
  const shown = escapeControlCharacters(firstLine.length > 300 ? `${firstLine.slice(0, 300)}…` : firstLine);
  return `internal error: ${shown} (a bug or an emulator failure; rerun with --verbose or TLSF_SIM_DEBUG=1 for the stack)`;
}
