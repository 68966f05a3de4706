// The TF.js edge of the field pipeline: a layers model as a PredictBatch (tiles in, class probabilities out).
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { FieldModel, PredictBatch } from './field-pipeline.ts';

/** Runs tiles through `model` on the current backend; tensors are freed before it returns. */
export function layersPredictBatch(model: tfl.LayersModel, input: FieldModel['input']): PredictBatch {
  return async (tiles, count) => {
    const x = tf.tensor4d(tiles, [count, input.height, input.width, input.channels]);
    let y: tf.Tensor | undefined;
    try {
      y = model.predict(x) as tf.Tensor;
      return (await y.data()) as Float32Array;
    } finally {
      x.dispose();
      y?.dispose();
    }
  };
}
