// A new classification head on frozen profiles: multinomial logistic regression with L2, fitted by L-BFGS on
// standardised features and folded back into one dense layer (kernel inputs x classes, bias) that reads the raw
// features, so it can replace the model's last layer. Accuracy on compounds left out says what to expect of it.
import { argmax } from './aggregate.ts';

/** A softmax dense layer: probabilities = softmax(features . kernel + bias). TF.js layout: kernel[i * classes + k]. */
export interface LinearHead {
  inputs: number;
  classes: number;
  kernel: Float32Array;
  bias: Float32Array;
}

export interface HeadOptions {
  /** L2 penalty on the standardised weights (default 1e-2). */
  l2?: number;
  /** Most L-BFGS iterations (default 100; each fold of the compounds check, warm-started, at most 15). */
  maxIterations?: number;
}

/** One labelled field for the head: its raw features, class, compound (for leave-one-compound-out) and treatment. */
export interface HeadExample {
  features: ArrayLike<number>;
  label: number;
  compound: string;
  treatment: string;
  /** Its weight in the loss (e.g. inverse class frequency); default 1. */
  weight?: number;
}

const STD_FLOOR = 1e-3;
/** L-BFGS iterations of a fold of the compounds check: it starts from the all-compounds fit. */
const FOLD_ITERATIONS = 15;
const HISTORY = 10;

interface Standardiser {
  mean: Float64Array;
  scale: Float64Array;
}

function standardiser(rows: readonly ArrayLike<number>[]): Standardiser {
  const d = rows[0].length;
  const mean = new Float64Array(d);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j] += r[j] / rows.length;
  const scale = new Float64Array(d);
  for (const r of rows) for (let j = 0; j < d; j++) scale[j] += (r[j] - mean[j]) ** 2 / rows.length;
  for (let j = 0; j < d; j++) scale[j] = Math.sqrt(scale[j]) + STD_FLOOR;
  return { mean, scale };
}

function standardise(rows: readonly ArrayLike<number>[], s: Standardiser): Float64Array[] {
  return rows.map((r) => Float64Array.from({ length: s.mean.length }, (_, j) => (r[j] - s.mean[j]) / s.scale[j]));
}

/** Weighted mean cross-entropy + l2/2 |W|^2 and its gradient; theta = [W (d x k, row-major), b (k)]; `weights` sum to 1. */
function objective(x: readonly Float64Array[], labels: readonly number[], weights: Float64Array, k: number, l2: number, theta: Float64Array, grad: Float64Array): number {
  const d = x[0].length;
  const n = x.length;
  grad.fill(0);
  const logits = new Float64Array(k);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i];
    for (let c = 0; c < k; c++) logits[c] = theta[d * k + c];
    for (let j = 0; j < d; j++) {
      const v = xi[j];
      if (v === 0) continue;
      const row = j * k;
      for (let c = 0; c < k; c++) logits[c] += v * theta[row + c];
    }
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, logits[c]);
    let sum = 0;
    for (let c = 0; c < k; c++) sum += Math.exp(logits[c] - max);
    const w = weights[i];
    loss += w * (Math.log(sum) + max - logits[labels[i]]);
    for (let c = 0; c < k; c++) logits[c] = (w * Math.exp(logits[c] - max)) / sum;
    logits[labels[i]] -= w;
    for (let j = 0; j < d; j++) {
      const v = xi[j];
      if (v === 0) continue;
      const row = j * k;
      for (let c = 0; c < k; c++) grad[row + c] += v * logits[c];
    }
    for (let c = 0; c < k; c++) grad[d * k + c] += logits[c];
  }
  for (let w = 0; w < d * k; w++) {
    loss += 0.5 * l2 * theta[w] * theta[w];
    grad[w] += l2 * theta[w];
  }
  return loss;
}

