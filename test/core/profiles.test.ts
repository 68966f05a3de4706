import { describe, expect, it } from 'vitest';
import { averageLinkage } from '../../src/core/clustering.ts';
import { fitLogisticHead, headProbabilities, leaveCompoundsOut, MAX_COMPOUND_FOLDS, type HeadExample } from '../../src/core/logistic-head.ts';
import { pca } from '../../src/core/pca.ts';
import {
  batchOf,
  cosineDistance,
  cosineDistances,
  nearestNeighbours,
  neighbourAccuracy,
  normaliseToControls,
  treatmentProfiles,
  type FieldProfile,
} from '../../src/core/profiles.ts';
import { argmax } from '../../src/core/aggregate.ts';
import { Rng } from '../../training/src/util/prng.ts';

const f32 = (...v: number[]) => Float32Array.from(v);
const field = (id: string, plate: string, compound: string, concentration: number, features: Float32Array, label?: number): FieldProfile => ({ id, plate, compound, concentration, features, label });

/** Treatments of `compounds` compounds in `classes` classes: each class a random direction, each field that plus noise. */
function clustered(rng: Rng, classes: number, compoundsPerClass: number, fieldsPer: number, d: number, noise: number) {
  const centres = Array.from({ length: classes }, () => Array.from({ length: d }, () => rng.normal()));
  const fields: FieldProfile[] = [];
  for (let c = 0; c < classes; c++)
    for (let k = 0; k < compoundsPerClass; k++)
      for (let s = 0; s < fieldsPer; s++) {
        const plate = `Week${(k % 3) + 1}_${100 + k}`;
        fields.push(field(`c${c}k${k}s${s}`, plate, `compound-${c}-${k}`, 1, Float32Array.from(centres[c], (v) => v + noise * rng.normal()), c));
      }
  return fields;
}

