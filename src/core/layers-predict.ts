// The TF.js edge of the field pipeline: a layers model as a PredictBatch (tiles in, class probabilities and
// penultimate-layer features out, from one forward pass).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { FieldModel, PredictBatch } from './field-pipeline.ts';

/**
 * The model with two outputs: the tensor its last layer reads (M-CNN: the 512-wide dense layer after its ReLU) and its
 * class probabilities. The weights are shared with `model`, so this costs no memory and no second pass.
 */
export function withFeatures(model: tfl.LayersModel): tfl.LayersModel {
  const last = model.layers[model.layers.length - 1];
  const features = last.input;
  if (Array.isArray(features)) throw new Error(`The model's last layer "${last.name}" takes ${features.length} inputs; one feature tensor is expected.`);
  return tfl.model({ inputs: model.inputs, outputs: [features, model.outputs[0]], name: `${model.name}_with_features` });
}

/** Runs tiles through `model` on the current backend; tensors are freed before it returns. */
export function layersPredictBatch(model: tfl.LayersModel, input: FieldModel['input']): PredictBatch {
  const twoHeaded = withFeatures(model);
  return async (tiles, count) => {
    const x = tf.tensor4d(tiles, [count, input.height, input.width, input.channels]);
    let outputs: tf.Tensor[] = [];
    try {
      outputs = twoHeaded.predict(x) as tf.Tensor[];
      const [features, probabilities] = (await Promise.all(outputs.map((t) => t.data()))) as Float32Array[];
      return { probabilities, features };
    } finally {
      x.dispose();
      for (const t of outputs) t.dispose();
    }
  };
}
