// Data: index the BBBC021 root, choose the preprocessing, split train/held-out by compound, set up the cache.
import path from 'node:path';
import { CHANNELS, DMSO } from '../../../src/core/labels.ts';
import type { PreprocessSpec } from '../../../src/core/preprocess.ts';
import { FieldCache, firstReadableField, leaveOneCompoundOutFolds, loadDatasetIndex, LoadReport, randomFieldSplit, type DatasetIndex, type Sample, type Split } from '../data/index.ts';
import { DataError } from '../util/cli.ts';
import type { TrainConfig } from './config.ts';

export interface TrainingData {
  index: DatasetIndex;
  samples: Sample[];
  spec: PreprocessSpec;
  split: Split;
  cache: FieldCache;
  fieldSize: { height: number; width: number };
  /** Fields found unreadable so far (sizing the dataset), then by the training loop: each named once, never retried. */
  report: LoadReport;
}

/**
 * Leave-compounds-out fold `fold` of `folds`: within each MoA class the compounds (sorted) are dealt
 * round-robin over the folds, so every fold holds out about 1/folds of each class's compounds and, for
 * a class with at least two compounds, keeps one in training. DMSO follows the per-compound splits
 * (its plates are spread over the folds).
 */
export function compoundFoldSplit(samples: readonly Sample[], folds: number, fold: number): Split {
  const perCompound = leaveOneCompoundOutFolds(samples);
  const byClass = new Map<string, string[]>();
  for (const s of samples) {
    if (s.moa === DMSO) continue;
    const list = byClass.get(s.moa) ?? [];
    if (!list.includes(s.compound)) list.push(s.compound);
    byClass.set(s.moa, list);
  }
  const held = new Set<string>();
  [...byClass.keys()].sort().forEach((moa, classIndex) => {
    byClass.get(moa)!.sort().forEach((compound, k) => {
      if ((k + classIndex) % folds === fold) held.add(compound);
    });
  });
  const test = new Set<number>();
  perCompound.forEach((split, j) => {
    const compound = split.name.slice('loco:'.length);
    for (const i of split.test) {
      const s = samples[i];
      if (s.moa === DMSO ? j % folds === fold : held.has(compound)) test.add(i);
    }
  });
  const train = samples.map((_, i) => i).filter((i) => !test.has(i));
  return { name: `loco-folds:${fold}/${folds}`, train, test: [...test].sort((a, b) => a - b) };
}

export async function prepareData(config: TrainConfig, fixedSpec?: PreprocessSpec): Promise<TrainingData> {
  const index = await loadDatasetIndex(config.data);
  if (index.samples.length === 0) throw new DataError(`No labelled fields with readable files under ${config.data} (${index.skipped.length} skipped).`);
  // The first readable field sizes the dataset; unreadable ones before it are reported and never retried.
  const report = new LoadReport();
  const first = await firstReadableField(index.samples, (i, error) => report.fail(i, error, index.samples[i]));
  const fieldSize = { height: first.planes[0].height, width: first.planes[0].width };
  const binning = config.binning || Math.max(1, Math.floor(Math.min(fieldSize.height / config.inputHeight, fieldSize.width / config.inputWidth)));
  const spec: PreprocessSpec = fixedSpec ?? { version: 1, channels: [...CHANNELS], binning, normalisation: { method: 'percentile', low: 0.1, high: 99.9 } };
  const split = config.split === 'random' ? randomFieldSplit(index.samples, 0.2, config.seed) : compoundFoldSplit(index.samples, config.folds, config.fold);
  const cache = new FieldCache(config.cacheDir || path.join(config.data, '.moa-lens-cache'), spec);
  return { index, samples: index.samples, spec, split, cache, fieldSize, report };
}
