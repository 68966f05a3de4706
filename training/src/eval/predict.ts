// Field predictions exactly as the app makes them: tile the preprocessed field, predict tiles, aggregate (core).
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ModelImage } from '../../../src/core/preprocess.ts';
import { aggregateTiles, extractTile, tileField } from '../../../src/core/tiling.ts';

export interface ModelInput {
  height: number;
  width: number;
  minOverlap: number;
}

/** Field-level class probabilities for each image, tiles batched `batchSize` at a time. */
export function predictFields(model: tfl.LayersModel, images: ModelImage[], input: ModelInput, batchSize = 8): Float32Array[] {
  const tiles: { field: number; data: Float32Array }[] = [];
  const grids = images.map((image, field) => {
    const grid = tileField(image.height, image.width, input.height, input.width, input.minOverlap);
    for (const t of grid.tiles) tiles.push({ field, data: extractTile(image, grid, t) });
    return grid;
  });
  const c = images[0]?.channels ?? 3;
  const perTile: Float32Array[] = [];
  for (let i = 0; i < tiles.length; i += batchSize) {
    const chunk = tiles.slice(i, i + batchSize);
    const flat = new Float32Array(chunk.length * input.height * input.width * c);
    chunk.forEach((t, k) => flat.set(t.data, k * t.data.length));
    const probs = tf.tidy(() => (model.predict(tf.tensor4d(flat, [chunk.length, input.height, input.width, c])) as tf.Tensor).dataSync() as Float32Array);
    const k = probs.length / chunk.length;
    for (let j = 0; j < chunk.length; j++) perTile.push(probs.slice(j * k, (j + 1) * k));
  }
  let next = 0;
  return grids.map((grid) => {
    const mine = perTile.slice(next, next + grid.tiles.length);
    next += grid.tiles.length;
    return aggregateTiles(mine, grid);
  });
}
