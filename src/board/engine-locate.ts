// Finds the Unicorn library to run firmware on, preferring the fastest that works: Unicorn 2.1.x stores to
// non-executable RAM far faster than 2.0.x (docs/board.md "Engines"). Every candidate is checked before use
// (its version and a three-instruction run) in a child process, so a broken or foreign library cannot take
// the simulator down, and the verdict is cached per path, size and modification time.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where a candidate came from, in preference order. */
export type EngineSource = 'UNICORN_LIB' | 'project' | 'python' | 'homebrew' | 'source-build' | 'system';

export interface EngineCandidate {
  path: string;
  source: EngineSource;
}

/** The library chosen to run firmware: what a report names as its engine. */
export interface EngineChoice {
  path: string;
  /** major.minor.patch from uc_version(). */
  version: string;
  source: EngineSource;
}

export type EngineVerdict = { ok: true; version: string } | { ok: false; reason: string };

export interface LocateOptions {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** The Python package's directory, or null when Python or the package is missing (default: asks python3). */
  pythonPackageDir?: () => string | null;
  /** Checks one library (default: verifyInChild, cached). */
  verify?: (path: string) => EngineVerdict;
  projectRoot?: string;
}

const LIBRARY_NAME: Partial<Record<NodeJS.Platform, string>> = { darwin: 'libunicorn.2.dylib', win32: 'unicorn.dll' };
const libraryName = (platform: NodeJS.Platform) => LIBRARY_NAME[platform] ?? 'libunicorn.so.2';

/** The repository (or installed package) root: the nearest directory up from here with a package.json. */
export function projectRoot(): string {
  let at = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(at, 'package.json'))) return at;
    at = dirname(at);
  }
  return process.cwd();
}

/** The directory setup.sh installs the Python wheel into (`pip install --target`), relative to the project. */
export const PROJECT_PYTHON_DIR = join('.cache', 'unicorn-py');

/** Asks python3 where the `unicorn` package lives without importing it (importing would load the library). */
export function pythonPackageDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const script =
    'import importlib.util as u\ns = u.find_spec("unicorn")\n' +
    'print(s.submodule_search_locations[0] if s and s.submodule_search_locations else "")';
  for (const python of ['python3', 'python']) {
    const result = spawnSync(python, ['-c', script], { encoding: 'utf8', timeout: 5000, env });
    if (result.error || result.status !== 0) continue;
    const dir = result.stdout.trim();
    return dir === '' ? null : dir;
  }
  return null;
}

/** Where pip puts packages (user installs, pyenv, Homebrew and system Pythons): listed, not asked of python3. */
function sitePackageDirs(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string[] {
  const home = env.HOME ?? homedir();
  const pythonDirs = (lib: string, suffix: string): string[] => {
    try {
      const versions = readdirSync(lib)
        .filter((entry) => /^python3\.\d+$/.test(entry))
        .sort()
        .reverse();
      return versions.map((entry) => join(lib, entry, suffix));
    } catch {
      return [];
    }
  };
  const dirs = [...pythonDirs(join(home, '.local', 'lib'), 'site-packages')];
  if (platform === 'darwin') {
    try {
      for (const version of readdirSync(join(home, 'Library', 'Python'))
        .sort()
        .reverse()) {
        dirs.push(join(home, 'Library', 'Python', version, 'lib', 'python', 'site-packages'));
      }
    } catch {
      // no user Python packages
    }
    dirs.push(...pythonDirs('/opt/homebrew/lib', 'site-packages'));
  }
  const pyenv = join(env.PYENV_ROOT ?? join(home, '.pyenv'), 'versions');
  try {
    for (const version of readdirSync(pyenv).sort().reverse()) {
      dirs.push(...pythonDirs(join(pyenv, version, 'lib'), 'site-packages'));
    }
  } catch {
    // no pyenv
  }
  dirs.push(...pythonDirs('/usr/local/lib', 'site-packages'), ...pythonDirs('/usr/local/lib', 'dist-packages'));
  dirs.push('/usr/lib/python3/dist-packages');
  return dirs;
}

/** How long python3's answer is trusted: asking costs 50-300 ms, too much for every run. */
const PYTHON_ANSWER_MS = 24 * 3600 * 1000;

/** pythonPackageDir, remembered in the cache for a day (or until the directory it named disappears). */
function cachedPythonPackageDir(env: NodeJS.ProcessEnv): string | null {
  const file = join(cacheDir(env), PYTHON_CACHE_FILE);
  try {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as { at: number; dir: string | null; path: string };
    const fresh = Date.now() - cached.at < PYTHON_ANSWER_MS && (cached.dir === null || existsSync(cached.dir));
    if (cached.path === (env.PATH ?? '') && fresh) return cached.dir;
  } catch {
    // not asked yet
  }
  const dir = pythonPackageDir(env);
  writeCacheFile(file, { at: Date.now(), dir, path: env.PATH ?? '' });
  return dir;
}

/**
 * Every place a Unicorn 2 library may be, in preference order; only existing files (and UNICORN_LIB) are
 * listed. Lazy, so that a verified 2.1.x found early spares the python3 query.
 */
export function* candidateStream(options: LocateOptions = {}): Generator<EngineCandidate> {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const name = libraryName(platform);
  if (env.UNICORN_LIB) {
    yield { path: env.UNICORN_LIB, source: 'UNICORN_LIB' };
    return;
  }
  const seen = new Set<string>();
  function* found(path: string, source: EngineSource): Generator<EngineCandidate> {
    if (seen.has(path) || !existsSync(path)) return;
    seen.add(path);
    yield { path, source };
  }
  yield* found(join(options.projectRoot ?? projectRoot(), PROJECT_PYTHON_DIR, 'unicorn', 'lib', name), 'project');
  for (const dir of sitePackageDirs(env, platform)) yield* found(join(dir, 'unicorn', 'lib', name), 'python');
  const packageDir = (options.pythonPackageDir ?? (() => cachedPythonPackageDir(env)))();
  if (packageDir) yield* found(join(packageDir, 'lib', name), 'python');
  for (const prefix of ['/opt/homebrew', '/home/linuxbrew/.linuxbrew'])
    yield* found(join(prefix, 'lib', name), 'homebrew');
  // /usr/local is where both a source build (make install) and Homebrew on Intel macOS put it.
  yield* found(join('/usr/local/lib', name), platform === 'darwin' ? 'homebrew' : 'source-build');
  for (const dir of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib']) {
    yield* found(join(dir, name), 'system');
  }
  // Last: whatever the dynamic loader finds by name (LD_LIBRARY_PATH, other distributions' directories).
  if (seen.size === 0) yield { path: name, source: 'system' };
}

export const engineCandidates = (options: LocateOptions = {}): EngineCandidate[] => [...candidateStream(options)];

const compareVersions = (a: string, b: string): number => {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((left[i] ?? 0) !== (right[i] ?? 0)) return (left[i] ?? 0) - (right[i] ?? 0);
  return 0;
};

/** True for a Unicorn with the store fix for non-executable RAM and the virtual TLB (2.1.0 and later). */
export const hasFastStores = (version: string): boolean => compareVersions(version, '2.1.0') >= 0;

export class EngineNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineNotFoundError';
  }
}

