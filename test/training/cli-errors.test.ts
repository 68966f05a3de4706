// The CLIs' failure handling in-process: error kinds -> exit codes and one message line, the watchdog's limits,
// --out folders that must not be deleted, and an unreadable first field that is skipped while sizing the dataset.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BundleError as CoreBundleError } from '../../src/core/bundle.ts';
import { MetadataError, TiffDecodeError } from '../../src/core/errors.ts';
import { bundleTargetProblem, writeBundleDir } from '../../training/src/bundle-fs.ts';
import { FieldLoadError, firstReadableField, type Sample } from '../../training/src/data/index.ts';
import { encodeTiff16 } from '../../training/src/simulate/tiff-writer.ts';
import { parseTrainArgs, validateTrainConfig } from '../../training/src/train/config.ts';
import { checkOutFolder } from '../../training/src/train/paths.ts';
import { StepWatchdog, watchdogSettings, WATCHDOG_DEFAULTS } from '../../training/src/train/watchdog.ts';
import { ConfigError, DataError, DivergedError, errorLine, errorTrace, EXIT, exitCodeFor, exitCodesHelp, ModelFileError, MpiError } from '../../training/src/util/cli.ts';

describe('exit codes by kind of failure', () => {
  it.each([
    [new ConfigError('--epochs must be a number'), EXIT.usage],
    [new DataError('no readable field'), EXIT.data],
    [new FieldLoadError('W1/P/A01_s1', '/d/a.tif', 'truncated'), EXIT.data],
    [new MetadataError('/d/BBBC021_v1_moa.csv', 'missing-column', '"/d/BBBC021_v1_moa.csv" lacks the column moa.'), EXIT.data],
    [new TiffDecodeError('/d/a.tif', 'truncated', 'the file ends early'), EXIT.data],
    [new CoreBundleError('m: model.json does not match the sha256'), EXIT.bundle],
    [new ModelFileError('no valid checkpoint'), EXIT.bundle],
    [new DivergedError('Training diverged at step 3'), EXIT.diverged],
    [new MpiError('MPI allreduce failed'), EXIT.mpi],
    [new TypeError('x is undefined'), EXIT.internal],
    ['a thrown string', EXIT.internal],
  ])('%s -> %i', (error, code) => {
    expect(exitCodeFor(error)).toBe(code);
  });

  it('every code is distinct and each CLI help lists the ones it uses', () => {
    const codes = Object.values(EXIT);
    expect(new Set(codes).size).toBe(codes.length);
    const help = exitCodesHelp([EXIT.usage, EXIT.data]);
    expect(help).toMatch(/^Exit codes:\n\s+0 {2}success\n\s+1 {2}internal error/);
    expect(help).toMatch(/\n\s+2 {2}bad arguments/);
    expect(help).toMatch(/\n\s+3 {2}bad data/);
    expect(help).not.toMatch(/\n\s+5 {2}/);
    expect(help).toContain('--verbose');
  });
});

