// A training checkpoint rebuilt as a model, with the run's own settings: what `npm run export` exports and
// `npm run evaluate -- --checkpoint` scores on the run's held-out fold.
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { MOA_CLASSES } from '../../../src/core/labels.ts';
import { buildMcnn } from '../../../src/core/mcnn.ts';
import { latestCheckpoint, listCheckpoints, readCheckpoint, type Checkpoint } from '../train/checkpoint.ts';
import { ConfigError, DEFAULTS, recordedTrainConfig, validateTrainConfig, type TrainConfig } from '../train/config.ts';
import { parameterLayout, writeFlat } from '../train/optimizer.ts';
import { ModelFileError } from '../util/cli.ts';

/** One checkpoint file, verified; a damaged one is a ModelFileError naming the file. */
export async function readCheckpointFile(file: string): Promise<Checkpoint> {
  return readCheckpoint(file).catch((e: Error) => {
    throw new ModelFileError(`${file} is not a usable checkpoint: ${e.message}`, { cause: e });
  });
}

/** Whether `--checkpoint source` names a folder (else a file); a path that does not exist is a ConfigError. */
async function isFolder(source: string): Promise<boolean> {
  const found = await stat(source).catch(() => null);
  if (!found) throw new ConfigError(`--checkpoint ${source} does not exist.`);
  return found.isDirectory();
}

/** `source`: a checkpoint file, or a folder (its newest valid checkpoint). */
export async function findCheckpoint(source: string): Promise<{ file: string; checkpoint: Checkpoint }> {
  if (!(await isFolder(source))) return { file: source, checkpoint: await readCheckpointFile(source) };
  const found = await latestCheckpoint(source);
  if (!found) throw new ModelFileError(`no valid checkpoint in ${source}.`);
  return found;
}

/** `source`: a checkpoint file, a comma-separated list of them, or a folder (every checkpoint in it, by step). */
export async function checkpointFiles(source: string): Promise<string[]> {
  if (source.includes(',')) return source.split(',').filter(Boolean);
  if (!(await isFolder(source))) return [source];
  const files = await listCheckpoints(source);
  if (!files.length) throw new ModelFileError(`no checkpoint in ${source}.`);
  return files.map((f) => path.join(source, f));
}

/** The run's settings as recorded in the checkpoint, for one process, with `overrides` over them. */
export function checkpointConfig(checkpoint: Checkpoint, overrides: Partial<TrainConfig> = {}): TrainConfig {
  // The per-rank batch belongs to the run's world size, not to this single process.
  return validateTrainConfig({ ...DEFAULTS, ...recordedTrainConfig(checkpoint.config), batchPerRank: 0, ...overrides }, 1);
}

/** The run's M-CNN with the checkpoint's weights (the backend must be selected first). */
export function checkpointModel(checkpoint: Checkpoint, config: TrainConfig): tfl.LayersModel {
  const model = buildMcnn({ height: config.inputHeight, width: config.inputWidth, classes: MOA_CLASSES.length, widthMultiplier: config.widthMultiplier, seed: config.seed });
  writeFlat(parameterLayout(model.trainableWeights.map((w) => w.read() as tf.Variable)), checkpoint.weights);
  return model;
}
