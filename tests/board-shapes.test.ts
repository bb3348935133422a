// Every run's heap must have the object shape (V8 hidden class) of the first run's. A heap built from a base
// that arrived as a boxed number (536870912.0) once got double fields, a second shape: from the third run in a
// process on, every hot path of the allocator deoptimised and came back checking both, which cost the board's
// malloc+free pair about 10 ns (docs/board.md, "The heap call's cost"). The block table's region bounds, read by
// every lookup, must be small integers too, not doubles. Needs V8's natives syntax, so a child process.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './support/cli.js';

const script = `
const { readFileSync } = await import('node:fs');
const board = await import(${JSON.stringify(join(root, 'dist/src/board/index.js'))});
const { Machine } = await import(${JSON.stringify(join(root, 'dist/src/board/machine.js'))});
const elf = readFileSync(${JSON.stringify(join(root, 'tests/fixtures/elf/fixture-stm32f411re.elf'))});
const profile = board.loadBoard('stm32f411re');
const shapes = { heap: [], service: [], sites: [], blocks: [], tableBaseIsSmallInteger: [] };
let first = null;
for (let run = 0; run < 4; run++) {
  const machine = new Machine({ elf, elfName: 'fixture', board: profile, params: { test: 15, count: 20000, size: 64 } }, board.tlsfHeap);
  const service = Reflect.get(machine, 'service');
  const parts = { heap: Reflect.get(machine, 'heap'), service, sites: service.sites, blocks: Reflect.get(service, 'blocks') };
  first ??= parts;
  for (const name of Object.keys(parts)) shapes[name].push(%HaveSameMap(parts[name], first[name]));
  shapes.tableBaseIsSmallInteger.push(%IsSmi(Reflect.get(parts.blocks, 'regions')[0].base));
  machine.run();
  machine.close();
}
console.log(JSON.stringify(shapes));
`;

describe('object shapes across runs', () => {
  it('every run builds its heap and bookkeeping with the first run’s hidden classes and small-integer bounds', () => {
    const child = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(child.status, child.stderr).toBe(0);
    const shapes = JSON.parse(child.stdout.trim().split('\n').pop()!) as Record<string, boolean[]>;
    for (const [name, same] of Object.entries(shapes)) expect(same, name).toEqual([true, true, true, true]);
  });
});