describe('profiles', () => {
  it('batchOf takes the BBBC021 week, other plate names are their own batch', () => {
    expect(batchOf('Week4_27861')).toBe('Week4');
    expect(batchOf('Week10_40119')).toBe('Week10');
    expect(batchOf('plate-A')).toBe('plate-A');
  });

  it('z-scores each plate against its own DMSO fields, pools for plates with fewer than two, leaves them be with none', () => {
    const fields = [
      field('d1', 'P1', 'DMSO', 0, f32(1, 10)),
      field('d2', 'P1', 'DMSO', 0, f32(3, 10)),
      field('x', 'P1', 'taxol', 1, f32(4, 12)),
      field('d3', 'P2', 'dmso', 0, f32(5, 0)),
      field('y', 'P2', 'taxol', 1, f32(3, 10)),
    ];
    const { fields: out, controls } = normaliseToControls(fields);
    // P1: mean (2, 10), std (sqrt(2), 0); the silent second feature's std is raised to the mean std, sqrt(2) / 2.
    expect(out[2].features[0]).toBeCloseTo(2 / Math.SQRT2, 5);
    expect(out[2].features[1]).toBeCloseTo(2 / (Math.SQRT2 / 2), 5);
    expect(out[0].features[0] + out[1].features[0]).toBeCloseTo(0, 6);
    // P2 has one DMSO field: all three pooled, mean (3, 20/3), std (2, sqrt(100/3)), the first raised to their mean.
    const pooledStd = (2 + Math.sqrt(100 / 3)) / 2;
    expect(out[4].features[0]).toBeCloseTo(0, 6);
    expect(out[3].features[0]).toBeCloseTo(2 / pooledStd, 5);
    expect(out[3].features[1]).toBeCloseTo((0 - 20 / 3) / Math.sqrt(100 / 3), 5);
    expect(controls).toEqual([
      { plate: 'P1', source: 'plate', controls: 2 },
      { plate: 'P2', source: 'pooled', controls: 3 },
    ]);
    const none = normaliseToControls([field('x', 'P1', 'taxol', 1, f32(4, 12))]);
    expect(none.controls[0].source).toBe('none');
    expect(Array.from(none.fields[0].features)).toEqual([4, 12]);
  });

  it('summarises treatments by mean or median, keeping plates, batches and label', () => {
    const fields = [
      field('a', 'Week1_1', 'taxol', 1, f32(1, 0), 9),
      field('b', 'Week2_5', 'taxol', 1, f32(2, 10), 9),
      field('c', 'Week2_5', 'taxol', 1, f32(9, 20), 9),
      field('d', 'Week2_5', 'taxol', 3, f32(0, 0)),
    ];
    const [mean, other] = treatmentProfiles(fields);
    expect(mean.key).toBe('taxol@1');
    expect(Array.from(mean.features)).toEqual([4, 10]);
    expect(mean.plates).toEqual(['Week1_1', 'Week2_5']);
    expect(mean.batches).toEqual(['Week1', 'Week2']);
    expect(mean.label).toBe(9);
    expect(mean.fields).toBe(3);
    expect(other.label).toBeUndefined();
    expect(Array.from(treatmentProfiles(fields, 'median')[0].features)).toEqual([2, 10]);
  });

  it('cosine distance: 0 parallel, 1 orthogonal or zero, 2 opposite; the matrix is symmetric', () => {
    expect(cosineDistance([1, 2], [2, 4])).toBeCloseTo(0, 12);
    expect(cosineDistance([1, 0], [0, 3])).toBeCloseTo(1, 12);
    expect(cosineDistance([1, 1], [-2, -2])).toBeCloseTo(2, 12);
    expect(cosineDistance([0, 0], [1, 1])).toBe(1);
    const m = cosineDistances([[1, 0], [1, 1], [0, 1]]);
    expect(m[1]).toBeCloseTo(1 - Math.SQRT1_2, 12);
    expect(m[3]).toBe(m[1]);
    expect(m[4]).toBe(0);
  });

  it('1-NN: NSC never picks the same compound, NSCB never the same batch, DMSO is neither query nor neighbour', () => {
    const t = treatmentProfiles([
      field('a1', 'Week1_1', 'A', 1, f32(1, 0), 0),
      field('a2', 'Week1_1', 'A', 3, f32(1, 0.01), 0),
      field('b', 'Week1_1', 'B', 1, f32(1, 0.1), 1),
      field('c', 'Week2_1', 'C', 1, f32(1, 0.5), 0),
      field('d', 'Week2_1', 'DMSO', 0, f32(1, 0)),
    ]);
    const nsc = nearestNeighbours(t, 'nsc');
    expect(nsc.map((n) => [t[n.treatment].key, n.neighbour === null ? null : t[n.neighbour].key])).toEqual([
      ['A@1', 'B@1'],
      ['A@3', 'B@1'],
      ['B@1', 'A@3'],
      ['C@1', 'B@1'],
    ]);
    const nscb = nearestNeighbours(t, 'nscb');
    expect(nscb.map((n) => (n.neighbour === null ? null : t[n.neighbour].key))).toEqual(['C@1', 'C@1', 'C@1', 'B@1']);
    expect(neighbourAccuracy(t, 'nsc')).toEqual({ rule: 'nsc', n: 4, correct: 0, accuracy: 0 });
    expect(neighbourAccuracy(t, 'nscb')).toMatchObject({ n: 4, correct: 2 });
    expect(neighbourAccuracy(t, 'nscb', [0])).toMatchObject({ n: 1, correct: 1 });
  });

  it('1-NN finds the class of clustered compounds and is at chance on noise', () => {
    const rng = new Rng(7);
    const clear = treatmentProfiles(clustered(rng, 4, 3, 3, 32, 0.3));
    expect(neighbourAccuracy(clear, 'nsc').accuracy).toBe(1);
    const noise = treatmentProfiles(clustered(rng, 4, 3, 3, 32, 30));
    expect(neighbourAccuracy(noise, 'nsc').accuracy).toBeLessThan(0.75);
  });
});

describe('PCA', () => {
  it('finds the axes of an elongated cloud, explains its variance, and is the same every time', () => {
    const rng = new Rng(3);
    const u = [0.6, 0.8, 0, 0];
    const v = [0, 0, 1, 0];
    const rows = Array.from({ length: 200 }, () => {
      const a = 10 * rng.normal();
      const b = 2 * rng.normal();
      return u.map((x, j) => a * x + b * v[j] + 0.01 * rng.normal() + 5);
    });
    const p = pca(rows);
    expect(p.explained[0]).toBeGreaterThan(0.9);
    expect(p.explained[0] + p.explained[1]).toBeGreaterThan(0.999);
    // Coordinates are projections on the axes (up to sign): first coordinate ~ a, so |corr(x1, row . u)| ~ 1.
    const proj = rows.map((r) => r[0] * 0.6 + r[1] * 0.8);
    const x1 = rows.map((_, i) => p.coordinates[i * 2]);
    const corr = correlation(proj, x1);
    expect(Math.abs(corr)).toBeGreaterThan(0.9999);
    expect(Array.from(pca(rows).coordinates)).toEqual(Array.from(p.coordinates));
    // Variance of the first coordinate = its eigenvalue = explained x total variance.
    const total = [0, 1, 2, 3].reduce((s, j) => s + variance(rows.map((r) => r[j])), 0);
    expect(variance(x1) / total).toBeCloseTo(p.explained[0], 6);
  });

  it('gives zeros for one row', () => {
    expect(Array.from(pca([[1, 2, 3]]).coordinates)).toEqual([0, 0]);
  });
});

