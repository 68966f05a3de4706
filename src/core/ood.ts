// Out-of-distribution score of a field, from the model itself: the Mahalanobis distance of its penultimate-layer
// features to the nearest class mean of the training fields, under one covariance shared by all classes (tied).
//
// Fit (the trainer, at export): class means of the training fields' features; the pooled within-class covariance,
// shrunk towards a multiple of the identity by the Ledoit-Wolf weight (features outnumber nothing: 512 features of
// a few hundred fields give a singular sample covariance, and dead ReLU units give zero variance); its Cholesky
// factor L; the whitening W = L^-1 and the whitened means W mu_c. A field's score is
//   min over classes c of |W x - W mu_c|^2 / d  (d = feature count; an in-distribution field scores about 1),
// and the threshold is the smallest score that at least `passFraction` of the held-out fields do not exceed.

/** The statistics a bundle stores (moa-lens.json's `ood` section describes them; the floats are a file of their own). */
export interface OodStats {
  /** Feature count d (M-CNN: 512 x width multiplier). */
  featureSize: number;
  /** Class index (the bundle's class order) of each mean, in the order of `means`. */
  classes: number[];
  /** d x d, row-major, lower triangular: the inverse of the Cholesky factor of the shrunk tied covariance. */
  whitening: Float32Array;
  /** classes.length x d, row-major: each class mean, whitened. */
  means: Float32Array;
}

/** The statistics and the threshold above which a field is unlike the training data. */
export interface OodCheck extends OodStats {
  threshold: number;
}

/** A field's OOD score against a check, and whether it is over the threshold. */
export interface OodResult {
  score: number;
  threshold: number;
  /** score > threshold (a non-finite score, e.g. from non-finite features, is unlike too). */
  unlike: boolean;
}

export interface OodFit {
  stats: OodStats;
  /** The Ledoit-Wolf shrinkage weight applied, in [0, 1]. */
  shrinkage: number;
  trainingFields: number;
}

export interface LabelledFeatures {
  features: ArrayLike<number>;
  /** Class index (the bundle's class order). */
  label: number;
}

/** The smallest fraction of held-out in-distribution fields the threshold must pass. */
export const OOD_PASS_FRACTION = 0.95;

/** Fits the tied-covariance class statistics to the training fields' features. */
export function fitOod(fields: readonly LabelledFeatures[]): OodFit {
  if (fields.length < 2) throw new Error(`OOD statistics need at least 2 training fields, got ${fields.length}.`);
  const d = fields[0].features.length;
  if (d === 0) throw new Error('OOD statistics need at least one feature.');
  for (const f of fields) {
    if (f.features.length !== d) throw new Error(`every field needs ${d} features; one has ${f.features.length}.`);
    for (let j = 0; j < d; j++) if (!Number.isFinite(f.features[j])) throw new Error('a training field has a non-finite feature.');
  }
  const classes = [...new Set(fields.map((f) => f.label))].sort((a, b) => a - b);
  const row = new Map(classes.map((c, i) => [c, i]));
  const sums = classes.map(() => new Float64Array(d));
  const counts = classes.map(() => 0);
  for (const f of fields) {
    const k = row.get(f.label)!;
    counts[k]++;
    for (let j = 0; j < d; j++) sums[k][j] += f.features[j];
  }
  const means = sums.map((s, k) => s.map((v) => v / counts[k]));
  // Residuals from each field's own class mean: their covariance is the pooled within-class covariance.
  const n = fields.length;
  const residuals = fields.map((f) => {
    const mu = means[row.get(f.label)!];
    return Float64Array.from({ length: d }, (_, j) => f.features[j] - mu[j]);
  });
  const dof = Math.max(1, n - classes.length);
  const covariance = new Float64Array(d * d);
  for (const z of residuals) addOuter(covariance, z, d);
  for (let i = 0; i < covariance.length; i++) covariance[i] /= dof;
  const shrinkage = ledoitWolfWeight(residuals, covariance, d);
  const shrunk = shrinkTowardsIdentity(covariance, d, shrinkage);
  const whitening = invertLower(cholesky(shrunk, d), d);
  const whitenedMeans = new Float32Array(classes.length * d);
  means.forEach((mu, k) => whitenedMeans.set(multiplyLower(whitening, mu, d), k * d));
  return { stats: { featureSize: d, classes, whitening: Float32Array.from(whitening), means: whitenedMeans }, shrinkage, trainingFields: n };
}

