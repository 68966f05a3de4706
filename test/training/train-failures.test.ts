// The CLIs as child processes when things go wrong: an unreadable first field is skipped, a bad metadata CSV and a
// non-bundle --out stop with their exit codes and one short line (no stack, no bundled source) unless --verbose.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDatasetIndex } from '../../training/src/data/index.ts';
import { EXIT } from '../../training/src/util/cli.ts';
import { repoRoot, runTrainer, smallDataset, type ProcessResult } from './train-helpers.ts';

const tiny = ['--input-size', '64x64', '--width-multiplier', '0.25', '--epochs', '1', '--global-batch', '4', '--folds', '3', '--max-steps', '3', '--quantize', 'float32'];

/** Runs `node --import tsx <script> ...args` from the repository root. */
function runScript(script: string, args: string[]): Promise<ProcessResult> {
  return runTrainer(args, { command: [process.execPath, '--import', 'tsx', path.join(repoRoot, script)] });
}

/** A failure as the user must see it: short stderr, no stack frames, none of a bundle's source. */
function expectShortFailure(r: ProcessResult, code: number, message: RegExp): void {
  expect(r.code, r.stdout + r.stderr).toBe(code);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.length).toBeLessThan(500);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
}

describe('trainer failures', () => {
  let data: string;
  let work: string;
  beforeAll(async () => {
    data = await smallDataset({ size: 64, compoundsPerClass: 1, fieldsPerTreatment: 1, seed: 7 });
    work = await mkdtemp(path.join(os.tmpdir(), 'moa-fail-'));
  });

  /** A copy of the dataset to break. */
  function copyOf(name: string): string {
    const dir = path.join(work, name);
    cpSync(data, dir, { recursive: true });
    return dir;
  }

  it('a truncated TIFF as the first field (read to size the dataset) is skipped and reported; training goes on', async () => {
    const root = copyOf('truncated');
    const first = (await loadDatasetIndex(root)).samples[0];
    const bytes = readFileSync(first.files[0]);
    writeFileSync(first.files[0], bytes.subarray(0, Math.floor(bytes.length / 3)));
    const r = await runTrainer(['--data', root, '--out', path.join(work, 'truncated-model'), '--cache-dir', path.join(work, 'truncated-cache'), ...tiny]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`skipped ${first.id}: ${first.files[0]}: `);
    expect(r.stdout).toMatch(/is incomplete: the file ends before all of its image data/);
    expect(r.stdout).toMatch(/trained 3 steps .* 1 skipped/);
    expect(existsSync(path.join(work, 'truncated-model', 'moa-lens.json'))).toBe(true);
  });

  it('a metadata CSV missing a column: exit 3, one line naming the CSV and the column; --verbose adds the trace', async () => {
    const root = copyOf('bad-csv');
    const csv = path.join(root, 'BBBC021_v1_moa.csv');
    const [header, ...rows] = readFileSync(csv, 'utf8').split('\n');
    writeFileSync(csv, [header.replace(/"?moa"?$/, '"mechanism"'), ...rows].join('\n'));
    const args = ['--data', root, '--out', path.join(work, 'bad-csv-model'), ...tiny];
    const r = await runTrainer(args);
    expectShortFailure(r, EXIT.data, new RegExp(`^train: "${csv.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}" lacks the column moa\\.\n$`));
    const verbose = await runTrainer([...args, '--verbose']);
    expect(verbose.code).toBe(EXIT.data);
    expect(verbose.stderr).toMatch(/^train: ".*BBBC021_v1_moa\.csv" lacks the column moa\.\nMetadataError: .*\n\s+at /);
  });

  it('an --out folder that is not a bundle is refused before training and left intact', async () => {
    const out = path.join(work, 'my-folder');
    mkdirSync(out);
    writeFileSync(path.join(out, 'notes.txt'), 'mine');
    const r = await runTrainer(['--data', data, '--out', out, ...tiny]);
    expectShortFailure(r, EXIT.usage, /^train: --out .*my-folder exists and is not a model bundle \(no moa-lens\.json; it holds notes\.txt\): refusing to replace it/);
    expect(r.stdout).not.toMatch(/^(data|model|epoch)/m); // stopped before any work
    expect(readFileSync(path.join(out, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('--help documents the exit codes', async () => {
    const r = await runTrainer(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Exit codes:\n\s+0 {2}success\n\s+1 {2}internal error.*\n\s+2 {2}bad arguments.*\n\s+3 {2}bad data.*\n\s+5 {2}training diverged.*\n\s+6 {2}MPI failure.*\n\s+124 {2}MPI watchdog/);
  });
});

describe('the other CLIs fail the same way', () => {
  it('process-level: an unhandled rejection and an uncaught exception go through the same handler', async () => {
    const rejected = await runScript('test/training/fixtures/cli-uncaught.ts', ['reject']);
    expectShortFailure(rejected, EXIT.data, /^fixture: \/data\/BBBC021_v1_moa\.csv: lacks the column moa\n$/);
    const thrown = await runScript('test/training/fixtures/cli-uncaught.ts', ['throw']);
    expectShortFailure(thrown, EXIT.internal, /^fixture: internal error: TypeError: something is undefined \(rerun with --verbose for the stack trace\)\n$/);
    const verbose = await runScript('test/training/fixtures/cli-uncaught.ts', ['throw', '--verbose']);
    expect(verbose.code).toBe(EXIT.internal);
    expect(verbose.stderr).toMatch(/\nTypeError: something is undefined\n\s+at /);
  });

  it('simulate: a metadata folder whose CSV lacks a column -> exit 3', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'moa-meta-'));
    writeFileSync(path.join(dir, 'BBBC021_v1_image.csv'), 'TableNumber,ImageNumber\n1,1\n');
    writeFileSync(path.join(dir, 'BBBC021_v1_moa.csv'), 'compound,concentration,moa\n');
    const r = await runScript('training/src/simulate-cli.ts', ['--out', path.join(dir, 'out'), '--metadata', dir, '--size', '64x64']);
    expectShortFailure(r, EXIT.data, /^simulate: ".*BBBC021_v1_image\.csv" lacks the columns Image_FileName_DAPI, /);
  });

  it('evaluate: a --bundle that is not a bundle -> exit 4', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'moa-notbundle-'));
    const r = await runScript('training/src/evaluate-cli.ts', ['--bundle', dir, '--data', dir]);
    expectShortFailure(r, EXIT.bundle, /^evaluate: --bundle .*moa-notbundle-\w+: /);
  });

  it('export: a checkpoint that does not exist -> exit 2', async () => {
    const r = await runScript('training/src/export-cli.ts', ['--checkpoint', '/nonexistent/ckpt.bin']);
    expectShortFailure(r, EXIT.usage, /^export: --checkpoint \/nonexistent\/ckpt\.bin does not exist\.\n$/);
  });
});