const dot = (a: Float64Array, b: Float64Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** L-BFGS with a backtracking (Armijo) line search, from `theta` (updated in place). Deterministic. */
function minimise(f: (theta: Float64Array, grad: Float64Array) => number, theta: Float64Array, maxIterations: number): void {
  const m = theta.length;
  let grad = new Float64Array(m);
  let loss = f(theta, grad);
  const s: Float64Array[] = [];
  const y: Float64Array[] = [];
  const nextGrad = new Float64Array(m);
  const candidate = new Float64Array(m);
  for (let it = 0; it < maxIterations; it++) {
    let gmax = 0;
    for (let i = 0; i < m; i++) gmax = Math.max(gmax, Math.abs(grad[i]));
    if (gmax < 1e-6) return;
    // Two-loop recursion: direction = -H grad.
    const q = Float64Array.from(grad);
    const alpha: number[] = [];
    for (let h = s.length - 1; h >= 0; h--) {
      const a = dot(s[h], q) / dot(y[h], s[h]);
      alpha[h] = a;
      for (let i = 0; i < m; i++) q[i] -= a * y[h][i];
    }
    const gamma = s.length ? dot(s[s.length - 1], y[y.length - 1]) / dot(y[y.length - 1], y[y.length - 1]) : 1 / Math.sqrt(dot(grad, grad));
    for (let i = 0; i < m; i++) q[i] *= gamma;
    for (let h = 0; h < s.length; h++) {
      const b = dot(y[h], q) / dot(y[h], s[h]);
      for (let i = 0; i < m; i++) q[i] += s[h][i] * (alpha[h] - b);
    }
    let slope = -dot(grad, q);
    if (!(slope < 0)) {
      // Not a descent direction: restart from steepest descent.
      s.length = 0;
      y.length = 0;
      q.set(grad);
      const g = 1 / Math.sqrt(dot(grad, grad));
      for (let i = 0; i < m; i++) q[i] *= g;
      slope = -dot(grad, q);
    }
    let step = 1;
    let nextLoss = Infinity;
    for (let tries = 0; tries < 30; tries++) {
      for (let i = 0; i < m; i++) candidate[i] = theta[i] - step * q[i];
      nextLoss = f(candidate, nextGrad);
      if (nextLoss <= loss + 1e-4 * step * slope) break;
      step /= 2;
    }
    if (!(nextLoss < loss)) return;
    const sk = new Float64Array(m);
    const yk = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      sk[i] = candidate[i] - theta[i];
      yk[i] = nextGrad[i] - grad[i];
    }
    if (dot(sk, yk) > 1e-12) {
      s.push(sk);
      y.push(yk);
      if (s.length > HISTORY) {
        s.shift();
        y.shift();
      }
    }
    theta.set(candidate);
    grad = Float64Array.from(nextGrad);
    const change = loss - nextLoss;
    loss = nextLoss;
    if (change < 1e-10 * Math.max(1, Math.abs(loss))) return;
  }
}

function checkExamples(examples: readonly HeadExample[], classes: number): void {
  if (examples.length === 0) throw new Error('No labelled fields to fit a head on.');
  const d = examples[0].features.length;
  for (const e of examples) {
    if (e.features.length !== d) throw new Error(`Fields have ${d} and ${e.features.length} features; one width is expected.`);
    if (!Number.isInteger(e.label) || e.label < 0 || e.label >= classes) throw new Error(`Label ${e.label} is not one of the ${classes} classes.`);
    if (e.weight !== undefined && !(e.weight > 0 && Number.isFinite(e.weight))) throw new Error(`Example weights must be positive, got ${e.weight}.`);
  }
}

function foldHead(theta: Float64Array, st: Standardiser, classes: number): LinearHead {
  const d = st.mean.length;
  const kernel = new Float32Array(d * classes);
  const bias = new Float32Array(classes);
  for (let c = 0; c < classes; c++) {
    let b = theta[d * classes + c];
    for (let j = 0; j < d; j++) {
      const w = theta[j * classes + c] / st.scale[j];
      kernel[j * classes + c] = w;
      b -= w * st.mean[j];
    }
    bias[c] = b;
  }
  return { inputs: d, classes, kernel, bias };
}

/** Example weights normalised to sum to 1 (all 1 when none is given). */
function normalisedWeights(examples: readonly HeadExample[]): Float64Array {
  const w = Float64Array.from(examples, (e) => e.weight ?? 1);
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / total);
}

function fitStandardised(x: readonly Float64Array[], labels: readonly number[], weights: Float64Array, classes: number, options: HeadOptions, start?: Float64Array): Float64Array {
  const d = x[0].length;
  const theta = start ? Float64Array.from(start) : new Float64Array(d * classes + classes);
  const l2 = options.l2 ?? 1e-2;
  minimise((t, g) => objective(x, labels, weights, classes, l2, t, g), theta, options.maxIterations ?? 100);
  return theta;
}

