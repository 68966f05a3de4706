// The shipped default on the demo plate: the app's button runs it end to end, and shows the per-treatment accuracy that Node computes and the model card states.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateTreatments, score } from '../../src/core/aggregate.ts';
import { bundleIOHandler } from '../../src/core/bundle.ts';
import { checkOod, oodVector } from '../../src/core/ood.ts';
import { readBundleDir } from '../../training/src/bundle-fs.ts';
import { loadDatasetIndex } from '../../training/src/data/index.ts';
import { selectBackend } from '../../training/src/backend/select.ts';
import { evaluate } from '../../training/src/eval/evaluate.ts';
import { writeDemoPlate } from '../../training/src/simulate/demo-plate.ts';
import { launchBrowser, type TestBrowser } from './harness/browser.ts';
import { REPO_ROOT, startServer, type TestServer } from './harness/server.ts';

const DEMO = path.join(REPO_ROOT, 'public/demo');
/** MOA_LENS_SCREENSHOTS=1 npx vitest run test/browser/demo.test.ts refreshes the README's screenshots. */
const SCREENSHOTS = process.env.MOA_LENS_SCREENSHOTS ? path.join(REPO_ROOT, 'docs/screenshots') : null;
const shot = async (page: import('playwright-core').Page, name: string) => {
  if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, name), fullPage: false });
};
let server: TestServer;
let browser: TestBrowser;
let defaultName: string;
let node: { treatments: { n: number; correct: number }; fields: { n: number; correct: number }; classified: number; setApart: number };

beforeAll(async () => {
  await writeDemoPlate(await readFile(path.join(DEMO, 'plate.json'), 'utf8'), DEMO);
  defaultName = (JSON.parse(await readFile(path.join(REPO_ROOT, 'models/index.json'), 'utf8')) as { default: string }).default;
  await selectBackend({ requested: 'wasm', log: null });
  const bundle = await readBundleDir(path.join(REPO_ROOT, 'models', defaultName));
  const model = await tfl.loadLayersModel(bundleIOHandler(bundle));
  const index = await loadDatasetIndex(DEMO);
  const meta = bundle.metadata;
  const ev = await evaluate(model, index.samples, index.samples.map((_, i) => i), meta, meta.classes.length);
  model.dispose();
  // As the app scores: fields the bundle's OOD check sets apart count in neither accuracy (no check: all fields).
  const kept = bundle.ood ? ev.fields.filter((f) => !checkOod(bundle.ood!, oodVector(f.features, f.inputStatistics)).unlike) : ev.fields;
  const fieldScores = score(kept, meta.classes.length);
  const treatmentScores = score(aggregateTreatments(kept), meta.classes.length);
  node = { treatments: { n: treatmentScores.n, correct: treatmentScores.correct }, fields: { n: fieldScores.n, correct: fieldScores.correct }, classified: ev.fields.length, setApart: ev.fields.length - kept.length };
  server = await startServer({ mode: 'dev' });
  browser = await launchBrowser();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('demo plate with the shipped model', () => {
  it('the model card states the accuracy Node computes on the demo plate', async () => {
    const card = await readFile(path.join(REPO_ROOT, 'models', defaultName, 'README.md'), 'utf8');
    const m = /Demo plate[^\n]*?per-treatment accuracy \*\*(\d+) \/ (\d+)/.exec(card);
    expect(m, 'the card has a "Demo plate ... per-treatment accuracy **X / N" line').not.toBeNull();
    expect({ correct: Number(m![1]), n: Number(m![2]) }).toEqual(node.treatments);
  });

  it('"Try the demo plate" downloads it, runs it, and shows that per-treatment accuracy', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}?backend=wasm`);
    await page.waitForSelector('main[data-engine="ready"]', { timeout: 120_000 });
    expect(await page.locator('[data-testid="untrained-banner"]').count()).toBe(0);
    await shot(page, 'drop-screen.png');
    await page.click('[data-testid="demo-button"]');
    await page.waitForSelector('main[data-phase="done"]', { timeout: 300_000 });
    const summary = await page.textContent('[data-testid="run-summary"]');
    expect(summary).toContain(`${node.classified} classified`);
    if (node.setApart) expect(await page.textContent('[data-testid="set-apart-summary"]')).toMatch(new RegExp(`^${node.setApart} fields? (is|are) unlike the training data`));
    // The shipped model's provenance says it learnt from simulated fields: the results screen says so.
    expect(await page.textContent('[data-testid="simulated-banner"]')).toMatch(/This model was trained on simulated data/);
    await shot(page, 'results-table.png');
    await page.click('[data-testid="tab-accuracy"]');
    const read = (id: string) => page.$eval(`[data-testid="${id}"]`, (e) => ({ n: Number(e.getAttribute('data-n')), correct: Number(e.getAttribute('data-correct')) }));
    expect(await read('treatment-accuracy')).toEqual(node.treatments);
    expect(await read('field-accuracy')).toEqual(node.fields);
    if (SCREENSHOTS) {
      await page.click('[data-testid="tab-plates"]');
      await shot(page, 'plate-map.png');
      await page.click('[data-testid="plate-map"] button.well[data-predicted]:not([data-predicted=""])');
      await page.waitForSelector('[data-testid="heatmap"] .cell');
      await page.waitForFunction(() => (document.querySelector<HTMLCanvasElement>('[data-testid="field-canvas"]')?.width ?? 0) > 0);
      await shot(page, 'field-view.png');
    }
    expect(browser.foreignRequests(server.origin)).toEqual([]);
    await page.close();
  });
});
