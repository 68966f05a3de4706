// One field through the model: preprocess (core) -> tiles -> batched predict -> area-weighted field probabilities.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { BundleMetadata } from '../core/bundle.ts';
import { argmax, topK } from '../core/aggregate.ts';
import { preprocessField } from '../core/preprocess.ts';
import { aggregateTiles, extractTile, tileField } from '../core/tiling.ts';
import { FieldError, readField } from './field-reader.ts';
import type { FieldInput, FieldResult, FieldSuccess } from './types.ts';

export interface PipelineModel {
  model: tfl.LayersModel;
  metadata: BundleMetadata;
  batchSize: number;
}

/** Runs the tiles of one preprocessed field through the model, `batchSize` at a time; tiles x classes. */
async function predictTiles(pm: PipelineModel, image: ReturnType<typeof preprocessField>, grid: ReturnType<typeof tileField>, shouldStop: () => boolean): Promise<Float32Array> {
  const { height, width, channels } = pm.metadata.input;
  const classes = pm.metadata.classes.length;
  const tileValues = height * width * channels;
  const out = new Float32Array(grid.tiles.length * classes);
  for (let start = 0; start < grid.tiles.length; start += pm.batchSize) {
    if (shouldStop()) throw new DOMException('Classification was cancelled.', 'AbortError');
    const batch = grid.tiles.slice(start, start + pm.batchSize);
    const input = new Float32Array(batch.length * tileValues);
    batch.forEach((tile, i) => extractTile(image, grid, tile, input.subarray(i * tileValues, (i + 1) * tileValues)));
    const x = tf.tensor4d(input, [batch.length, height, width, channels]);
    let y: tf.Tensor | undefined;
    try {
      y = pm.model.predict(x) as tf.Tensor;
      out.set((await y.data()) as Float32Array, start * classes);
    } finally {
      x.dispose();
      y?.dispose();
    }
  }
  return out;
}

/** Classifies one field; failures come back as a FieldFailure naming the stage and the file. */
export async function classifyField(pm: PipelineModel, field: FieldInput, shouldStop: () => boolean = () => false): Promise<FieldResult> {
  const { metadata } = pm;
  const spec = metadata.preprocessing;
  try {
    const decoded = await readField(field, spec.channels);
    let t = performance.now();
    let image;
    try {
      image = preprocessField(decoded.planes, spec);
    } catch (e) {
      throw new FieldError('preprocess', `Field ${field.id}: ${(e as Error).message}`);
    }
    const sourceHeight = decoded.planes[0].height;
    const sourceWidth = decoded.planes[0].width;
    decoded.planes = [];
    const grid = tileField(image.height, image.width, metadata.input.height, metadata.input.width, metadata.tiling.minOverlap);
    const preprocessMs = performance.now() - t;
    t = performance.now();
    let tileProbabilities: Float32Array;
    try {
      tileProbabilities = await predictTiles(pm, image, grid, shouldStop);
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new FieldError('infer', `Field ${field.id}: inference failed (${(e as Error).message}).`);
    }
    const inferMs = performance.now() - t;
    const k = metadata.classes.length;
    const rows = grid.tiles.map((_, i) => tileProbabilities.subarray(i * k, (i + 1) * k));
    const probabilities = aggregateTiles(rows, grid);
    const predicted = argmax(probabilities);
    const result: FieldSuccess = {
      id: field.id,
      ok: true,
      probabilities,
      predicted,
      predictedLabel: metadata.classes[predicted],
      confidence: probabilities[predicted],
      top3: topK(probabilities, 3).map(({ index, probability }) => ({ index, probability, label: metadata.classes[index] })),
      tileProbabilities,
      tiles: {
        fieldHeight: grid.fieldHeight,
        fieldWidth: grid.fieldWidth,
        sourceHeight,
        sourceWidth,
        binning: spec.binning,
        tileHeight: grid.tileHeight,
        tileWidth: grid.tileWidth,
        rows: grid.rows,
        cols: grid.cols,
        tiles: grid.tiles.map(({ y, x, validHeight, validWidth }) => ({ y, x, validHeight, validWidth })),
      },
      timings: { readMs: decoded.readMs, decodeMs: decoded.decodeMs, preprocessMs, inferMs },
      notes: decoded.notes,
    };
    return result;
  } catch (e) {
    if (e instanceof FieldError) return { id: field.id, ok: false, stage: e.stage, message: e.message };
    if ((e as Error).name === 'AbortError') throw e;
    return { id: field.id, ok: false, stage: 'infer', message: `Field ${field.id}: ${(e as Error).message}` };
  }
}
