// The OOD math: linear algebra, the tied-covariance Mahalanobis score, Ledoit-Wolf shrinkage, the threshold, the file encoding.
import { describe, expect, it } from 'vitest';
import {
  checkOod,
  chooseThreshold,
  cholesky,
  decodeOodStats,
  encodeOodStats,
  fitOod,
  invertLower,
  ledoitWolfWeight,
  oodScore,
  oodStatsBytes,
  passRate,
  oodVector,
  sourceStatistics,
  tileInputStatistics,
  type LabelledFeatures,
} from '../../src/core/ood.ts';

/** Deterministic standard normal values (mulberry32 + Box-Muller). */
function normals(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

const matmul = (a: Float64Array, b: Float64Array, d: number) => {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) out[i * d + j] += a[i * d + k] * b[k * d + j];
  return out;
};
const transpose = (a: Float64Array, d: number) => Float64Array.from({ length: d * d }, (_, i) => a[(i % d) * d + Math.floor(i / d)]);

/** Fields of `classes` classes around their own means, with a correlated (mixing matrix `mix`) shared noise. */
function gaussianFields(n: number, d: number, classes: number, seed: number, mix: Float64Array): LabelledFeatures[] {
  const z = normals(seed);
  const means = Array.from({ length: classes }, (_, c) => Float64Array.from({ length: d }, (_, j) => (j % classes === c ? 4 : 0)));
  return Array.from({ length: n }, (_, i) => {
    const label = i % classes;
    const noise = Float64Array.from({ length: d }, () => z());
    const features = Float64Array.from({ length: d }, (_, r) => {
      let v = means[label][r];
      for (let k = 0; k < d; k++) v += mix[r * d + k] * noise[k];
      return v;
    });
    return { features, label };
  });
}

