// The OOD check in the app (Chromium): a field of uniform noise in a simulated plate is shown as "unlike the training
// data" (its mechanism on demand), set apart and counted; a model whose provenance says simulated gets the banner.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleInMemory, completeBundleFiles, loadBundle } from '../../src/core/bundle.ts';
import { METADATA_FILE, OOD_METHOD } from '../../src/core/bundle-format.ts';
import { NO_TRUST } from '../../src/core/bundle-trust.ts';
import { CHANNELS } from '../../src/core/labels.ts';
import { parseImageTable } from '../../src/core/metadata.ts';
import { encodeOodStats, fitOod, oodScore, oodVector } from '../../src/core/ood.ts';
import { writeSimulatedDataset } from '../../training/src/simulate/dataset-writer.ts';
import { encodeTiff16 } from '../../training/src/simulate/tiff-writer.ts';
import { BBBC021_METADATA_DIR } from '../fixtures/paths.ts';
import { launchBrowser, type TestBrowser } from './harness/browser.ts';
import { tinyBundleFiles, writeFilesTo } from './harness/fixtures.ts';
import { loadReference, referencePrediction } from './harness/node-reference.ts';
import { startServer, tempDir, type TestServer } from './harness/server.ts';

let tmp: { dir: string; cleanup: () => Promise<void> };
let server: TestServer;
let browser: TestBrowser;
const noiseField = { id: '' };

beforeAll(async () => {
  tmp = await tempDir('moa-lens-ood-');
  const plate = path.join(tmp.dir, 'plate');
  await writeSimulatedDataset({ outDir: plate, metadataDir: BBBC021_METADATA_DIR, compoundsPerClass: 1, fieldsPerTreatment: 1, dmsoFields: 2, height: 256, width: 320, seed: 3 });
  const rows = parseImageTable(await readFile(path.join(plate, 'BBBC021_v1_image.csv'), 'utf8'));
  await tf.setBackend('cpu');

  // The OOD statistics of a tiny random-weight bundle, fitted on the plate's own fields (in distribution by construction).
  const base = await tinyBundleFiles({ height: 64, width: 64, binning: 2, seed: 5, name: 'tiny-ood-test' });
  const ref = await loadReference(await loadBundle(bundleInMemory(base), { label: 'tiny', trust: NO_TRUST }));
  const fitted = [];
  for (const [k, row] of rows.entries()) {
    const tiffs = await Promise.all(CHANNELS.map((c) => readFile(path.join(plate, row.files[c].pathName, row.files[c].fileName))));
    const p = await referencePrediction(ref, tiffs.map((b) => new Uint8Array(b)));
    fitted.push({ features: oodVector(p.features, p.inputStatistics), label: k % 13 });
  }
  const fit = fitOod(fitted, [fitted[0].features.length - 19, 19]);
  const threshold = 1.5 * Math.max(...fitted.map((f) => oodScore(fit.stats, f.features)));
  const { files: _f, format: _v, version: _n, ...metadata } = JSON.parse(new TextDecoder().decode(base.get(METADATA_FILE)));
  const files = new Map([...base].filter(([name]) => name !== METADATA_FILE));
  files.set('ood-stats.bin', encodeOodStats(fit.stats));
  await writeFilesTo(
    path.join(tmp.dir, 'bundle'),
    await completeBundleFiles(files, {
      ...metadata,
      provenance: { trained: false, summary: 'test bundle: random seeded weights, OOD statistics of its test plate', simulated: true },
      ood: {
        method: OOD_METHOD, file: 'ood-stats.bin', featureSize: fit.stats.featureSize, inputStatistics: 19, classes: fit.stats.classes, threshold, passFraction: 0.95,
        shrinkage: fit.shrinkage, fitOn: { data: 'the test plate', split: 'all', trainingFields: fitted.length, heldOutFields: fitted.length, heldOutPassed: fitted.length },
      },
    }),
  );

  // One field's three files replaced by uniform 16-bit noise.
  const noisy = rows[0];
  noiseField.id = `${noisy.files.DNA.pathName}/${noisy.files.DNA.fileName.replace(/_w\d[0-9A-Fa-f-]*\.tiff?$/i, '')}`;
  let seed = 9;
  for (const c of CHANNELS) {
    const data = Uint16Array.from({ length: 256 * 320 }, () => ((seed = (seed * 48271) % 2147483647), seed % 65536));
    await writeFile(path.join(plate, noisy.files[c].pathName, noisy.files[c].fileName), encodeTiff16({ width: 320, height: 256, data }));
  }
  server = await startServer({ mode: 'dev', mounts: { '/__app/': tmp.dir } });
  browser = await launchBrowser();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await tmp?.cleanup();
});

describe('fields unlike the training data in the app', () => {
  it('shows the noise field as "unlike the training data" with its mechanism on demand, sets it apart and says the model saw simulated data', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}?bundle=/__app/bundle/&backend=wasm`);
    await page.waitForSelector('main[data-engine="ready"]', { timeout: 60_000 });
    await page.click('[data-testid="accept-unverified"]');
    await page.setInputFiles('[data-testid="folder-input"]', path.join(tmp.dir, 'plate'));
    await page.waitForSelector('[data-testid="review"]');
    await page.click('[data-testid="run"]');
    await page.waitForSelector('main[data-phase="done"]', { timeout: 180_000 });

    const rows = await page.$$eval('[data-testid="field-table"] tbody tr', (trs) =>
      trs.map((tr) => ({ id: tr.getAttribute('data-field-id')!, unlike: tr.getAttribute('data-unlike'), status: tr.getAttribute('data-status'), text: tr.textContent ?? '' })),
    );
    const noise = rows.find((r) => r.id === noiseField.id)!;
    expect(noise, JSON.stringify(rows.map((r) => r.id))).toBeDefined();
    expect(noise).toMatchObject({ unlike: 'true', status: 'ok' });
    expect(noise.text).toContain('unlike the training data');
    expect(noise.text).toContain('set apart');
    const others = rows.filter((r) => r.id !== noiseField.id && r.status === 'ok');
    expect(others.length).toBeGreaterThan(5);
    expect(others.every((r) => r.unlike === 'false' && !r.text.includes('unlike the training data'))).toBe(true);

    // The mechanism stays visible on demand.
    const row = page.locator(`tr[data-field-id="${noiseField.id}"]`);
    await row.locator('summary').click();
    await expect(row.locator('details .chip, details [class*="chip"]').first().isVisible()).resolves.toBe(true);

    expect(await page.textContent('[data-testid="simulated-banner"]')).toMatch(/trained on simulated data/);
    expect(await page.textContent('[data-testid="set-apart-summary"]')).toMatch(/^1 field is unlike the training data/);
    expect(await page.$('[data-testid="no-ood-check"]')).toBeNull();
    await page.close();
  });
});
