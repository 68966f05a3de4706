// Profiles on the demo plate: `npm run profile` (Node) and the app's Map view (Chromium) give the same treatment
// profiles, map and nearest neighbours; the app adapts the model to the plate's labels, keeps the adapted bundle in
// the browser, and after a reload with the network cut loads it again and reproduces its predictions.
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/core/metadata.ts';
import { writeDemoPlate } from '../../training/src/simulate/demo-plate.ts';
import { launchBrowser, type TestBrowser } from './harness/browser.ts';
import { REPO_ROOT, startServer, tempDir, type TestServer } from './harness/server.ts';

const DEMO = path.join(REPO_ROOT, 'public/demo');
/** MOA_LENS_SCREENSHOTS=1 npx vitest run test/browser/profiles.test.ts refreshes docs/screenshots/map.png and adapt.png. */
const SCREENSHOTS = process.env.MOA_LENS_SCREENSHOTS ? path.join(REPO_ROOT, 'docs/screenshots') : null;
let tmp: { dir: string; cleanup: () => Promise<void> };
let server: TestServer;
let browser: TestBrowser;
let trainer: { rows: Map<string, string[]>; header: string[]; summary: { nearestNeighbour: { all: { nsc: { n: number; correct: number } } } } };

function profileCli(args: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'training/src/profile-cli.ts'), ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 600_000 });
  return { status: run.status, out: run.stdout, err: run.stderr };
}

beforeAll(async () => {
  tmp = await tempDir('moa-lens-profiles-');
  await writeDemoPlate(await readFile(path.join(DEMO, 'plate.json'), 'utf8'), DEMO);
  const out = path.join(tmp.dir, 'profiles');
  // The model the app runs: the default of models/index.json.
  const { default: defaultModel } = JSON.parse(await readFile(path.join(REPO_ROOT, 'models/index.json'), 'utf8')) as { default: string };
  const run = profileCli(['--bundle', path.join(REPO_ROOT, 'models', defaultModel), '--data', DEMO, '--out', out, '--backend', 'wasm']);
  expect(run.status, run.err + run.out).toBe(0);
  const csv = parseCsv(await readFile(path.join(out, 'treatments.csv'), 'utf8'));
  trainer = { header: csv[0], rows: new Map(csv.slice(1).map((r) => [`${r[0]}@${Number(r[1])}`, r])), summary: JSON.parse(await readFile(path.join(out, 'summary.json'), 'utf8')) };
  server = await startServer({ mode: 'preview' });
  browser = await launchBrowser();
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await tmp?.cleanup();
});

async function runDemo(page: Page): Promise<void> {
  await page.click('[data-testid="demo-button"]');
  await page.waitForSelector('main[data-phase="done"]', { timeout: 400_000 });
}

/** Per treatment key: the class the treatment table shows. */
async function treatmentCalls(page: Page): Promise<Record<string, string>> {
  await page.click('[data-testid="tab-treatments"]');
  return Object.fromEntries(await page.$$eval('[data-testid="treatment-table"] tbody tr', (trs) => trs.map((tr) => [tr.getAttribute('data-treatment')!, tr.getAttribute('data-predicted')!])));
}

const close = (a: number, b: number) => Math.abs(a - b) <= 2e-3 * Math.max(1, Math.abs(b));