describe('the message line', () => {
  it('is the error message on one line, naming the file; internal errors say so and point at --verbose', () => {
    const csv = new MetadataError('/d/BBBC021_v1_moa.csv', 'missing-column', '"/d/BBBC021_v1_moa.csv" lacks the column moa.');
    expect(errorLine(csv)).toBe('"/d/BBBC021_v1_moa.csv" lacks the column moa.');
    expect(errorLine(new DataError('two\nlines'))).toBe('two lines');
    expect(errorLine(new ConfigError('bad flag\nusage: ...'))).toBe('bad flag\nusage: ...'); // usage text stays readable
    expect(errorLine(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(
      "internal error: TypeError: Cannot read properties of undefined (reading 'x') (rerun with --verbose for the stack trace)",
    );
  });

  it('file-system errors name the path first; very long messages are capped', () => {
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open '/x/y.csv'"), { code: 'ENOENT', path: '/x/y.csv', syscall: 'open' });
    expect(errorLine(enoent)).toBe('/x/y.csv: no such file or directory (open)');
    const long = errorLine(new DataError('x'.repeat(40_000)));
    expect(long.length).toBeLessThan(1100);
    expect(long).toContain('--verbose prints all');
  });

  it('the trace (--verbose) has the stack and the causes', () => {
    const trace = errorTrace(new MpiError('MPI allreduce failed', { cause: new Error('MPI_ERR_TRUNCATE') }));
    expect(trace).toMatch(/^MpiError: MPI allreduce failed\n\s+at /);
    expect(trace).toMatch(/caused by:\nError: MPI_ERR_TRUNCATE/);
  });
});

describe('the MPI watchdog limits', () => {
  const defaults = watchdogSettings({});

  it('defaults: 600 s start-up, then 10 x the slowest of the first 3 steps, at least 60 s', () => {
    expect(defaults).toEqual({ fixedMs: null, ...WATCHDOG_DEFAULTS });
    const w = new StepWatchdog(defaults);
    expect(w.stepLimitMs()).toBe(600_000);
    expect(w.recordStep(9_000)).toBeNull();
    expect(w.recordStep(12_000)).toBeNull();
    expect(w.stepLimitMs()).toBe(600_000);
    expect(w.recordStep(7_000)).toBe("watchdog: 120 s per step from now on (10 x 12 s, the slowest of this run's first 3 steps)");
    expect(w.stepLimitMs()).toBe(120_000);
    expect(w.recordStep(500_000)).toBeNull(); // set once: a slow later step (a checkpoint) does not move it
    expect(w.stepLimitMs()).toBe(120_000);
    // Rank 0 evaluating 40 step-times of work: 10 x 12 s x 40 = 4800 s.
    expect(w.phaseLimitMs(40)).toBe(4_800_000);
    expect(w.phaseLimitMs(1)).toBe(600_000); // never below the start-up limit
  });

  it('fast steps get the floor; the floor and the rest come from MOA_WATCHDOG_*', () => {
    const w = new StepWatchdog(watchdogSettings({ MOA_WATCHDOG_MIN_MS: '2000', MOA_WATCHDOG_STEPS: '2', MOA_WATCHDOG_STARTUP_MS: '30000' }));
    expect(w.stepLimitMs()).toBe(30_000);
    w.recordStep(40);
    expect(w.recordStep(60)).toMatch(/^watchdog: 2\.0 s per step from now on \(10 x 0\.1 s, .*; at least 2\.0 s\)$/);
    expect(w.stepLimitMs()).toBe(2000);
    expect(w.describe()).toMatch(/^watchdog: 30 s until 2 steps are measured, then 10 x the slowest of them, at least 2\.0 s/);
  });

  it('MOA_MPI_TIMEOUT_MS fixes every limit (the binding applies it); malformed values are configuration errors', () => {
    const fixed = new StepWatchdog(watchdogSettings({ MOA_MPI_TIMEOUT_MS: '90000' }));
    expect(fixed.stepLimitMs()).toBeUndefined();
    expect(fixed.recordStep(1), 'no adaptation').toBeNull();
    expect(fixed.phaseLimitMs(100)).toBeUndefined();
    expect(fixed.describe()).toBe('watchdog: 90 s per collective (MOA_MPI_TIMEOUT_MS)');
    expect(() => watchdogSettings({ MOA_WATCHDOG_MIN_MS: '1m' })).toThrow(ConfigError);
    expect(() => watchdogSettings({ MOA_WATCHDOG_FACTOR: '0.5' })).toThrow(/MOA_WATCHDOG_FACTOR must be a number >= 1/);
    expect(() => watchdogSettings({ MOA_MPI_TIMEOUT_MS: '-5' })).toThrow(/MOA_MPI_TIMEOUT_MS/);
  });
});

describe('--out folders', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'moa-out-'));
  });

  it('absent, empty or a bundle folder may be replaced; a folder with other files or a file is refused', () => {
    expect(bundleTargetProblem(path.join(dir, 'absent'))).toBeNull();
    mkdirSync(path.join(dir, 'empty'));
    expect(bundleTargetProblem(path.join(dir, 'empty'))).toBeNull();
    mkdirSync(path.join(dir, 'bundle'));
    writeFileSync(path.join(dir, 'bundle', 'moa-lens.json'), '{}');
    expect(bundleTargetProblem(path.join(dir, 'bundle'))).toBeNull();
    mkdirSync(path.join(dir, 'user'));
    writeFileSync(path.join(dir, 'user', 'thesis.tex'), 'years of work');
    expect(bundleTargetProblem(path.join(dir, 'user'))).toMatch(/exists and is not a model bundle \(no moa-lens\.json; it holds thesis\.tex\): refusing to replace it/);
    writeFileSync(path.join(dir, 'file'), 'x');
    expect(bundleTargetProblem(path.join(dir, 'file'))).toMatch(/exists and is not a folder/);
    expect(() => checkOutFolder(path.join(dir, 'user'))).toThrow(ConfigError);
  });

  it('writeBundleDir refuses such a folder and leaves it intact; it still replaces a bundle', async () => {
    const files = new Map([['moa-lens.json', new TextEncoder().encode('{"new":true}')]]);
    await expect(writeBundleDir(path.join(dir, 'user'), files)).rejects.toThrow(ConfigError);
    expect(readFileSync(path.join(dir, 'user', 'thesis.tex'), 'utf8')).toBe('years of work');
    await writeBundleDir(path.join(dir, 'bundle'), files);
    expect(readFileSync(path.join(dir, 'bundle', 'moa-lens.json'), 'utf8')).toBe('{"new":true}');
  });
});