describe('linear algebra', () => {
  it('cholesky and invertLower give L L^T = A and L^-1 L = I', () => {
    const d = 6;
    const z = normals(3);
    const b = Float64Array.from({ length: d * d }, () => z());
    const a = matmul(b, transpose(b, d), d);
    for (let i = 0; i < d; i++) a[i * d + i] += 0.5;
    const l = cholesky(a, d);
    const back = matmul(l, transpose(l, d), d);
    back.forEach((v, i) => expect(v).toBeCloseTo(a[i], 9));
    const eye = matmul(invertLower(l, d), l, d);
    eye.forEach((v, i) => expect(v).toBeCloseTo(i % (d + 1) === 0 ? 1 : 0, 9));
  });

  it('cholesky refuses a matrix that is not positive definite', () => {
    expect(() => cholesky(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(/not positive definite/);
  });

  it('the Ledoit-Wolf weight is small with many samples of few features, large with few samples of many', () => {
    const covarianceOf = (samples: Float64Array[], d: number) => {
      const s = new Float64Array(d * d);
      for (const x of samples) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) s[i * d + j] += (x[i] * x[j]) / samples.length;
      return s;
    };
    const z = normals(9);
    // A strongly anisotropic truth: the identity target is wrong, so with enough samples little shrinkage is best.
    const draw = (n: number, d: number) => Array.from({ length: n }, () => Float64Array.from({ length: d }, (_, j) => z() * (j === 0 ? 10 : 1)));
    const many = draw(2000, 4);
    const few = draw(10, 40);
    const a = ledoitWolfWeight(many, covarianceOf(many, 4), 4);
    const b = ledoitWolfWeight(few, covarianceOf(few, 40), 40);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(a).toBeLessThan(0.05);
    expect(b).toBeGreaterThan(0.2);
    expect(b).toBeLessThanOrEqual(1);
  });
});

describe('the tied-covariance Mahalanobis score', () => {
  const d = 8;
  const mix = Float64Array.from({ length: d * d }, (_, i) => (Math.floor(i / d) === i % d ? 1 : 0) + (i % d === 0 ? 0.8 : 0));

  it('matches (x - mu)^T S^-1 (x - mu) / d with the shrunk covariance recomputed by hand (no shrinkage: one direct solve)', () => {
    // Two classes, many fields: the Ledoit-Wolf weight is tiny; compare against the unshrunk pooled covariance within that tolerance.
    const fields = gaussianFields(4000, 3, 2, 1, Float64Array.from([1, 0, 0, 0.5, 1, 0, 0, 0.3, 1]));
    const { stats, shrinkage } = fitOod(fields);
    expect(shrinkage).toBeLessThan(0.01);
    const mu = [0, 1].map((c) => {
      const own = fields.filter((f) => f.label === c);
      return [0, 1, 2].map((j) => own.reduce((s, f) => s + (f.features[j] as number), 0) / own.length);
    });
    const s = new Float64Array(9);
    for (const f of fields) for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) s[i * 3 + j] += ((f.features[i] - mu[f.label][i]) * (f.features[j] - mu[f.label][j])) / (fields.length - 2);
    // Inverse of the 3x3 by cofactors.
    const [a, b, c, dd, e, f, g, h, k] = s;
    const det = a * (e * k - f * h) - b * (dd * k - f * g) + c * (dd * h - e * g);
    const inv = [e * k - f * h, c * h - b * k, b * f - c * e, f * g - dd * k, a * k - c * g, c * dd - a * f, dd * h - e * g, b * g - a * h, a * e - b * dd].map((v) => v / det);
    const x = [5, -1, 2];
    const maha = (m: number[]) => {
      const r = x.map((v, i) => v - m[i]);
      let q = 0;
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) q += r[i] * inv[i * 3 + j] * r[j];
      return q / 3;
    };
    const expected = Math.min(maha(mu[0]), maha(mu[1]));
    expect(oodScore(stats, x)).toBeCloseTo(expected, 1);
    expect(Math.abs(oodScore(stats, x) - expected) / expected).toBeLessThan(0.02);
  });

  it('in-distribution fields score about 1; held-out ones pass the threshold; far-away, dead-unit and all-zero features do not', () => {
    const train = gaussianFields(600, d, 4, 11, mix);
    const heldOut = gaussianFields(400, d, 4, 12, mix);
    const { stats } = fitOod(train);
    const scores = heldOut.map((f) => oodScore(stats, f.features));
    const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
    expect(mean).toBeGreaterThan(0.8);
    expect(mean).toBeLessThan(1.3);
    const threshold = chooseThreshold(scores);
    expect(passRate(scores, threshold)).toBeGreaterThanOrEqual(0.95);
    const check = { ...stats, threshold };
    const fresh = gaussianFields(400, d, 4, 13, mix);
    expect(passRate(fresh.map((f) => oodScore(stats, f.features)), threshold)).toBeGreaterThan(0.9);
    expect(checkOod(check, new Float64Array(d).fill(12)).unlike).toBe(true);
    expect(checkOod(check, new Float64Array(d)).unlike).toBe(true);
    expect(checkOod(check, [NaN, ...new Array(d - 1).fill(0)])).toMatchObject({ score: Infinity, unlike: true });
    expect(checkOod(check, heldOut[0].features).unlike).toBe(scores[0] > threshold);
  });

  it('a feature that never varies in training (a dead ReLU unit) makes a field that uses it unlike', () => {
    const train = gaussianFields(300, d, 3, 21, mix).map((f) => ({ ...f, features: Float64Array.from(f.features, (v, j) => (j === d - 1 ? 0 : v)) }));
    const { stats } = fitOod(train);
    const scores = train.map((f) => oodScore(stats, f.features));
    const threshold = chooseThreshold(scores);
    const woken = Float64Array.from(train[0].features, (v, j) => (j === d - 1 ? 1 : v));
    // The unit's shrunk variance is the shrinkage weight x the mean variance: a value of 1 there is far out.
    expect(oodScore(stats, woken)).toBeGreaterThan(2 * threshold);
    expect(oodScore(stats, train[0].features)).toBeLessThan(threshold);
  });

  it('refuses too few fields, ragged or non-finite features, and a wrong feature count', () => {
    expect(() => fitOod([{ features: [1, 2], label: 0 }])).toThrow(/at least 2/);
    expect(() => fitOod([{ features: [1, 2], label: 0 }, { features: [1], label: 0 }])).toThrow(/needs 2 features/);
    expect(() => fitOod([{ features: [1, NaN], label: 0 }, { features: [1, 2], label: 0 }])).toThrow(/non-finite/);
    const { stats } = fitOod(gaussianFields(50, 3, 2, 4, Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1])));
    expect(() => oodScore(stats, [1, 2])).toThrow(/take 3 features/);
  });
});