/** Fits a head with `classes` outputs on labelled fields' raw features. */
export function fitLogisticHead(examples: readonly HeadExample[], classes: number, options: HeadOptions = {}): LinearHead {
  checkExamples(examples, classes);
  const st = standardiser(examples.map((e) => e.features));
  const theta = fitStandardised(standardise(examples.map((e) => e.features), st), examples.map((e) => e.label), normalisedWeights(examples), classes, options);
  return foldHead(theta, st, classes);
}

/** Class probabilities of one feature vector under the head. */
export function headProbabilities(head: LinearHead, features: ArrayLike<number>): Float32Array {
  const k = head.classes;
  const logits = Float64Array.from(head.bias);
  for (let j = 0; j < head.inputs; j++) {
    const v = features[j];
    if (v === 0) continue;
    for (let c = 0; c < k; c++) logits[c] += v * head.kernel[j * k + c];
  }
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (let c = 0; c < k; c++) sum += Math.exp(logits[c] - max);
  return Float32Array.from(logits, (v) => Math.exp(v - max) / sum);
}

export interface HeadValidation {
  /** Compounds labelled, and the folds they were held out in (one compound a fold up to MAX_COMPOUND_FOLDS compounds). */
  compounds: number;
  folds: number;
  fields: { n: number; correct: number; accuracy: number };
  /** Treatments: their held-out fields' probabilities averaged, then argmax. */
  treatments: { n: number; correct: number; accuracy: number };
  /** Per treatment key: the class predicted for it when its compound was held out. */
  predicted: Map<string, number>;
  /** The head fitted on every compound (what fitLogisticHead returns), which each fold started from. */
  head: LinearHead;
}

/** Most folds of the compounds check: beyond this many compounds they are dealt round-robin (sorted by name) over this many folds. */
export const MAX_COMPOUND_FOLDS = 10;

/**
 * Leave compounds out: for each fold of compounds (each compound its own fold up to MAX_COMPOUND_FOLDS compounds,
 * else dealt round-robin over that many), a head fitted on the other compounds' fields predicts the fold's fields.
 * The standardisation (label-free) is computed once on all fields; each fold starts from the all-fields fit.
 */
export function leaveCompoundsOut(examples: readonly HeadExample[], classes: number, options: HeadOptions = {}): HeadValidation {
  checkExamples(examples, classes);
  const st = standardiser(examples.map((e) => e.features));
  const x = standardise(examples.map((e) => e.features), st);
  const labels = examples.map((e) => e.label);
  const full = fitStandardised(x, labels, normalisedWeights(examples), classes, options);
  const compounds = [...new Set(examples.map((e) => e.compound))].sort();
  const folds = Math.min(compounds.length, MAX_COMPOUND_FOLDS);
  const foldOf = new Map(compounds.map((c, i) => [c, i % folds]));
  const fieldCorrect = { n: 0, correct: 0 };
  const byTreatment = new Map<string, { sum: Float64Array; label: number }>();
  for (let fold = 0; fold < folds; fold++) {
    const train = examples.map((_, i) => i).filter((i) => foldOf.get(examples[i].compound) !== fold);
    const test = examples.map((_, i) => i).filter((i) => foldOf.get(examples[i].compound) === fold);
    if (train.length === 0) continue;
    const theta = fitStandardised(train.map((i) => x[i]), train.map((i) => labels[i]), normalisedWeights(train.map((i) => examples[i])), classes, { ...options, maxIterations: Math.min(options.maxIterations ?? 100, FOLD_ITERATIONS) }, full);
    const head = foldHead(theta, st, classes);
    for (const i of test) {
      const p = headProbabilities(head, examples[i].features);
      fieldCorrect.n++;
      if (argmax(p) === labels[i]) fieldCorrect.correct++;
      const t = byTreatment.get(examples[i].treatment) ?? { sum: new Float64Array(classes), label: labels[i] };
      for (let c = 0; c < classes; c++) t.sum[c] += p[c];
      byTreatment.set(examples[i].treatment, t);
    }
  }
  const predicted = new Map([...byTreatment].map(([key, t]) => [key, argmax(t.sum)]));
  const treatmentCorrect = [...byTreatment].filter(([key, t]) => predicted.get(key) === t.label).length;
  const rate = (correct: number, n: number) => ({ n, correct, accuracy: n ? correct / n : NaN });
  return {
    head: foldHead(full, st, classes),
    compounds: compounds.length,
    folds,
    fields: rate(fieldCorrect.correct, fieldCorrect.n),
    treatments: rate(treatmentCorrect, byTreatment.size),
    predicted,
  };
}
