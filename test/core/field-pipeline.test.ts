// The core field pipeline: preprocess -> tiles -> injected predictBatch -> area-weighted field probabilities, batching, errors.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { FieldError } from '../../src/core/errors.ts';
import { predictField, predictImages, type FieldModel, type PredictBatch, type TileOutputs } from '../../src/core/field-pipeline.ts';
import { layersPredictBatch } from '../../src/core/layers-predict.ts';
import { buildMcnn } from '../../src/core/mcnn.ts';
import { DEFAULT_PREPROCESS, preprocessField, type ModelImage, type PixelPlane } from '../../src/core/preprocess.ts';
import { aggregateTiles, DEFAULT_TILING, extractTile, tileField } from '../../src/core/tiling.ts';

await tf.setBackend('cpu');

const MODEL: FieldModel = { input: { height: 8, width: 8, channels: 3 }, preprocessing: DEFAULT_PREPROCESS, tiling: DEFAULT_TILING };
const TILE_VALUES = 8 * 8 * 3;

/** Three planes with a gradient and a per-field offset, so tiles and fields differ. */
function planes(height: number, width: number, seed: number): PixelPlane[] {
  return [0, 1, 2].map((c) => ({ height, width, data: Uint16Array.from({ length: height * width }, (_, i) => 100 + ((i * (c + 2) + seed * 37) % 997)) }));
}

/**
 * A stand-in model: per tile, two "classes" from the tile's mean value and three "features" (mean, first and last
 * value); records the batch sizes it was called with.
 */
function meanModel(calls: number[] = []): PredictBatch {
  return (tiles, count) => {
    calls.push(count);
    const probabilities = new Float32Array(count * 2);
    const features = new Float32Array(count * 3);
    for (let t = 0; t < count; t++) {
      let sum = 0;
      for (let i = t * TILE_VALUES; i < (t + 1) * TILE_VALUES; i++) sum += tiles[i];
      const m = sum / TILE_VALUES;
      probabilities.set([m, 1 - m], t * 2);
      features.set([m, tiles[t * TILE_VALUES], tiles[(t + 1) * TILE_VALUES - 1]], t * 3);
    }
    return { probabilities, features };
  };
}

/** The pipeline by hand from the core pieces, one tile at a time. */
function byHand(image: ModelImage, model: FieldModel, predict: PredictBatch): { probabilities: Float32Array; features: Float32Array; rows: Float32Array[] } {
  const grid = tileField(image.height, image.width, model.input.height, model.input.width, model.tiling.minOverlap);
  const outputs = grid.tiles.map((tile) => predict(extractTile(image, grid, tile), 1) as TileOutputs);
  const rows = outputs.map((o) => o.probabilities);
  return { probabilities: aggregateTiles(rows, grid), features: aggregateTiles(outputs.map((o) => o.features), grid), rows };
}