export function installHint(platform: NodeJS.Platform = process.platform): string {
  return platform === 'darwin' ? 'brew install unicorn' : 'sudo apt-get install -y libunicorn2';
}

/**
 * Chooses the library: UNICORN_LIB when set (an error if it fails its check, never a silent fallback);
 * otherwise the first candidate of the newest verified version, so a 2.1.x anywhere beats Debian's 2.0.1.
 */
export function chooseEngine(options: LocateOptions = {}): EngineChoice {
  const platform = options.platform ?? process.platform;
  const verify = options.verify ?? verifyCached;
  const rejected: string[] = [];
  let best: EngineChoice | null = null;
  for (const candidate of candidateStream(options)) {
    const verdict = verify(candidate.path);
    if (!verdict.ok) {
      if (candidate.source === 'UNICORN_LIB') {
        const shown = candidate.path.slice(0, 80);
        throw new EngineNotFoundError(`UNICORN_LIB=${shown} is not a working Unicorn 2: ${verdict.reason}`);
      }
      rejected.push(`${candidate.path}: ${verdict.reason}`);
      continue;
    }
    if (!best || compareVersions(verdict.version, best.version) > 0) {
      best = { path: candidate.path, version: verdict.version, source: candidate.source };
    }
    if (hasFastStores(best.version)) break;
  }
  if (best) return best;
  const detail = rejected.length > 0 ? ` (rejected: ${rejected.join('; ')})` : '';
  throw new EngineNotFoundError(
    `Unicorn 2 emulator library not found${detail}; install it with: ${installHint(platform)}` +
      " (or set UNICORN_LIB to libunicorn's path)",
  );
}

// ---- verification ------------------------------------------------------------------------------

