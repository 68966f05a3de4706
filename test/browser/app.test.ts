// The app in Chromium: folder and drop input, predictions and accuracy equal to Node's, bad files listed, offline, no foreign request.
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateTreatments, argmax, score } from '../../src/core/aggregate.ts';
import { bundleInMemory, loadBundle } from '../../src/core/bundle.ts';
import { NO_TRUST } from '../../src/core/bundle-trust.ts';
import { CHANNELS } from '../../src/core/labels.ts';
import { parseImageTable, parseMoaTable, moaLookup, treatmentKey } from '../../src/core/metadata.ts';
import { writeSimulatedDataset } from '../../training/src/simulate/dataset-writer.ts';
import { encodeTiff16 } from '../../training/src/simulate/tiff-writer.ts';
import { BBBC021_METADATA_DIR as METADATA_DIR } from '../fixtures/paths.ts';
import { launchBrowser, type TestBrowser } from './harness/browser.ts';
import { CSP_PROBE_MOUNT, expectedHeaders, expectLockedDown, pageHeadersOf, probeUrl, runProbe } from './harness/csp.ts';
import { tinyBundleFiles, writeFilesTo, writeZstdField } from './harness/fixtures.ts';
import { loadReference, referencePrediction } from './harness/node-reference.ts';
import { REPO_ROOT, startServer, tempDir, type TestServer } from './harness/server.ts';


interface Expected {
  /** Field id as the app names it (image-table path + stem) -> predicted class name. */
  predicted: Map<string, string>;
  fieldScore: { n: number; correct: number };
  treatmentScore: { n: number; correct: number };
}

let tmp: { dir: string; cleanup: () => Promise<void> };
let server: TestServer;
/** The built site (service worker, precache) for the offline test. */
let built: TestServer | undefined;
let browser: TestBrowser;
let expected: Expected;
let classes: string[];
const corruptName = { value: '' };
const missingName = { value: '' };
/** A field whose Tubulin file is all zeros (classified, with a warning on its row). */
const blankField = { id: '', fileName: '' };

/** All files under a folder, relative paths. */
async function walk(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(dir, rel)));
    else out.push(rel);
  }
  return out.sort();
}

