// Whether this machine can build firmware: the Arm cross compiler alone is not enough, the examples link
// against newlib (nano and full), which Debian/Ubuntu ship in a separate package.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';

export const CROSS_COMPILER = 'arm-none-eabi-gcc';
export const INSTALL_HINT = 'apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi';

/**
 * null when `compiler` runs and finds newlib's nano.specs; otherwise why the firmware builds must be skipped.
 * `env` (its PATH) is where the compiler is looked up, so tests can point it at a fake compiler.
 */
export function crossToolchainProblem(compiler = CROSS_COMPILER, env: NodeJS.ProcessEnv = process.env): string | null {
  const version = spawnSync(compiler, ['--version'], { env, encoding: 'utf8' });
  if (version.error || version.status !== 0) return `${compiler} is not installed; ${INSTALL_HINT}`;
  // GCC prints the bare name back when the file is in none of its library directories.
  const specs = spawnSync(compiler, ['-print-file-name=nano.specs'], { env, encoding: 'utf8' });
  const specsPath = specs.status === 0 ? specs.stdout.trim() : '';
  if (!isAbsolute(specsPath) || !existsSync(specsPath)) {
    return `${compiler} is installed but newlib is not (no nano.specs); apt-get install libnewlib-arm-none-eabi`;
  }
  return null;
}