// Runs in a child node: loads the library, reads uc_version, and runs `movs r0, #42; adds r0, #1` on an
// M-profile core twice: to its end (r0 = 43) and with an instruction count of 1 (r0 = 42). Prints one JSON line.
const SELF_TEST = `
const koffi = require(process.argv[1]);
const path = process.argv[2];
const say = (value) => { process.stdout.write(JSON.stringify(value) + '\\n'); process.exit(0); };
let lib;
try {
  lib = koffi.load(path);
} catch (error) {
  say({ ok: false, reason: 'does not load: ' + String(error.message).split('\\n')[0].slice(0, 120) });
}
const fn = (signature) => {
  try { return lib.func(signature); } catch { say({ ok: false, reason: 'missing ' + signature.split('(')[0].split(' ').pop() }); }
};
koffi.opaque('tlsf_probe_engine');
const uc_version = fn('unsigned int uc_version(void *major, void *minor)');
const uc_open = fn('int uc_open(int arch, int mode, _Out_ tlsf_probe_engine **uc)');
const uc_close = fn('int uc_close(tlsf_probe_engine *uc)');
const uc_mem_map = fn('int uc_mem_map(tlsf_probe_engine *uc, uint64_t address, size_t size, uint32_t perms)');
const uc_mem_write = fn('int uc_mem_write(tlsf_probe_engine *uc, uint64_t address, const void *bytes, size_t size)');
const uc_reg_read = fn('int uc_reg_read(tlsf_probe_engine *uc, int regid, _Out_ uint64_t *value)');
const uc_emu_start = fn('int uc_emu_start(tlsf_probe_engine *uc, uint64_t begin, uint64_t until, uint64_t timeout, '
  + 'size_t count)');
const packed = uc_version(null, null) >>> 0;
const version = [packed >>> 24, (packed >>> 16) & 255, (packed >>> 8) & 255].join('.');
if (packed >>> 24 !== 2) say({ ok: false, reason: 'version ' + version + ', not Unicorn 2' });
const out = [null];
let code = uc_open(1, 16 | 32, out);
if (code !== 0) say({ ok: false, reason: 'uc_open(ARM, THUMB|MCLASS) failed with uc_err ' + code });
const uc = out[0];
const run = (count) => {
  code = uc_emu_start(uc, 0x1001, 0x1004, 0, count);
  if (code !== 0) say({ ok: false, reason: 'the self-test run failed with uc_err ' + code });
  const value = [0n];
  uc_reg_read(uc, 66, value);
  return Number(BigInt(value[0]) & 0xffffffffn);
};
if (uc_mem_map(uc, 0x1000, 0x1000, 5) !== 0) say({ ok: false, reason: 'uc_mem_map failed' });
uc_mem_write(uc, 0x1000, Buffer.from([0x2a, 0x20, 0x01, 0x30, 0x00, 0xbf]), 6);
const full = run(0);
const counted = run(1);
uc_close(uc);
if (full !== 43 || counted !== 42) {
  say({ ok: false, reason: 'the self-test computed ' + full + '/' + counted + ' instead of 43/42' });
}
say({ ok: true, version });
`;

/** Checks one library in a child process: loads, has the calls the board uses, runs three Thumb instructions. */
export function verifyInChild(path: string): EngineVerdict {
  const koffiPath = createRequire(import.meta.url).resolve('koffi');
  const result = spawnSync(process.execPath, ['-e', SELF_TEST, koffiPath, path], { encoding: 'utf8', timeout: 20_000 });
  const line = result.stdout?.trim().split('\n').pop() ?? '';
  try {
    const verdict = JSON.parse(line) as EngineVerdict;
    if (typeof verdict.ok === 'boolean') return verdict;
  } catch {
    // fall through: the child crashed or printed something else
  }
  const how = result.error
    ? result.error.message
    : result.signal
      ? `killed by ${result.signal}`
      : `exit status ${result.status}`;
  return { ok: false, reason: `the self-test process failed (${how})` };
}

// ---- verdict cache -----------------------------------------------------------------------------

/** The per-user cache directory: TLSF_SIM_CACHE_DIR, else the platform's (XDG on Linux). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.TLSF_SIM_CACHE_DIR) return env.TLSF_SIM_CACHE_DIR;
  if (platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'tlsf-sim');
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'tlsf-sim');
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tlsf-sim');
}

interface CachedVerdict {
  size: number;
  mtimeMs: number;
  verdict: EngineVerdict;
}
type VerdictCache = Record<string, CachedVerdict>;
const CACHE_FILE = 'engines.json';
const PYTHON_CACHE_FILE = 'python-unicorn.json';

/** Written whole or not at all (a temporary file renamed): test processes in parallel share the cache. */
function writeCacheFile(file: string, value: unknown): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(value, null, 1));
    renameSync(temporary, file);
  } catch {
    // read-only home: work it out again next time
  }
}

function readCache(file: string): VerdictCache {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as VerdictCache) : {};
  } catch {
    return {};
  }
}

/** verifyInChild, remembered per real path, size and mtime; a cache that cannot be written only costs time. */
export function verifyCached(path: string, env: NodeJS.ProcessEnv = process.env): EngineVerdict {
  let key: string;
  let size: number;
  let mtimeMs: number;
  try {
    key = realpathSync(path);
    const stat = statSync(key);
    size = stat.size;
    mtimeMs = stat.mtimeMs;
  } catch {
    return verifyInChild(path); // a bare name resolved by the loader: nothing to key the verdict on
  }
  const file = join(cacheDir(env), CACHE_FILE);
  const cache = readCache(file);
  const hit = cache[key];
  if (hit && hit.size === size && hit.mtimeMs === mtimeMs) return hit.verdict;
  const verdict = verifyInChild(path);
  cache[key] = { size, mtimeMs, verdict };
  writeCacheFile(file, cache);
  return verdict;
}

let chosen: EngineChoice | undefined;

/** The engine for this process, chosen once. */
export function selectedEngine(): EngineChoice {
  chosen ??= chooseEngine();
  return chosen;
}

/** For `tlsf-sim` diagnostics: every candidate with its verdict. */
export function describeEngines(options: LocateOptions = {}): Array<EngineCandidate & { verdict: EngineVerdict }> {
  const verify = options.verify ?? verifyCached;
  return engineCandidates(options).map((candidate) => ({ ...candidate, verdict: verify(candidate.path) }));
}