beforeAll(async () => {
  tmp = await tempDir('moa-lens-app-');
  const plate = path.join(tmp.dir, 'plate');
  await writeSimulatedDataset({ outDir: plate, metadataDir: METADATA_DIR, compoundsPerClass: 1, fieldsPerTreatment: 1, dmsoFields: 2, height: 256, width: 320, seed: 3 });
  await tf.setBackend('cpu');
  const bundleFiles = await tinyBundleFiles({ height: 64, width: 64, binning: 2, seed: 5, name: 'tiny-app-test' });
  await writeFilesTo(path.join(tmp.dir, 'bundle'), bundleFiles);

  // Bad input: one field's DNA file is garbage, another loses its Actin file, and a stray text file.
  const rows = parseImageTable(await readFile(path.join(plate, 'BBBC021_v1_image.csv'), 'utf8'));
  const moa = moaLookup(parseMoaTable(await readFile(path.join(plate, 'BBBC021_v1_moa.csv'), 'utf8')));
  const [corrupt, missing] = [rows[0], rows[1]];
  corruptName.value = corrupt.files.DNA.fileName;
  missingName.value = missing.files.Actin.fileName;
  await writeFile(path.join(plate, corrupt.files.DNA.pathName, corrupt.files.DNA.fileName), 'this is not a TIFF');
  await rm(path.join(plate, missing.files.Actin.pathName, missing.files.Actin.fileName));
  await writeFile(path.join(plate, 'notes.txt'), 'lab notes');
  // A blank channel: the third field's Tubulin file holds only zeros.
  const blank = rows[2];
  blankField.id = `${blank.files.DNA.pathName}/${blank.files.DNA.fileName.replace(/_w\d[0-9A-Fa-f-]*\.tiff?$/i, '')}`;
  blankField.fileName = blank.files.Tubulin.fileName;
  await writeFile(path.join(plate, blank.files.Tubulin.pathName, blankField.fileName), encodeTiff16({ width: 320, height: 256, data: new Uint16Array(320 * 256) }));

  // A field of Zstandard-compressed TIFFs (a codec geotiff loads on demand), for the field view.
  // Three distinct images (the engine refuses one image standing for two channels); Actin is the libtiff file.
  await writeZstdField(path.join(tmp.dir, 'zstd'), 'B02_s1', path.join(REPO_ROOT, 'test/fixtures/tiff/gray_u16_zstd.tif'));

  // Node reference over the same files and bundle: per-field argmax, treatments, accuracy.
  const verified = await loadBundle(bundleInMemory(bundleFiles), { label: 'tiny', trust: NO_TRUST });
  classes = verified.metadata.classes;
  const ref = await loadReference(verified);
  const predicted = new Map<string, string>();
  const fieldItems: { treatment: string; probabilities: Float32Array; label?: number; predicted: number }[] = [];
  for (const row of rows.slice(2)) {
    const tiffs = await Promise.all(CHANNELS.map((c) => readFile(path.join(plate, row.files[c].pathName, row.files[c].fileName))));
    const { probabilities } = await referencePrediction(ref, tiffs.map((b) => new Uint8Array(b)));
    const id = `${row.files.DNA.pathName}/${row.files.DNA.fileName.replace(/_w\d[0-9A-Fa-f-]*\.tiff?$/i, '')}`;
    const p = argmax(probabilities);
    predicted.set(id, classes[p]);
    const truth = moa.get(treatmentKey(row.compound, row.concentration));
    fieldItems.push({ treatment: treatmentKey(row.compound, row.concentration), probabilities, label: truth ? classes.indexOf(truth) : undefined, predicted: p });
  }
  const fs = score(fieldItems, classes.length);
  const ts = score(aggregateTreatments(fieldItems), classes.length);
  expected = { predicted, fieldScore: { n: fs.n, correct: fs.correct }, treatmentScore: { n: ts.n, correct: ts.correct } };

  server = await startServer({ mode: 'dev', mounts: { '/__app/': tmp.dir } });
  browser = await launchBrowser();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await built?.close();
  await tmp?.cleanup();
});

const appUrl = (base: string) => `${base}?bundle=/__app/bundle/&backend=wasm`;

/** Opens the app on the test bundle (unverified: neither shipped nor signed) and, unless told not to, accepts it to run. */
async function openApp(page: Page, base = server.url, accept = true): Promise<void> {
  await page.goto(appUrl(base));
  await page.waitForSelector('main[data-engine="ready"]', { timeout: 60_000 });
  if (accept) await acceptUnverified(page);
}

async function acceptUnverified(page: Page): Promise<void> {
  await page.click('[data-testid="accept-unverified"]');
  await page.waitForSelector('[data-testid="unverified-banner"][data-confirmed="yes"]');
}

async function classify(page: Page): Promise<void> {
  await page.waitForSelector('[data-testid="review"]');
  await page.click('[data-testid="run"]');
  await page.waitForSelector('main[data-phase="done"]', { timeout: 180_000 });
}

async function tableRows(page: Page) {
  return page.$$eval('[data-testid="field-table"] tbody tr', (trs) =>
    trs.map((tr) => ({
      id: tr.getAttribute('data-field-id')!,
      predicted: tr.getAttribute('data-predicted')!,
      status: tr.getAttribute('data-status')!,
      text: tr.textContent ?? '',
    })),
  );
}

