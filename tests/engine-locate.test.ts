// Finding and checking the Unicorn library (src/board/engine-locate.ts).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  chooseEngine,
  engineCandidates,
  EngineNotFoundError,
  hasFastStores,
  PROJECT_PYTHON_DIR,
  verifyCached,
  verifyInChild,
  type EngineVerdict,
} from '../src/board/engine-locate.js';

const DEBIAN_LIBRARY = '/usr/lib/x86_64-linux-gnu/libunicorn.so.2';

/** A project root with a fake library where setup.sh's `pip install --target` puts one, and a fake Python package. */
function fakeInstall(): { root: string; projectLibrary: string; pythonDir: string; pythonLibrary: string } {
  const root = mkdtempSync(join(tmpdir(), 'tlsf-engine-'));
  const projectLibrary = join(root, PROJECT_PYTHON_DIR, 'unicorn', 'lib', 'libunicorn.so.2');
  const pythonDir = join(root, 'site-packages', 'unicorn');
  const pythonLibrary = join(pythonDir, 'lib', 'libunicorn.so.2');
  for (const file of [projectLibrary, pythonLibrary]) {
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, 'not really a library');
  }
  return { root, projectLibrary, pythonDir, pythonLibrary };
}

const linux = { platform: 'linux' as const, env: { HOME: '/nonexistent-home', PATH: '' } };

describe('engine candidates', () => {
  it('UNICORN_LIB is the only candidate when set', () => {
    const install = fakeInstall();
    const list = engineCandidates({
      ...linux,
      env: { UNICORN_LIB: '/opt/x/libunicorn.so.2' },
      projectRoot: install.root,
      pythonPackageDir: () => install.pythonDir,
    });
    expect(list).toEqual([{ path: '/opt/x/libunicorn.so.2', source: 'UNICORN_LIB' }]);
  });

  it('lists the project-local wheel, then the Python package, then system libraries; only files that exist', () => {
    const install = fakeInstall();
    const list = engineCandidates({ ...linux, projectRoot: install.root, pythonPackageDir: () => install.pythonDir });
    expect(list[0]).toEqual({ path: install.projectLibrary, source: 'project' });
    const python = list.findIndex((candidate) => candidate.path === install.pythonLibrary);
    expect(list[python]).toEqual({ path: install.pythonLibrary, source: 'python' });
    for (const candidate of list) expect(existsSync(candidate.path)).toBe(true);
    if (existsSync(DEBIAN_LIBRARY)) {
      expect(list).toContainEqual({ path: DEBIAN_LIBRARY, source: 'system' });
      expect(list.findIndex((candidate) => candidate.path === DEBIAN_LIBRARY)).toBeGreaterThan(python);
    }
  });

  it('does not ask python3 when a verified 2.1.x is found before it', () => {
    const install = fakeInstall();
    let asked = 0;
    const choice = chooseEngine({
      ...linux,
      projectRoot: install.root,
      pythonPackageDir: () => {
        asked++;
        return install.pythonDir;
      },
      verify: () => ({ ok: true, version: '2.1.4' }),
    });
    expect(choice).toEqual({ path: install.projectLibrary, version: '2.1.4', source: 'project' });
    expect(asked).toBe(0);
  });
});

describe('choosing an engine', () => {
  it('prefers a later 2.1.x over an earlier 2.0.x and skips libraries that fail their check', () => {
    const install = fakeInstall();
    const verdicts = new Map<string, EngineVerdict>([
      [install.projectLibrary, { ok: false, reason: 'does not load' }],
      [install.pythonLibrary, { ok: true, version: '2.1.4' }],
    ]);
    const choice = chooseEngine({
      ...linux,
      projectRoot: install.root,
      pythonPackageDir: () => install.pythonDir,
      verify: (path) => verdicts.get(path) ?? { ok: true, version: '2.0.1' },
    });
    expect(choice).toEqual({ path: install.pythonLibrary, version: '2.1.4', source: 'python' });
  });

  it('falls back to 2.0.1 when nothing newer works', () => {
    const install = fakeInstall();
    const choice = chooseEngine({
      ...linux,
      projectRoot: install.root,
      pythonPackageDir: () => null,
      verify: (path) =>
        path === install.projectLibrary ? { ok: false, reason: 'bad' } : { ok: true, version: '2.0.1' },
    });
    expect(choice.version).toBe('2.0.1');
    expect(choice.path).not.toBe(install.projectLibrary);
  });

  it('a failing UNICORN_LIB is an error naming it, never a silent fallback', () => {
    expect(() =>
      chooseEngine({
        ...linux,
        env: { UNICORN_LIB: '/nope/libunicorn.so.2' },
        verify: () => ({ ok: false, reason: 'does not load' }),
      }),
    ).toThrow(new EngineNotFoundError('UNICORN_LIB=/nope/libunicorn.so.2 is not a working Unicorn 2: does not load'));
  });

  it('no working library: one line naming the install command', () => {
    const install = fakeInstall();
    let message = '';
    try {
      chooseEngine({
        ...linux,
        projectRoot: install.root,
        pythonPackageDir: () => null,
        verify: () => ({ ok: false, reason: 'broken' }),
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(
      /^Unicorn 2 emulator library not found \(rejected: .*\); install it with: sudo apt-get install -y libunicorn2/,
    );
    expect(message).not.toContain('\n');
  });

  it('version thresholds', () => {
    expect(hasFastStores('2.0.1')).toBe(false);
    expect(hasFastStores('2.1.0')).toBe(true);
    expect(hasFastStores('2.10.0')).toBe(true);
  });
});

describe('verifying a library', () => {
  it('rejects a file that is not a library, in one line', () => {
    const install = fakeInstall();
    const verdict = verifyInChild(install.projectLibrary);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) {
      expect(verdict.reason).toMatch(/^does not load: /);
      expect(verdict.reason).not.toContain('\n');
    }
  });

  it.runIf(existsSync(DEBIAN_LIBRARY))('accepts a real Unicorn 2 and reads its full version', () => {
    const verdict = verifyInChild(DEBIAN_LIBRARY);
    expect(verdict).toMatchObject({ ok: true });
    if (verdict.ok) expect(verdict.version).toMatch(/^2\.\d+\.\d+$/);
  });

  it('rejects a shared library that is not Unicorn', () => {
    const other = [
      '/lib/x86_64-linux-gnu/libz.so.1',
      '/usr/lib/x86_64-linux-gnu/libz.so.1',
      '/usr/lib/libz.dylib',
    ].find(existsSync);
    if (!other) return;
    expect(verifyInChild(other)).toEqual({ ok: false, reason: 'missing uc_version' });
  });

  it('caches a verdict per path, size and mtime, and checks again when the file changes', () => {
    const install = fakeInstall();
    const cache = join(install.root, 'cache');
    const env = { TLSF_SIM_CACHE_DIR: cache };
    const first = verifyCached(install.projectLibrary, env);
    expect(first.ok).toBe(false);
    // Plant a different verdict for the same file: a cache hit returns it without running the check.
    const file = join(cache, 'engines.json');
    const entries = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { verdict: EngineVerdict }>;
    const key = Object.keys(entries)[0]!;
    entries[key]!.verdict = { ok: true, version: '9.9.9' };
    writeFileSync(file, JSON.stringify(entries));
    expect(verifyCached(install.projectLibrary, env)).toEqual({ ok: true, version: '9.9.9' });
    const stat = statSync(install.projectLibrary);
    utimesSync(install.projectLibrary, stat.atime, new Date(stat.mtimeMs + 5000));
    expect(verifyCached(install.projectLibrary, env).ok).toBe(false);
  });
});
