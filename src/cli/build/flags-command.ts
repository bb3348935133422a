// `tlsf-sim flags`: the flags of `tlsf-sim build`, printed for Make and CMake (firmware-sim/cmake uses it),
// pkg-config style: one line of words per request, or all of them as Make variables.
import { InputError } from '../errors.js';
import type { CliIo } from '../options.js';
import { resolveFlags, type FlagOptions } from './build-command.js';
import { shellJoin } from './toolchain-flags.js';

export interface FlagsFlags extends FlagOptions {
  cflags?: boolean;
  cxxflags?: boolean;
  ldflags?: boolean;
  sources?: boolean;
  cxx?: boolean;
}

export async function flagsCommand(options: FlagsFlags, io: CliIo): Promise<number> {
  const wanted = (['cflags', 'cxxflags', 'ldflags', 'sources'] as const).filter((name) => options[name] === true);
  if (wanted.length > 1) {
    const given = wanted.map((name) => `--${name}`).join(', ');
    throw new InputError(`flags: give one of --cflags, --cxxflags, --ldflags, --sources (got ${given})`);
  }
  const { flags } = await resolveFlags(options, options.cxx === true, io);
  if (wanted.length === 1) {
    io.stdout.write(`${shellJoin(flags[wanted[0]!])}\n`);
    return 0;
  }
  // No choice: every list as a Make variable, for `include` (tlsf-sim flags --board B > tlsf-sim.mk).
  io.stdout.write(
    `TLSF_SIM_CFLAGS := ${shellJoin(flags.cflags)}\n` +
      `TLSF_SIM_CXXFLAGS := ${shellJoin(flags.cxxflags)}\n` +
      `TLSF_SIM_LDFLAGS := ${shellJoin(flags.ldflags)}\n` +
      `TLSF_SIM_SOURCES := ${shellJoin(flags.sources)}\n`,
  );
  return 0;
}
