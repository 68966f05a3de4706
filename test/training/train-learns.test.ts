// End to end: simulate, train a small M-CNN on the default engine (native when oneDNN is there), check it learns (loss falls,
// held-out compounds beat chance), export, reload, same predictions; the WASM engine learns as well from the same recipe.
import { readFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleIOHandler } from '../../src/core/bundle.ts';
import { readBundleDir } from '../../training/src/bundle-fs.ts';
import { loadDatasetIndex } from '../../training/src/data/index.ts';
import { resolveBackend, selectBackend } from '../../training/src/backend/select.ts';
import { evaluate } from '../../training/src/eval/evaluate.ts';
import { repoRoot, runTrainer, smallDataset } from './train-helpers.ts';

// 3 compounds per class, 4 fields per treatment: 384 fields of 128x160, binned 2x; grouped fold 0 of 3 holds out 1 compound per class.
// The compounds are their class templates (--compound-diversity 0): this file tests that the trainer learns what is there
// to learn; how hard unseen compounds of the full simulator are is the simulator's own learnability check.
const recipe = ['--input-size', '64x64', '--binning', '2', '--width-multiplier', '0.25', '--epochs', '30', '--warmup-epochs', '2', '--global-batch', '16', '--base-lr', '0.02', '--folds', '3', '--fold', '0', '--seed', '1', '--quantize', 'float32'];
const CHANCE = 1 / 13;

interface Report {
  metrics: { split: string; fieldAccuracy: number; treatmentAccuracy: number; heldOutFields: number; heldOutTreatments: number };
  fields: { id: string; treatment: string; predicted: number; probabilities: number[] }[];
}

describe('trainer learns and exports a bundle that predicts the same after reloading', () => {
  let data: string;
  let out: string;
  let report: Report;
  beforeAll(async () => {
    data = await smallDataset({ size: 128, width: 160, compoundsPerClass: 3, fieldsPerTreatment: 4, seed: 7, compoundDiversity: 0 });
    out = path.join(await mkdtemp(path.join(os.tmpdir(), 'moa-learn-')), 'model');
    const run = await runTrainer(['--data', data, '--out', out, ...recipe]);
    expect(run.code, run.stderr + run.stdout.slice(-2000)).toBe(0);
    report = JSON.parse(await readFile(`${out}.report.json`, 'utf8')) as Report;
  }, 600_000);

  it('the training loss falls', async () => {
    const log = (await readFile(`${out}.train.jsonl`, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; loss: number });
    const mean = (from: number, to: number) => {
      const xs = log.filter((p) => p.epoch > from && p.epoch <= to).map((p) => p.loss);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    const first = mean(0, 3);
    const last = mean(27, 30);
    expect(last, `loss over the first 3 epochs ${first.toFixed(3)}, last 3 epochs ${last.toFixed(3)}`).toBeLessThan(first - 0.15);
  });

  it('beats chance on compounds it never saw, per field and per treatment', () => {
    expect(report.metrics.split).toBe('grouped:0/3');
    expect(report.metrics.heldOutFields).toBeGreaterThan(100);
    expect(report.metrics.fieldAccuracy).toBeGreaterThan(2 * CHANCE);
    expect(report.metrics.treatmentAccuracy).toBeGreaterThan(2 * CHANCE);
  });

  it("the report shows the held-out treatments' profile map, also written beside the bundle", async () => {
    const html = await readFile(`${out}.report.html`, 'utf8');
    const map = await readFile(path.join(out, 'map-treatments.svg'), 'utf8');
    expect(html).toContain('<h2>Held-out treatments: profile map</h2>');
    expect(html).toContain(map);
    const treatments = new Set(report.fields.map((f) => f.treatment)).size;
    // One marker a treatment (DMSO a square), plus the legend's class circles.
    expect((map.match(/<circle cx=/g)?.length ?? 0) + (map.match(/stroke="black" stroke-width="1.5">/g)?.length ?? 0)).toBeGreaterThanOrEqual(treatments);
    expect(map).toMatch(/NSC 1-NN \d+(\.\d)?%/);
  });

  it('the exported bundle, reloaded, gives the same held-out predictions; npm run evaluate reports the same accuracy', async () => {
    await selectBackend({ log: null }); // the engine that trained and evaluated it
    const bundle = await readBundleDir(out);
    expect(bundle.metadata.provenance.trained).toBe(true);
    const model = await tfl.loadLayersModel(bundleIOHandler(bundle));
    const index = await loadDatasetIndex(data);
    const byId = new Map(index.samples.map((s, i) => [s.id, i]));
    const indices = report.fields.map((f) => byId.get(f.id)!);
    const again = await evaluate(model, index.samples, indices, bundle.metadata, 13);
    expect(again.fields.map((f) => f.predicted)).toEqual(report.fields.map((f) => f.predicted));
    let maxDiff = 0;
    again.fields.forEach((f, i) => f.probabilities.forEach((p, k) => (maxDiff = Math.max(maxDiff, Math.abs(p - report.fields[i].probabilities[k])))));
    expect(maxDiff).toBeLessThan(1e-5);
    model.dispose();

    const cli = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'training/src/evaluate-cli.ts'), '--bundle', out, '--data', data, '--fields', 'held-out', '--allow-unverified'], { cwd: repoRoot, encoding: 'utf8' });
    expect(cli.status, cli.stderr).toBe(0);
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    expect(cli.stdout).toContain(`field accuracy ${pct(report.metrics.fieldAccuracy)} of ${report.metrics.heldOutFields}`);
    expect(cli.stdout).toContain(`treatment accuracy ${pct(report.metrics.treatmentAccuracy)} of ${report.metrics.heldOutTreatments}`);
  });

  it.runIf(resolveBackend('auto').name !== 'wasm')('the WASM engine learns as well from the same recipe (same held-out accuracy within noise)', async () => {
    const wasmOut = path.join(path.dirname(out), 'wasm', 'model');
    const run = await runTrainer(['--data', data, '--out', wasmOut, ...recipe, '--backend', 'wasm']);
    expect(run.code, run.stderr + run.stdout.slice(-2000)).toBe(0);
    expect(run.stdout).toMatch(/backend: wasm/);
    const [a, b] = [report.metrics, (JSON.parse(await readFile(`${wasmOut}.report.json`, 'utf8')) as Report).metrics];
    expect(b.heldOutFields).toBe(a.heldOutFields);
    // About 130 held-out fields: one run's accuracy has a standard error near 0.04; allow a little over 3 of them.
    expect(Math.abs(a.fieldAccuracy - b.fieldAccuracy), `field accuracy ${a.fieldAccuracy} vs wasm ${b.fieldAccuracy}`).toBeLessThan(0.15);
    expect(Math.abs(a.treatmentAccuracy - b.treatmentAccuracy), `treatment accuracy ${a.treatmentAccuracy} vs wasm ${b.treatmentAccuracy}`).toBeLessThan(0.2);
    expect(b.fieldAccuracy).toBeGreaterThan(2 * CHANCE);
  }, 1_200_000);
});
