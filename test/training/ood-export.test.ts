// The OOD check end to end: a small training run exports a bundle whose OOD statistics pass its held-out simulated
// fields, and flag uniform noise, the real worm and shapes images, single-stain fields and a field 4x smaller than the
// model expects, scored through the app's own field pipeline; --add-ood adds the same check to an existing bundle.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleIOHandler, type VerifiedBundle } from '../../src/core/bundle.ts';
import { METADATA_FILE } from '../../src/core/bundle-format.ts';
import { predictField } from '../../src/core/field-pipeline.ts';
import { layersPredictBatch } from '../../src/core/layers-predict.ts';
import { checkOod, oodVector, type OodResult } from '../../src/core/ood.ts';
import type { PixelPlane } from '../../src/core/preprocess.ts';
import { decodeTiff } from '../../src/core/tiff/index.ts';
import { selectBackend } from '../../training/src/backend/select.ts';
import { readBundleDir } from '../../training/src/bundle-fs.ts';
import { loadDatasetIndex, type Sample } from '../../training/src/data/index.ts';
import { loadFieldPlanes } from '../../training/src/data/field-loader.ts';
import { REAL_TIFFS_DIR } from '../fixtures/paths.ts';
import { repoRoot, runTrainer, smallDataset } from './train-helpers.ts';

// 128x160 fields binned 2x into 64x64 tiles; a couple of epochs: the check needs no good classifier, only the run's own split.
const recipe = ['--input-size', '64x64', '--binning', '2', '--width-multiplier', '0.25', '--epochs', '2', '--warmup-epochs', '1', '--global-batch', '16', '--folds', '3', '--fold', '0', '--seed', '1', '--quantize', 'float32'];
const WORMS = 'cellprofiler-examples/ExampleStraightenWorms';

async function realPlanes(rel: string): Promise<PixelPlane[]> {
  return (await decodeTiff(new Uint8Array(await readFile(path.join(REAL_TIFFS_DIR, rel))), path.basename(rel))).planes;
}

/** Box-averages a plane 4x in each direction: the same field at a quarter of the resolution the model expects. */
function quarter(p: PixelPlane): PixelPlane {
  const height = Math.floor(p.height / 4);
  const width = Math.floor(p.width / 4);
  const data = new Uint16Array(height * width);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let dy = 0; dy < 4; dy++) for (let dx = 0; dx < 4; dx++) sum += Number(p.data[(4 * y + dy) * p.width + 4 * x + dx]);
      data[y * width + x] = Math.round(sum / 16);
    }
  return { width, height, data };
}