/** min over classes of the squared whitened distance to the class mean, divided by the feature count. */
export function oodScore(stats: OodStats, features: ArrayLike<number>): number {
  const d = stats.featureSize;
  if (features.length !== d) throw new Error(`the OOD statistics take ${d} features; the model gave ${features.length}.`);
  const y = multiplyLower(stats.whitening, features, d);
  let best = Infinity;
  for (let k = 0; k < stats.classes.length; k++) {
    let sum = 0;
    for (let j = 0; j < d; j++) {
      const diff = y[j] - stats.means[k * d + j];
      sum += diff * diff;
    }
    if (sum < best) best = sum;
  }
  return Number.isFinite(best) ? best / d : Infinity;
}

/** The field's score against the check, and whether it is unlike the training data. */
export function checkOod(check: OodCheck, features: ArrayLike<number>): OodResult {
  const score = oodScore(check, features);
  return { score, threshold: check.threshold, unlike: !(score <= check.threshold) };
}

/**
 * The threshold from held-out in-distribution scores: the smallest observed score that at least `passFraction`
 * of them do not exceed (score <= threshold passes).
 */
export function chooseThreshold(heldOutScores: readonly number[], passFraction = OOD_PASS_FRACTION): number {
  const finite = heldOutScores.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) throw new Error('choosing an OOD threshold needs held-out fields with finite scores.');
  if (!(passFraction > 0 && passFraction <= 1)) throw new Error(`the pass fraction must be in (0, 1], got ${passFraction}.`);
  const need = Math.ceil(passFraction * heldOutScores.length);
  if (need > finite.length) throw new Error(`only ${finite.length} of ${heldOutScores.length} held-out scores are finite; ${need} must pass.`);
  return finite[need - 1];
}

/** Fraction of scores at or below the threshold. */
export function passRate(scores: readonly number[], threshold: number): number {
  return scores.length ? scores.filter((s) => s <= threshold).length / scores.length : NaN;
}

/** Bytes of the statistics file: float32 little-endian, the whitening matrix then the whitened means. */
export function oodStatsBytes(featureSize: number, classCount: number): number {
  return 4 * (featureSize * featureSize + classCount * featureSize);
}

export function encodeOodStats(stats: OodStats): Uint8Array {
  const d = stats.featureSize;
  const out = new Uint8Array(oodStatsBytes(d, stats.classes.length));
  const view = new DataView(out.buffer);
  let o = 0;
  for (const values of [stats.whitening, stats.means]) for (const v of values) (view.setFloat32(o, v, true), (o += 4));
  return out;
}

