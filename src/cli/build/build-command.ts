// `tlsf-sim build`: compiles and links a user's C/C++ sources with the runtime for a board, using the flags
// of toolchain-flags.ts. C-only programs are one compiler command (what a user would type); programs with
// C++ are compiled per file, because the C++ defaults (-fno-rtti) draw a warning from every C compile.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join, relative, resolve } from 'node:path';
import { parseElf } from '../../board/index.js';
import { firmwareDirectory } from '../engine.js';
import { InputError } from '../errors.js';
import type { CliIo } from '../options.js';
import { formatBytes, parseSize } from '../units.js';
import { resolveBuildTarget, type BuildTarget } from './board-target.js';
import { checkToolchain, toolchainFor } from './toolchain.js';
import {
  CORE_FPU,
  defaultFloatAbi,
  FLOAT_ABIS,
  LIBCS,
  machineFlags,
  OPTIMISATION_LEVELS,
  shellJoin,
  toolchainFlags,
  type FloatAbi,
  type Libc,
  type ToolchainFlags,
} from './toolchain-flags.js';

/** Options shared by `build` and `flags`, as commander hands them over. */
export interface FlagOptions {
  board?: string;
  stack?: string;
  optimize?: string;
  libc?: string;
  floatIo?: boolean;
  floatAbi?: string;
}

export interface BuildFlags extends FlagOptions {
  output?: string;
  include?: string[];
  define?: string[];
  lib?: string[];
  verbose?: boolean;
}

const C_EXTENSIONS = new Set(['.c']);
const CXX_EXTENSIONS = new Set(['.cpp', '.cc', '.cxx', '.c++', '.C']);
const ASSEMBLER_EXTENSIONS = new Set(['.s', '.S']);
const LINK_INPUT_EXTENSIONS = new Set(['.o', '.a']);

// Members of the C libraries' own allocators; the runtime's shim defines every symbol they do, so none may
// appear in the link map (firmware-sim/Makefile checks the built-in scenarios the same way).
const NEWLIB_ALLOCATOR_MEMBERS = [
  'mallocr',
  'freer',
  'reallocr',
  'callocr',
  'malignr',
  'msizer',
  'mallinfor',
  'mallstatsr',
  'malloptr',
  'vallocr',
  'pvallocr',
  'cfreer',
  'malloc',
  'calloc',
  'realloc',
  'malign',
  'msize',
  'mstats',
  'mtrim',
  'valloc',
  'reallocf',
];
const LIBC_ALLOCATOR_OBJECTS = new RegExp(
  `lib_a-(?:nano-)?(?:${NEWLIB_ALLOCATOR_MEMBERS.join('|')})\\.o|nano-malloc-[a-z_]+\\.c\\.o`,
  'g',
);

export interface ResolvedFlags {
  target: BuildTarget;
  libc: Libc;
  floatIo: boolean;
  floatAbi: FloatAbi;
  /** -mcpu, -mthumb, -mfloat-abi and -mfpu: what selects the C library's multilib. */
  machineFlags: string[];
  flags: ToolchainFlags;
}

export function parseLibc(text: string | undefined): Libc {
  const libc = text ?? 'newlib-nano';
  if (!(LIBCS as readonly string[]).includes(libc))
    throw new InputError(`--libc: "${libc.slice(0, 80)}" is not one of ${LIBCS.join(', ')}`);
  return libc as Libc;
}

export function parseStack(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const bytes = parseSize(text, '--stack');
  // common.ld asserts this too, but only after a whole compile, and in the linker's words.
  if (bytes === 0 || bytes % 8 !== 0) {
    throw new InputError(
      `--stack: "${text.slice(0, 80)}" must be a positive multiple of 8 bytes (the AAPCS stack alignment)`,
    );
  }
  return bytes;
}

export function parseOptimisation(text: string | undefined): string {
  const level = (text ?? 's').replace(/^-?O/, '');
  if (!OPTIMISATION_LEVELS.includes(level))
    throw new InputError(`-O: "${String(text).slice(0, 80)}" is not one of ${OPTIMISATION_LEVELS.join(', ')}`);
  return level;
}

/** --float-abi: soft, softfp or hard; the last two only on a core with an FPU. Default: defaultFloatAbi. */
export function parseFloatAbi(text: string | undefined, board: { name: string; cpu: string }): FloatAbi {
  if (text === undefined) return defaultFloatAbi(board.cpu);
  if (!(FLOAT_ABIS as readonly string[]).includes(text))
    throw new InputError(`--float-abi: "${text.slice(0, 80)}" is not one of ${FLOAT_ABIS.join(', ')}`);
  if (text !== 'soft' && !CORE_FPU[board.cpu]) {
    throw new InputError(
      `--float-abi ${text}: board ${board.name}'s core (${board.cpu}) has no FPU; only soft float runs there`,
    );
  }
  return text as FloatAbi;
}

