// Multinomial logistic regression (softmax, L2, full-batch gradient descent on standardised features): the
// strongest simple baseline on global image statistics and the hidden-parameter oracle of the simulator.

export interface LogisticOptions {
  /** L2 penalty on the weights (not the biases), per sample. */
  l2?: number;
  iterations?: number;
  learningRate?: number;
  /** One weight per sample (e.g. inverse class frequency); default 1. */
  sampleWeights?: readonly number[];
}

export interface LogisticModel {
  classes: number;
  dims: number;
  /** Standardisation fitted on the training features. */
  mean: Float64Array;
  scale: Float64Array;
  /** classes x (dims + 1), the bias last in each row. */
  weights: Float64Array;
}

/** Fits softmax regression of labels (0..classes-1) on feature rows. */
export function fitLogisticRegression(features: readonly (readonly number[])[], labels: readonly number[], classes: number, options: LogisticOptions = {}): LogisticModel {
  const n = features.length;
  if (n === 0 || n !== labels.length) throw new Error(`Logistic regression needs as many labels as feature rows (got ${n} and ${labels.length})`);
  const dims = features[0].length;
  const l2 = options.l2 ?? 1e-3;
  const iterations = options.iterations ?? 600;
  const learningRate = options.learningRate ?? 0.5;
  const sampleWeights = options.sampleWeights ?? new Array<number>(n).fill(1);
  const weightSum = sampleWeights.reduce((s, w) => s + w, 0);
  const mean = new Float64Array(dims);
  const scale = new Float64Array(dims);
  for (const row of features) for (let d = 0; d < dims; d++) mean[d] += row[d] / n;
  for (const row of features) for (let d = 0; d < dims; d++) scale[d] += (row[d] - mean[d]) ** 2 / n;
  for (let d = 0; d < dims; d++) scale[d] = Math.sqrt(scale[d]) || 1;
  const x = features.map((row) => Float64Array.from(row, (v, d) => (v - mean[d]) / scale[d]));
  const stride = dims + 1;
  const weights = new Float64Array(classes * stride);
  const gradient = new Float64Array(classes * stride);
  const probabilities = new Float64Array(classes);
  const model: LogisticModel = { classes, dims, mean, scale, weights };
  for (let iteration = 0; iteration < iterations; iteration++) {
    gradient.fill(0);
    for (let i = 0; i < n; i++) {
      softmaxScores(model, x[i], probabilities);
      const w = sampleWeights[i] / weightSum;
      for (let k = 0; k < classes; k++) {
        const error = (probabilities[k] - (labels[i] === k ? 1 : 0)) * w;
        const row = k * stride;
        for (let d = 0; d < dims; d++) gradient[row + d] += error * x[i][d];
        gradient[row + dims] += error;
      }
    }
    for (let k = 0; k < classes; k++) {
      const row = k * stride;
      for (let d = 0; d < dims; d++) weights[row + d] -= learningRate * (gradient[row + d] + l2 * weights[row + d]);
      weights[row + dims] -= learningRate * gradient[row + dims];
    }
  }
  return model;
}

/** Class probabilities of one raw (unstandardised) feature row. */
export function predictProbabilities(model: LogisticModel, features: readonly number[]): Float64Array {
  const x = Float64Array.from(features, (v, d) => (v - model.mean[d]) / model.scale[d]);
  const out = new Float64Array(model.classes);
  softmaxScores(model, x, out);
  return out;
}

/** Index of the largest value. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

function softmaxScores(model: LogisticModel, x: Float64Array, out: Float64Array): void {
  const stride = model.dims + 1;
  let max = -Infinity;
  for (let k = 0; k < model.classes; k++) {
    const row = k * stride;
    let score = model.weights[row + model.dims];
    for (let d = 0; d < model.dims; d++) score += model.weights[row + d] * x[d];
    out[k] = score;
    if (score > max) max = score;
  }
  let sum = 0;
  for (let k = 0; k < model.classes; k++) {
    out[k] = Math.exp(out[k] - max);
    sum += out[k];
  }
  for (let k = 0; k < model.classes; k++) out[k] /= sum;
}
