// `npm run evaluate -- --checkpoint`: a run's held-out curve from its checkpoints, scored as the run's own export scores
// its final weights; `npm run export -- --checkpoint` of the same run to 8-bit per-channel weights with bias correction.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDatasetIndex } from '../../training/src/data/index.ts';
import type { CurvePoint } from '../../training/src/eval/curve.ts';
import { repoRoot, runTrainer, smallDataset } from './train-helpers.ts';

const common = ['--input-size', '64x64', '--width-multiplier', '0.25', '--epochs', '2', '--global-batch', '4', '--folds', '3', '--base-lr', '0.01', '--warmup-epochs', '1', '--quantize', 'float32', '--max-steps', '6', '--checkpoint-every', '3', '--seed', '5'];
const cli = (entry: string) => (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'training/src', entry), ...args], { cwd: repoRoot, encoding: 'utf8' });
const evaluateCli = cli('evaluate-cli.ts');
const exportCli = cli('export-cli.ts');

describe('npm run evaluate -- --checkpoint', () => {
  let data: string;
  let work: string;
  beforeAll(async () => {
    data = await smallDataset({ size: 128, compoundsPerClass: 2, fieldsPerTreatment: 1, seed: 4 });
    work = await mkdtemp(path.join(os.tmpdir(), 'moa-curve-'));
    const run = await runTrainer(['--data', data, '--out', path.join(work, 'run', 'model'), ...common]);
    expect(run.code, run.stderr).toBe(0);
  }, 600_000);

  it('scores every checkpoint of a run on its held-out fold, the last as the run itself scored its final weights', async () => {
    const out = path.join(work, 'run', 'model');
    const r = evaluateCli(['--checkpoint', `${out}.checkpoints`, '--report', path.join(work, 'curve')]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const curve = JSON.parse(await readFile(path.join(work, 'curve.json'), 'utf8')) as { split: string; checkpoints: CurvePoint[] };
    expect(curve.checkpoints.map((p) => p.step)).toEqual([3, 6]);
    const own = JSON.parse(await readFile(`${out}.report.json`, 'utf8')) as { metrics: { split: string; fieldAccuracy: number; treatmentAccuracy: number; heldOutFields: number }; history: { step: number; epoch: number; loss: number }[] };
    expect(curve.split).toBe(own.metrics.split);
    const last = curve.checkpoints[1];
    expect([last.fieldAccuracy, last.treatmentAccuracy, last.heldOutFields]).toEqual([own.metrics.fieldAccuracy, own.metrics.treatmentAccuracy, own.metrics.heldOutFields]);
    // The training loss beside each point: the mean over the steps of its epoch so far.
    const epochOf3 = own.history[2].epoch;
    const since = Math.ceil(epochOf3) - 1;
    const losses = own.history.slice(0, 3).filter((p) => p.epoch > since).map((p) => p.loss);
    expect(curve.checkpoints[0].trainingLoss).toBeCloseTo(losses.reduce((a, b) => a + b, 0) / losses.length, 6);
    expect(r.stdout).toMatch(new RegExp(`step 3 \\(epoch ${epochOf3.toFixed(2)}\\): training loss \\d\\.\\d{3}; held out: field accuracy`));
  });

  it('refuses checkpoints of runs with other held-out folds, and a missing checkpoint, without a stack trace', async () => {
    const a = path.join(work, 'fold0', 'model');
    const b = path.join(work, 'fold1', 'model');
    for (const [out, fold] of [[a, '0'], [b, '1']]) {
      const run = await runTrainer(['--data', data, '--out', out, ...common, '--max-steps', '3', '--fold', fold]);
      expect(run.code, run.stderr).toBe(0);
    }
    const mixed = evaluateCli(['--checkpoint', [a, b].map((o) => path.join(`${o}.checkpoints`, 'ckpt-00000003.bin')).join(',')]);
    expect(mixed.status).toBe(2);
    expect(mixed.stderr).toContain(`fold1/model.checkpoints/ckpt-00000003.bin was trained with another fold than`);
    expect(mixed.stderr).not.toMatch(/\n\s+at /);
    const missing = evaluateCli(['--checkpoint', path.join(work, 'nowhere')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('does not exist');
  });

  it("exports a checkpoint as 8-bit per-channel weights rounded by GPTQ over the training fields, whose biases keep each layer's mean output, scored as shipped", async () => {
    const out = path.join(work, 'run', 'model');
    const quantized = path.join(work, 'run-uint8', 'model');
    const r = exportCli(['--checkpoint', `${out}.checkpoints`, '--quantize', 'uint8-per-channel', '--out', quantized]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const own = JSON.parse(await readFile(`${out}.report.json`, 'utf8')) as { provenance: { recipe: { folds: number } } };
    const report = JSON.parse(await readFile(`${quantized}.report.json`, 'utf8')) as { metrics: { heldOutFields: number; quantizedFieldAccuracy: number; quantizedTreatmentAccuracy: number }; provenance: { biasCorrection: { trainingFields: number }; gptq: { trainingFields: number } } };
    // Every training field of this small run (fewer than the 128 the export uses at most).
    const training = (await loadDatasetIndex(data)).samples.length - report.metrics.heldOutFields;
    expect(own.provenance.recipe.folds).toBe(3);
    expect(report.provenance.biasCorrection.trainingFields).toBe(training);
    expect(report.provenance.gptq.trainingFields).toBe(training);
    expect(r.stdout).toContain(`8-bit kernels: GPTQ rounding against each layer's input over ${training} training fields; bias correction: each layer's mean output over ${training} training fields kept as in float32`);
    const metadata = JSON.parse(await readFile(path.join(quantized, 'moa-lens.json'), 'utf8')) as { weights: { dtype: string } };
    expect(metadata.weights.dtype).toBe('uint8-per-channel');
    // The bundle as the verifying loader reads it scores the held-out fields as the export measured them.
    const e = evaluateCli(['--bundle', quantized, '--data', data, '--fields', 'held-out', '--allow-unverified', '--report', path.join(work, 'uint8-eval')]);
    expect(e.status, e.stderr + e.stdout).toBe(0);
    const scored = JSON.parse(await readFile(path.join(work, 'uint8-eval.json'), 'utf8')) as { fieldAccuracy: number; treatmentAccuracy: number };
    expect([scored.fieldAccuracy, scored.treatmentAccuracy]).toEqual([report.metrics.quantizedFieldAccuracy, report.metrics.quantizedTreatmentAccuracy]);
  });
});
