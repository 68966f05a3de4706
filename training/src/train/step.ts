// One training step's gradient: label-smoothed, class-weighted cross-entropy, fused into one flat buffer.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { copyValuesInto } from '../backend/native-backend.ts';
import type { ParameterLayout } from './optimizer.ts';

/** One training step's input: augmented model-input images with their labels and loss weights. */
export interface StepBatch {
  /** [batch, height, width, channels] model input, HWC per image. */
  images: Float32Array;
  labels: Int32Array;
  /** Per-sample loss weights (class weighting); 1 when unweighted. */
  weights: Float32Array;
  height: number;
  width: number;
  channels: number;
}

/**
 * Loss = sum_i w_i * CE_smoothed(y_i, p_i) / batch. Dividing by the batch size (not the weight sum) makes
 * the mean over ranks of per-rank gradients equal to the gradient of the whole global batch.
 */
export function smoothedCrossEntropy(probs: tf.Tensor2D, labels: tf.Tensor1D, weights: tf.Tensor1D, smoothing: number): tf.Scalar {
  const k = probs.shape[1];
  const target = tf.add(tf.mul(tf.oneHot(labels, k), 1 - smoothing), smoothing / k);
  const logp = tf.log(tf.clipByValue(probs, 1e-7, 1));
  const perSample = tf.neg(tf.sum(tf.mul(target, logp), 1));
  return tf.div(tf.sum(tf.mul(perSample, weights)), probs.shape[0]) as tf.Scalar;
}

/**
 * Forward + backward on one batch: the loss and the gradient of every trainable variable, fused (layout order)
 * into `out` (a new buffer when not given). Asynchronous because a GPU backend (WebGPU) can only be read back so.
 */
export async function computeGradient(model: tfl.LayersModel, layout: ParameterLayout, batch: StepBatch, smoothing: number, out?: Float32Array): Promise<{ loss: number; gradient: Float32Array }> {
  const n = batch.labels.length;
  const x = tf.tensor4d(batch.images, [n, batch.height, batch.width, batch.channels]);
  const y = tf.tensor1d(batch.labels, 'int32');
  const w = tf.tensor1d(batch.weights, 'float32');
  try {
    const { value, grads } = tf.variableGrads(() => {
      const probs = model.apply(x, { training: true }) as tf.Tensor2D;
      return smoothedCrossEntropy(probs, y, w, smoothing);
    }, layout.variables);
    const gradient = out ?? new Float32Array(layout.total);
    if (gradient.length !== layout.total) throw new Error(`gradient buffer holds ${gradient.length} values, the model has ${layout.total}`);
    try {
      for (const [i, v] of layout.variables.entries()) {
        const g = grads[v.name];
        if (!g) throw new Error(`No gradient for ${v.name}`);
        await copyValuesInto(g, gradient, layout.offsets[i]);
      }
      return { loss: (await value.data())[0], gradient };
    } finally {
      tf.dispose([value, ...Object.values(grads)]);
    }
  } finally {
    tf.dispose([x, y, w]);
  }
}
