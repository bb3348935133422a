import { listBoards } from '../board/index.js';
import { DEFAULT_BOARD, listScenarios } from './engine.js';
import type { CliIo } from './options.js';
import { hex } from '../allocator/index.js';
import { formatKiB } from './units.js';

function formatClock(hz: number): string {
  return `${Number((hz / 1e6).toFixed(2))} MHz`;
}

export function boardsCommand(json: boolean, io: CliIo): number {
  const boards = listBoards();
  if (json) {
    io.stdout.write(
      `${JSON.stringify({ schemaVersion: 1, command: 'boards', defaultBoard: DEFAULT_BOARD, boards }, null, 2)}\n`,
    );
    return 0;
  }
  for (const board of boards) {
    const isDefault = board.name.toLowerCase() === DEFAULT_BOARD.toLowerCase();
    const totalRam = board.ram.reduce((sum, bank) => sum + bank.size, 0);
    io.stdout.write(
      `${board.name}${isDefault ? ' (default)' : ''}: ${board.cpu}, ${formatClock(board.clockHz)}, ${formatKiB(board.flash.size)} flash, ${formatKiB(totalRam)} SRAM\n`,
    );
    io.stdout.write(`  ${board.description}\n`);
    for (const bank of board.ram) {
      io.stdout.write(
        `  ${bank.name.padEnd(10)} ${hex(bank.base)}  ${formatKiB(bank.size).padStart(9)}${bank.heap ? '  heap' : ''}\n`,
      );
    }
    io.stdout.write(`  source: ${board.source}\n\n`);
  }
  io.stdout.write('A board of your own: pass a JSON file in the same shape to --board (see docs/board.md).\n');
  return 0;
}

export function scenariosCommand(json: boolean, io: CliIo): number {
  const scenarios = listScenarios();
  if (json) {
    io.stdout.write(`${JSON.stringify({ schemaVersion: 1, command: 'scenarios', scenarios }, null, 2)}\n`);
    return 0;
  }
  for (const scenario of scenarios) {
    const needs = [
      scenario.minHeap !== undefined ? `heap ${formatKiB(scenario.minHeap)}` : undefined,
      scenario.minRam !== undefined ? `RAM ${formatKiB(scenario.minRam)}` : undefined,
    ]
      .filter(Boolean)
      .join(', ');
    io.stdout.write(`${scenario.name}${needs ? `  (needs ${needs} with default parameters)` : ''}\n`);
    io.stdout.write(`  ${scenario.description}\n`);
    if (scenario.models) io.stdout.write(`  models: ${scenario.models}\n`);
    if (scenario.basis) io.stdout.write(`  basis:  ${scenario.basis}\n`);
    for (const param of scenario.params) {
      io.stdout.write(`  --param ${`${param.name}=${param.default}`.padEnd(24)} ${param.help}\n`);
    }
    io.stdout.write('\n');
  }
  return 0;
}