describe('profiles: trainer and app', () => {
  it('npm run profile refuses bad arguments with exit 2 and a usage line', () => {
    const bad = profileCli(['--bundle', 'models/mcnn-sim-v1', '--data', DEMO, '--out', path.join(tmp.dir, 'x'), '--summary', 'mode']);
    expect(bad.status).toBe(2);
    expect(bad.err).toContain('--summary must be mean or median');
    expect(bad.err).not.toMatch(/\n\s+at /);
  });

  it("the app's treatment profiles, map and nearest neighbours equal the trainer's on the demo plate", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}?backend=wasm`);
    await page.waitForSelector('main[data-engine="ready"]', { timeout: 120_000 });
    await page.waitForSelector('[data-testid="offline-status"][data-status="ready"]', { timeout: 120_000 });
    await runDemo(page);
    await page.click('[data-testid="tab-map"]');
    expect(await page.locator('[data-testid="treatment-map"] .point').count()).toBe(trainer.rows.size);
    if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, 'map.png'), fullPage: true });
    expect(await page.locator('[data-testid="treatment-map"] .point.control').count()).toBe(1);
    // Points overlap, so the events go to the point itself: hovering describes the treatment, a click opens its field;
    // so do the keyboard's focus and Enter.
    const point = page.locator('[data-testid="treatment-map"] .point[data-treatment="cytochalasin B@10"]');
    await point.dispatchEvent('mouseenter');
    expect(await page.textContent('[data-testid="map-hover"]')).toMatch(/^cytochalasin B 10 µM · predicted /);
    const opened = async () => {
      await page.waitForSelector('[data-testid="field-view"][open]');
      expect(await page.textContent('[data-testid="field-files"]')).toContain('Week1_150607_B04_s1_w1');
      await page.keyboard.press('Escape');
      await page.waitForSelector('[data-testid="field-view"]', { state: 'detached' });
    };
    await point.dispatchEvent('click');
    await opened();
    await point.focus();
    await page.keyboard.press('Enter');
    await opened();
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="export-profiles-csv"]')]);
    const app = parseCsv(await readFile((await download.path())!, 'utf8'));
    expect(app[0]).toEqual(trainer.header);
    expect(app.length - 1).toBe(trainer.rows.size);
    const numeric = trainer.header.flatMap((h, j) => (h === 'nn_cosine_distance' || h === 'map_x' || h === 'map_y' || /^f\d+$/.test(h) ? [j] : []));
    for (const row of app.slice(1)) {
      const expected = trainer.rows.get(`${row[0]}@${Number(row[1])}`)!;
      expect(expected, row[0]).toBeDefined();
      expect(row.slice(0, 5), 'treatment, fields, plates, truth').toEqual(expected.slice(0, 5));
      expect([row[7], row[8], row[9]], `${row[0]}: nearest neighbour and its MoA`).toEqual([expected[7], expected[8], expected[9]]);
      const off = numeric.filter((j) => row[j] !== expected[j] && !close(Number(row[j]), Number(expected[j])));
      expect(off.map((j) => `${trainer.header[j]} app ${row[j]} trainer ${expected[j]}`), row[0]).toEqual([]);
    }
    // The clustered order and the Accuracy view's NSC accuracy, as the trainer reports them.
    expect(app.slice(1).map((r) => r[13])).toEqual(app.slice(1).map((r) => trainer.rows.get(`${r[0]}@${Number(r[1])}`)![13]));
    await page.click('[data-testid="tab-accuracy"]');
    const nsc = trainer.summary.nearestNeighbour.all.nsc;
    expect(await page.$eval('[data-testid="nsc-accuracy"]', (e) => ({ n: Number(e.getAttribute('data-n')), correct: Number(e.getAttribute('data-correct')) }))).toEqual({ n: nsc.n, correct: nsc.correct });
    const [png] = await Promise.all([page.waitForEvent('download'), (await page.click('[data-testid="tab-map"]'), page.click('[data-testid="export-map-png"]'))]);
    const bytes = await readFile((await png.path())!);
    expect([...bytes.subarray(1, 4)].map((b) => String.fromCharCode(b)).join('')).toBe('PNG');
    await page.close();
  }, 900_000);

  it('adapts to the plate, keeps the adapted model, and after an offline reload reproduces its predictions', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}?backend=wasm`);
    await page.waitForSelector('main[data-engine="ready"]', { timeout: 120_000 });
    const shippedName = await page.textContent('[data-testid="model-name"]');
    await runDemo(page);
    await page.click('[data-testid="tab-adapt"]');
    await page.click('[data-testid="adapt-mark-truth"]');
    await page.click('[data-testid="adapt-fit"]');
    const loco = await page.waitForSelector('[data-testid="adapt-loco"]', { timeout: 120_000 });
    const locoTreatments = Number(await loco.getAttribute('data-treatments'));
    if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, 'adapt.png'), fullPage: true });
    expect(locoTreatments).toBeGreaterThanOrEqual(0);
    expect(locoTreatments).toBeLessThanOrEqual(1);
    await page.click('[data-testid="adapt-save"]');
    // The adapted model loads and the stale results give way to the review of the same files.
    await page.waitForSelector('main[data-phase="review"][data-engine="ready"]', { timeout: 120_000 });
    const adaptedName = (await page.textContent('[data-testid="model-name"]'))!;
    expect(adaptedName).toContain('-adapted-');
    expect(adaptedName).not.toBe(shippedName);
    // Classify the plate again with the adapted model: fitted on every compound's label, it calls most treatments right.
    await page.click('[data-testid="run"]');
    await page.waitForSelector('main[data-phase="done"]', { timeout: 400_000 });
    // The header's model list marks the adapted model as the one in use.
    expect(adaptedName).toContain(await page.getAttribute('[data-testid="model-entry"][data-current="true"]', 'data-name'));
    const online = await treatmentCalls(page);
    const truths = await page.$$eval('[data-testid="treatment-table"] tbody tr', (trs) => trs.filter((tr) => tr.getAttribute('data-correct') === 'true').length);
    expect(truths).toBeGreaterThanOrEqual(Math.ceil(0.8 * Object.keys(online).length));

    await browser.context.setOffline(true);
    try {
      await page.reload();
      await page.waitForSelector('main[data-engine="ready"]', { timeout: 120_000 });
      expect(await page.textContent('[data-testid="model-name"]')).toBe(adaptedName);
      await runDemo(page);
      expect(await treatmentCalls(page)).toEqual(online);
    } finally {
      await browser.context.setOffline(false);
    }
    // Back to the shipped model (then the review of the same files).
    await page.click('[data-testid="model-list"] summary');
    await page.click('[data-testid="model-entry"][data-default="true"] [data-testid="use-model"]');
    await page.waitForSelector('main[data-phase="review"][data-engine="ready"]');
    expect(await page.textContent('[data-testid="model-name"]')).toBe(shippedName);
    expect(browser.foreignRequests(server.origin)).toEqual([]);
    await page.close();
  }, 1_200_000);
});
