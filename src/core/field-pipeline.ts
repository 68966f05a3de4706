// The field pipeline, one implementation for the browser engine, the trainer's evaluation and the tests' reference:
// planes -> preprocess -> tiles -> predictBatch (the model, injected by the caller) -> area-weighted field probabilities.
import type { BundleMetadata } from './bundle-format.ts';
import { FieldError } from './errors.ts';
import { paddedFraction } from './field-checks.ts';
import { sourceStatistics, tileInputStatistics } from './ood.ts';
import { preprocessField, type ModelImage, type PixelPlane } from './preprocess.ts';
import { aggregateTiles, extractTile, tileField, type TileGrid } from './tiling.ts';

/** What the pipeline needs to know of a model: its input, preprocessing and tiling (a bundle's metadata holds all three). */
export type FieldModel = Pick<BundleMetadata, 'input' | 'preprocessing' | 'tiling'>;

/** A batch of tiles through the model: class probabilities and, from the same forward pass, the features the last layer reads. */
export interface TileOutputs {
  /** `count` rows of class probabilities, row-major. */
  probabilities: Float32Array;
  /** `count` rows of penultimate-layer features (M-CNN: the 512-wide dense layer after its ReLU), row-major. */
  features: Float32Array;
}

/**
 * The model: `count` tiles, each input.height x input.width x input.channels (HWC, row-major, one after the
 * other) -> their TileOutputs. The only part that knows about TF.js.
 */
export type PredictBatch = (tiles: Float32Array, count: number) => Promise<TileOutputs> | TileOutputs;

/** Tiles per predictBatch call when the caller does not size batches itself. */
export const DEFAULT_TILE_BATCH = 8;

/** A field's prediction: field probabilities and features, the tiles' probabilities and where the tiles sit. */
export interface FieldPrediction {
  /** One per class: the tiles' probabilities averaged, each weighted by its unpadded area. */
  probabilities: Float32Array;
  /** The field's feature vector (profile): the tiles' penultimate-layer features averaged with the same weights. */
  features: Float32Array;
  /**
   * What the model's input looks like, read by the OOD check (src/core/ood.ts): per channel the tiles' statistics
   * (averaged with the same weights) and the source's levels, then the largest padded fraction of a tile.
   */
  inputStatistics: Float32Array;
  /** grid.tiles.length rows of class probabilities, row-major. */
  tileProbabilities: Float32Array;
  /** The tiles, in model pixels (after binning). */
  grid: TileGrid;
}

/** A prediction from planes, with the milliseconds spent preprocessing and in the model. */
export interface TimedFieldPrediction extends FieldPrediction {
  preprocessMs: number;
  inferMs: number;
}

function isAbort(error: unknown): boolean {
  return (error as Error | undefined)?.name === 'AbortError';
}

/** One predictBatch call; its failures become FieldErrors of the 'infer' stage (an AbortError passes through). */
async function runBatch(predictBatch: PredictBatch, tiles: Float32Array, count: number): Promise<TileOutputs> {
  let output: TileOutputs;
  try {
    output = await predictBatch(tiles, count);
  } catch (error) {
    if (isAbort(error)) throw error;
    throw new FieldError('infer', `inference failed (${(error as Error).message}).`);
  }
  for (const [what, values] of [['probabilities', output.probabilities], ['features', output.features]] as const) {
    if (values.length === 0 || values.length % count !== 0) throw new FieldError('infer', `inference failed (the model returned ${values.length} ${what} for ${count} tiles).`);
  }
  return output;
}

/** Rows `[start, end)` of a row-major matrix with `width` columns, each as its own array. */
function rowsOf(values: Float32Array, width: number): Float32Array[] {
  const rows: Float32Array[] = [];
  for (let i = 0; i < values.length; i += width) rows.push(values.slice(i, i + width));
  return rows;
}

function stack(rows: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(rows.length * rows[0].length);
  rows.forEach((row, i) => out.set(row, i * row.length));
  return out;
}

/**
 * Preprocessed fields -> their predictions. Tiles of all the fields go to `predictBatch` `batchSize` at a
 * time, across field boundaries (the trainer evaluates many small fields; the engine passes one field).
 */
export async function predictImages(images: readonly ModelImage[], model: FieldModel, predictBatch: PredictBatch, batchSize = DEFAULT_TILE_BATCH): Promise<FieldPrediction[]> {
  const { height, width, channels } = model.input;
  const grids = images.map((image) => {
    if (image.channels !== channels) throw new FieldError('preprocess', `The field has ${image.channels} channels; the model takes ${channels}.`);
    return tileField(image.height, image.width, height, width, model.tiling.minOverlap);
  });
  const tiles = grids.flatMap((grid, field) => grid.tiles.map((tile) => ({ field, tile })));
  const tileValues = height * width * channels;
  const probabilityRows: Float32Array[] = [];
  const featureRows: Float32Array[] = [];
  const statisticRows: Float32Array[] = [];
  for (let start = 0; start < tiles.length; start += batchSize) {
    const batch = tiles.slice(start, start + batchSize);
    const input = new Float32Array(batch.length * tileValues);
    batch.forEach(({ field, tile }, i) => {
      const values = input.subarray(i * tileValues, (i + 1) * tileValues);
      extractTile(images[field], grids[field], tile, values);
      statisticRows.push(tileInputStatistics(values, height, width, channels));
    });
    const output = await runBatch(predictBatch, input, batch.length);
    probabilityRows.push(...rowsOf(output.probabilities, output.probabilities.length / batch.length));
    featureRows.push(...rowsOf(output.features, output.features.length / batch.length));
  }
  let next = 0;
  return grids.map((grid, field) => {
    const probabilities = probabilityRows.slice(next, next + grid.tiles.length);
    const features = featureRows.slice(next, next + grid.tiles.length);
    const statistics = statisticRows.slice(next, next + grid.tiles.length);
    next += grid.tiles.length;
    return {
      probabilities: aggregateTiles(probabilities, grid),
      features: aggregateTiles(features, grid),
      inputStatistics: Float32Array.from([...aggregateTiles(statistics, grid), ...sourceStatistics(images[field].sourceRange, channels), paddedFraction(grid)]),
      tileProbabilities: stack(probabilities),
      grid,
    };
  });
}

/**
 * One field's planes (in model.preprocessing.channels order) -> its prediction. Failures are FieldErrors
 * naming the stage ('preprocess' or 'infer'); an AbortError thrown by predictBatch passes through.
 */
export async function predictField(planes: readonly PixelPlane[], model: FieldModel, predictBatch: PredictBatch, batchSize = DEFAULT_TILE_BATCH): Promise<TimedFieldPrediction> {
  let started = performance.now();
  let image: ModelImage;
  try {
    image = preprocessField(planes, model.preprocessing);
  } catch (error) {
    throw new FieldError('preprocess', (error as Error).message);
  }
  const preprocessMs = performance.now() - started;
  started = performance.now();
  const [prediction] = await predictImages([image], model, predictBatch, batchSize);
  return { ...prediction, preprocessMs, inferMs: performance.now() - started };
}
