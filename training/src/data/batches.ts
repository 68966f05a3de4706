// Streams fixed-size batches of preprocessed fields (cache first, else decode) and skips unreadable fields with a report.

import { preprocessSpecKey, type ModelImage, type PreprocessSpec } from '../../../src/core/preprocess.ts';
import type { Sample, SkippedFile } from './dataset-index.ts';
import type { FieldCache } from './field-cache.ts';
import { FieldLoadError, loadFieldImage } from './field-loader.ts';

/** Preprocessed fields as loaded (before augmentation), with the sample each came from. */
export interface FieldBatch {
  /** size x height x width x channels, float32, channel-last. */
  x: Float32Array;
  /** Class index per field. */
  labels: Int32Array;
  /** Indices into the sample list, one per field in the batch. */
  sampleIndices: number[];
  size: number;
  height: number;
  width: number;
  channels: number;
}

/** What loading met so far: every skipped field named once, counts of cache hits and decodes. Reuse it across epochs. */
export class LoadReport {
  readonly failures: SkippedFile[] = [];
  readonly bad = new Set<number>();
  decoded = 0;
  fromCache = 0;

  fail(index: number, error: unknown, sample: Sample): void {
    if (this.bad.has(index)) return;
    this.bad.add(index);
    const reason = error instanceof FieldLoadError ? error.reason : (error as Error).message;
    const file = error instanceof FieldLoadError ? error.file : sample.files[0];
    this.failures.push({ fieldId: sample.id, file, reason });
  }

  /** One line per skipped field, for logs. */
  summary(): string {
    const lines = [`${this.decoded} decoded, ${this.fromCache} from cache, ${this.failures.length} skipped`];
    for (const f of this.failures) lines.push(`  skipped ${f.fieldId}: ${f.file}: ${f.reason}`);
    return lines.join('\n');
  }
}

export interface BatchOptions {
  batchSize: number;
  spec: PreprocessSpec;
  cache?: FieldCache;
  report?: LoadReport;
  /** Drop a last partial batch (default false: it is yielded with size < batchSize). */
  dropLast?: boolean;
}

/** Loads one field: cache hit, or decode + preprocess and fill the cache. */
export async function loadSample(sample: Sample, spec: PreprocessSpec, cache?: FieldCache, report?: LoadReport): Promise<ModelImage> {
  if (cache) {
    const fingerprint = await cache.fingerprint(sample).catch((error: NodeJS.ErrnoException) => {
      throw new FieldLoadError(sample.id, error.path ?? sample.files[0], error.code === 'ENOENT' ? 'file not found' : error.message);
    });
    const hit = await cache.get(sample, fingerprint);
    if (hit) {
      if (report) report.fromCache++;
      return hit;
    }
    const image = await loadFieldImage(sample, spec);
    await cache.put(sample, fingerprint, image);
    if (report) report.decoded++;
    return image;
  }
  const image = await loadFieldImage(sample, spec);
  if (report) report.decoded++;
  return image;
}

/**
 * Batches over `order` (indices into samples), holding one batch plus one being prefetched in memory.
 * A field that fails to load is named in the report and replaced by the next loadable field of `order`
 * (wrapping around), so every rank yields the same number of batches even when files are bad; fields
 * known bad from earlier epochs are skipped without a retry.
 */
export async function* streamBatches(samples: readonly Sample[], order: readonly number[], options: BatchOptions): AsyncGenerator<FieldBatch> {
  const { batchSize, spec, cache } = options;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  if (cache && preprocessSpecKey(cache.spec) !== preprocessSpecKey(spec)) {
    throw new Error(`The cache was opened for preprocessing "${preprocessSpecKey(cache.spec)}" but batches ask for "${preprocessSpecKey(spec)}".`);
  }
  const report = options.report ?? new LoadReport();
  const batchCount = options.dropLast ? Math.floor(order.length / batchSize) : Math.ceil(order.length / batchSize);
  let substitute = 0;

  const loadOrSubstitute = async (position: number): Promise<{ index: number; image: ModelImage } | undefined> => {
    let index = order[position];
    for (let attempts = 0; attempts <= order.length; attempts++) {
      if (!report.bad.has(index)) {
        try {
          return { index, image: await loadSample(samples[index], spec, cache, report) };
        } catch (error) {
          report.fail(index, error, samples[index]);
        }
      }
      index = order[(position + 1 + substitute++) % order.length];
    }
    return undefined;
  };

  const makeBatch = async (b: number): Promise<FieldBatch | undefined> => {
    const start = b * batchSize;
    const size = Math.min(batchSize, order.length - start);
    let batch: FieldBatch | undefined;
    for (let k = 0; k < size; k++) {
      const loaded = await loadOrSubstitute(start + k);
      if (!loaded) return undefined;
      const { image } = loaded;
      if (!batch) {
        batch = { x: new Float32Array(size * image.data.length), labels: new Int32Array(size), sampleIndices: [], size, height: image.height, width: image.width, channels: image.channels };
      } else if (image.height !== batch.height || image.width !== batch.width || image.channels !== batch.channels) {
        report.fail(loaded.index, new FieldLoadError(samples[loaded.index].id, samples[loaded.index].files[0], `size ${image.height}x${image.width} differs from the batch's ${batch.height}x${batch.width}`), samples[loaded.index]);
        k--;
        continue;
      }
      batch.x.set(image.data, k * image.data.length);
      batch.labels[k] = samples[loaded.index].label;
      batch.sampleIndices.push(loaded.index);
    }
    return batch;
  };

  let pending = batchCount > 0 ? makeBatch(0) : Promise.resolve(undefined);
  for (let b = 0; b < batchCount; b++) {
    const batch = await pending;
    if (!batch) return;
    pending = b + 1 < batchCount ? makeBatch(b + 1) : Promise.resolve(undefined);
    yield batch;
  }
}