describe('the threshold', () => {
  it('is the smallest score that at least 95% do not exceed', () => {
    const scores = Array.from({ length: 20 }, (_, i) => i + 1); // 1..20: 19 of 20 = 95% pass at 19
    expect(chooseThreshold(scores)).toBe(19);
    expect(chooseThreshold(scores, 0.5)).toBe(10);
    expect(chooseThreshold([3, 1, 2])).toBe(3);
    expect(passRate(scores, 19)).toBe(0.95);
  });

  it('refuses no finite scores or too many non-finite ones', () => {
    expect(() => chooseThreshold([])).toThrow(/held-out/);
    expect(() => chooseThreshold([1, Infinity, Infinity])).toThrow(/finite/);
  });
});

describe('the statistics file', () => {
  it('round-trips as float32 little-endian and refuses a wrong size or a non-finite value', () => {
    const { stats } = fitOod(gaussianFields(60, 5, 3, 2, Float64Array.from({ length: 25 }, (_, i) => (i % 6 === 0 ? 1 : 0.1))));
    const bytes = encodeOodStats(stats);
    expect(bytes.length).toBe(oodStatsBytes(5, 3));
    expect(new DataView(bytes.buffer).getFloat32(0, true)).toBe(stats.whitening[0]);
    const back = decodeOodStats(bytes, 5, stats.classes);
    expect(back.whitening).toEqual(stats.whitening);
    expect(back.means).toEqual(stats.means);
    expect(oodScore(back, [1, 2, 3, 4, 5])).toBe(oodScore(stats, [1, 2, 3, 4, 5]));
    expect(() => decodeOodStats(bytes.subarray(4), 5, stats.classes)).toThrow(/need/);
    const bad = bytes.slice();
    new DataView(bad.buffer).setFloat32(8, NaN, true);
    expect(() => decodeOodStats(bad, 5, stats.classes)).toThrow(/finite/);
  });
});

describe('input statistics of a model tile', () => {
  it('per channel: mean, standard deviation, near-black fraction and horizontal roughness, padding included', () => {
    // 2x3 tile, 2 channels (HWC): channel 0 = [0 1 0 / 1 0 1], channel 1 all 0.5.
    const tile = Float32Array.from([0, 0.5, 1, 0.5, 0, 0.5, 1, 0.5, 0, 0.5, 1, 0.5]);
    const s = tileInputStatistics(tile, 2, 3, 2);
    expect(Array.from(s.subarray(0, 4))).toEqual([0.5, 0.5, 0.5, 1]);
    expect(Array.from(s.subarray(4, 8))).toEqual([0.5, 0, 0, 0]);
    expect(Array.from(oodVector([7, 8], s)).slice(0, 3)).toEqual([7, 8, 0.5]);
  });
});

describe('source statistics', () => {
  it('log2 of the recorded level and range per channel; NaN (scored as unlike) without a source range', () => {
    expect(Array.from(sourceStatistics(Float32Array.from([0, 255, 0, 65535]), 2))).toEqual([8, 8, 16, 16]);
    expect(Array.from(sourceStatistics(undefined, 1)).every(Number.isNaN)).toBe(true);
  });
});
