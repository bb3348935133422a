// `tlsf-sim compare` (issue 13): the same target under each heap in one table, the README's "Why TLSF" tables
// reproduced from the committed firmware, and its own input checked like every other command's.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CliResult, root, runCli } from './support/cli.js';

interface Work {
  maxNodes: number;
  p99Nodes: number;
  meanNodes: number;
  maxWords: number;
  maxCall: { call: number; text: string; caller: string | null } | null;
}
interface Heap {
  allocator: string;
  result: string;
  minHeap: number | null;
  replayMatches: boolean;
  work: { allocations: Work; frees: Work } | null;
}

function expectBadInput(result: CliResult, message: RegExp): void {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(message);
}

describe('compare', () => {
  it('the README tables are what compare prints for the committed firmware', async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const args of [['sensor-logger', '--board', 'tiny'], ['fragmenter']]) {
      const result = await runCli(['compare', ...args, '--markdown']);
      expect(result.stdout).toMatch(/^\| allocator \| result \|/);
      expect(readme, `README "Why TLSF" table for compare ${args.join(' ')}`).toContain(result.stdout.trimEnd());
    }
  }, 300_000);

  it('--json: on the teaching board best fit completes where good fit does not; work is counted for every heap', async () => {
    const result = await runCli(['compare', 'sensor-logger', '--board', 'tiny', '--json']);
    expect(result.code, result.stderr).toBe(1); // not every heap completed
    const document = JSON.parse(result.stdout) as { command: string; board: string; heaps: Heap[] };
    expect(document.command).toBe('compare');
    expect(document.board).toBe('tiny');
    const byName = new Map(document.heaps.map((heap) => [heap.allocator, heap]));
    expect([...byName.keys()]).toEqual(['tlsf', 'first-fit', 'best-fit', 'half-fit']);
    expect(byName.get('tlsf')!.result).toBe('out-of-memory');
    expect(byName.get('best-fit')!.result).toBe('ok');
    expect(byName.get('best-fit')!.minHeap).toBeGreaterThan(0);
    expect(byName.get('tlsf')!.minHeap).toBeNull();
    // TLSF is counted too: one list head per malloc, no list walked on free, whatever the heap holds.
    expect(byName.get('tlsf')!.work!.allocations).toMatchObject({ maxNodes: 1, p99Nodes: 1 });
    expect(byName.get('tlsf')!.work!.frees.maxNodes).toBe(0);
    expect(byName.get('tlsf')!.work!.allocations.maxCycles).toBeGreaterThan(0);
    for (const heap of document.heaps) expect(heap.replayMatches, heap.allocator).toBe(true);
    // Every field is documented in docs/report.schema.json.
    type Fields = { required: string[]; properties: object };
    const schema = JSON.parse(readFileSync(join(root, 'docs', 'report.schema.json'), 'utf8')) as {
      $defs: { compareReport: Fields & { properties: { heaps: { items: Fields } } } };
    };
    const definition = schema.$defs.compareReport;
    for (const field of definition.required) expect(document).toHaveProperty(field);
    for (const heap of document.heaps) {
      for (const field of definition.properties.heaps.items.required) expect(heap).toHaveProperty(field);
      for (const field of Object.keys(heap)) expect(definition.properties.heaps.items.properties).toHaveProperty(field);
    }
    // Half fit takes a bin head; the list heaps walk.
    expect(byName.get('half-fit')!.work!.allocations.maxNodes).toBe(1);
    expect(byName.get('first-fit')!.work!.allocations.maxNodes).toBeGreaterThan(1);
    expect(byName.get('first-fit')!.work!.frees.maxNodes).toBeGreaterThan(1);
    expect(byName.get('best-fit')!.work!.frees.maxNodes).toBe(0);
    // The scenario's own function, not xmalloc, which passes its caller on (scenarios/common.c).
    expect(byName.get('best-fit')!.work!.allocations.maxCall!.caller).toMatch(/^hold\+0x/);
  }, 120_000);

  it('--allocators picks and orders the heaps; --sl applies to TLSF alone', async () => {
    const result = await runCli([
      'compare',
      'sensor-logger',
      '--param',
      'ticks=40',
      '--allocators',
      'half-fit,tlsf',
      '--sl',
      '3',
      '--no-min-heap',
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout) as { heaps: Heap[] };
    expect(document.heaps.map((heap) => heap.allocator)).toEqual(['half-fit', 'tlsf']);
    expect(document.heaps.every((heap) => heap.minHeap === null)).toBe(true);
  }, 120_000);

  it('bad input is one line, exit 2', async () => {
    expectBadInput(
      await runCli(['compare', 'packet-pool', '--allocators', 'tlsf,tlsf']),
      /--allocators: tlsf is named twice/,
    );
    expectBadInput(
      await runCli(['compare', 'packet-pool', '--allocators', 'tlsf,,best-fit']),
      /--allocators: empty name in "tlsf,,best-fit"/,
    );
    expectBadInput(
      await runCli(['compare', 'packet-pool', '--allocators', 'buddy']),
      /--allocators: unknown allocator "buddy"/,
    );
    expectBadInput(
      await runCli(['compare', 'packet-pool', '--allocator', 'first-fit']),
      /compare runs several heaps: name them with --allocators/,
    );
  });
});
