// Node reference classifier from the core functions alone (decodeTiff, preprocessField, tiling, predict): the parity oracle.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { bundleIOHandler, type VerifiedBundle } from '../../../src/core/bundle.ts';
import { decodeTiff } from '../../../src/core/tiff/index.ts';
import { preprocessField } from '../../../src/core/preprocess.ts';
import { aggregateTiles, extractTile, tileField } from '../../../src/core/tiling.ts';

export interface ReferenceModel {
  bundle: VerifiedBundle;
  model: tfl.LayersModel;
}

export async function loadReference(bundle: VerifiedBundle): Promise<ReferenceModel> {
  return { bundle, model: await tfl.loadLayersModel(bundleIOHandler(bundle)) };
}

/** Field probabilities for three TIFF files (DNA, Tubulin, Actin), one tile per predict call. */
export async function referenceProbabilities(ref: ReferenceModel, tiffs: Uint8Array[]): Promise<{ probabilities: Float32Array; tiles: Float32Array[] }> {
  const meta = ref.bundle.metadata;
  const planes = [];
  for (const [i, bytes] of tiffs.entries()) planes.push((await decodeTiff(bytes, `channel${i}.tif`)).planes[0]);
  const image = preprocessField(planes, meta.preprocessing);
  const grid = tileField(image.height, image.width, meta.input.height, meta.input.width, meta.tiling.minOverlap);
  const tiles = grid.tiles.map((tile) =>
    tf.tidy(() => {
      const x = tf.tensor4d(extractTile(image, grid, tile), [1, meta.input.height, meta.input.width, meta.input.channels]);
      return (ref.model.predict(x) as tf.Tensor).dataSync() as Float32Array;
    }),
  );
  return { probabilities: aggregateTiles(tiles, grid), tiles };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
