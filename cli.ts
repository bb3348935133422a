#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { main } from './src/cli/program.js';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

// process.exitCode rather than process.exit(): stdout may still be draining into a pipe.
process.exitCode = await main(process.argv, undefined, packageJson.version);