describe('predictField', () => {
  it('preprocesses, tiles, predicts and aggregates as the core pieces do by hand', async () => {
    const field = planes(20, 13, 1); // 3 x 2 tiles of 8x8, the last row and column overlapping
    const calls: number[] = [];
    const prediction = await predictField(field, MODEL, meanModel(calls), 4);
    const expected = byHand(preprocessField(field, MODEL.preprocessing), MODEL, meanModel());
    expect(prediction.grid.tiles).toHaveLength(6);
    expect(calls).toEqual([4, 2]);
    expect(Array.from(prediction.probabilities)).toEqual(Array.from(expected.probabilities));
    expect(Array.from(prediction.features)).toEqual(Array.from(expected.features));
    expect(prediction.features).toHaveLength(3);
    expect(Array.from(prediction.tileProbabilities)).toEqual(expected.rows.flatMap((r) => Array.from(r)));
    expect(prediction.preprocessMs).toBeGreaterThanOrEqual(0);
    expect(prediction.inferMs).toBeGreaterThanOrEqual(0);
  });

  it('tiles with the model tiling and pads a small field', async () => {
    const field = planes(20, 13, 2);
    expect((await predictField(field, { ...MODEL, tiling: { minOverlap: 4 } }, meanModel())).grid.tiles).toHaveLength(4 * 3);
    const small = await predictField(planes(5, 6, 3), MODEL, meanModel());
    expect(small.grid.tiles).toEqual([expect.objectContaining({ validHeight: 5, validWidth: 6, padBottom: 3, padRight: 2 })]);
  });

  it('names the stage that failed; a cancel passes through', async () => {
    const uneven = [...planes(20, 13, 1).slice(0, 2), { height: 20, width: 12, data: new Uint16Array(240) }];
    await expect(predictField(uneven, MODEL, meanModel())).rejects.toMatchObject({ name: 'FieldError', stage: 'preprocess', message: expect.stringMatching(/all channels of a field must have one size/) });
    const broken: PredictBatch = () => {
      throw new Error('out of memory');
    };
    await expect(predictField(planes(8, 8, 1), MODEL, broken)).rejects.toMatchObject({ stage: 'infer', message: 'inference failed (out of memory).' });
    const short: PredictBatch = async () => ({ probabilities: new Float32Array(3), features: new Float32Array(4) });
    await expect(predictField(planes(16, 8, 1), MODEL, short, 2)).rejects.toMatchObject({ stage: 'infer', message: 'inference failed (the model returned 3 probabilities for 2 tiles).' });
    const noFeatures: PredictBatch = async () => ({ probabilities: new Float32Array(4), features: new Float32Array(0) });
    await expect(predictField(planes(16, 8, 1), MODEL, noFeatures, 2)).rejects.toMatchObject({ stage: 'infer', message: 'inference failed (the model returned 0 features for 2 tiles).' });
    const cancel: PredictBatch = () => {
      throw Object.assign(new Error('stopped'), { name: 'AbortError' });
    };
    const error = await predictField(planes(8, 8, 1), MODEL, cancel).catch((e: Error) => e);
    expect(error).not.toBeInstanceOf(FieldError);
    expect((error as Error).name).toBe('AbortError');
  });
});

describe('predictImages', () => {
  it('batches tiles across fields and predicts each field as it would alone', async () => {
    const images = [planes(20, 13, 1), planes(8, 8, 2), planes(16, 24, 3)].map((p) => preprocessField(p, MODEL.preprocessing));
    const calls: number[] = [];
    const together = await predictImages(images, MODEL, meanModel(calls), 5);
    expect(calls).toEqual([5, 5, 3]); // 6 + 1 + 6 tiles
    for (const [i, image] of images.entries()) {
      const [alone] = await predictImages([image], MODEL, meanModel(), 1);
      expect(Array.from(together[i].probabilities)).toEqual(Array.from(alone.probabilities));
      expect(Array.from(together[i].tileProbabilities)).toEqual(Array.from(alone.tileProbabilities));
      expect(Array.from(together[i].features)).toEqual(Array.from(alone.features));
    }
    expect(await predictImages([], MODEL, meanModel())).toEqual([]);
  });

  it('refuses an image with another channel count than the model', async () => {
    const image: ModelImage = { height: 8, width: 8, channels: 2, data: new Float32Array(128) };
    await expect(predictImages([image], MODEL, meanModel())).rejects.toMatchObject({ stage: 'preprocess', message: 'The field has 2 channels; the model takes 3.' });
  });
});

describe('layersPredictBatch', () => {
  it('is the model on a batch of tiles with the dense512 features from the same pass, and frees its tensors', async () => {
    const model = buildMcnn({ height: 64, width: 64, widthMultiplier: 0.125, classes: 13, seed: 4 });
    const input = { height: 64, width: 64, channels: 3 };
    const tiles = Float32Array.from({ length: 2 * 64 * 64 * 3 }, (_, i) => (i % 251) / 251);
    const predictBatch = layersPredictBatch(model, input);
    const before = tf.memory().numTensors;
    const got = await predictBatch(tiles, 2);
    expect(tf.memory().numTensors).toBe(before);
    const expected = tf.tidy(() => (model.predict(tf.tensor4d(tiles, [2, 64, 64, 3])) as tf.Tensor).dataSync());
    expect(Array.from(got.probabilities)).toEqual(Array.from(expected));
    const dense = tfl.model({ inputs: model.inputs, outputs: model.getLayer('dense512').output as tfl.SymbolicTensor });
    const features = tf.tidy(() => (dense.predict(tf.tensor4d(tiles, [2, 64, 64, 3])) as tf.Tensor).dataSync());
    expect(got.features).toHaveLength(2 * 64); // 512 x 0.125 per tile
    expect(Array.from(got.features)).toEqual(Array.from(features));
    expect(Math.max(...got.features)).toBeGreaterThan(0);
    model.dispose();
  });
});
