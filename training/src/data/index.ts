// Dataset reader for BBBC021-layout roots (real or simulated): index, splits, sharded epoch order, cached batches.

export { loadDatasetIndex, classCounts, IMAGE_TABLE, MOA_TABLE, type DatasetIndex, type IndexOptions, type Sample, type SkippedFile } from './dataset-index.ts';
export { chooseSplit, groupedCompoundFolds, labelledCompounds, leaveOneCompoundOutFolds, notSameCompoundOrBatchFolds, protocolFolds, randomFieldSplit, SPLIT_KINDS, testedCompounds, type Split, type SplitChoice, type SplitKind } from './splits.ts';
export { epochOrder, shardOrder, classWeights, balancedEpochOrder, type RemainderPolicy } from './sampling.ts';
export { FieldCache } from './field-cache.ts';
export { FieldLoadError, firstReadableField, loadFieldImage, loadFieldPlanes } from './field-loader.ts';
export { streamBatches, loadSample, LoadReport, type FieldBatch, type BatchOptions } from './batches.ts';
