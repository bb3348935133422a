// The firmware-sim scenario ELFs (firmware-sim/elf/<board>/*.elf) on every built-in board.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listBoards, loadBoard, runFirmware } from '../src/board/index.js';

const firmwareDir = join(import.meta.dirname, '..', 'firmware-sim');
const scenariosPath = join(firmwareDir, 'scenarios.json');
interface Scenario { name: string; elf: string; minRam: number; minHeap?: number }
const scenarios: Scenario[] = existsSync(scenariosPath) ? JSON.parse(readFileSync(scenariosPath, 'utf8')) as Scenario[] : [];

const elfPath = (scenario: Scenario, board: string) => join(firmwareDir, scenario.elf.replace('{board}', board));

describe.skipIf(scenarios.length === 0)('firmware-sim scenarios on every board', () => {
  for (const board of listBoards()) {
    it(`${board.name}: every scenario finishes ok, or out-of-memory where the board has less RAM than it needs`, () => {
      for (const scenario of scenarios) {
        const path = elfPath(scenario, board.name);
        if (!existsSync(path)) continue;
        const report = runFirmware({ elf: readFileSync(path), elfName: `${scenario.name}.elf`, board: loadBoard(board.name), maxInstructions: 5e8 });
        // scenarios.json states the smallest heap each scenario completes in.
        if (report.heapSize >= (scenario.minHeap ?? 0)) {
          expect(report.result, `${scenario.name} on ${board.name}: ${report.message}`).toBe('ok');
          expect(report.output.length, scenario.name).toBeGreaterThan(0);
          expect(report.ops.malloc + report.ops.calloc + report.ops.realloc).toBeGreaterThan(0);
          expect(report.peakUsed).toBeGreaterThan(0);
          expect(report.peakUsed).toBeLessThanOrEqual(report.heapSize);
          expect(report.peakSpan).toBeLessThanOrEqual(report.heapSize);
        } else {
          expect(report.result, `${scenario.name} on ${board.name}: ${report.message}`).toBe('out-of-memory');
        }
      }
    });
  }

  it('no false alarms: every scenario passes with --guard and the alignment check (Armv6-M and Armv7-M)', () => {
    for (const boardName of ['rp2040', 'stm32f411re']) {
      for (const scenario of scenarios) {
        const path = elfPath(scenario, boardName);
        if (!existsSync(path)) continue;
        const report = runFirmware({ elf: readFileSync(path), board: loadBoard(boardName), guard: true, alignmentCheck: true, maxInstructions: 5e8 });
        expect(report.result, `${scenario.name} on ${boardName}: ${report.message}`).toBe('ok');
      }
    }
  });
});
