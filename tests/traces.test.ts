// Traces measured honestly and replayed on the host (issue 10, "Traces"): the trace player's table stays out of
// the measured heap, a board run and a host replay of the same trace give the same figures, and `--host`
// replays traces larger than any board. Through the built CLI, as a user runs it.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CliResult, runCli } from './support/cli.js';
import { parseTrace } from '../src/cli/trace.js';
import { assignSlots, encodeTrace } from '../src/cli/trace-encoding.js';

const work = mkdtempSync(join(tmpdir(), 'tlsf-traces-'));

function cli(args: string[]): Promise<CliResult> {
  return runCli(args, { cwd: work });
}

function json(result: CliResult): Record<string, any> {
  expect(result.stderr, result.stderr).toBe('');
  return JSON.parse(result.stdout) as Record<string, any>;
}

function writeTrace(name: string, header: number[], lines: string[]): string {
  const path = join(work, name);
  writeFileSync(path, [...header.map(String), ...lines, ''].join('\n'));
  return path;
}

/**
 * A CS:APP-style trace with 12,000 ids, each used once as the malloc-lab traces do: about 300 blocks live at a
 * time (8..407 bytes, every 7th grown with realloc), so its own blocks need ~70 KiB while a 12-byte table entry
 * per id would need 144,000 bytes.
 */
function csappStyleTrace(): string {
  const ids = 12_000;
  const window = 300;
  const lines: string[] = [];
  for (let id = 0; id < ids; id++) {
    lines.push(`a ${id} ${8 + ((id * 37) % 400)}`);
    if (id % 7 === 0) lines.push(`r ${id} ${16 + ((id * 53) % 600)}`);
    if (id >= window) lines.push(`f ${id - window}`);
  }
  for (let id = ids - window; id < ids; id++) lines.push(`f ${id}`);
  return writeTrace('csapp-12000.rep', [200_000, ids, lines.length, 1], lines);
}

/** The figures both runs compute (design.md section 2). */
const FIGURES = [
  'ops',
  'peakUsed',
  'peakRequested',
  'peakSpan',
  'largestFreeAtPeak',
  'largestFree',
  'fragmentation',
  'fragmentationAtPeak',
  'controlBytes',
  'heapSize',
] as const;

describe('trace encoding', () => {
  it('renumbers ids into slots reused once freed, so the table is sized by the ids live at once', () => {
    const trace = parseTrace('a 0 8\na 1 8\nf 0\na 2 8\nf 1\na 3 8\nr 3 16\nf 2\nf 3\n');
    const { slots, slotCount } = assignSlots(trace);
    expect(slotCount).toBe(2);
    expect([...slots]).toEqual([0, 1, 0, 0, 1, 1, 1, 0, 1]);
    const encoded = encodeTrace(trace, 0x2001_0000);
    const view = new DataView(encoded.bytes.buffer);
    expect([view.getUint32(8, true), view.getUint32(12, true)]).toEqual([2, 0x2001_0000]);
  });
});

