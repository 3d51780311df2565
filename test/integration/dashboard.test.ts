/**
 * The dashboard in a real browser against the real pipeline: the built page (frontend/dist) served
 * by the local runtime beside the API, a telescope file replayed at 2000 rows/s. What a person
 * watching it would check: the totals are the API's, they move while data flows, the telescope
 * lights up, an API outage is shown and recovers by itself. Screenshots go to test-results/ (ignored
 * by git); with DRIFTLINE_UPDATE_SCREENSHOTS=1 they also replace the README's docs/*.png.
 */
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { DASHBOARD_DIST, ensureDashboard } from '../../localstack/dashboard-build.ts';
import { type RunningRuntime, startPipelineRuntime } from '../../localstack/runtime.ts';
import { PROJECT_ROOT } from '../../localstack/service-definition.ts';
import { putObjectFromFile } from '../../shared/adapters/s3.ts';
import { generateDt } from '../../shared/analyses/dt/generator.ts';
import { browserUnavailableReason, launchChromium } from '../support/browser.ts';
import { runtimeDiagnostics } from '../support/runtime-diagnostics.ts';
import { pollUntil, stackClients } from '../support/stack-clients.ts';

const DIST = DASHBOARD_DIST;
const RESULTS = join(PROJECT_ROOT, 'test-results');
const DOCS = join(PROJECT_ROOT, 'docs');
/** Writes a screenshot to test-results/, and to docs/ when asked to refresh the README's. */
async function saveScreenshot(
  page: { screenshot(options: { path: string }): Promise<unknown> },
  name: string,
) {
  await mkdir(RESULTS, { recursive: true });
  await page.screenshot({ path: join(RESULTS, name) });
  if (process.env.DRIFTLINE_UPDATE_SCREENSHOTS === '1') await copyFile(join(RESULTS, name), join(DOCS, name));
}
const ROWS = 60_000;
const RATE = 2_000;
const EMPTY_CELL_COLOUR = '#eceff1';

const unavailable = browserUnavailableReason();
if (unavailable) console.warn(`[dashboard.test] skipped: ${unavailable}`);

/** The build `npm start` would serve: rebuilt when dist is older than any file it was built from. */
async function ensureBuilt(): Promise<void> {
  const dashboard = await ensureDashboard((text) => process.stderr.write(`[dashboard.test] ${text}`));
  if (dashboard.staticDir === undefined || dashboard.problem) {
    throw new Error(`the dashboard could not be built: ${dashboard.problem ?? 'no reason given'}`);
  }
}

const summarySchema = z.object({ rows: z.number(), summary: z.object({ hit_count: z.number() }) });

