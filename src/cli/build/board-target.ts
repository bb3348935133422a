// The board half of a firmware build: the core's compiler flags and the linker script. Built-in boards use
// the committed firmware-sim/ld/<board>.ld; a board JSON file gets a script written by the same generator
// (firmware-sim/tools/gen-ld.mjs) into a cache directory, named by the hash of the file's content so that
// the same board always links the same way and an edited board gets a fresh script.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { listBoards, type BoardProfile } from '../../board/index.js';
import { firmwareDirectory, resolveBoard } from '../engine.js';
import { InputError } from '../errors.js';

export interface BuildTarget {
  board: BoardProfile;
  /** The board JSON's content hash for a user board; undefined for a built-in one. */
  boardHash?: string;
  cpuFlags: string[];
  linkerScript: string;
  linkerDirs: string[];
}

interface LinkerScriptGenerator {
  cpuFlags: Record<string, string>;
  normaliseBoard(raw: unknown, source: string): unknown;
  linkerScript(board: unknown, origin?: string): string;
}

let generator: LinkerScriptGenerator | undefined;

async function loadGenerator(): Promise<LinkerScriptGenerator> {
  generator ??= (await import(
    pathToFileURL(join(firmwareDirectory(), 'tools', 'gen-ld.mjs')).href
  )) as LinkerScriptGenerator;
  return generator;
}

/** Where generated files go: TLSF_SIM_CACHE, else $XDG_CACHE_HOME/tlsf-sim, else ~/.cache/tlsf-sim. */
export function cacheDirectory(env: NodeJS.ProcessEnv): string {
  if (env.TLSF_SIM_CACHE) return resolve(env.TLSF_SIM_CACHE);
  return join(env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'tlsf-sim');
}

/** Writes through a temporary name, so a concurrent build never reads half a file. */
export function writeFileAtomically(path: string, text: string | Uint8Array): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}

export function contentHash(bytes: string | Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

export async function resolveBuildTarget(
  boardArgument: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<BuildTarget> {
  const ldDirectory = join(firmwareDirectory(), 'ld');
  const { cpuFlags, normaliseBoard, linkerScript } = await loadGenerator();
  const wanted = boardArgument.trim().toLowerCase();
  const builtIn = listBoards().find((board) => board.name.toLowerCase() === wanted);
  if (builtIn) {
    return {
      board: builtIn,
      cpuFlags: cpuFlags[builtIn.cpu]!.split(' '),
      linkerScript: join(ldDirectory, `${builtIn.name.toLowerCase()}.ld`),
      linkerDirs: [ldDirectory],
    };
  }
  const path = resolve(cwd, boardArgument);
  // resolveBoard validates the file and names the field at fault; it is read again here for its exact bytes.
  const board = resolveBoard(existsSync(path) ? path : boardArgument);
  const boardHash = contentHash(readFileSync(path));
  const directory = join(cacheDirectory(env), 'ld');
  const script = join(directory, `${boardHash}.ld`);
  if (!existsSync(script)) {
    try {
      mkdirSync(directory, { recursive: true });
      const text = linkerScript(
        normaliseBoard(board, boardArgument),
        `board ${board.name} (a board JSON file, sha256 ${boardHash})`,
      );
      writeFileAtomically(script, text);
    } catch (error) {
      throw new InputError(
        `cannot write the linker script for board ${board.name} into ${directory}: ${(error as Error).message}`,
      );
    }
  }
  return {
    board,
    boardHash,
    cpuFlags: cpuFlags[board.cpu]!.split(' '),
    linkerScript: script,
    linkerDirs: [ldDirectory],
  };
}
