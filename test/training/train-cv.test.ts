// train:cv end to end: a real 2-fold leave-one-compound-out sweep, killed mid-sweep (the whole process group), resumed.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DMSO, MOA_CLASSES } from '../../src/core/labels.ts';
import { latestCheckpoint } from '../../training/src/train/checkpoint.ts';
import type { CvReport, HeldOutField } from '../../training/src/cv/report.ts';
import { repoRoot, runTrainer, smallDataset } from './train-helpers.ts';
import { mpirunInstalled } from '../mpi/mpirun.ts';

const cv = [process.execPath, '--import', 'tsx', path.join(repoRoot, 'training', 'src', 'train-cv-cli.ts')];
const trainer = ['--input-size', '64x64', '--width-multiplier', '0.25', '--epochs', '2', '--global-batch', '4', '--max-steps', '4', '--checkpoint-every', '1', '--base-lr', '0.01', '--warmup-epochs', '1', '--quantize', 'float32'];
const dmso = MOA_CLASSES.indexOf(DMSO);

interface FoldReport {
  metrics: { split: string; heldOutFields: number; fieldAccuracy: number };
  fields: HeldOutField[];
  treatments: { treatment: string; label: number; predicted: number }[];
}

describe('train:cv', () => {
  let data: string;
  let work: string;
  beforeAll(async () => {
    data = await smallDataset({ size: 128, compoundsPerClass: 1, fieldsPerTreatment: 1 });
    work = await mkdtemp(path.join(os.tmpdir(), 'moa-cv-'));
  });

  it('runs two loco folds, killed mid-sweep and resumed, and pools exactly the per-fold evaluations', async () => {
    const out = path.join(work, 'loco');
    const args = ['--split', 'loco', '--max-folds', '2', '--', '--data', data, '--out', out, ...trainer];
    const fold1Checkpoint = path.join(out, 'folds', '01', 'model.checkpoints', 'ckpt-00000002.bin');
    // The sweep and its fold's trainer in their own process group, all killed at once (a node lost, an OOM kill).
    const killed = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>((resolve) => {
      const child = spawn(cv[0], [...cv.slice(1), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let stdout = '';
      child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr!.resume();
      const timer = setInterval(() => {
        if (existsSync(fold1Checkpoint)) {
          clearInterval(timer);
          process.kill(-child.pid!, 'SIGKILL');
        }
      }, 20);
      child.on('close', (code, signal) => {
        clearInterval(timer);
        resolve({ code, signal, stdout });
      });
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stdout).toMatch(/train:cv: NSC, leave-one-compound-out \(12 folds\) on .*; running 2 \(0, 1\) of 12 folds/);
    expect(existsSync(path.join(out, 'folds', '00', 'model.report.json'))).toBe(true);
    expect(existsSync(path.join(out, 'folds', '01', 'model.report.json'))).toBe(false);
    expect(existsSync(path.join(out, 'cv-report.md'))).toBe(false);

    const resumed = await runTrainer(args, { command: cv });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/train:cv: fold 0 \(loco:\S+\) done, skipped/);
    expect(resumed.stdout).toMatch(/train:cv: fold 1 \(loco:\S+\): \d+ held-out fields; 2\/2, attempt 2: resuming/);
    expect(resumed.stdout).toMatch(/\[fold 1\] resumed from .*ckpt-0000000[234]\.bin at step [234]/);
    expect((await latestCheckpoint(path.join(out, 'folds', '01', 'model.checkpoints')))!.checkpoint.step).toBe(4);
    const sweep = JSON.parse(await readFile(path.join(out, 'sweep.json'), 'utf8'));
    expect(sweep.runs['0']).toMatchObject({ attempts: 1, done: true });
    expect(sweep.runs['1']).toMatchObject({ attempts: 2, done: true });

    // The pooled numbers are the per-fold evaluations, added up.
    const folds: FoldReport[] = await Promise.all(['00', '01'].map(async (d) => JSON.parse(await readFile(path.join(out, 'folds', d, 'model.report.json'), 'utf8'))));
    const { report } = JSON.parse(await readFile(path.join(out, 'cv-report.json'), 'utf8')) as { report: CvReport };
    expect(report).toMatchObject({ foldsPooled: 2, foldsTotal: 12 });
    expect(folds.map((f) => f.metrics.split)).toEqual(report.perFold.map((f) => f.name));
    const fields = folds.flatMap((f) => f.fields);
    expect(report.allFields.n).toBe(folds.reduce((a, f) => a + f.metrics.heldOutFields, 0));
    expect(report.allFields.correct).toBe(folds.reduce((a, f) => a + Math.round(f.metrics.fieldAccuracy * f.metrics.heldOutFields), 0));
    expect(report.allFields.correct).toBe(fields.filter((f) => f.predicted === f.label).length);
    const labelled = fields.filter((f) => f.label !== dmso);
    expect(report.labelledFields).toMatchObject({ n: labelled.length, correct: labelled.filter((f) => f.predicted === f.label).length });
    expect(report.dmsoFields.n).toBe(fields.length - labelled.length);
    // A compound is held out by one fold only, so its treatments are the ones that fold's trainer aggregated.
    const treatments = folds.flatMap((f) => f.treatments.filter((t) => t.label !== dmso));
    expect(report.treatments).toMatchObject({ n: treatments.length, correct: treatments.filter((t) => t.predicted === t.label).length });
    expect(report.treatments.low).toBeLessThanOrEqual(report.treatments.accuracy);
    expect(report.treatments.high).toBeGreaterThanOrEqual(report.treatments.accuracy);
    expect(report.perFold.map((f) => f.steps)).toEqual([4, 4]);

    const md = await readFile(path.join(out, 'cv-report.md'), 'utf8');
    expect(md).toContain('**Partial sweep: 2 of 12 folds**');
    expect(md).toContain(`| M-CNN 64x64, width x0.25, project defaults | NSC, leave-one-compound-out (12 folds) | ${report.treatments.n} |`);
    expect(md).toMatch(/\| 1 \| \S.* \| \d+ \| [\d.]+% \| \d+ \| [\d.]+% \| 4 \| \dm\d\ds \| \dm\d\ds \|/);

    // Run again: everything is done, nothing trains, the same report.
    const again = await runTrainer(args, { command: cv });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.match(/done, skipped/g)).toHaveLength(2);
    expect(JSON.parse(await readFile(path.join(out, 'cv-report.json'), 'utf8')).report.allFields).toEqual(report.allFields);
  });

  it('refuses grouped folds that hold out no compound, and another sweep in the same --out, before any training', async () => {
    const grouped = await runTrainer(['--split', 'grouped', '--folds', '38', '--', '--data', data, '--out', path.join(work, 'g38'), ...trainer], { command: cv });
    expect(grouped.code).toBe(2);
    expect(grouped.stderr).toMatch(/--split grouped --folds 38: 26 of its folds hold out no compound \(12, 13, .*37\).*Use --split loco for one compound per fold \(12 folds\)/);
    const other = await runTrainer(['--split', 'loco', '--max-folds', '1', '--', '--data', data, '--out', path.join(work, 'loco'), ...trainer, '--seed', '7'], { command: cv });
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/sweep\.json is a different sweep \(trainer flags differ/);
    expect(existsSync(path.join(work, 'g38'))).toBe(false);
  });

  it.skipIf(!mpirunInstalled())('runs an nscb fold through train:cluster on 2 ranks with --recipe 2018 (flags overriding it)', async () => {
    const out = path.join(work, 'nscb');
    const flags = ['--data', data, '--out', out, '--recipe', '2018', ...trainer];
    const r = await runTrainer(['--split', 'nscb', '--np', '2', '--folds-subset', '3', '--', ...flags], { command: cv });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/train:cv: NSCB, not-same-compound-or-batch \(\d+ folds\) on .*running 1 \(3\)/);
    expect(r.stdout).toMatch(/\[fold 3\] \[train:cluster\] mpirun .*-np 2/);
    expect(r.stdout).toMatch(/\[fold 3\] recipe: recipe 2018: input 64x64, binning 1, width x0\.25; global batch 4; .*linear decay.*class weighting none, normalisation x \/ 65535, augmentation none; changed by flags: /);
    expect(r.stdout).toMatch(/\[fold 3\] split: nscb:\S+\/Week\d+: /);
    const dir = path.join(out, 'folds', readdirSync(path.join(out, 'folds'))[0], 'model');
    const meta = JSON.parse(await readFile(path.join(dir, 'moa-lens.json'), 'utf8'));
    expect(meta.preprocessing.normalisation).toEqual({ method: 'divide', by: 65535 });
    expect(meta.provenance.worldSize).toBe(2);
    expect(meta.provenance.command).toMatch(/^npm run train:cluster -- --np 2 -- .*--recipe 2018 .*--split nscb --fold 3 --resume$/);
    expect(meta.provenance.recipe).toMatchObject({ recipe: '2018', split: 'nscb', augment: false, classWeighting: 'none', globalBatch: 4 });
    const { report } = JSON.parse(await readFile(path.join(out, 'cv-report.json'), 'utf8')) as { report: CvReport };
    expect(report.method).toBe('M-CNN 64x64, width x0.25, recipe 2018');
    expect(report.perFold.map((f) => f.index)).toEqual([3]);
  });
});
