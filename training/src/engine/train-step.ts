// One SGD-momentum training step of a layers model (forward, backward, update), shared by tests and benchmarks.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import type * as tfl from '@tensorflow/tfjs-layers';

export interface TrainStepOptions {
  learningRate?: number;
  momentum?: number;
  nesterov?: boolean;
}

/** Softmax cross-entropy of the model's probabilities (the model ends in softmax), averaged over the batch. */
export function crossEntropy(model: tfl.LayersModel, x: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  const probs = model.apply(x, { training: true }) as tf.Tensor;
  return tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.log(tf.add(probs, 1e-7))), -1))) as tf.Scalar;
}

/** Gradients of the loss with respect to every trainable weight, keyed by variable name. */
export function lossGradients(model: tfl.LayersModel, x: tf.Tensor, labels: tf.Tensor): { loss: tf.Scalar; grads: tf.NamedTensorMap } {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => crossEntropy(model, x, labels), vars);
  return { loss: value, grads };
}

/** Returns step(x, labels) -> loss: one forward + backward + momentum update of all trainable weights. */
export function createTrainStep(model: tfl.LayersModel, options: TrainStepOptions = {}) {
  const optimizer = tf.train.momentum(options.learningRate ?? 0.001, options.momentum ?? 0.9, options.nesterov ?? false);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  return (x: tf.Tensor, labels: tf.Tensor): number => {
    const loss = optimizer.minimize(() => crossEntropy(model, x, labels), true, vars) as tf.Scalar;
    const value = loss.dataSync()[0];
    loss.dispose();
    return value;
  };
}