describe.concurrent('traces on the board and on the host', () => {
  it('a trace with 12,000 ids runs on the default board, its table outside the heap', async () => {
    const path = csappStyleTrace();
    const report = json(await cli(['run', path, '--json']));
    expect(report.result, report.message).toBe('ok');
    expect(report.board).toBe('stm32f411re');
    expect(report.host).toBe(false);
    expect(report.ops.malloc).toBe(12_000);
    // The player's table sits between the heap and the stack: 301 ids live at once, 12 bytes each.
    const table = /table of (\d+) bytes at 0x([0-9a-f]+)/.exec(report.output as string);
    expect(table, report.output).not.toBeNull();
    expect(Number(table![1])).toBe(301 * 12);
    expect(Number.parseInt(table![2]!, 16)).toBeGreaterThanOrEqual(report.heapBase + report.heapSize);

    // The same trace, same heap size and allocator settings, replayed on the host: the same figures.
    const host = json(await cli(['run', path, '--host', '--heap', String(report.heapSize), '--json']));
    expect(host.result).toBe('ok');
    expect(host.host).toBe(true);
    expect(host.board).toBe('host');
    for (const figure of FIGURES) expect(host[figure], figure).toEqual(report[figure]);
  });

  it("board and host figures agree with realloc and SL 2^3; with align 16 all but the start's alignment slack", async () => {
    const path = writeTrace(
      'mixed.rep',
      [],
      [
        'a 0 100',
        'a 1 2000',
        'r 0 3000',
        'a 2 17',
        'f 1',
        'r 2 5',
        'a 3 700',
        'a 4 64',
        'f 3',
        'r 4 900',
        'f 0',
        'f 2',
      ],
    );
    const board = json(await cli(['run', path, '--sl', '3', '--json']));
    expect(board.result).toBe('ok');
    const host = json(await cli(['run', path, '--host', '--heap', String(board.heapSize), '--sl', '3', '--json']));
    for (const figure of FIGURES) expect(host[figure], figure).toEqual(board[figure]);
    // The peak is inside `r 0 3000`: the old 100 and new 3000 bytes of id 0 and id 1's 2000, each with a header
    // and rounding, and nothing of the player's (its table of 5 slots would add 64 bytes).
    expect(board.peakUsed).toBeLessThanOrEqual(100 + 3000 + 2000 + 3 * 24);

    // The board's heap starts 8 bytes past a 16-byte boundary, the host's on one: block sizes are the same,
    // addresses (so the span) may differ by that slack.
    const board16 = json(await cli(['run', path, '--align', '16', '--json']));
    const host16 = json(
      await cli(['run', path, '--host', '--heap', String(board16.heapSize), '--align', '16', '--json']),
    );
    for (const figure of ['ops', 'peakUsed', 'peakRequested', 'controlBytes'] as const)
      expect(host16[figure], figure).toEqual(board16[figure]);
    expect(Math.abs(host16.peakSpan - board16.peakSpan)).toBeLessThan(16);
  });

  it('board and host agree on repeat, on failed allocations with tolerate_oom, and stop alike without it', async () => {
    const path = writeTrace('tight.rep', [], ['a 0 3000', 'a 1 3000', 'a 2 3000', 'f 1', 'r 0 5000', 'a 3 100', 'f 0']);
    const options = ['--heap', '8K', '--param', 'repeat=2', '--param', 'tolerate_oom=1', '--json'];
    const board = json(await cli(['run', path, ...options]));
    const host = json(await cli(['run', path, '--host', ...options]));
    expect(board.result).toBe('ok');
    expect(board.ops.failed).toBeGreaterThan(0);
    for (const figure of FIGURES) expect(host[figure], figure).toEqual(board[figure]);

    const stopped = await cli(['run', path, '--host', '--heap', '8K']);
    expect(stopped.code).toBe(1);
    expect(stopped.stdout).toMatch(
      /out-of-memory\n.*the trace could not continue: allocating 3000 bytes failed \(tight\.rep:3;/,
    );
  });

  it('--host replays a trace with 50 MB live, larger than any board', async () => {
    const blocks = 50;
    const lines: string[] = [];
    for (let id = 0; id < blocks; id++) lines.push(`a ${id} 1000000`);
    for (let id = 0; id < blocks; id++) lines.push(`f ${id}`);
    const path = writeTrace('desktop.rep', [], lines);
    const host = json(await cli(['run', path, '--host', '--json']));
    expect(host.result, host.message).toBe('ok');
    expect(host.host).toBe(true);
    expect(host.peakRequested).toBe(50_000_000);
    expect(host.peakUsed).toBeGreaterThanOrEqual(50_000_000);
    expect(host.heapSize).toBeGreaterThanOrEqual(64 * 1024 * 1024);
    expect(host.instructions).toBe(0);

    const text = await cli(['run', path, '--host']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^.*desktop\.rep on host: ok/);
    expect(text.stdout).toContain('ran on          the host');

    // The board cannot hold it: its RAM is far smaller.
    const board = await cli(['run', path]);
    expect(board.code).toBe(1);
  });

  it('check, min-heap, map and step take --host', async () => {
    const path = writeTrace('session.rep', [], ['a 0 512', 'a 1 256', 'r 0 1024', 'f 1', 'a 2 64', 'f 0', 'f 2']);
    const check = await cli(['check', path, '--host', '--max-peak', '2K']);
    expect(check.stdout).toMatch(/PASS\s+.*session\.rep on host\s+max-peak/);
    expect(check.code).toBe(0);
    const failing = await cli(['check', path, '--host', '--max-peak', '1K']);
    expect(failing.code).toBe(1);

    const minHeap = json(await cli(['min-heap', path, '--host', '--json']));
    expect(minHeap.board).toBe('host');
    expect(minHeap.minHeap).toBeGreaterThan(1024 + 256);
    expect(minHeap.minHeap).toBeLessThan(4096);

    const map = await cli(['map', path, '--host', '--at', 'peak']);
    expect(map.code, map.stderr).toBe(0);
    expect(map.stdout).toContain('on host');
    expect(map.stdout).toContain('every returned address matches the run');

    const step = await cli(['step', path, '--host', '--count', '3']);
    expect(step.code, step.stderr).toBe(0);
    expect(step.stdout).toMatch(/#1 malloc\(512\)/);
    expect(step.stdout).not.toContain('from 0x');
  });

  it('bad input is one line with exit 2', async () => {
    const broken = writeTrace('broken.rep', [], ['a 0 16', 'x 1']);
    const cases: [string[], RegExp][] = [
      [['run', broken, '--host'], /broken\.rep:2: unknown operation "x"/],
      [['run', 'packet-pool', '--host'], /--host replays a \.rep trace .* packet-pool is a scenario/],
      [
        ['run', writeTrace('ok.rep', [], ['a 0 16', 'f 0']), '--host', '--board', 'tiny'],
        /--board does not apply with --host/,
      ],
      [['run', join(work, 'ok.rep'), '--host', '--heap', '3072M'], /a host heap must stay below 2 GiB/],
      [['run', join(work, 'ok.rep'), '--host', '--param', 'bursts=2'], /trace-player has no parameter "bursts"/],
      [['run', join(work, 'ok.rep'), '--host', '--heap', '16'], /host heap of 16 bytes/],
      // 2,000 ids live at once need a 24,000-byte table: more than the 8 KiB board has.
      [
        [
          'run',
          writeTrace(
            'wide.rep',
            [],
            Array.from({ length: 2000 }, (_, id) => `a ${id} 1`),
          ),
          '--board',
          'tiny',
        ],
        /the trace player's table \(24,000 B: 2,000 ids live at once\) does not fit/,
      ],
      [
        ['run', join(work, 'ok.rep'), '--heap', '127K'],
        /--heap 130048: the trace player's table .* the largest heap beside it is \d+ bytes/,
      ],
    ];
    for (const [args, message] of cases) {
      const result = await cli(args);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n'), result.stderr).toHaveLength(1);
    }
  });
});
