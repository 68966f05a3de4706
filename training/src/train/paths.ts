// The trainer's file-system checks before any work: --data is a BBBC021-layout root, --out may be replaced by a bundle.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { bundleTargetProblem } from '../bundle-fs.ts';
import { IMAGE_TABLE, MOA_TABLE } from '../data/dataset-index.ts';
import { ConfigError } from '../util/cli.ts';
import type { TrainConfig } from './config.ts';

/** Throws ConfigError unless `dir` holds both BBBC021 metadata tables. */
export function checkDataRoot(dir: string): void {
  for (const table of [IMAGE_TABLE, MOA_TABLE]) {
    if (!existsSync(path.join(dir, table))) throw new ConfigError(`--data ${dir} is not a BBBC021-layout root: ${table} not found there.`);
  }
}

/** Throws ConfigError when --out exists and is not a bundle folder (nor empty): it is never deleted. */
export function checkOutFolder(dir: string): void {
  const problem = bundleTargetProblem(dir);
  if (problem) throw new ConfigError(`--out ${problem}`);
}

/** Both checks, as the trainer makes them at start (train:cluster makes them too for ranks on this machine). */
export function checkTrainPaths(config: Pick<TrainConfig, 'data' | 'out'>): void {
  checkDataRoot(config.data);
  checkOutFolder(config.out);
}
