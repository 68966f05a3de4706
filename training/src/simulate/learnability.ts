// Learnability check: simple per-field features + nearest-centroid / 1-NN under leave-one-compound-out (run: tsx this file).

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { classIndex, DMSO, MOA_CLASSES } from '../../../src/core/labels.ts';
import { treatmentKey } from '../../../src/core/metadata.ts';
import { BBBC021_METADATA_DIR } from '../bbbc021-metadata.ts';
import type { Sample } from '../data/dataset-index.ts';
import { leaveOneCompoundOutFolds, randomFieldSplit, type Split } from '../data/splits.ts';
import { compoundSignatures, readMetadataTables, renderTableRow, selectImageRows } from './dataset-writer.ts';

/**
 * Per channel: log mean, coefficient of variation, 50th/99th percentile ratio to the 5th (log),
 * fraction of pixels above mean + std, and mean absolute gradient relative to the mean (texture): 18 numbers.
 */
export function fieldFeatures(planes: readonly Uint16Array[], width: number, height: number): number[] {
  const features: number[] = [];
  for (const plane of planes) {
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < plane.length; i++) {
      sum += plane[i];
      sumSq += plane[i] * plane[i];
    }
    const mean = sum / plane.length;
    const std = Math.sqrt(Math.max(0, sumSq / plane.length - mean * mean));
    const sorted = Float64Array.from(plane).sort();
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
    let above = 0;
    for (let i = 0; i < plane.length; i++) if (plane[i] > mean + std) above++;
    let gradient = 0;
    for (let y = 0; y < height - 1; y++) {
      for (let x = 0; x < width - 1; x++) {
        const i = y * width + x;
        gradient += Math.abs(plane[i + 1] - plane[i]) + Math.abs(plane[i + width] - plane[i]);
      }
    }
    gradient /= (width - 1) * (height - 1) * 2;
    const floor = Math.max(1, q(0.05));
    features.push(Math.log(mean), std / mean, Math.log(q(0.5) / floor), Math.log(q(0.99) / floor), above / plane.length, gradient / mean);
  }
  return features;
}

export interface LearnabilityReport {
  /** Held-out compounds: the honest test. */
  loco: LearnabilityResult;
  /** Random 20% field split, for comparison (compound identity leaks). */
  randomSplit: LearnabilityResult;
}

export interface LearnabilityResult {
  fields: number;
  treatments: number;
  folds: number;
  chance: number;
  /** Field-level accuracy over all held-out fields (DMSO included), nearest centroid and 1-NN. */
  fieldAccuracyCentroid: number;
  fieldAccuracy1nn: number;
  /** Treatment-level (NSC analogue): each non-DMSO treatment's mean profile to the nearest class centroid. */
  treatmentAccuracyCentroid: number;
  perClassFieldAccuracy: Record<string, number>;
}

