// Data: index the BBBC021 root, choose the preprocessing, split train/held-out (--split, data/splits.ts), set up the cache.
import path from 'node:path';
import type { FieldModel } from '../../../src/core/field-pipeline.ts';
import { CHANNELS } from '../../../src/core/labels.ts';
import type { PreprocessSpec } from '../../../src/core/preprocess.ts';
import { chooseSplit, FieldCache, firstReadableField, loadDatasetIndex, LoadReport, type DatasetIndex, type Sample, type Split } from '../data/index.ts';
import { DEFAULT_TILING } from '../../../src/core/tiling.ts';
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

export async function prepareData(config: TrainConfig, fixedSpec?: PreprocessSpec): Promise<TrainingData> {
  const index = await loadDatasetIndex(config.data);
  if (index.samples.length === 0) throw new DataError(`No labelled fields with readable files under ${config.data} (${index.skipped.length} skipped).`);
  const split = chooseSplit(index.samples, config); // a fold that does not exist stops here, before any field is read
  // The first readable field sizes the dataset; unreadable ones before it are reported and never retried.
  const report = new LoadReport();
  const first = await firstReadableField(index.samples, (i, error) => report.fail(i, error, index.samples[i]));
  const fieldSize = { height: first.planes[0].height, width: first.planes[0].width };
  const binning = config.binning || Math.max(1, Math.floor(Math.min(fieldSize.height / config.inputHeight, fieldSize.width / config.inputWidth)));
  const normalisation: PreprocessSpec['normalisation'] = config.normalisation === 'divide' ? { method: 'divide', by: config.divideBy } : { method: 'percentile', low: 0.1, high: 99.9 };
  const spec: PreprocessSpec = fixedSpec ?? { version: 1, channels: [...CHANNELS], binning, normalisation };
  const cache = new FieldCache(config.cacheDir || path.join(config.data, '.moa-lens-cache'), spec);
  return { index, samples: index.samples, spec, split, cache, fieldSize, report };
}

/** How a run's model sees a field (its input, this data's preprocessing, the default tiling): as the exported bundle will run it. */
export function runFieldModel(config: TrainConfig, data: TrainingData): FieldModel {
  return { input: { height: config.inputHeight, width: config.inputWidth, channels: 3 }, preprocessing: data.spec, tiling: DEFAULT_TILING };
}