/** The board, the C library and every flag, from the options `build` and `flags` share. */
export async function resolveFlags(options: FlagOptions, cxx: boolean, io: CliIo): Promise<ResolvedFlags> {
  if (!options.board)
    throw new InputError('--board is required: a built-in board name (see `tlsf-sim boards`) or a board JSON file');
  const libc = parseLibc(options.libc);
  if (cxx && libc === 'picolibc') {
    throw new InputError(
      'C++ with --libc picolibc is not supported: the C++ library installed with the cross compiler is built for newlib',
    );
  }
  const stackSize = parseStack(options.stack);
  const optimisation = parseOptimisation(options.optimize);
  const target = await resolveBuildTarget(options.board, io.env, io.cwd);
  const floatIo = options.floatIo !== false;
  const floatAbi = parseFloatAbi(options.floatAbi, target.board);
  const flags = toolchainFlags({
    firmwareDir: firmwareDirectory(),
    cpuFlags: target.cpuFlags,
    cpu: target.board.cpu,
    floatAbi,
    linkerScript: target.linkerScript,
    linkerDirs: target.linkerDirs,
    libc,
    floatIo,
    cxx,
    optimisation,
    stackSize,
  });
  return {
    target,
    libc,
    floatIo,
    floatAbi,
    machineFlags: machineFlags(target.cpuFlags, target.board.cpu, floatAbi),
    flags,
  };
}

interface SourceFile {
  path: string;
  language: 'c' | 'c++' | 'assembler' | 'link';
}

function classifySources(sources: string[], cwd: string): SourceFile[] {
  if (sources.length === 0) throw new InputError('build: give at least one source file (.c, .cpp, .s, .o or .a)');
  return sources.map((source) => {
    const path = resolve(cwd, source);
    if (!existsSync(path)) throw new InputError(`build: source ${source.slice(0, 80)}: no such file`);
    if (!statSync(path).isFile()) throw new InputError(`build: source ${source.slice(0, 80)} is not a file`);
    const extension = extname(path);
    if (C_EXTENSIONS.has(extension)) return { path, language: 'c' };
    if (CXX_EXTENSIONS.has(extension)) return { path, language: 'c++' };
    if (ASSEMBLER_EXTENSIONS.has(extension)) return { path, language: 'assembler' };
    if (LINK_INPUT_EXTENSIONS.has(extension)) return { path, language: 'link' };
    throw new InputError(
      `build: source ${source.slice(0, 80)}: unknown kind of file (expected .c, .cpp/.cc/.cxx, .s/.S, .o or .a)`,
    );
  });
}

/** A hint for a failure the user can fix with one of build's own options. */
type Hint = (diagnostics: string) => string | undefined;