/** Nearest-centroid and 1-NN on standardised features over the given splits (default: leave-one-compound-out). */
export function evaluateLoco(samples: readonly Sample[], features: readonly number[][], folds: Split[] = leaveOneCompoundOutFolds(samples)): LearnabilityResult {
  let correctCentroid = 0;
  let correct1nn = 0;
  let tested = 0;
  let treatmentCorrect = 0;
  let treatmentTotal = 0;
  const perClass = new Map<number, { ok: number; n: number }>();
  for (const fold of folds) {
    const dims = features[0].length;
    const mu = new Array(dims).fill(0);
    const sd = new Array(dims).fill(0);
    for (const i of fold.train) features[i].forEach((v, d) => (mu[d] += v / fold.train.length));
    for (const i of fold.train) features[i].forEach((v, d) => (sd[d] += (v - mu[d]) ** 2 / fold.train.length));
    const z = (f: readonly number[]) => f.map((v, d) => (v - mu[d]) / (Math.sqrt(sd[d]) || 1));
    const trainZ = fold.train.map((i) => z(features[i]));
    const centroids = new Map<number, number[]>();
    const counts = new Map<number, number>();
    fold.train.forEach((i, k) => {
      const label = samples[i].label;
      const c = centroids.get(label) ?? new Array(dims).fill(0);
      trainZ[k].forEach((v, d) => (c[d] += v));
      centroids.set(label, c);
      counts.set(label, (counts.get(label) ?? 0) + 1);
    });
    for (const [label, c] of centroids) c.forEach((_, d) => (c[d] /= counts.get(label)!));
    const nearestCentroid = (v: number[]) => {
      let best = -1;
      let bestDistance = Infinity;
      for (const [label, c] of centroids) {
        const distance = c.reduce((s, x, d) => s + (x - v[d]) ** 2, 0);
        if (distance < bestDistance) [best, bestDistance] = [label, distance];
      }
      return best;
    };
    const byTreatment = new Map<string, number[][]>();
    for (const i of fold.test) {
      const v = z(features[i]);
      const label = samples[i].label;
      const ok = nearestCentroid(v) === label;
      let nn = -1;
      let nnDistance = Infinity;
      trainZ.forEach((t, k) => {
        const distance = t.reduce((s, x, d) => s + (x - v[d]) ** 2, 0);
        if (distance < nnDistance) [nn, nnDistance] = [samples[fold.train[k]].label, distance];
      });
      correctCentroid += ok ? 1 : 0;
      correct1nn += nn === label ? 1 : 0;
      tested++;
      const pc = perClass.get(label) ?? { ok: 0, n: 0 };
      pc.ok += ok ? 1 : 0;
      pc.n++;
      perClass.set(label, pc);
      if (samples[i].moa !== DMSO) {
        const key = treatmentKey(samples[i].compound, samples[i].concentration);
        byTreatment.set(key, [...(byTreatment.get(key) ?? []), v]);
      }
    }
    for (const [key, vectors] of byTreatment) {
      const mean = vectors[0].map((_, d) => vectors.reduce((s, v) => s + v[d], 0) / vectors.length);
      const label = samples[fold.test.find((i) => treatmentKey(samples[i].compound, samples[i].concentration) === key)!].label;
      treatmentCorrect += nearestCentroid(mean) === label ? 1 : 0;
      treatmentTotal++;
    }
  }
  return {
    fields: samples.length,
    treatments: treatmentTotal,
    folds: folds.length,
    chance: 1 / MOA_CLASSES.length,
    fieldAccuracyCentroid: correctCentroid / tested,
    fieldAccuracy1nn: correct1nn / tested,
    treatmentAccuracyCentroid: treatmentCorrect / treatmentTotal,
    perClassFieldAccuracy: Object.fromEntries([...perClass].sort((a, b) => a[0] - b[0]).map(([label, { ok, n }]) => [MOA_CLASSES[label], ok / n])),
  };
}

export interface LearnabilityOptions {
  metadataDir: string;
  height: number;
  width: number;
  fieldsPerTreatment: number;
  dmsoFields: number;
  seed: number;
}

/** Renders the labelled treatments in memory (no files) and evaluates the baseline. */
export async function runLearnability(options: LearnabilityOptions): Promise<LearnabilityReport> {
  const tables = await readMetadataTables(options.metadataDir);
  const rows = selectImageRows(tables, { labelledOnly: true, fieldsPerTreatment: options.fieldsPerTreatment, dmsoFields: options.dmsoFields });
  const signatures = compoundSignatures(tables, options.seed);
  const labels = new Map(tables.moaRows.map((r) => [treatmentKey(r.compound, r.concentration), r.moa]));
  const samples: Sample[] = [];
  const features: number[][] = [];
  for (const i of rows) {
    const row = tables.imageRows[i];
    const moa = labels.get(treatmentKey(row.compound, row.concentration))!;
    const field = renderTableRow(row, signatures.get(row.compound)!, options, options.seed);
    features.push(fieldFeatures(field.planes, field.width, field.height));
    samples.push({
      id: `${row.files.DNA.pathName}/${row.files.DNA.fileName}`,
      plate: row.plate,
      week: row.plate.split('_')[0],
      well: row.well,
      site: undefined,
      compound: row.compound,
      concentration: row.concentration,
      moa,
      label: classIndex(moa),
      files: ['', '', ''],
    });
  }
  return { loco: evaluateLoco(samples, features), randomSplit: evaluateLoco(samples, features, [randomFieldSplit(samples, 0.2, options.seed)]) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [size = '128x160', perTreatment = '3', seed = '0'] = process.argv.slice(2);
  const [height, width] = size.split('x').map(Number);
  const started = performance.now();
  runLearnability({ metadataDir: BBBC021_METADATA_DIR, height, width, fieldsPerTreatment: Number(perTreatment), dmsoFields: 8 * Number(perTreatment), seed: Number(seed) }).then((r) => {
    console.log(JSON.stringify(r, null, 2));
    console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
  });
}
