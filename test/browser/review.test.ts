// The review screen in Chromium, before and after a run: single-stain files (greyscale, grey palette)
// are incomplete before anything runs, an RGBA composite offers its samples, stain-named Cytation
// files list their channel names with file counts; a mapping made here is remembered for the next
// drop with the same names, used by the run, and exported with the results; rows name their files.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTiff8, GREY_PALETTE, ramp } from '../fixtures/image-files.ts';
import { launchBrowser, type TestBrowser } from './harness/browser.ts';
import { encodeTiffU16, syntheticField, tinyBundleFiles, writeFilesTo } from './harness/fixtures.ts';
import { startServer, tempDir, type TestServer } from './harness/server.ts';

let tmp: { dir: string; cleanup: () => Promise<void> };
let server: TestServer;
let browser: TestBrowser;
const SIZE = 64;

beforeAll(async () => {
  tmp = await tempDir('moa-lens-review-');
  const drop = path.join(tmp.dir, 'drop');
  for (const folder of ['fly', 'composite', 'cytation']) await mkdir(path.join(drop, folder), { recursive: true });
  const [a, b, c] = syntheticField(11, SIZE, SIZE);
  await writeFile(path.join(drop, 'fly', 'fly_tissue.tif'), encodeTiffU16(SIZE, SIZE, a));
  await writeFile(path.join(drop, 'fly', 'grey_lut.tif'), encodeTiff8({ width: SIZE, height: SIZE, pixels: ramp(SIZE * SIZE, 5), samplesPerPixel: 1, photometric: 3, palette: GREY_PALETTE }));
  const rgba = new Uint8Array(SIZE * SIZE * 4);
  for (let i = 0; i < SIZE * SIZE; i++) rgba.set([a[i] >> 8, b[i] >> 8, c[i] >> 8, 255], i * 4);
  await writeFile(path.join(drop, 'composite', 'composite.tif'), encodeTiff8({ width: SIZE, height: SIZE, pixels: rgba, samplesPerPixel: 4, photometric: 2, extraSamples: 2 }));
  const stains = ['DAPI', 'GFP', 'Propidium Iodide'];
  const planes = syntheticField(12, SIZE, SIZE);
  for (const [i, stain] of stains.entries()) await writeFile(path.join(drop, 'cytation', `B2_01_${i + 1}_1_${stain}_001.tif`), encodeTiffU16(SIZE, SIZE, planes[i]));
  await tf.setBackend('cpu');
  await writeFilesTo(path.join(tmp.dir, 'bundle'), await tinyBundleFiles({ height: SIZE, width: SIZE, seed: 5, name: 'tiny-review-test' }));
  server = await startServer({ mode: 'dev', mounts: { '/__app/': tmp.dir } });
  browser = await launchBrowser();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await tmp?.cleanup();
});

/** Opens the app on the test bundle, accepts it (unverified), drops the folder and waits until its images are inspected. */
async function openAndDrop(page: Page): Promise<void> {
  await page.goto(`${server.url}?bundle=/__app/bundle/&backend=wasm`);
  await page.waitForSelector('main[data-engine="ready"]', { timeout: 60_000 });
  await page.click('[data-testid="accept-unverified"]');
  await page.setInputFiles('[data-testid="folder-input"]', path.join(tmp.dir, 'drop'));
  await page.waitForSelector('[data-testid="review"]');
  await page.waitForFunction(() => !document.querySelector('[data-testid="probing"]') && document.querySelectorAll('[data-testid="mapping"] tbody tr').length === 7);
}

async function mappingRows(page: Page) {
  return page.$$eval('[data-testid="mapping"] tbody tr', (trs) =>
    trs.map((tr) => ({
      token: tr.getAttribute('data-token'),
      files: Number(tr.querySelector('td.num')?.textContent),
      usedAs: tr.querySelector('select')?.value ?? null,
    })),
  );
}

const readyCount = async (page: Page) => Number(await page.textContent('[data-testid="review-summary"] strong'));

describe('review screen', () => {
  it('says before the run what is incomplete, lets every channel name be mapped, remembers it, runs with it and exports it', async () => {
    const page = await browser.newPage();
    await openAndDrop(page);
    // Single-stain files: incomplete before the run, one channel each, never copied into three.
    const incomplete = await page.textContent('[data-testid="incomplete"]');
    for (const name of ['fly_tissue.tif', 'grey_lut.tif']) expect(incomplete).toMatch(new RegExp(`${name.replace('.', '\\.')} — .*has one channel`));
    expect(incomplete).toMatch(/B2_01_\*_1_\*_001 — .*has no Tubulin image: none of its channels \(DAPI, GFP, Propidium Iodide\)/);
    // Every channel name with its file count: the composite's samples and the Cytation stains.
    expect(await mappingRows(page)).toEqual([
      { token: 'Alpha', files: 1, usedAs: '' },
      { token: 'Blue', files: 1, usedAs: 'Actin' },
      { token: 'DAPI', files: 1, usedAs: 'DNA' },
      { token: 'GFP', files: 1, usedAs: '' },
      { token: 'Green', files: 1, usedAs: 'Tubulin' },
      { token: 'Propidium Iodide', files: 1, usedAs: '' },
      { token: 'Red', files: 1, usedAs: 'DNA' },
    ]);
    expect(await readyCount(page)).toBe(1);
    await page.selectOption('[data-testid="mapping"] tr[data-token="GFP"] select', 'Tubulin');
    await page.selectOption('[data-testid="mapping"] tr[data-token="Propidium Iodide"] select', 'Actin');
    await page.waitForFunction(() => document.querySelector('[data-testid="review-summary"] strong')?.textContent === '2');

    // The same names in a later drop: the mapping comes back from localStorage.
    await openAndDrop(page);
    expect((await mappingRows(page)).filter((r) => r.token === 'GFP' || r.token === 'Propidium Iodide').map((r) => r.usedAs)).toEqual(['Tubulin', 'Actin']);
    expect(await readyCount(page)).toBe(2);

    await page.click('[data-testid="run"]');
    await page.waitForSelector('main[data-phase="done"]', { timeout: 180_000 });
    const rows = await page.$$eval('[data-testid="field-table"] tbody tr', (trs) =>
      trs.map((tr) => ({ status: tr.getAttribute('data-status'), name: tr.querySelector('[data-testid="field-name"]')?.textContent ?? null, text: tr.textContent ?? '' })),
    );
    expect(rows.filter((r) => r.status === 'ok')).toHaveLength(2);
    const failed = rows.filter((r) => r.status === 'failed');
    expect(failed.map((r) => r.name).sort()).toEqual(['fly_tissue.tif', 'grey_lut.tif']);
    for (const r of failed) expect(r.text).toMatch(/one channel/);
    expect(rows.find((r) => r.name === 'composite.tif')?.status).toBe('ok');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="export-json"]')]);
    const doc = JSON.parse(await readFile((await download.path())!, 'utf8'));
    expect(doc.channelMapping).toEqual(
      expect.arrayContaining([
        { name: 'GFP', usedAs: 'Tubulin', files: 1, decidedBy: 'mapping' },
        { name: 'Propidium Iodide', usedAs: 'Actin', files: 1, decidedBy: 'mapping' },
        { name: 'Alpha', usedAs: null, files: 1, decidedBy: 'none' },
      ]),
    );
    expect(doc.fields.find((f: { name: string }) => f.name === 'composite.tif')).toMatchObject({ status: 'ok', files: ['drop/composite/composite.tif'] });
    await page.close();
  }, 300_000);
});
