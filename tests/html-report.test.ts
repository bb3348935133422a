// The HTML report's parts outside the browser: the call-log encoding the page decodes, the inline page, the
// SVG heap map, the mermaid chart of `check --markdown`, and the commands that write pages.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { HeapEvent } from '../src/board/index.js';
import { heapCostOf, type HeapCostReport } from '../src/cli/call-cost.js';
import { execute, prepareRun } from '../src/cli/engine.js';
import { mermaidUsedChart } from '../src/cli/ci.js';
import { regionsOf } from '../src/cli/heap-map.js';
import { bytesPerRow, heapMapSvg } from '../src/cli/html/heap-map-svg.js';
import { reportPageHtml } from '../src/cli/html/html-page.js';
import { heapCostHtml } from '../src/cli/html/page/heap-cost-view.js';
import type { RunModel } from '../src/cli/html/page/model.js';
import { reportFileName, reportPageData } from '../src/cli/html/report-command.js';
import {
  base64FromBytes,
  bytesFromBase64,
  packEvents,
  sitesOf,
  unpackEvents,
  type ReportMeta,
} from '../src/cli/html/report-data.js';
import { usedChart } from '../src/cli/html/used-chart.js';
import { HeapReplay } from '../src/cli/replay.js';
import { runCli } from './support/cli.js';

