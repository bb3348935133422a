#!/usr/bin/env node
import { Command } from 'commander';
import { readFileSync } from 'node:fs';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command();
program
  .name('tlsf-sim')
  .description('A TLSF heap over the SRAM of an emulated Cortex-M microcontroller')
  .version(packageJson.version);

program.parse();
