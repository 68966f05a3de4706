// A cross-validation sweep on disk: the fold plan, the state file that lets a killed sweep resume, one fold's run.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MOA_CLASSES } from '../../../src/core/labels.ts';
import { exitCodeOf } from '../cluster/launch.ts';
import { classCounts, loadDatasetIndex, protocolFolds, testedCompounds } from '../data/index.ts';
import { ConfigError, DataError } from '../util/cli.ts';
import type { CvArgs } from './args.ts';
import type { FoldOutcome, HeldOutField } from './report.ts';

export interface PlannedFold {
  index: number;
  name: string;
  heldOutCompounds: string[];
  testFields: number;
  classesAbsentFromTraining: number[];
  /** <sweep>/folds/<index>: the fold's bundle (model), checkpoints, step log, report and console log. */
  dir: string;
}

export interface SweepPlan {
  /** Every fold of the protocol on this data. */
  folds: PlannedFold[];
  /** The folds this invocation runs (--folds-subset / --max-folds), in order. */
  selected: PlannedFold[];
}

/** The folds of the protocol, from the data's metadata tables and the files present (as the trainer indexes them). */
export async function planSweep(args: CvArgs): Promise<SweepPlan> {
  const index = await loadDatasetIndex(args.data);
  if (index.samples.length === 0) throw new DataError(`No labelled fields with readable files under ${args.data} (${index.skipped.length} skipped).`);
  const splits = protocolFolds(index.samples, { split: args.split, folds: args.folds, seed: 0 });
  const width = String(splits.length - 1).length;
  const folds = splits.map((split, i): PlannedFold => {
    const trained = classCounts(split.train.map((k) => index.samples[k]), MOA_CLASSES.length);
    const tested = new Set(split.test.map((k) => index.samples[k].label));
    return {
      index: i,
      name: split.name,
      heldOutCompounds: testedCompounds(index.samples, split),
      testFields: split.test.length,
      classesAbsentFromTraining: [...tested].filter((label) => trained[label] === 0).sort((a, b) => a - b),
      dir: path.join(args.out, 'folds', String(i).padStart(width, '0')),
    };
  });
  const outOfRange = (args.subset ?? []).filter((i) => i >= folds.length);
  if (outOfRange.length) throw new ConfigError(`--folds-subset names fold ${outOfRange.join(', ')}, but --split ${args.split} has ${folds.length} folds on ${args.data} (0..${folds.length - 1}).`);
  const selected = args.subset ? args.subset.map((i) => folds[i]) : folds.slice(0, args.maxFolds ?? folds.length);
  const empty = selected.filter((f) => f.heldOutCompounds.length === 0);
  if (args.split === 'grouped' && empty.length) {
    throw new ConfigError(
      `--split grouped --folds ${args.folds}: ${empty.length} of its folds hold out no compound (${empty.map((f) => f.index).join(', ')}); the grouped folds deal each class's compounds round-robin and are not leave-one-compound-out. Use --split loco for one compound per fold (${new Set(folds.flatMap((f) => f.heldOutCompounds)).size} folds), or fewer --folds.`,
    );
  }
  return { folds, selected };
}

interface FoldState {
  name: string;
  attempts: number;
  wallSeconds: number;
  done: boolean;
}

/** `<sweep>/sweep.json`: what the sweep is (checked on resume) and how far each fold got. */
export interface SweepState {
  format: 'moa-lens-cv-sweep';
  version: 1;
  split: string;
  folds: number;
  data: string;
  trainerArgs: string[];
  foldNames: string[];
  runs: Record<string, FoldState>;
}

export const stateFile = (out: string) => path.join(out, 'sweep.json');

/**
 * The sweep's state: a new one for an absent or empty --out, the saved one when it describes this very sweep
 * (same protocol, data, trainer flags and folds); anything else is refused, and nothing is ever deleted.
 */