function variance(x: number[]): number {
  const m = x.reduce((a, b) => a + b, 0) / x.length;
  return x.reduce((s, v) => s + (v - m) ** 2, 0) / (x.length - 1);
}
function correlation(a: number[], b: number[]): number {
  const ma = a.reduce((s, v) => s + v, 0) / a.length;
  const mb = b.reduce((s, v) => s + v, 0) / b.length;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  a.forEach((v, i) => {
    ab += (v - ma) * (b[i] - mb);
    aa += (v - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  });
  return ab / Math.sqrt(aa * bb);
}

describe('average-linkage clustering', () => {
  it('merges at the mean distance between members and orders leaves so clusters are contiguous', () => {
    const rng = new Rng(11);
    const fields = clustered(rng, 3, 3, 1, 16, 0.2);
    const order = [4, 0, 8, 2, 6, 1, 3, 7, 5];
    const rows = order.map((i) => fields[i].features);
    const d = cosineDistances(rows);
    const tree = averageLinkage(d, rows.length);
    expect(tree.merges).toHaveLength(rows.length - 1);
    const members = (id: number): number[] => (id < rows.length ? [id] : [...members(tree.merges[id - rows.length].left), ...members(tree.merges[id - rows.length].right)]);
    for (const m of tree.merges) {
      const a = members(m.left);
      const b = members(m.right);
      const mean = a.reduce((s, i) => s + b.reduce((t, k) => t + d[i * rows.length + k], 0), 0) / (a.length * b.length);
      expect(m.height).toBeCloseTo(mean, 10);
    }
    for (let k = 1; k < tree.merges.length; k++) expect(tree.merges[k].height).toBeGreaterThanOrEqual(tree.merges[k - 1].height - 1e-12);
    expect([...tree.order].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const classes = tree.order.map((i) => fields[order[i]].label);
    const runs = classes.filter((c, i) => i === 0 || c !== classes[i - 1]).length;
    expect(runs).toBe(3);
    expect(averageLinkage(d, rows.length)).toEqual(tree);
  });
});

describe('logistic-regression head', () => {
  const rng = new Rng(5);
  const examples: HeadExample[] = clustered(rng, 4, 3, 4, 24, 0.8).map((f) => ({ features: Float32Array.from(f.features, (v) => Math.max(0, v * 3 + 2)), label: f.label!, compound: f.compound, treatment: `${f.compound}@1` }));

  it('fits separable classes and its folded raw-feature kernel predicts them', () => {
    const head = fitLogisticHead(examples, 4);
    expect(head.kernel).toHaveLength(24 * 4);
    const correct = examples.filter((e) => argmax(headProbabilities(head, e.features)) === e.label).length;
    expect(correct).toBe(examples.length);
    const p = headProbabilities(head, examples[0].features);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('leave-one-compound-out: high on clustered compounds, near chance when labels are shuffled', () => {
    const loco = leaveCompoundsOut(examples, 4);
    expect(loco.compounds).toBe(12);
    expect(loco.folds).toBe(MAX_COMPOUND_FOLDS); // 12 compounds dealt over 10 folds
    expect(loco.fields.n).toBe(examples.length);
    expect(loco.treatments.n).toBe(12);
    expect(loco.treatments.accuracy).toBeGreaterThanOrEqual(11 / 12);
    expect(loco.head).toEqual(fitLogisticHead(examples, 4)); // the all-compounds fit, as fitLogisticHead makes it
    const shuffled = examples.map((e) => ({ ...e, label: Number(e.compound.split('-')[2]) % 4 }));
    expect(leaveCompoundsOut(shuffled, 4).treatments.accuracy).toBeLessThan(0.6);
  });

  it('refuses labels outside the classes and ragged features', () => {
    expect(() => fitLogisticHead([{ ...examples[0], label: 4 }], 4)).toThrow(/Label 4/);
    expect(() => fitLogisticHead([examples[0], { ...examples[1], features: [1] }], 4)).toThrow(/features/);
  });
});
