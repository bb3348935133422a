// The HTML report page in a real browser: Debian's chromium driven by playwright-core. The page is written by
// the built CLI, opened from file://, and its views compared with what `map --json` reports for the same call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { runCli } from './support/cli.js';
import { buildPageBundle } from '../src/cli/html/page-bundle.js';

const CHROMIUM = process.env.TLSF_SIM_CHROMIUM ?? '/usr/bin/chromium';
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser)
  console.log(
    `html-report browser tests skipped: no ${CHROMIUM}; install it with: sudo apt-get install -y chromium (or TLSF_SIM_WANT_BROWSER=1 npm run setup)`,
  );

/** The flags this kind of machine needs: no sandbox as root, no GPU, nothing that phones home. */
const LAUNCH_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface Loaded {
  page: Page;
  errors: string[];
  requests: string[];
}

describe.skipIf(!haveBrowser)('the HTML report in headless Chromium', () => {
  let browser: BrowserContext;
  let directory: string;
  let profile: string;
  const screenshots = process.env.TLSF_SIM_SCREENSHOT_DIR;

  beforeAll(async () => {
    await buildPageBundle();
    directory = mkdtempSync(join(tmpdir(), 'tlsf-html-'));
    profile = mkdtempSync(join(tmpdir(), 'tlsf-chromium-'));
    if (screenshots) mkdirSync(screenshots, { recursive: true });
    const { chromium } = await import('playwright-core');
    // A fresh profile directory each run (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: LAUNCH_FLAGS,
      viewport: { width: 1280, height: 1800 },
    });
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(directory, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  });

  async function open(file: string, hash = ''): Promise<Loaded> {
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(`${pathToFileURL(file).href}${hash}`);
    await page.waitForFunction(() => window.tlsfReport !== undefined || window.tlsfReportError !== undefined, null, {
      timeout: 30_000,
    });
    return { page, errors, requests };
  }

  async function report(name: string, args: string[]): Promise<string> {
    const file = join(directory, `${name}.html`);
    const result = await runCli(['report', ...args, '-o', file]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(`wrote ${file}`);
    return file;
  }

  /** What the page draws for the selected call: the map's blocks and the bitmap bits. */
  async function drawn(page: Page): Promise<{
    blocks: { header: number; blockSize: number; used: boolean }[];
    firstLevel: number;
    secondLevel: number[];
  }> {
    return page.evaluate(() => {
      const blocks = [...document.querySelectorAll<SVGGElement>('#heap-map g.block')].map((group) => ({
        header: Number(group.dataset.header),
        blockSize: Number(group.dataset.size),
        used: group.dataset.used === '1',
      }));
      let firstLevel = 0;
      for (const cell of document.querySelectorAll<HTMLElement>('td.fl-bit'))
        if (cell.dataset.bit === '1') firstLevel |= 1 << Number(cell.dataset.fl);
      const secondLevel: number[] = [];
      for (const cell of document.querySelectorAll<HTMLElement>('td.sl-bit')) {
        const fl = Number(cell.dataset.fl);
        secondLevel[fl] = (secondLevel[fl] ?? 0) | (cell.dataset.bit === '1' ? 1 << Number(cell.dataset.sl) : 0);
      }
      return { blocks, firstLevel: firstLevel >>> 0, secondLevel: secondLevel.map((bits) => bits >>> 0) };
    });
  }

  it('loads from file:// offline, matches `map --at call:N --json` at any call, and its peak table sums to peakUsed', async () => {
    const file = await report('json-doc', ['json-doc']);
    const { page, errors, requests } = await open(file, '#call=400');
    expect(await page.evaluate(() => window.tlsfReportError ?? null)).toBeNull();
    expect(await page.evaluate(() => window.tlsfReport!.selected())).toBe(400);

    for (const call of [400, 1, 777]) {
      await page.evaluate((target) => window.tlsfReport!.select(target), call);
      const map = JSON.parse((await runCli(['map', 'json-doc', '--at', `call:${call}`, '--json'])).stdout) as {
        blocks: { header: number; blockSize: number; used: boolean }[];
        bitmaps: { firstLevel: number; secondLevel: number[] };
      };
      const shown = await drawn(page);
      expect(shown.blocks, `blocks after call ${call}`).toEqual(
        map.blocks.map(({ header, blockSize, used }) => ({ header, blockSize, used })),
      );
      expect(shown.firstLevel, `first-level bitmap after call ${call}`).toBe(map.bitmaps.firstLevel);
      expect(shown.secondLevel, `second-level bitmaps after call ${call}`).toEqual(map.bitmaps.secondLevel);
      expect(await page.locator('#step-status').textContent()).toContain(`call #${call} `);
      expect(page.url()).toMatch(new RegExp(`#call=${call}$`));
    }
    // The explanation beside the bitmaps is step's own text for that call.
    const step = JSON.parse((await runCli(['step', 'json-doc', '--from', '777', '--count', '1', '--json'])).stdout) as {
      steps: { explanation: string[] }[];
    };
    expect(await page.locator('.explanation li').allTextContents()).toEqual(step.steps[0]!.explanation);

    // A search that leaves its row: the rest of the start row, then the first-level bits up to the row found,
    // then that row up to the class found; the rows in between are skipped by the first-level scan.
    await page.evaluate(() => window.tlsfReport!.select(868));
    const search = await page
      .locator('td.sl-bit.search')
      .evaluate((cell) => [Number((cell as HTMLElement).dataset.fl), Number((cell as HTMLElement).dataset.sl)]);
    const found = await page
      .locator('td.sl-bit.found')
      .evaluate((cell) => [Number((cell as HTMLElement).dataset.fl), Number((cell as HTMLElement).dataset.sl)]);
    expect(found[0]).toBeGreaterThan(search[0]!);
    const slCount = await page.locator('table.sl-bitmap tr:nth-child(2) td.sl-bit').count();
    expect(await page.locator('td.sl-bit.scanned').count()).toBe(slCount - search[1]! + found[1]! + 1);
    expect(await page.locator('td.fl-bit.scanned').count()).toBe(found[0]! - search[0]!);

    // A realloc that grows in place searches no list: no search path is drawn.
    await page.evaluate(() => window.tlsfReport!.select(1012));
    expect(await page.locator('.explanation li').first().textContent()).toContain(
      'realloc first tries to resize the block where it is',
    );
    expect(await page.locator('td.sl-bit.search, td.sl-bit.scanned').count()).toBe(0);

    const run = JSON.parse((await runCli(['run', 'json-doc', '--json'])).stdout) as { peakUsed: number };
    const rows = await page
      .locator('.peak-table tbody td[data-bytes]')
      .evaluateAll((cells) => cells.map((cell) => Number((cell as HTMLElement).dataset.bytes)));
    expect(rows.length).toBeGreaterThan(1);
    expect(rows.reduce((sum, bytes) => sum + bytes, 0)).toBe(run.peakUsed);

    // The cost of each heap call: the figures `run --call-cost --json` gives, beside the model's note.
    const costed = JSON.parse((await runCli(['run', 'json-doc', '--call-cost', '--json'])).stdout) as {
      heapCost: { malloc: { max: number; p99: number }; free: { max: number } };
    };
    const mallocCells = await page.locator('#heap-cost tr[data-kind="malloc"] td.number').allTextContents();
    expect(mallocCells.slice(1, 3)).toEqual(
      [costed.heapCost.malloc.max, costed.heapCost.malloc.p99].map((value) => value.toLocaleString('en-US')),
    );
    expect(await page.locator('#heap-cost tr[data-kind="free"] td.number').nth(1).textContent()).toBe(
      costed.heapCost.free.max.toLocaleString('en-US'),
    );
    expect(await page.locator('#heap-cost-note').textContent()).toContain('the counts are exact');

    // The timeline's x axis switches to instructions and time and back without errors.
    for (const axis of ['instructions', 'time', 'calls']) await page.selectOption('#x-axis', axis);

    // Keyboard: End goes to the last call, Home before the first, "p" to the peak.
    await page.keyboard.press('End');
    const last = await page.evaluate(() => window.tlsfReport!.model.lastCall);
    expect(await page.evaluate(() => window.tlsfReport!.selected())).toBe(last);
    await page.keyboard.press('Home');
    expect(await page.evaluate(() => window.tlsfReport!.selected())).toBe(0);
    await page.keyboard.press('p');
    expect(await page.evaluate(() => window.tlsfReport!.selected())).toBe(
      await page.evaluate(() => window.tlsfReport!.model.peakCall),
    );

    expect(errors).toEqual([]);
    expect(requests.filter((url) => !/^(file|data):/.test(url))).toEqual([]);
    await page.close();
  });

  it("opens at the call a deep link names, with step's explanation of it", async () => {
    const file = await report('rtos-queues', ['rtos-queues']);
    const { page, errors, requests } = await open(file, '#call=1406');
    expect(await page.evaluate(() => window.tlsfReport!.selected())).toBe(1406);
    expect(await page.locator('.call-line').textContent()).toMatch(
      /^#1406 malloc\(640\) from task_create\+0x[0-9a-f]+ → 0x[0-9a-f]{8}$/,
    );
    const step = JSON.parse(
      (await runCli(['step', 'rtos-queues', '--from', '1406', '--count', '1', '--json'])).stdout,
    ) as { steps: { explanation: string[] }[] };
    expect(await page.locator('.explanation li').allTextContents()).toEqual(step.steps[0]!.explanation);
    // The search path is drawn: a search-start cell and the class the block was taken from.
    expect(await page.locator('td.sl-bit.search').count()).toBe(1);
    expect(await page.locator('td.sl-bit.found').count()).toBe(1);
    expect(await page.locator('td.sl-bit.scanned').count()).toBe(7); // (2, 9) up to (2, 15)
    expect(await page.locator('#heap-map g.block.touched').count()).toBe(1);
    if (screenshots) {
      await page.screenshot({ path: join(screenshots, 'report-overview.png') });
      await page.locator('section.moment').screenshot({ path: join(screenshots, 'report-step.png') });
    }
    expect(errors).toEqual([]);
    expect(requests.filter((url) => !/^(file|data):/.test(url))).toEqual([]);
    await page.close();
  });

  it('shows where a run that ran out of memory stopped, and jumps to the failure', async () => {
    const file = await report('fragmenter-oom', ['fragmenter', '--board', 'tiny']);
    const { page, errors, requests } = await open(file);
    expect(await page.evaluate(() => window.tlsfReportError ?? null)).toBeNull();
    expect(await page.locator('#result').textContent()).toBe('out-of-memory');
    const failed = await page.evaluate(() => window.tlsfReport!.model.failedCall);
    expect(failed).not.toBeNull();
    // The page opens on the failure; Home leaves it, "f" comes back.
    expect(await page.evaluate(() => window.tlsfReport!.selected())).toBe(failed);
    await page.keyboard.press('Home');
    await page.keyboard.press('f');
    expect(await page.evaluate(() => window.tlsfReport!.selected())).toBe(failed);
    expect((await page.locator('.explanation li').allTextContents()).some((line) => line.startsWith('fails'))).toBe(
      true,
    );
    if (screenshots) await page.screenshot({ path: join(screenshots, 'report-out-of-memory.png') });
    expect(errors).toEqual([]);
    expect(requests.filter((url) => !/^(file|data):/.test(url))).toEqual([]);
    await page.close();
  });
});
