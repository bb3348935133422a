#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { EXIT_INTERNAL } from './src/cli/errors.js';
import { main } from './src/cli/program.js';
import { tuneV8ForBoard } from './src/board/v8-tuning.js';

tuneV8ForBoard();

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

// `tlsf-sim scenarios | head` closes the pipe early: that is the reader's choice, not a crash. Output that cannot
// be written otherwise (stdout on a full disk: `> /dev/full`) is lost: one line and exit 3 (the tool could not do
// its job, the input may be fine), not a stack. A stderr that cannot be written has no one to tell: the exit code
// stays the command's.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    if (stream === process.stderr) return;
    process.stderr.write(`tlsf-sim: cannot write the output: ${error.message}\n`);
    process.exit(EXIT_INTERNAL);
  });
}

// process.exitCode rather than process.exit(): stdout may still be draining into a pipe.
process.exitCode = await main(process.argv, undefined, packageJson.version);