/** The statistics file back; throws when its size does not fit the dimensions or a value is not finite. */
export function decodeOodStats(bytes: Uint8Array, featureSize: number, classes: readonly number[]): OodStats {
  const d = featureSize;
  const expected = oodStatsBytes(d, classes.length);
  if (bytes.length !== expected) throw new Error(`the OOD statistics hold ${bytes.length} bytes where ${d} features and ${classes.length} class means need ${expected}.`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read = (count: number, from: number) => {
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = view.getFloat32(from + 4 * i, true);
    if (!values.every(Number.isFinite)) throw new Error('the OOD statistics hold a value that is not a finite number.');
    return values;
  };
  return { featureSize: d, classes: [...classes], whitening: read(d * d, 0), means: read(classes.length * d, 4 * d * d) };
}

// --- linear algebra, float64, row-major ---

function addOuter(target: Float64Array, z: Float64Array, d: number): void {
  for (let i = 0; i < d; i++) {
    const zi = z[i];
    if (zi === 0) continue;
    const row = i * d;
    for (let j = 0; j < d; j++) target[row + j] += zi * z[j];
  }
}

/**
 * Ledoit & Wolf (2004): the weight a in (1 - a) S + a (tr S / d) I that minimises the expected Frobenius error,
 * estimated from the samples z_i behind S: a = min(b^2, delta^2) / delta^2 with delta^2 = |S - m I|^2 and
 * b^2 = (1/n^2) sum_i |z_i z_i^T - S|^2 = (1/n^2) sum_i (|z_i|^4 - 2 z_i^T S z_i + |S|^2).
 */
export function ledoitWolfWeight(samples: readonly Float64Array[], covariance: Float64Array, d: number): number {
  const n = samples.length;
  let trace = 0;
  let frob = 0;
  for (let i = 0; i < d; i++) trace += covariance[i * d + i];
  for (const v of covariance) frob += v * v;
  const m = trace / d;
  const delta2 = frob - 2 * m * trace + m * m * d;
  if (!(delta2 > 1e-300)) return 1;
  let beta2 = 0;
  const sz = new Float64Array(d);
  for (const z of samples) {
    let norm2 = 0;
    for (let j = 0; j < d; j++) norm2 += z[j] * z[j];
    sz.fill(0);
    for (let i = 0; i < d; i++) {
      const zi = z[i];
      if (zi === 0) continue;
      const row = i * d;
      for (let j = 0; j < d; j++) sz[j] += zi * covariance[row + j];
    }
    let zSz = 0;
    for (let j = 0; j < d; j++) zSz += z[j] * sz[j];
    beta2 += norm2 * norm2 - 2 * zSz + frob;
  }
  beta2 /= n * n;
  return Math.min(1, Math.max(0, Math.min(beta2, delta2) / delta2));
}

/** (1 - a) S + a (tr S / d) I; a covariance with zero trace becomes the identity. */
function shrinkTowardsIdentity(covariance: Float64Array, d: number, a: number): Float64Array {
  let trace = 0;
  for (let i = 0; i < d; i++) trace += covariance[i * d + i];
  const target = trace > 0 ? trace / d : 1;
  // A floor keeps the factor positive definite when a is 0 and S is singular.
  const floor = 1e-9 * target;
  const out = covariance.map((v) => (1 - a) * v);
  for (let i = 0; i < d; i++) out[i * d + i] += a * target + floor;
  return out;
}

/** Lower-triangular L with L L^T = A (A symmetric positive definite). */
export function cholesky(a: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * d + j];
      for (let k = 0; k < j; k++) sum -= l[i * d + k] * l[j * d + k];
      if (i === j) {
        if (!(sum > 0)) throw new Error(`the covariance is not positive definite (pivot ${i} is ${sum}).`);
        l[i * d + i] = Math.sqrt(sum);
      } else l[i * d + j] = sum / l[j * d + j];
    }
  }
  return l;
}

/** The inverse of a lower-triangular matrix (itself lower triangular). */
export function invertLower(l: Float64Array, d: number): Float64Array {
  const inv = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    inv[j * d + j] = 1 / l[j * d + j];
    for (let i = j + 1; i < d; i++) {
      let sum = 0;
      for (let k = j; k < i; k++) sum += l[i * d + k] * inv[k * d + j];
      inv[i * d + j] = -sum / l[i * d + i];
    }
  }
  return inv;
}

/** W x for a lower-triangular W (d x d, row-major). */
function multiplyLower(w: ArrayLike<number>, x: ArrayLike<number>, d: number): Float64Array {
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let sum = 0;
    const row = i * d;
    for (let j = 0; j <= i; j++) sum += w[row + j] * x[j];
    y[i] = sum;
  }
  return y;
}