export async function openSweep(args: CvArgs, plan: SweepPlan): Promise<{ state: SweepState; resumed: boolean }> {
  const fresh: SweepState = {
    format: 'moa-lens-cv-sweep',
    version: 1,
    split: args.split,
    folds: args.split === 'grouped' ? args.folds : plan.folds.length,
    data: path.resolve(args.data),
    trainerArgs: args.trainerArgs,
    foldNames: plan.folds.map((f) => f.name),
    runs: {},
  };
  const file = stateFile(args.out);
  if (!existsSync(file)) {
    if (existsSync(args.out) && readdirSync(args.out).length > 0) throw new ConfigError(`--out ${args.out} exists and is not a train:cv sweep (no sweep.json): refusing to write into it; choose another --out.`);
    return { state: fresh, resumed: false };
  }
  let saved: SweepState;
  try {
    saved = JSON.parse(await readFile(file, 'utf8')) as SweepState;
  } catch (error) {
    throw new ConfigError(`${file} cannot be read as a sweep state (${(error as Error).message}); move it away to start over.`, { cause: error });
  }
  const differs: string[] = (['split', 'folds', 'data'] as const).filter((k) => saved[k] !== fresh[k]);
  if (JSON.stringify(saved.trainerArgs) !== JSON.stringify(fresh.trainerArgs)) differs.push('trainer flags');
  if (JSON.stringify(saved.foldNames) !== JSON.stringify(fresh.foldNames)) differs.push('folds found in the data');
  if (differs.length) {
    throw new ConfigError(`${file} is a different sweep (${differs.join(', ')} differ: it was ${saved.split} on ${saved.data} with ${saved.trainerArgs.join(' ')}); resume it with its own settings or choose another --out.`);
  }
  return { state: saved, resumed: true };
}

export async function saveSweep(out: string, state: SweepState): Promise<void> {
  await mkdir(out, { recursive: true });
  const file = stateFile(out);
  await writeFile(`${file}.tmp-${process.pid}`, JSON.stringify(state, null, 1));
  await rename(`${file}.tmp-${process.pid}`, file);
}

/** The fold's training report (`<dir>/model.report.json`) as its outcome, or null while the fold is not finished. */
export async function finishedFold(fold: PlannedFold, wallSeconds: number): Promise<FoldOutcome | null> {
  let report: { metrics?: { split?: string }; provenance?: { steps?: number; seconds?: number }; fields?: HeldOutField[] };
  try {
    report = JSON.parse(await readFile(path.join(fold.dir, 'model.report.json'), 'utf8'));
  } catch {
    return null; // absent, or cut short by a kill while it was written: the fold runs (resumes) again
  }
  if (report.metrics?.split !== fold.name || !Array.isArray(report.fields)) throw new DataError(`${path.join(fold.dir, 'model.report.json')} is the report of ${report.metrics?.split ?? 'another run'}, not of fold ${fold.index} (${fold.name}); move ${fold.dir} away.`);
  return {
    index: fold.index,
    name: fold.name,
    heldOutCompounds: fold.heldOutCompounds,
    classesAbsentFromTraining: fold.classesAbsentFromTraining,
    fields: report.fields.map(({ id, treatment, label, predicted, probabilities }) => ({ id, treatment, label, predicted, probabilities })),
    steps: report.provenance?.steps ?? 0,
    trainSeconds: report.provenance?.seconds ?? 0,
    wallSeconds,
  };
}

/** How a fold is started: the trainer itself, or train:cluster with the launcher flags. */
export interface FoldLauncher {
  /** argv[0..] before the fold's flags (node, its loader, the entry script and any launcher flags). */
  command: string[];
  /** The npm command a person would type, for the bundle's provenance. */
  npmCommand: string;
}

/** Runs one fold to its end (resuming from its newest checkpoint), its output to the console and to <dir>/train.log. */
export async function runFold(fold: PlannedFold, args: CvArgs, launcher: FoldLauncher, prefix: string): Promise<number> {
  await mkdir(fold.dir, { recursive: true });
  const foldArgs = [...args.trainerArgs, '--out', path.join(fold.dir, 'model'), '--split', args.split, ...(args.split === 'grouped' ? ['--folds', String(args.folds)] : []), '--fold', String(fold.index), '--resume'];
  const log = createWriteStream(path.join(fold.dir, 'train.log'), { flags: 'a' });
  log.write(`# ${new Date().toISOString()} ${launcher.npmCommand} ${foldArgs.join(' ')}\n`);
  const child = spawn(launcher.command[0], [...launcher.command.slice(1), ...foldArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MOA_TRAIN_COMMAND: `${launcher.npmCommand} ${foldArgs.join(' ')}` },
  });
  const relay = (stream: NodeJS.ReadableStream, to: NodeJS.WriteStream) => {
    let pending = '';
    stream.on('data', (chunk: Buffer) => {
      log.write(chunk);
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) to.write(`${prefix} ${line}\n`);
    });
    stream.on('end', () => pending && to.write(`${prefix} ${pending}\n`));
  };
  relay(child.stdout!, process.stdout);
  relay(child.stderr!, process.stderr);
  // Ctrl-C or a kill of the sweep reaches the fold too, which then stops at a step (its checkpoints stay).
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, forward);
  return new Promise((resolve, reject) => {
    child.on('error', (error) => reject(new Error(`cannot start fold ${fold.index}: ${error.message}`)));
    child.on('close', (code, signal) => {
      for (const s of signals) process.off(s, forward);
      log.end(() => resolve(exitCodeOf(code, signal)));
    });
  });
}