describe('the OOD check, exported with a bundle trained on simulated fields', () => {
  let data: string;
  let out: string;
  let bundle: VerifiedBundle;
  let score: (planes: readonly PixelPlane[]) => Promise<OodResult>;
  let heldOut: Sample[];

  beforeAll(async () => {
    data = await smallDataset({ size: 128, width: 160, compoundsPerClass: 2, fieldsPerTreatment: 2, seed: 11 });
    out = path.join(await mkdtemp(path.join(os.tmpdir(), 'moa-ood-')), 'model');
    const run = await runTrainer(['--data', data, '--out', out, ...recipe]);
    expect(run.code, run.stderr + run.stdout.slice(-2000)).toBe(0);
    expect(run.stdout).toMatch(/OOD check: tied-covariance Mahalanobis over 128 features and 19 input statistics/);
    await selectBackend({ log: null });
    bundle = await readBundleDir(out);
    const model = await tfl.loadLayersModel(bundleIOHandler(bundle));
    const predictBatch = layersPredictBatch(model, bundle.metadata.input);
    score = async (planes) => {
      const p = await predictField(planes, bundle.metadata, predictBatch);
      return checkOod(bundle.ood!, oodVector(p.features, p.inputStatistics));
    };
    const report = JSON.parse(await readFile(`${out}.report.json`, 'utf8')) as { fields: { id: string }[] };
    const index = await loadDatasetIndex(data);
    const byId = new Map(index.samples.map((s) => [s.id, s]));
    heldOut = report.fields.map((f) => byId.get(f.id)!);
  }, 900_000);

  it('records the check, the pixel size and the simulated provenance; the held-out simulated fields pass (>= 95%) as the app scores them', async () => {
    const m = bundle.metadata;
    expect(m.ood).toMatchObject({ file: 'ood-stats.bin', featureSize: 128 + 19, inputStatistics: 19, passFraction: 0.95 });
    expect(m.ood!.fitOn.heldOutPassed / m.ood!.fitOn.heldOutFields).toBeGreaterThanOrEqual(0.95);
    expect(m.ood!.fitOn.heldOutFields).toBe(heldOut.length);
    expect(m.pixelSize).toMatchObject({ micrometres: 0.32, binning: 2 });
    expect(m.provenance).toMatchObject({ simulated: true });
    expect(m.provenance.summary).toMatch(/SIMULATED/);
    const results = [];
    for (const s of heldOut) results.push(await score(await loadFieldPlanes(s)));
    const passed = results.filter((r) => !r.unlike).length;
    expect(passed / results.length, `${passed} of ${results.length} held-out fields pass`).toBeGreaterThanOrEqual(0.95);
    expect(passed).toBe(m.ood!.fitOn.heldOutPassed);
  });

  it('flags uniform noise, the C. elegans worms, the RGB shapes picture, single-stain fields and a field 4x smaller', async () => {
    const { height, width } = (await loadFieldPlanes(heldOut[0]))[0];
    let seed = 5;
    const uniform = () => ((seed = (seed * 48271) % 2147483647), Math.floor((seed / 2147483647) * 65536));
    const noise = [0, 1, 2].map(() => ({ width, height, data: Uint16Array.from({ length: width * height }, uniform) }));
    const worms = await Promise.all(
      (await readdir(path.join(REAL_TIFFS_DIR, WORMS))).filter((f) => f.endsWith('.tif')).sort().map(async (f) => (await realPlanes(`${WORMS}/${f}`))[0]),
    );
    expect(worms).toHaveLength(3);
    const shapes = (await realPlanes('codecs/shapes_uncompressed.tif')).slice(0, 3);
    const flagged: Record<string, OodResult> = { noise: await score(noise), worms: await score(worms), shapes: await score(shapes) };
    for (const s of heldOut.slice(0, 3)) {
      const planes = await loadFieldPlanes(s);
      const dark = { width, height, data: new Uint16Array(width * height) };
      flagged[`DNA alone (${s.id})`] = await score([planes[0], dark, dark]);
      flagged[`Actin alone (${s.id})`] = await score([dark, dark, planes[2]]);
      flagged[`4x smaller (${s.id})`] = await score(planes.map(quarter));
    }
    for (const [what, r] of Object.entries(flagged)) expect(r.unlike, `${what}: score ${r.score} against ${r.threshold}`).toBe(true);
  });

  it('npm run export -- --add-ood writes the same check into a new bundle from the existing one, copying its model files and leaving it as it was', async () => {
    const before = await readFile(path.join(out, METADATA_FILE));
    const added = `${out}-with-ood`;
    const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'training/src/export-cli.ts'), ...args], { cwd: repoRoot, encoding: 'utf8' });
    const refused = cli(['--add-ood', '--bundle', out, '--data', data, '--out', out, '--allow-unverified']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/is the source bundle or inside it/);
    const unverified = cli(['--add-ood', '--bundle', out, '--data', data, '--out', added]);
    expect(unverified.status).toBe(4);
    expect(unverified.stderr).toMatch(/unverified/);
    const run = cli(['--add-ood', '--bundle', out, '--data', data, '--out', added, '--allow-unverified']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/split: grouped:0\/3: \d+ training, \d+ held-out fields \(the bundle records grouped:0\/3/);
    expect(await readFile(path.join(out, METADATA_FILE))).toEqual(before);
    const copy = await readBundleDir(added);
    expect(copy.metadata.ood!.threshold).toBeCloseTo(bundle.metadata.ood!.threshold, 5);
    expect(copy.metadata.ood!.fitOn.heldOutPassed).toBe(bundle.metadata.ood!.fitOn.heldOutPassed);
    expect(copy.metadata.provenance.oodAddedTo).toMatchObject({ bundle: bundle.hash });
    for (const name of Object.keys(bundle.metadata.files).filter((n) => n !== 'ood-stats.bin')) expect(copy.metadata.files[name]).toEqual(bundle.metadata.files[name]);
  }, 300_000);
});
