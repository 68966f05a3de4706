import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveBackend } from '../../training/src/backend/select.ts';
import { latestCheckpoint } from '../../training/src/train/checkpoint.ts';
import { runTrainer, smallDataset } from './train-helpers.ts';

const common = ['--input-size', '64x64', '--width-multiplier', '0.25', '--epochs', '2', '--global-batch', '4', '--folds', '3', '--base-lr', '0.01', '--warmup-epochs', '1', '--quantize', 'float32'];

describe('trainer: determinism, checkpoints and resume after a kill', () => {
  let data: string;
  let work: string;
  beforeAll(async () => {
    data = await smallDataset({ size: 128, compoundsPerClass: 1, fieldsPerTreatment: 1 });
    work = await mkdtemp(path.join(os.tmpdir(), 'moa-train-'));
  });

  it('gives the same weights straight, and killed then resumed', async () => {
    const straight = path.join(work, 'straight', 'model');
    const a = await runTrainer(['--data', data, '--out', straight, '--max-steps', '8', '--checkpoint-every', '4', ...common]);
    expect(a.code, a.stderr).toBe(0);
    // The default engine: native where oneDNN is installed (as in CI), else WASM.
    expect(a.stdout).toContain(`backend: ${resolveBackend('auto').name}`);
    expect(a.stdout).toMatch(/step 8\/8 loss/);

    const straightCkpt = (await latestCheckpoint(`${straight}.checkpoints`))!.checkpoint;

    // Killed with SIGKILL once its step-4 checkpoint exists, then resumed.
    const killed = path.join(work, 'killed', 'model');
    const ckptDir = `${killed}.checkpoints`;
    const b = await runTrainer(['--data', data, '--out', killed, '--max-steps', '8', '--checkpoint-every', '1', ...common], {
      onStart: (child) => {
        const timer = setInterval(() => {
          if (existsSync(path.join(ckptDir, 'ckpt-00000004.bin'))) {
            child.kill('SIGKILL');
            clearInterval(timer);
          }
        }, 20);
        child.on('close', () => clearInterval(timer));
      },
    });
    expect(b.code).not.toBe(0);
    expect(existsSync(path.join(killed, 'moa-lens.json'))).toBe(false);
    const c = await runTrainer(['--data', data, '--out', killed, '--max-steps', '8', '--checkpoint-every', '1', '--resume', ...common]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/resumed from .*ckpt-0000000\d\.bin at step \d/);
    const resumed = (await latestCheckpoint(ckptDir))!.checkpoint;
    expect(resumed.step).toBe(8);
    let maxDiff = 0;
    for (let i = 0; i < resumed.weights.length; i++) maxDiff = Math.max(maxDiff, Math.abs(resumed.weights[i] - straightCkpt.weights[i]));
    expect(maxDiff).toBeLessThan(1e-6);
    // Determinism on one backend: a second run (killed, then resumed) gives the straight run's loss curve and weights.
    expect(resumed.history.map((h) => h.loss)).toEqual(straightCkpt.history.map((h) => h.loss));
  });

  it('fails at start, before any work, on bad configuration', async () => {
    const r = await runTrainer(['--data', data, '--out', path.join(work, 'x'), '--input-size', '100x100']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot take a 100x100 input.*multiple of 64/);
    const missing = await runTrainer(['--data', path.join(work, 'nope'), '--out', path.join(work, 'y')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/is not a BBBC021-layout root: BBBC021_v1_image.csv not found there/);
  });
});
