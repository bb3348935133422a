/**
 * Errors the CLI turns into exit codes. Anything that is the user's input being wrong (a bad size, an unknown
 * board, an unreadable file, a malformed budget or trace) is an InputError and exits 2, so CI can tell
 * "your budget file is broken" apart from "your firmware broke its budget" (exit 1).
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