describe('sizing the dataset skips unreadable fields', () => {
  it('a truncated TIFF as the first field is reported and the next readable field sizes the dataset', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'moa-first-'));
    const tiff = encodeTiff16({ width: 24, height: 16, data: new Uint16Array(24 * 16).fill(1000) });
    const sample = (name: string): Sample => {
      const files = ['DNA', 'Tubulin', 'Actin'].map((ch) => path.join(dir, `${name}_${ch}.tif`)) as Sample['files'];
      for (const file of files) writeFileSync(file, tiff);
      return { id: `W1/P/${name}`, plate: 'P', week: 'W1', well: name, site: 1, compound: 'c', concentration: 1, moa: 'DMSO', label: 0, files };
    };
    const samples = [sample('A01'), sample('A02'), sample('A03')];
    writeFileSync(samples[0].files[0], tiff.subarray(0, 40)); // truncated DNA file of the first field
    const skipped: FieldLoadError[] = [];
    const first = await firstReadableField(samples, (_, error) => skipped.push(error));
    expect(first.index).toBe(1);
    expect(first.planes[0]).toMatchObject({ width: 24, height: 16 });
    expect(skipped).toHaveLength(1);
    expect(skipped[0].file).toBe(samples[0].files[0]);
    for (const s of samples.slice(1)) writeFileSync(s.files[2], 'not a tiff');
    const none = await firstReadableField(samples, () => {}).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(DataError);
    expect((none as Error).message).toMatch(/none of the 3 labelled fields could be read; the last: Field W1\/P\/A03: /);
  });
});

describe('train:cluster and the trainer share one validator', () => {
  it('dry runs check every flag but not the required paths', () => {
    expect(() => validateTrainConfig(parseTrainArgs(['--epochs', '2']), 2, { requirePaths: false })).not.toThrow();
    expect(() => validateTrainConfig(parseTrainArgs(['--input-size', '100x100']), 2, { requirePaths: false })).toThrow(/multiple of 64/);
    expect(() => validateTrainConfig(parseTrainArgs(['--epochs', '2']), 2)).toThrow(/--data <BBBC021 root> is required/);
  });
});