function flashHint(resolved: ResolvedFlags): Hint {
  return (diagnostics) =>
    resolved.floatIo && resolved.libc === 'newlib-nano' && /region `?FLASH'? overflowed/.test(diagnostics)
      ? ' (float printf/scanf add up to 23 KiB of flash; --no-float-io leaves them out)'
      : undefined;
}

function runCompiler(command: string[], cwd: string, io: CliIo, verbose: boolean, hint?: Hint): void {
  if (verbose) io.stdout.write(`${shellJoin(command)}\n`);
  const result = spawnSync(command[0]!, command.slice(1), { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new InputError(`build: cannot run ${command[0]}: ${result.error.message}`);
  // The compiler's own diagnostics, unchanged: they name the user's file and line.
  if (result.stdout) io.stderr.write(result.stdout);
  if (result.stderr) io.stderr.write(result.stderr);
  if (result.status !== 0) {
    const why = hint?.(`${result.stdout ?? ''}${result.stderr ?? ''}`) ?? '';
    throw new InputError(
      `build: ${basename(command[0]!)} failed (exit ${result.status ?? result.signal}); its messages are above${why}`,
    );
  }
}

/** Builds the firmware. Throws InputError for bad input and compiler failures. */
export async function buildFirmware(
  sourceArguments: string[],
  options: BuildFlags,
  extraFlags: string[],
  io: CliIo,
): Promise<{ output: string; resolved: ResolvedFlags }> {
  const sources = classifySources(sourceArguments, io.cwd);
  const cxx = sources.some((source) => source.language === 'c++');
  const resolved = await resolveFlags(options, cxx, io);
  const toolchain = toolchainFor(io.env);
  checkToolchain(toolchain, resolved.libc, cxx, resolved.machineFlags);

  const output = resolve(
    io.cwd,
    options.output ?? `${basename(sourceArguments[0]!, extname(sourceArguments[0]!))}.elf`,
  );
  const userFlags = [
    ...(options.include ?? []).map((directory) => `-I${directory}`),
    ...(options.define ?? []).map((definition) => `-D${definition}`),
    ...extraFlags,
  ];
  const libraries = (options.lib ?? []).map((library) => `-l${library}`);
  const work = mkdtempSync(join(tmpdir(), 'tlsf-sim-build-'));
  try {
    const map = join(work, 'link.map');
    const { flags } = resolved;
    const runtime: SourceFile[] = flags.sources.map((path) => ({
      path,
      language: CXX_EXTENSIONS.has(extname(path)) ? 'c++' : 'c',
    }));
    const all = [...sources, ...runtime];
    if (!cxx) {
      // gcc refuses a specs file given twice, and the CPU flags need saying once: the link flags minus those.
      const linkOnly = flags.ldflags.filter((word) => !flags.cflags.includes(word));
      runCompiler(
        [
          toolchain.gcc,
          ...flags.cflags,
          ...userFlags,
          ...all.map((source) => source.path),
          ...linkOnly,
          ...libraries,
          `-Wl,-Map=${map}`,
          '-o',
          output,
        ],
        io.cwd,
        io,
        options.verbose === true,
        flashHint(resolved),
      );
    } else {
      const objects = all.map((source, index) => {
        if (source.language === 'link') return source.path;
        const object = join(work, `${index}-${basename(source.path)}.o`);
        const compiler = source.language === 'c++' ? toolchain.gxx : toolchain.gcc;
        const compileFlags = source.language === 'c++' ? flags.cxxflags : flags.cflags;
        runCompiler(
          [compiler, ...compileFlags, ...userFlags, '-c', source.path, '-o', object],
          io.cwd,
          io,
          options.verbose === true,
        );
        return object;
      });
      runCompiler(
        [toolchain.gxx, ...flags.ldflags, ...userFlags, ...objects, ...libraries, `-Wl,-Map=${map}`, '-o', output],
        io.cwd,
        io,
        options.verbose === true,
        flashHint(resolved),
      );
    }
    checkAllocatorNotLinked(readFileSync(map, 'utf8'), output, resolved.libc);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { output, resolved };
}

/** The C libraries' allocator objects a linker map lists (none, for a good link). */
export function allocatorObjectsInMap(map: string): string[] {
  return [...new Set(map.match(LIBC_ALLOCATOR_OBJECTS) ?? [])];
}

function checkAllocatorNotLinked(map: string, output: string, libc: Libc): void {
  const found = allocatorObjectsInMap(map);
  if (found.length > 0) {
    rmSync(output, { force: true });
    const objects = found.slice(0, 4).join(', ');
    throw new InputError(
      `build: ${libc}'s own allocator was linked (${objects}); something in the link needs it beside the TLSF heap shim`,
    );
  }
}

/** One line about what was built: the memory the image takes, from the ELF's own symbols. */
export function describeFirmware(path: string, resolved: ResolvedFlags, shownAs = path): string {
  const image = parseElf(readFileSync(path), path);
  const symbol = (name: string): number | undefined => image.symbolByName.get(name)?.value;
  const flash = image.segments.reduce((total, segment) => total + segment.fileSize, 0);
  const staticRam = (symbol('_ebss') ?? 0) - (symbol('_sdata') ?? 0);
  const heap = (symbol('__heap_end') ?? 0) - (symbol('__heap_start') ?? 0);
  const stack = symbol('__stack_size') ?? 0;
  const { board } = resolved.target;
  const io = resolved.floatIo ? 'float I/O' : 'no float I/O';
  const fpu = resolved.floatAbi === 'soft' ? '' : `, ${resolved.floatAbi} float on ${CORE_FPU[board.cpu]}`;
  return (
    `${shownAs}: ${board.name} (${board.cpu}${fpu}), ${resolved.libc} with ${io}; flash ${formatBytes(flash)}, ` +
    `static RAM ${formatBytes(staticRam)} (.data, .bss, thread-locals), heap ${formatBytes(heap)}, stack ${formatBytes(stack)}`
  );
}

export async function buildCommand(
  sources: string[],
  options: BuildFlags,
  extraFlags: string[],
  io: CliIo,
): Promise<number> {
  const { output, resolved } = await buildFirmware(sources, options, extraFlags, io);
  const fromHere = relative(io.cwd, output);
  io.stdout.write(`${describeFirmware(output, resolved, fromHere.startsWith('..') ? output : fromHere)}\n`);
  return 0;
}