describe.skipIf(unavailable !== undefined)(
  `the dashboard in headless Chromium${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    const stack = inject('stack');
    const clients = stackClients(stack);
    let workDir = '';
    let runtime: RunningRuntime | undefined;
    let browser: Browser | undefined;
    let page: Page;
    let apiPort = 0;
    const pageErrors: string[] = [];

    const diagnostics = runtimeDiagnostics();
    const startRuntime = async (port: number) => {
      const started = await startPipelineRuntime({
        stack,
        cacheDir: join(workDir, 'cache'),
        apiPort: port,
        staticDir: DIST,
        environment: { DRIFTLINE_REPLAY_RATE: String(RATE) },
        log: diagnostics.log,
      });
      diagnostics.attach(started);
      return started;
    };

    const apiUrl = () => `http://127.0.0.1:${apiPort}`;

    async function apiHits(): Promise<number> {
      const response = await fetch(`${apiUrl()}/api/v1/analyses/dt/summary`);
      return summarySchema.parse(await response.json()).summary.hit_count;
    }

    /** The total the page shows (its raw value), or undefined before the first summary. */
    async function shownHits(): Promise<number | undefined> {
      const raw = await page.getByTestId('total-hits').getAttribute('data-value', { timeout: 5_000 });
      return raw === null ? undefined : Number(raw);
    }

    /** For a person reviewing the layout: the whole page in slices, when DRIFTLINE_KEEP_SCREENSHOTS names a folder. */
    async function keepFullPage(name: string): Promise<void> {
      const folder = process.env.DRIFTLINE_KEEP_SCREENSHOTS;
      if (!folder) return;
      const { width, height } = await page
        .locator('html')
        .evaluate((html) => ({ width: html.scrollWidth, height: html.scrollHeight }));
      const slice = 1_600;
      for (let y = 0, index = 0; y < height; y += slice, index++) {
        await page.screenshot({
          path: join(folder, `${name}-${index}.png`),
          fullPage: true,
          clip: { x: 0, y, width, height: Math.min(slice, height - y) },
        });
      }
    }

    async function keepViewport(name: string): Promise<void> {
      const folder = process.env.DRIFTLINE_KEEP_SCREENSHOTS;
      if (folder) await page.screenshot({ path: join(folder, `${name}.png`) });
    }

    const connectionState = () => page.getByTestId('connection').getAttribute('data-state');

    beforeAll(async () => {
      workDir = await mkdtemp(join(tmpdir(), 'driftline-ui-'));
      await ensureBuilt();
      runtime = await startRuntime(0);
      apiPort = Number(new URL(runtime.apiUrl).port);
      browser = await launchChromium();
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(error.message));
    });

    afterAll(async () => {
      await browser?.close();
      await runtime?.stop();
      clients.s3.destroy();
      if (workDir) await rm(workDir, { recursive: true, force: true });
    });

    it('shows the API totals live, lights up the telescope, and survives an API outage', async () => {
      await page.goto(`${apiUrl()}/`);
      await pollUntil(async () => ((await connectionState()) === 'connected' ? true : undefined), {
        timeoutMs: 20_000,
        intervalMs: 200,
        what: 'the page to connect to the API',
      });
      const before = await pollUntil(shownHits, {
        timeoutMs: 20_000,
        intervalMs: 200,
        what: 'a first total',
      });

      // Data starts flowing: a generated telescope file, replayed at RATE rows/s.
      const file = join(workDir, 'telescope.csv');
      await pipeline(
        Readable.from(generateDt({ rows: ROWS, seed: 424242, format: 'csv' })),
        createWriteStream(file),
      );
      const key = `dt/ui-${Date.now()}/telescope.csv`;
      await putObjectFromFile(clients.s3, {
        bucket: stack.datasetBucket,
        key,
        file,
        metadata: { rate: String(RATE) },
      });

      // The counts move while data flows: once, then again within a few seconds.
      const moved = await pollUntil(
        async () => {
          const shown = await shownHits();
          return shown !== undefined && shown > before ? shown : undefined;
        },
        {
          timeoutMs: 60_000,
          intervalMs: 250,
          what: 'the shown total to grow after the upload',
          explain: diagnostics.explain,
        },
      );
      await pollUntil(
        async () => {
          const shown = await shownHits();
          return shown !== undefined && shown > moved ? shown : undefined;
        },
        { timeoutMs: 8_000, intervalMs: 250, what: 'the shown total to grow again within a few seconds' },
      );

      // When the replay is over, the page shows exactly what the API returns.
      await pollUntil(
        async () => {
          const replays = z
            .object({ replays: z.array(z.object({ key: z.string(), status: z.string() })) })
            .parse(await (await fetch(`${apiUrl()}/api/v1/replays`)).json());
          return replays.replays.find((replay) => replay.key === key)?.status === 'done' ? true : undefined;
        },
        {
          timeoutMs: 120_000,
          intervalMs: 500,
          what: `the replay of ${key} to finish`,
          explain: diagnostics.explain,
        },
      );
      const agreed = await pollUntil(
        async () => {
          const shown = await shownHits();
          const api = await apiHits();
          return shown === api ? { shown, api } : undefined;
        },
        {
          timeoutMs: 30_000,
          intervalMs: 250,
          what: 'the shown total to equal the API summary',
          explain: diagnostics.explain,
        },
      );
      expect(agreed.shown).toBeGreaterThan(before);
      await expect(page.getByTestId('updated').textContent()).resolves.toMatch(/updated \d+ s ago/);

      // The telescope: cells with hits are coloured (not the empty grey).
      const cells = await page.locator('[data-testid="telescope"] rect[data-channel]').evaluateAll(
        (rects, empty) =>
          rects.map((rect) => ({
            count: Number(rect.getAttribute('data-count')),
            fill: rect.getAttribute('fill'),
            empty,
          })),
        EMPTY_CELL_COLOUR,
      );
      expect(cells).toHaveLength(256);
      const lit = cells.filter((cell) => cell.count > 0 && cell.fill !== EMPTY_CELL_COLOUR);
      expect(lit.length).toBeGreaterThan(128);
      expect(cells.filter((cell) => cell.count === 0).every((cell) => cell.fill === EMPTY_CELL_COLOUR)).toBe(
        true,
      );

      // Screenshots, desktop then phone width (charts follow their containers' width).
      await mkdir(DOCS, { recursive: true });
      await saveScreenshot(page, 'dashboard.png');
      await keepFullPage('desktop');
      await page.setViewportSize({ width: 390, height: 844 });
      await pollUntil(
        async () => {
          const width = await page
            .locator('.uplot')
            .first()
            .evaluate((element) => element.getBoundingClientRect().width);
          return width <= 390 ? true : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 100, what: 'the charts to fit a phone-width screen' },
      );
      // Nothing wider than the phone: no sideways scrolling.
      await expect(page.locator('html').evaluate((html) => html.scrollWidth)).resolves.toBeLessThanOrEqual(
        390,
      );
      await saveScreenshot(page, 'dashboard-phone.png');
      await keepFullPage('phone');
      await page.setViewportSize({ width: 1280, height: 800 });

      // The API goes away: the page says so (and keeps the last data) ...
      await runtime?.stop();
      runtime = undefined;
      await pollUntil(
        async () => {
          const state = await connectionState();
          return state === 'reconnecting' || state === 'error' ? state : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200, what: 'the page to show the API as unreachable' },
      );
      await expect(page.getByTestId('connection').textContent()).resolves.toMatch(/Reconnecting/);
      await keepViewport('outage');
      expect(await shownHits()).toBe(agreed.shown);

      // ... and recovers by itself when it is back on the same address.
      runtime = await startRuntime(apiPort);
      await pollUntil(async () => ((await connectionState()) === 'connected' ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 200,
        what: 'the page to reconnect after the API came back',
      });
      await pollUntil(async () => ((await shownHits()) === (await apiHits()) ? true : undefined), {
        timeoutMs: 15_000,
        intervalMs: 250,
        what: 'the shown total to equal the API summary after the outage',
      });
      expect(pageErrors).toEqual([]);
    });
  },
);
