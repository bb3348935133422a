// Finding the Arm cross compiler and the C library before a build, so that a missing package is one line
// naming it rather than a page of compiler errors.
import { spawnSync } from 'node:child_process';
import { InputError } from '../errors.js';
import type { Libc } from './toolchain-flags.js';

export const CROSS_PACKAGES =
  'apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib';
export const PICOLIBC_PACKAGE = 'apt-get install picolibc-arm-none-eabi';

export interface Toolchain {
  /** The prefix of every tool: arm-none-eabi- by default, TLSF_SIM_CROSS to use another install. */
  prefix: string;
  gcc: string;
  gxx: string;
}

export function toolchainFor(env: NodeJS.ProcessEnv): Toolchain {
  const prefix = env.TLSF_SIM_CROSS || 'arm-none-eabi-';
  return { prefix, gcc: `${prefix}gcc`, gxx: `${prefix}g++` };
}

/** gcc prints a bare file name back when it cannot find a file in its search path. */
function findsFile(compiler: string, flags: string[], file: string): boolean {
  const result = spawnSync(compiler, [...flags, `-print-file-name=${file}`], { encoding: 'utf8' });
  const answer = (result.stdout ?? '').trim();
  return result.status === 0 && answer !== file && answer !== '';
}

/**
 * Checks that the compiler, the chosen C library and (for C++) the C++ library are installed; throws an
 * InputError naming the packages otherwise.
 */
export function checkToolchain(toolchain: Toolchain, libc: Libc, cxx: boolean, cpuFlags: string[]): void {
  const version = spawnSync(toolchain.gcc, ['--version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    throw new InputError(`the Arm cross compiler (${toolchain.gcc}) is not installed; install it: ${CROSS_PACKAGES}`);
  }
  if (libc === 'newlib-nano' && !findsFile(toolchain.gcc, cpuFlags, 'nano.specs')) {
    throw new InputError(
      `newlib-nano (nano.specs) is not installed for ${toolchain.gcc}; install it: ${CROSS_PACKAGES}`,
    );
  }
  if (libc === 'picolibc' && !findsFile(toolchain.gcc, cpuFlags, 'picolibc.specs')) {
    throw new InputError(
      `picolibc (picolibc.specs) is not installed for ${toolchain.gcc}; install it: ${PICOLIBC_PACKAGE}`,
    );
  }
  if (cxx) {
    const gxx = spawnSync(toolchain.gxx, ['--version'], { encoding: 'utf8' });
    if (
      gxx.error ||
      gxx.status !== 0 ||
      !findsFile(toolchain.gxx, [...cpuFlags, '--specs=nano.specs'], 'libstdc++_nano.a')
    ) {
      throw new InputError(
        `C++ sources need ${toolchain.gxx} and libstdc++ for newlib; install them: ${CROSS_PACKAGES}`,
      );
    }
  }
}
