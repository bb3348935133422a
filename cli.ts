#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { main } from './src/cli/program.js';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

// `tlsf-sim scenarios | head` closes the pipe early: that is the reader's choice, not a crash.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

// process.exitCode rather than process.exit(): stdout may still be draining into a pipe.
process.exitCode = await main(process.argv, undefined, packageJson.version);
