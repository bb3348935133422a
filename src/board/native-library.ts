// The board's native helpers (src/board/native/*.c, built by scripts/build-native.sh into .cache/native/): C hooks
// that Unicorn calls without entering JavaScript, where a JS callback per translated block or per call would cost
// more than the work (docs/board.md, "Native helpers"). Optional: when the library is missing (no C compiler), does
// not load, or was built for another interface version, the board runs without it and its report says so.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import koffi from 'koffi';
import type * as KoffiTypes from 'koffi';
import { projectRoot, selectedEngine } from './engine-locate.js';

/** Must equal TLSF_SIM_NATIVE_VERSION in native/unicorn-api.h. */
const NATIVE_VERSION = 3;

export interface NativeLibrary {
  path: string;
  lib: KoffiTypes.LibraryHandle;
}

export type NativeStatus = { ok: true; library: NativeLibrary } | { ok: false; reason: string };

const LIBRARY_FILE = process.platform === 'darwin' ? 'libtlsf-sim-native.dylib' : 'libtlsf-sim-native.so';

let status: NativeStatus | undefined;

/** Where the build script puts the library (relative to the project root). */
export const nativeLibraryPath = (): string => join(projectRoot(), '.cache', 'native', LIBRARY_FILE);

function load(): NativeStatus {
  if (process.env.TLSF_SIM_NATIVE === '0') return { ok: false, reason: 'turned off (TLSF_SIM_NATIVE=0)' };
  const path = nativeLibraryPath();
  if (!existsSync(path)) return { ok: false, reason: 'not built (no C compiler at setup: npm run setup builds it)' };
  let lib: KoffiTypes.LibraryHandle;
  try {
    lib = koffi.load(path);
  } catch (error) {
    return { ok: false, reason: `${path} does not load: ${(error as Error).message}` };
  }
  const version = lib.func('int tlsf_sim_native_version(void)')() as number;
  if (version !== NATIVE_VERSION) {
    return { ok: false, reason: `${path} is version ${version}, this build needs ${NATIVE_VERSION} (npm run setup)` };
  }
  const bound = lib.func('int tlsf_sim_native_bind(const char *path)')(selectedEngine().path) as number;
  if (bound !== 0) return { ok: false, reason: `${path} could not find Unicorn's functions (code ${bound})` };
  return { ok: true, library: { path, lib } };
}

/** The loaded native helpers, or why there are none; loaded once per process. */
export function nativeStatus(): NativeStatus {
  status ??= load();
  return status;
}

/** The loaded native helpers, or null (nativeStatus() says why). */
export function nativeLibrary(): NativeLibrary | null {
  const current = nativeStatus();
  return current.ok ? current.library : null;
}