describe('MoA Lens app in Chromium', () => {
  it('classifies a dropped plate folder with its metadata CSVs exactly as Node does, lists bad files, and finishes the batch', async () => {
    const page = await browser.newPage();
    await openApp(page, server.url, false);
    await expect(page.textContent('[data-testid="untrained-banner"]')).resolves.toMatch(/Untrained model/);
    await page.setInputFiles('[data-testid="folder-input"]', path.join(tmp.dir, 'plate'));
    await page.waitForSelector('[data-testid="review"]');
    // The test bundle is unverified: the header says so and nothing runs until the user accepts it.
    expect(await page.getAttribute('[data-testid="model-trust"]', 'data-status')).toBe('unverified');
    expect(await page.textContent('[data-testid="unverified-banner"]')).toContain('not shipped with this build and not signed (no moa-lens.sig.json)');
    expect(await page.isDisabled('[data-testid="run"]')).toBe(true);
    await acceptUnverified(page);
    expect(await page.isDisabled('[data-testid="run"]')).toBe(false);
    const unused = await page.textContent('[data-testid="unused"]');
    expect(unused).toContain('notes.txt');
    expect(await page.textContent('[data-testid="incomplete"]')).toContain(missingName.value);
    await classify(page);

    const rows = await tableRows(page);
    // 100 rows per page is more than this plate has.
    expect(rows).toHaveLength(expected.predicted.size + 2);
    for (const [id, label] of expected.predicted) {
      const row = rows.find((r) => r.id === id);
      expect(row, id).toBeDefined();
      expect(row!.status).toBe('ok');
      expect(row!.predicted, id).toBe(label);
    }
    const failed = rows.filter((r) => r.status === 'failed');
    expect(failed).toHaveLength(2);
    expect(failed.map((r) => r.text).join(' ')).toContain(corruptName.value);
    expect(failed.map((r) => r.text).join(' ')).toContain(missingName.value);
    // The blank Tubulin file: classified, and its row says so; no other row warns.
    const blankRow = rows.find((r) => r.id === blankField.id)!;
    expect(blankRow.status).toBe('ok');
    expect(blankRow.text).toContain(`"${blankField.fileName}", used as Tubulin, is blank (every pixel is 0)`);
    expect(await page.$$eval('[data-testid="field-warning"]', (tags) => tags.map((t) => t.closest('tr')!.getAttribute('data-field-id')))).toEqual([blankField.id]);

    await page.click('[data-testid="tab-accuracy"]');
    const fa = await page.$eval('[data-testid="field-accuracy"]', (e) => ({ n: Number(e.getAttribute('data-n')), correct: Number(e.getAttribute('data-correct')) }));
    const ta = await page.$eval('[data-testid="treatment-accuracy"]', (e) => ({ n: Number(e.getAttribute('data-n')), correct: Number(e.getAttribute('data-correct')) }));
    expect(fa).toEqual(expected.fieldScore);
    expect(ta).toEqual(expected.treatmentScore);

    await page.click('[data-testid="tab-plates"]');
    const wells = await page.$$eval('[data-testid="plate-map"] button.well:not(:disabled)', (b) => b.length);
    expect(wells).toBeGreaterThan(10);
    await page.click('[data-testid="plate-map"] button.well[data-predicted]:not([data-predicted=""])');
    await page.waitForSelector('[data-testid="heatmap"] .cell');
    await page.waitForFunction(() => {
      const c = document.querySelector<HTMLCanvasElement>('[data-testid="field-canvas"]');
      return c !== null && c.width > 0;
    });
    expect(await page.$$eval('[data-testid="heatmap"] .cell', (c) => c.length)).toBe(6); // 128x160 model pixels in 64x64 tiles: 2 x 3
    await page.close();
  }, 300_000);

  it('takes a synthetic drop of loose files (DataTransfer) and classifies them', async () => {
    const page = await browser.newPage();
    await openApp(page);
    const files = (await walk(path.join(tmp.dir, 'plate'))).filter((f) => f.endsWith('.tif')).slice(-9);
    await page.evaluate(async (urls) => {
      const dt = new DataTransfer();
      for (const u of urls) dt.items.add(new File([await (await fetch(u)).blob()], u.split('/').pop()!));
      dt.items.add(new File(['junk'], 'readme.md'));
      const zone = document.querySelector('[data-testid="drop-zone"]')!;
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, files.map((f) => `/__app/plate/${f}`));
    await classify(page);
    const rows = await tableRows(page);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(rows.filter((r) => r.status === 'ok').length).toBeGreaterThanOrEqual(2);
    await page.close();
  }, 300_000);

  it('shows a Zstandard field in the field view, decoded by the engine', async () => {
    const page = await browser.newPage();
    await openApp(page);
    await page.setInputFiles('[data-testid="folder-input"]', path.join(tmp.dir, 'zstd'));
    await classify(page);
    const rows = await tableRows(page);
    expect(rows.map((r) => r.status)).toEqual(['ok']);
    await page.click(`[data-testid="field-table"] tr[data-field-id="${rows[0].id}"] button.link`);
    await page.waitForSelector('[data-testid="field-view"]');
    const shown = await page.waitForFunction(() => {
      const error = document.querySelector('[data-testid="field-view"] .error')?.textContent;
      if (error) return { error };
      if (!document.querySelector('[data-testid="field-image"]:not(.hidden)')) return false;
      const c = document.querySelector<HTMLCanvasElement>('[data-testid="field-canvas"]')!;
      const { data } = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
      return { width: c.width, height: c.height, lit: data.some((v, i) => i % 4 !== 3 && v > 0) };
    });
    expect(await shown.jsonValue()).toEqual({ width: 40, height: 24, lit: true });
    await page.close();
  }, 300_000);

  it('built site works offline after one visit: reload with the network cut, classify a plate, the security headers kept', async () => {
    built = await startServer({ mode: 'preview', mounts: { '/__app/': tmp.dir, ...CSP_PROBE_MOUNT } });
    const page = await browser.newPage();
    await openApp(page, built.url);
    await page.waitForSelector('[data-testid="offline-status"][data-status="ready"]', { timeout: 120_000 }).catch(async (e) => {
      const status = await page.evaluate(() => document.querySelector('[data-testid="offline-status"]')?.outerHTML ?? 'no offline status element');
      throw new Error(`${(e as Error).message}\noffline status: ${status}\nlogs:\n${browser.logs.slice(-30).join('\n')}`);
    });
    // The CSP probe, fetched once online so that the service worker has it (its fetch goes nowhere offline anyway).
    const probe = probeUrl(built.url, 'http://127.0.0.1:9/', 1);
    await page.evaluate(async (url) => void (await fetch(url)).text(), probe);
    await browser.context.setOffline(true);
    try {
      const navigation = await page.reload();
      await page.waitForSelector('main[data-engine="ready"]', { timeout: 120_000 }).catch(async (e) => {
        const state = await page.evaluate(() => `${document.querySelector('main')?.outerHTML.slice(0, 300)} | ${document.body.innerText.slice(0, 600)}`).catch((x) => String(x));
        throw new Error(`${(e as Error).message}\npage: ${state}\nlogs:\n${browser.logs.slice(-30).join('\n')}`);
      });
      // With the network cut, what the service worker serves from its cache still carries the CSP and COOP/COEP/CORP:
      // the page, the engine's worker script; and the engine's worker runs under the policy.
      const engine = page.workers().find((w) => !w.url().startsWith('blob:') && /worker/.test(w.url()));
      expect(engine, 'the engine worker').toBeDefined();
      expect(navigation?.fromServiceWorker(), 'the page came from the service worker').toBe(true);
      const pageHeaders = await navigation!.allHeaders();
      expect(Object.fromEntries(Object.keys(expectedHeaders('site')).map((n) => [n, pageHeaders[n.toLowerCase()] ?? null])), 'the page, offline').toEqual(expectedHeaders('site'));
      expect(await pageHeadersOf(page, engine!.url()), "the engine's worker script, offline").toEqual(expectedHeaders('site'));
      expectLockedDown(await runProbe(engine!, probe), "the engine's worker, offline", { fetch: false });
      await acceptUnverified(page);
      const files = (await walk(path.join(tmp.dir, 'plate'))).filter((f) => f.endsWith('.tif')).slice(3, 15);
      await page.setInputFiles('[data-testid="file-input"]', files.map((f) => path.join(tmp.dir, 'plate', f)));
      await classify(page);
      const rows = await tableRows(page);
      expect(rows.filter((r) => r.status === 'ok').length).toBeGreaterThanOrEqual(3);
      expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
    } finally {
      await browser.context.setOffline(false);
      await page.close();
    }
  }, 400_000);

  it('lists every shipped model with its download size, loads the one chosen, and keeps the choice after a reload', async () => {
    const index = JSON.parse(await readFile(path.join(REPO_ROOT, 'models/index.json'), 'utf8')) as { default: string; shipped: Record<string, string> };
    const page = await browser.newPage();
    await page.goto(`${server.url}?backend=wasm`);
    await page.waitForSelector('main[data-engine="ready"]', { timeout: 120_000 });
    expect(await page.textContent('[data-testid="model-name"]')).toContain(index.default);
    await page.click('[data-testid="model-list"] summary');
    const entries = await page.$$eval('[data-testid="model-entry"]', (lis) => lis.map((li) => ({ name: li.getAttribute('data-name')!, current: li.getAttribute('data-current'), size: li.querySelector('[data-testid="model-size"]')?.textContent ?? '' })));
    expect(entries.map((e) => e.name).sort()).toEqual(Object.keys(index.shipped).sort());
    expect(entries.find((e) => e.current === 'true')?.name).toBe(index.default);
    for (const e of entries) {
      // The size moa-lens.json records: every file's (version 2), or the weights' alone (version 1 records none).
      const meta = JSON.parse(await readFile(path.join(REPO_ROOT, 'models', e.name, 'moa-lens.json'), 'utf8'));
      const bytes = meta.version === 1 ? meta.weights.bytes : Object.values(meta.files as Record<string, { bytes: number }>).reduce((a, f) => a + f.bytes, 0);
      expect(e.size, e.name).toContain(`${(bytes / 1e6).toFixed(1)} MB`);
    }
    await page.click('[data-testid="model-entry"][data-name="mcnn-sim-v1"] [data-testid="use-model"]');
    await page.waitForFunction(() => document.querySelector('[data-testid="model-name"]')?.textContent?.includes('mcnn-sim-v1') && document.querySelector('main')?.getAttribute('data-engine') === 'ready', undefined, { timeout: 120_000 });
    await page.reload();
    await page.waitForSelector('main[data-engine="ready"]', { timeout: 120_000 });
    expect(await page.textContent('[data-testid="model-name"]')).toContain('mcnn-sim-v1');
    expect(await page.getAttribute('[data-testid="model-entry"][data-current="true"]', 'data-name')).toBe('mcnn-sim-v1');
    expect(await page.$('[data-testid="model-notice"]')).toBeNull();
    // A remembered model that is gone: the default loads, with a sentence saying so.
    await page.evaluate(() => localStorage.setItem('moa-lens.model-choice.v1', JSON.stringify({ kind: 'shipped', name: 'mcnn-sim-v0' })));
    await page.reload();
    await page.waitForSelector('main[data-engine="ready"]', { timeout: 120_000 });
    expect(await page.textContent('[data-testid="model-name"]')).toContain(index.default);
    expect(await page.textContent('[data-testid="model-notice"]')).toContain('"mcnn-sim-v0", is no longer shipped with this app');
    await page.close();
  }, 300_000);

  it('made no request to any other origin', () => {
    expect(browser.requests.length).toBeGreaterThan(10);
    expect(browser.foreignRequests(server.origin, ...(built ? [built.origin] : []))).toEqual([]);
  });
});
