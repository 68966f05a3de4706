import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveBackend } from '../../training/src/backend/select.ts';
import { latestCheckpoint, type Checkpoint } from '../../training/src/train/checkpoint.ts';
import { readBundleDir } from '../../training/src/bundle-fs.ts';
import { repoRoot, runTrainer, smallDataset } from '../training/train-helpers.ts';
import { mpirunInstalled } from './mpirun.ts';

const cluster = [process.execPath, '--import', 'tsx', path.join(repoRoot, 'training', 'src', 'cluster.ts')];
const common = ['--input-size', '64x64', '--width-multiplier', '0.25', '--epochs', '2', '--global-batch', '4', '--folds', '3', '--base-lr', '0.01', '--warmup-epochs', '1', '--max-steps', '6', '--quantize', 'float32'];

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.skipIf(!mpirunInstalled())('data-parallel training under a real mpirun (2 ranks)', () => {
  let data: string;
  let work: string;
  let single: Checkpoint;
  beforeAll(async () => {
    data = await smallDataset({ size: 128, compoundsPerClass: 1, fieldsPerTreatment: 1, seed: 3 });
    work = await mkdtemp(path.join(os.tmpdir(), 'moa-cluster-'));
    const out = path.join(work, 'single', 'model');
    const r = await runTrainer(['--data', data, '--out', out, ...common]);
    expect(r.code, r.stderr).toBe(0);
    single = (await latestCheckpoint(`${out}.checkpoints`))!.checkpoint;
  });

  it('2 ranks x batch 2 equal 1 rank x batch 4, and only rank 0 logs and exports', async () => {
    const out = path.join(work, 'two', 'model');
    const r = await runTrainer(['--np', '2', '--data', data, '--out', out, ...common], { command: cluster });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/\[train:cluster\] mpirun .*-np 2/);
    expect(r.stdout).toMatch(/world: MPI rank 0 of 2/);
    expect(r.stdout).toContain(`backend: ${resolveBackend('auto').name}`); // native where oneDNN is installed, as in CI
    expect(r.stdout).toMatch(/global batch 4 = 2 x 2/);
    expect(r.stdout.match(/step 6\/6 loss/g)?.length).toBe(1);
    const two = (await latestCheckpoint(`${out}.checkpoints`))!.checkpoint;
    expect(two.step).toBe(6);
    expect(maxAbsDiff(two.weights, single.weights)).toBeLessThan(1e-4);
    two.history.forEach((h, i) => expect(h.loss as number).toBeCloseTo(single.history[i].loss as number, 4));
    const bundle = await readBundleDir(out);
    expect(bundle.metadata.provenance.worldSize).toBe(2);
  });

  it('a killed rank ends the job non-zero; --resume then ends with the uninterrupted weights', async () => {
    const out = path.join(work, 'killed', 'model');
    const ckptDir = `${out}.checkpoints`;
    const started = Date.now();
    const r = await runTrainer(['--np', '2', '--data', data, '--out', out, '--checkpoint-every', '1', ...common], {
      command: cluster,
      onStart: (child) => {
        const timer = setInterval(() => {
          if (!existsSync(path.join(ckptDir, 'ckpt-00000003.bin'))) return;
          clearInterval(timer);
          // Kill one rank (not mpirun): the job must notice and stop.
          const pids = execFileSync('pgrep', ['-f', `train.ts.*${out}`], { encoding: 'utf8' }).trim().split('\n').map(Number);
          const rankPid = pids.filter((p) => p !== child.pid).at(-1);
          if (rankPid) process.kill(rankPid, 'SIGKILL');
        }, 20);
        child.on('close', () => clearInterval(timer));
      },
    });
    expect(r.code).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(120_000);
    expect(existsSync(path.join(out, 'moa-lens.json'))).toBe(false);
    const resumed = await runTrainer(['--np', '2', '--data', data, '--out', out, '--checkpoint-every', '1', '--resume', ...common], { command: cluster });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/resumed from .*ckpt-\d+\.bin at step [3-6]/);
    const final = (await latestCheckpoint(ckptDir))!.checkpoint;
    expect(final.step).toBe(6);
    expect(maxAbsDiff(final.weights, single.weights)).toBeLessThan(1e-4);
  });
});
