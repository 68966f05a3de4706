// Out-of-distribution score of a field, from the model itself: the Mahalanobis distance of its penultimate-layer
// features to the nearest class mean of the training fields, under one covariance shared by all classes (tied).
//
// Fit (the trainer, at export): class means of the training fields' vectors; the pooled within-class covariance of
// the vectors scaled to unit within-class spread per value (a floor for values that never vary), i.e. the correlation
// matrix, shrunk towards the identity by the Ledoit-Wolf weight (512 features of a few hundred fields give a singular
// sample covariance); its Cholesky factor L; the whitening W = L^-1 D^-1 (D: the scales) and the whitened means
// W mu_c. A field's score is
//   min over classes c of |W x - W mu_c|^2 / d  (d = feature count; an in-distribution field scores about 1),
// and the threshold is the smallest score that at least `passFraction` of the held-out fields do not exceed.

/** Statistics per channel of a model input tile that the OOD check reads beside the features (see tileInputStatistics). */
export const TILE_STATISTICS_PER_CHANNEL = 4;
/** Statistics per channel of the field before normalisation (see sourceStatistics). */
export const SOURCE_STATISTICS_PER_CHANNEL = 2;
/** All input statistics per channel: the tiles', then the source's. */
export const INPUT_STATISTICS_PER_CHANNEL = TILE_STATISTICS_PER_CHANNEL + SOURCE_STATISTICS_PER_CHANNEL;

/**
 * How many input statistics a field of `channels` channels has: per channel the tiles' and the source's, then the
 * largest fraction of a tile that is padding (0 for every training field of one size; a field much smaller than the
 * model's input is mostly padding, which the mostly dark fluorescence tiles hide from the other statistics).
 */
export function inputStatisticsCount(channels: number): number {
  return channels * INPUT_STATISTICS_PER_CHANNEL + 1;
}

/**
 * What the camera recorded, per channel, from the binned plane's 0.1 and 99.9 percentiles (lo, hi): log2(1 + hi) and
 * log2(1 + hi - lo). Per-image normalisation maps any plane to [0, 1], so an empty field's camera noise and uniform
 * noise over the full 16-bit range look alike after it; their levels and ranges do not. Missing (no source range): NaN,
 * which the check scores as unlike.
 */
export function sourceStatistics(sourceRange: ArrayLike<number> | undefined, channels: number): Float32Array {
  const out = new Float32Array(channels * SOURCE_STATISTICS_PER_CHANNEL).fill(NaN);
  if (!sourceRange || sourceRange.length !== 2 * channels) return out;
  for (let c = 0; c < channels; c++) {
    const lo = sourceRange[2 * c];
    const hi = sourceRange[2 * c + 1];
    out[2 * c] = Math.log2(1 + Math.max(0, hi));
    out[2 * c + 1] = Math.log2(1 + Math.max(0, hi - lo));
  }
  return out;
}

/**
 * What the model's input looks like, per channel of one tile (padding included, as the model sees it): mean, standard
 * deviation, the fraction of near-black pixels (< 0.05) and the roughness (mean absolute difference of horizontal
 * neighbours). Penultimate features of a weakly trained model can miss what is plain in the input (uniform noise is
 * rough everywhere; a missing stain is a black channel; a field much smaller than a tile is mostly padding), so the
 * check scores these beside the features, whitened together with them.
 */
export function tileInputStatistics(tile: Float32Array, height: number, width: number, channels: number): Float32Array {
  const out = new Float32Array(channels * TILE_STATISTICS_PER_CHANNEL);
  const n = height * width;
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    let sum2 = 0;
    let dark = 0;
    let rough = 0;
    for (let y = 0; y < height; y++) {
      const row = y * width;
      for (let x = 0; x < width; x++) {
        const v = tile[(row + x) * channels + c];
        sum += v;
        sum2 += v * v;
        if (v < 0.05) dark++;
        if (x > 0) rough += Math.abs(v - tile[(row + x - 1) * channels + c]);
      }
    }
    const mean = sum / n;
    const o = c * TILE_STATISTICS_PER_CHANNEL;
    out[o] = mean;
    out[o + 1] = Math.sqrt(Math.max(0, sum2 / n - mean * mean));
    out[o + 2] = dark / n;
    out[o + 3] = width > 1 ? rough / (height * (width - 1)) : 0;
  }
  return out;
}

/** The vector the OOD check scores: the penultimate-layer features, then the input statistics. */
export function oodVector(features: ArrayLike<number>, inputStatistics: ArrayLike<number>): Float32Array {
  const out = new Float32Array(features.length + inputStatistics.length);
  out.set(Array.from(features));
  out.set(Array.from(inputStatistics), features.length);
  return out;
}

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

/**
 * Fits the tied-covariance class statistics to the training fields' vectors. `blocks` (sizes adding up to the vector
 * length) are treated as independent: their cross-covariances are set to zero, so one block cannot explain away
 * another (a weakly trained network's features follow its input's brightness, and uniform noise, bright everywhere,
 * gets features that "predict" its input statistics under a joint covariance; scored apart, its statistics are far out).
 */
export function fitOod(fields: readonly LabelledFeatures[], blocks?: readonly number[]): OodFit {
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
  // Each value in units of its own within-class spread first (features and input statistics differ in scale by orders
  // of magnitude; shrinking towards a multiple of the identity would drown the small ones), with a floor for values
  // that never vary in training (dead ReLU units): then the shrinkage acts on correlations.
  const scale = withinClassScale(residuals, d, dof);
  for (const z of residuals) for (let j = 0; j < d; j++) z[j] /= scale[j];
  const covariance = new Float64Array(d * d);
  for (const z of residuals) addOuter(covariance, z, d);
  for (let i = 0; i < covariance.length; i++) covariance[i] /= dof;
  if (blocks) zeroCrossBlocks(covariance, d, blocks);
  const shrinkage = ledoitWolfWeight(residuals, covariance, d);
  const shrunk = shrinkTowardsIdentity(covariance, d, shrinkage);
  const whitening = invertLower(cholesky(shrunk, d), d);
  for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) whitening[i * d + j] /= scale[j];
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

/** Per value: its within-class standard deviation, at least SCALE_FLOOR x their root-mean-square. */
const SCALE_FLOOR = 0.01;
function withinClassScale(residuals: readonly Float64Array[], d: number, dof: number): Float64Array {
  const variance = new Float64Array(d);
  for (const z of residuals) for (let j = 0; j < d; j++) variance[j] += (z[j] * z[j]) / dof;
  const rms = Math.sqrt(variance.reduce((a, b) => a + b, 0) / d);
  const floor = rms > 0 ? SCALE_FLOOR * rms : 1;
  return variance.map((v) => Math.max(Math.sqrt(v), floor));
}

function zeroCrossBlocks(covariance: Float64Array, d: number, blocks: readonly number[]): void {
  if (blocks.reduce((a, b) => a + b, 0) !== d || blocks.some((b) => !(Number.isInteger(b) && b > 0))) throw new Error(`the blocks ${blocks.join('+')} do not add up to the ${d} values.`);
  const blockOf = new Int32Array(d);
  let start = 0;
  blocks.forEach((size, k) => {
    blockOf.fill(k, start, start + size);
    start += size;
  });
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) if (blockOf[i] !== blockOf[j]) covariance[i * d + j] = 0;
}

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