/** Decodes like the page: base64, then gzip through the web DecompressionStream. */
async function decodeLikeThePage(base64: string): Promise<Uint8Array> {
  const stream = new Blob([bytesFromBase64(base64) as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const SAMPLE: HeapEvent[] = [
  {
    call: 0,
    op: 'mark',
    args: [0x0800_1234],
    result: 0,
    instructions: 10,
    caller: 0x0800_0101,
    label: 'start "quoted" </script>',
  },
  { call: 1, op: 'malloc', args: [24], result: 0x2000_0600, instructions: 200, caller: 0x0800_0203 },
  { call: 2, op: 'calloc', args: [3, 16], result: 0x2000_0620, instructions: 4_000_000_000, caller: 0x0800_0303 },
  { call: 3, op: 'realloc', args: [0x2000_0600, 4096], result: 0, instructions: 9_000_000_123, caller: 0x0800_0203 },
  { call: 4, op: 'memalign', args: [64, 100], result: 0x2000_0680, instructions: 9_000_000_500, caller: 0xffff_fffe },
  { call: 4, op: 'mark', args: [0x0800_1300], result: 0, instructions: 9_000_000_600, caller: 0x0800_0101, label: '' },
  { call: 5, op: 'free', args: [0x2000_0620], result: 0, instructions: 9_000_000_700, caller: 0x0800_0401 },
  { call: 7, op: 'free', args: [0], result: 0, instructions: 9_000_000_800, caller: 0x0800_0401 },
];

describe('the report data encoding', () => {
  it('round-trips a log through columns, gzip and base64 exactly as logged', async () => {
    const callers = sitesOf(SAMPLE);
    expect(callers).toEqual([0x0800_0101, 0x0800_0203, 0x0800_0303, 0xffff_fffe, 0x0800_0401]);
    const { bytes, labels } = packEvents(SAMPLE, callers);
    expect(labels).toEqual(['start "quoted" </script>', '']);
    const decoded = unpackEvents(
      await decodeLikeThePage(base64FromBytes(gzipSync(bytes))),
      SAMPLE.length,
      labels,
      callers,
    );
    expect(decoded).toEqual(SAMPLE);
  });

  it("round-trips a real run's log", async () => {
    const prepared = prepareRun({ target: { kind: 'scenario', name: 'json-doc' }, recordEvents: true });
    const report = execute(prepared, false);
    const { meta, packed } = reportPageData(prepared, report, null);
    expect(meta.eventCount).toBe(report.events!.length);
    const decoded = unpackEvents(
      await decodeLikeThePage(base64FromBytes(gzipSync(packed))),
      meta.eventCount,
      meta.labels,
      meta.sites.map((site) => site.address),
    );
    expect(decoded).toEqual(report.events);
  });

  it('refuses a log of the wrong length or with an unknown operation', () => {
    const { bytes, labels } = packEvents(SAMPLE, sitesOf(SAMPLE));
    expect(() => unpackEvents(bytes.subarray(1), SAMPLE.length, labels, [])).toThrow(
      /has \d+ bytes, expected \d+ for 8 events/,
    );
    const broken = bytes.slice();
    broken[broken.length - 1] = 99; // the op column is last
    expect(() => unpackEvents(broken, SAMPLE.length, labels, sitesOf(SAMPLE))).toThrow(
      /event 7: unknown operation code 99/,
    );
    expect(() => packEvents([SAMPLE[1]!, SAMPLE[0]!], sitesOf(SAMPLE))).toThrow(/call numbers go backwards/);
  });
});

describe('heap cost in the page', () => {
  it('is computed from the recorded log when the run did not ask for it, and drawn with the model note', () => {
    const prepared = prepareRun({ target: { kind: 'scenario', name: 'json-doc' }, recordEvents: true });
    const report = execute(prepared, false);
    expect(report.heapCost).toBeUndefined(); // the run itself counted nothing
    const { meta, packed } = reportPageData(prepared, report, null);
    const cost = meta.run.heapCost as HeapCostReport;
    expect(cost).toEqual(heapCostOf(prepared, report, 'tlsf'));
    const allocating = report.ops.malloc + report.ops.calloc + report.ops.realloc + report.ops.memalign;
    expect(cost.malloc.calls).toBe(allocating);
    expect(cost.free.calls).toBeGreaterThan(0);
    for (const summary of [cost.malloc, cost.free]) {
      expect(summary.max).toBeGreaterThanOrEqual(summary.p99);
      expect(summary.p99).toBeGreaterThan(0);
      expect(summary.maxCall!.cycles).toBe(summary.max);
    }
    expect(cost.model.note).toContain('cycles are an estimate from counted work');

    // In the page's data, and in the section the page draws from it.
    const html = reportPageHtml(meta, packed, { script: '', style: '' });
    const metaText = /<script type="application\/json" id="report-meta">(.*?)<\/script>/s.exec(html)![1]!;
    expect((JSON.parse(metaText) as ReportMeta).run.heapCost).toEqual(cost);
    const section = heapCostHtml({ meta } as RunModel);
    expect(section).toContain('<h2>Cost of each heap call</h2>');
    expect(section).toContain(`<td class="number">${cost.malloc.max.toLocaleString('en-US')}</td>`);
    expect(section).toContain(`<td class="number">${cost.free.mean.toFixed(1)}</td>`);
    expect(section).toContain(`#${cost.malloc.maxCall!.call} ${cost.malloc.maxCall!.text}`);
    expect(section).toContain('the counts are exact');
  });

  it("keeps a --call-cost run's figures, and says when the replay diverged", () => {
    const prepared = prepareRun({
      target: { kind: 'scenario', name: 'json-doc' },
      recordEvents: true,
      callCost: true,
    });
    const report = execute(prepared, false);
    expect(reportPageData(prepared, report, null).meta.run.heapCost).toEqual(report.heapCost);
    const diverged = reportPageData(prepared, { ...report, heapCost: null }, null).meta;
    expect(diverged.run.heapCost).toBeNull();
    expect(heapCostHtml({ meta: diverged } as RunModel)).toContain('Not counted: the replay of the calls diverged');
  });
});

describe('the page file', () => {
  const bundle = { script: 'window.x = "</script>";', style: 'body{}' };
  const meta = {
    format: 1,
    target: 'fw<1>.elf',
    board: { name: 'b', ram: [] },
    setup: { heapBase: 0, heapSize: 0, align: 8, slLog2: 5, extraBanks: [] },
    run: { result: 'ok', output: '</script><script>alert(1)</script><!--' },
    sites: [],
    eventCount: 0,
    labels: [],
    generator: 'test',
  } as unknown as ReportMeta;

  it('keeps firmware output and the script inside their elements, and allows no network', () => {
    const html = reportPageHtml(meta, new Uint8Array(0), bundle);
    expect(html.match(/<script/g)).toHaveLength(3);
    expect(html.match(/<\/script>/g)).toHaveLength(3);
    expect(html).not.toContain('<!--');
    expect(html).toContain("default-src 'none'");
    expect(html).toContain('<title>fw&lt;1&gt;.elf on b: ok');
    const metaText = /<script type="application\/json" id="report-meta">(.*?)<\/script>/s.exec(html)![1]!;
    expect((JSON.parse(metaText) as ReportMeta).run.output).toBe(meta.run.output);
  });

  it('names one page per run, unique and safe as a file name', () => {
    const taken = new Set<string>();
    expect(reportFileName('json-doc', 'stm32f411re', taken)).toBe('json-doc-stm32f411re.html');
    expect(reportFileName('json-doc', 'stm32f411re', taken)).toBe('json-doc-stm32f411re-2.html');
    expect(reportFileName('../fw/app.elf', 'my board', taken)).toBe('fw_app-my_board.html');
  });
});

describe('the SVG heap map', () => {
  it('draws every block once, to scale, with its facts, and outlines the touched block', () => {
    const prepared = prepareRun({ target: { kind: 'scenario', name: 'json-doc' }, recordEvents: true });
    const report = execute(prepared, false);
    const replay = new HeapReplay(
      { board: prepared.board, heapBase: report.heapBase, heapSize: report.heapSize, align: 8, slLog2: 5 },
      report.events!,
    );
    replay.runWhile((event) => event.call <= 300);
    const snapshot = replay.snapshot();
    const touched = snapshot.blocks.find((block) => block.used)!;
    const svg = heapMapSvg({
      regions: regionsOf(replay),
      blocks: snapshot.blocks,
      controlAddress: replay.heap.controlAddress,
      controlBytes: replay.heap.layout.controlBytes,
      highlight: touched,
    });
    const groups = [
      ...svg.matchAll(
        /<g class="block (used|free)( touched)?" data-header="(\d+)" data-address="\d+" data-size="(\d+)" data-used="([01])"/g,
      ),
    ];
    expect(
      groups.map((group) => ({ header: Number(group[3]), blockSize: Number(group[4]), used: group[5] === '1' })),
    ).toEqual(snapshot.blocks.map(({ header, blockSize, used }) => ({ header, blockSize, used })));
    expect(groups.filter((group) => group[2]).map((group) => Number(group[3]))).toEqual([touched.header]);
    expect(svg).toContain('class="control"');
    expect(svg).toContain('class="sentinel"');
    // To scale: the widths of every rectangle add up to the pool's bytes at the map's bytes per row.
    const widths = [...svg.matchAll(/<rect x="[\d.]+" y="\d+" width="([\d.]+)"/g)].reduce(
      (sum, match) => sum + Number(match[1]),
      0,
    );
    const row = Number(/, ([\d,]+) B per row/.exec(svg)![1]!.replace(/,/g, ''));
    expect(widths).toBeCloseTo((report.heapSize / row) * 960, -1);
  });

  it('fits all pools together in about 16 rows: a small main heap beside a 64 KiB bank', () => {
    const main = { start: 0x2000_0088, end: 0x2000_2088 };
    const bank = { start: 0x1000_0000, end: 0x1001_0000 };
    expect(bytesPerRow([main])).toBe(512);
    const span = bytesPerRow([main, bank]);
    expect(span).toBe(4096);
    expect(Math.ceil(8192 / span) + Math.ceil(65536 / span)).toBeLessThanOrEqual(20);
  });
});

describe('check --markdown chart', () => {
  it('samples used bytes keeping the highest point, as a mermaid xychart', () => {
    const prepared = prepareRun({ target: { kind: 'scenario', name: 'json-doc' }, recordEvents: true });
    const report = execute(prepared, false);
    const chart = usedChart(prepared, report);
    expect(chart.calls.length).toBeLessThanOrEqual(42);
    expect(chart.calls[chart.calls.length - 1]).toBe(
      report.events!.filter((event) => event.op !== 'mark').at(-1)!.call,
    );
    expect(Math.max(...chart.used)).toBe(report.peakUsed);
    const text = mermaidUsedChart(chart);
    expect(text).toMatch(/^```mermaid\nxychart-beta\n {4}title "json-doc on STM32F411RE: used bytes"\n/i);
    expect(text).toContain(`y-axis "used bytes" 0 --> ${report.peakUsed}`);
    expect(text).toContain(`line [${chart.used.join(', ')}]`);
  });
});

describe('the commands that write pages', () => {
  it('report, run --html and check --html-dir write a page for every result; bad paths are one-line errors', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'tlsf-html-cli-'));
    try {
      const ok = await runCli(['report', 'json-doc', '-o', join(directory, 'ok.html')]);
      expect(ok.code).toBe(0);
      const oom = await runCli(['report', 'json-doc', '--heap', '6K', '-o', join(directory, 'oom.html')]);
      expect(oom.code).toBe(1);
      expect(oom.stdout).toMatch(/out-of-memory, \d+ heap calls; wrote/);
      expect(readFileSync(join(directory, 'oom.html'), 'utf8')).toContain('"result":"out-of-memory"');
      const run = await runCli(['run', 'json-doc', '--html', join(directory, 'run.html')]);
      expect(run.code).toBe(0);
      expect(existsSync(join(directory, 'run.html'))).toBe(true);
      const check = await runCli([
        'check',
        'packet-pool',
        '--param',
        'bursts=20',
        '--board',
        'stm32f411re,nrf52840',
        '--max-peak',
        '64K',
        '--html-dir',
        join(directory, 'pages'),
      ]);
      expect(check.code).toBe(0);
      expect(readdirSync(join(directory, 'pages')).sort()).toEqual([
        'packet-pool-nrf52840.html',
        'packet-pool-stm32f411re.html',
      ]);
      const svg = await runCli(['map', 'json-doc', '--at', 'peak', '--svg', join(directory, 'map.svg')]);
      expect(svg.code).toBe(0);
      expect(readFileSync(join(directory, 'map.svg'), 'utf8')).toMatch(
        /^<\?xml[^\n]*\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/,
      );

      const unwritable = await runCli(['report', 'json-doc', '-o', join(directory, 'missing', 'x.html')]);
      expect(unwritable.code).toBe(2);
      expect(unwritable.stderr).toMatch(/^tlsf-sim: cannot write the HTML report .*x\.html: ENOENT\n$/);
      const empty = await runCli(['report', 'json-doc', '-o', '']);
      expect(empty.code).toBe(2);
      expect(empty.stderr).toBe('tlsf-sim: --output: empty file name\n');
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
