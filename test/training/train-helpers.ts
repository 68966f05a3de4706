// Test helpers for the trainer: a small simulated BBBC021 dataset and running `train.ts` as a child process.
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSimulatedDataset } from '../../training/src/simulate/dataset-writer.ts';
import { BBBC021_METADATA_DIR } from '../fixtures/paths.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const trainEntry = path.join(repoRoot, 'training', 'src', 'train.ts');

/** A small labelled dataset (all 12 classes + DMSO) in the BBBC021 layout. */
export async function smallDataset(options: { size?: number; width?: number; compoundsPerClass?: number; fieldsPerTreatment?: number; seed?: number; compoundDiversity?: number } = {}): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'moa-sim-'));
  const size = options.size ?? 128;
  await writeSimulatedDataset({
    outDir: dir,
    metadataDir: BBBC021_METADATA_DIR,
    height: size,
    width: options.width ?? size,
    compoundsPerClass: options.compoundsPerClass ?? 2,
    fieldsPerTreatment: options.fieldsPerTreatment ?? 2,
    seed: options.seed ?? 1,
    compoundDiversity: options.compoundDiversity,
  });
  return dir;
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `node --import tsx train.ts ...args`; `onStart` gets the child (to kill it). */
export function runTrainer(args: string[], options: { onStart?: (child: ReturnType<typeof spawn>) => void; command?: string[] } = {}): Promise<ProcessResult> {
  const command = options.command ?? [process.execPath, '--import', 'tsx', trainEntry];
  const child = spawn(command[0], [...command.slice(1), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  options.onStart?.(child);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
