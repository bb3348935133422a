import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../engine.js';

// The report page's script and style: src/cli/html/page bundled by esbuild with uPlot and the allocator, once
// at `npm run build` (dist/html-page/), so the CLI needs no bundler at run time. In a checkout whose sources
// are newer than the bundle, the bundle is rebuilt first (esbuild is a dev dependency there).

export interface PageBundle {
  script: string;
  style: string;
}

const SCRIPT = 'page.js';
const STYLE = 'page.css';
const INPUTS = 'inputs.json';

export function bundleDirectory(): string {
  return join(packageRoot(), 'dist', 'html-page');
}

function uplotLicence(): string {
  return join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'LICENSE');
}

function pageSource(): string {
  return join(packageRoot(), 'src', 'cli', 'html', 'page', 'main.ts');
}

/**
 * Modules the page reuses from the CLI import the board and the engine, which load the emulator. In the page
 * those imports resolve to small stand-ins (page/board-stand-in.ts, page/engine-stand-in.ts) that provide the
 * few pure functions actually reached: the TLSF heap factory and symbol lookup.
 */
const STAND_INS: [RegExp, string][] = [
  [/(^|\/)board\/index\.js$/, 'board-stand-in.ts'],
  [/(^|\/)engine\.js$/, 'engine-stand-in.ts'],
];

/**
 * Bundles the page into `outdir`. Built in a private directory and renamed into place file by file, so a
 * command reading the bundle meanwhile (parallel test files) sees the old files or the new ones, never half.
 */
export async function buildPageBundle(outdir = bundleDirectory()): Promise<void> {
  const esbuild = await import('esbuild');
  const pageDirectory = dirname(pageSource());
  mkdirSync(outdir, { recursive: true });
  const building = mkdtempSync(join(outdir, '.building-'));
  try {
    await bundleInto(esbuild, pageDirectory, building);
    for (const file of [STYLE, INPUTS, SCRIPT]) renameSync(join(building, file), join(outdir, file));
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

async function bundleInto(esbuild: typeof import('esbuild'), pageDirectory: string, outdir: string): Promise<void> {
  const result = await esbuild.build({
    entryPoints: { page: pageSource() },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    outdir,
    metafile: true,
    // uPlot's MIT licence asks for its notice in every copy; its own header is not kept by minification.
    banner: { js: `/*! uPlot: ${readFileSync(uplotLicence(), 'utf8').trim().replace(/\*\//g, '* /')} */` },
    logLevel: 'error',
    plugins: [
      {
        name: 'tlsf-sim-page-stand-ins',
        setup(build) {
          build.onResolve({ filter: /\.js$/ }, (args) => {
            if (args.importer.startsWith(pageDirectory)) return undefined;
            const standIn = STAND_INS.find(([pattern]) => pattern.test(args.path));
            return standIn ? { path: join(pageDirectory, standIn[1]) } : undefined;
          });
        },
      },
    ],
  });
  const inputs = Object.keys(result.metafile.inputs).map((input) => resolve(input));
  writeFileSync(join(outdir, INPUTS), `${JSON.stringify(inputs)}\n`);
}

function stale(directory: string): boolean {
  const script = join(directory, SCRIPT);
  if (!existsSync(script)) return true;
  if (!existsSync(pageSource())) return false; // an installed package: no sources to compare with
  const built = statSync(script).mtimeMs;
  try {
    const inputs = JSON.parse(readFileSync(join(directory, INPUTS), 'utf8')) as string[];
    return inputs.some((input) => !existsSync(input) || statSync(input).mtimeMs > built);
  } catch {
    return true;
  }
}

let cached: PageBundle | undefined;

/** The bundle loaded by loadPageBundle, for the synchronous commands (run --html, check --html-dir). */
export function loadedPageBundle(): PageBundle {
  if (!cached) throw new Error('the report page bundle was not loaded first (loadPageBundle)');
  return cached;
}

/** The bundle, built or rebuilt first when needed (async: esbuild's plugin API is). */
export async function loadPageBundle(): Promise<PageBundle> {
  if (cached) return cached;
  const directory = bundleDirectory();
  if (stale(directory)) {
    try {
      await buildPageBundle(directory);
    } catch (error) {
      if (!existsSync(join(directory, SCRIPT))) {
        const reason = (error as Error).message;
        throw new Error(
          `the report page is not built (${join(directory, SCRIPT)}) and cannot be built here: ${reason}; run npm run build`,
        );
      }
    }
  }
  cached = {
    script: readFileSync(join(directory, SCRIPT), 'utf8'),
    style: readFileSync(join(directory, STYLE), 'utf8'),
  };
  return cached;
}

// `node dist/src/cli/html/page-bundle.js`: the build step.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await buildPageBundle();
}
