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
const NATIVE_VERSION = 5;

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

/**
 * The same library loaded by Node as an addon (native/napi-entry.c): the block hook's way into the heap service
 * through Node-API, about half the cost of a koffi callback. Its start() must run the engine (V8 cannot run on
 * koffi's call stack). The library file is the one koffi loaded, so both share one copy of the helpers' state.
 */
export interface NativeEntry {
  /** Bytes of the state buffer bind(), start() and release() take. */
  stateSize: number;
  /** The function the hook calls on the service page; held until release(). */
  bind(state: ArrayBuffer, call: () => void): void;
  release(state: ArrayBuffer): void;
  /** uc_emu_start with no timeout on the engine the hook was attached to; returns the uc_err. */
  start(state: ArrayBuffer, begin: number, until: number, count: number): number;
}

let entry: NativeEntry | null | undefined;

/**
 * The addon side of the native helpers, or null: not loaded, TLSF_SIM_JS_ENTRY=koffi (A/B measurements, tests of
 * the koffi path), or Node refused the library (the koffi callback then serves every call).
 */
export function nativeEntry(): NativeEntry | null {
  if (entry !== undefined) return entry;
  entry = null;
  const library = nativeLibrary();
  if (!library || process.env.TLSF_SIM_JS_ENTRY === 'koffi') return null;
  const module = { exports: {} as Partial<NativeEntry> & { version?: number } };
  try {
    process.dlopen(module, library.path);
  } catch {
    return null;
  }
  const loaded = module.exports;
  if (
    loaded.version === NATIVE_VERSION &&
    typeof loaded.stateSize === 'number' &&
    typeof loaded.bind === 'function' &&
    typeof loaded.release === 'function' &&
    typeof loaded.start === 'function'
  ) {
    entry = loaded as NativeEntry;
  }
  return entry;
}

/**
 * A group of the library's C functions, declared on first use and kept for the process: `declare` declares them on
 * the loaded library. The getter gives null when the library is missing or predates them (koffi throws for a
 * symbol it cannot find): the board then takes the JavaScript path, and `npm run setup` rebuilds the library.
 */
export function nativeFunctions<T>(declare: (lib: KoffiTypes.LibraryHandle) => T): () => T | null {
  let bound: T | null | undefined;
  return () => {
    if (bound !== undefined) return bound;
    bound = null;
    const native = nativeLibrary();
    if (!native) return null;
    try {
      bound = declare(native.lib);
    } catch {
      bound = null;
    }
    return bound;
  };
}
