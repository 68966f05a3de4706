// Profiles: the model's penultimate-layer features of fields summarised per treatment, normalised against the
// negative controls (DMSO), compared by cosine distance, and scored by nearest-neighbour MoA (Ljosa et al. 2013):
// NSC (not-same-compound) and NSCB (not-same-compound-or-batch). One implementation for the app and the trainer.
import { treatmentKey } from './metadata.ts';

/** One field's profile with where it came from. */
export interface FieldProfile {
  id: string;
  plate: string;
  compound: string;
  concentration: number;
  features: Float32Array;
  /** Ground-truth class index, when known. */
  label?: number;
}

/** A treatment (compound + concentration) summarised over its fields. */
export interface TreatmentProfile {
  /** treatmentKey(compound, concentration). */
  key: string;
  compound: string;
  concentration: number;
  fields: number;
  /** Plates its fields came from, sorted. */
  plates: string[];
  /** Batches (plate weeks, batchOf) its fields came from, sorted. */
  batches: string[];
  features: Float32Array;
  /** The fields' label when they agree (the first labelled field's otherwise). */
  label?: number;
}

export type ProfileSummary = 'mean' | 'median';

/** Whether a compound is the negative control (DMSO, any case). */
export function isControl(compound: string): boolean {
  return compound.trim().toUpperCase() === 'DMSO';
}

/** The batch a plate belongs to: BBBC021's week ("Week4_27861" -> "Week4"); any other plate name is its own batch. */
export function batchOf(plate: string): string {
  const week = /^(Week\d+)_/i.exec(plate);
  return week ? week[1] : plate;
}

/** Where each plate's normalising controls came from. */
export interface ControlSource {
  plate: string;
  /** 'plate': its own DMSO fields; 'pooled': too few of its own, so every plate's DMSO fields; 'none': no DMSO field anywhere. */
  source: 'plate' | 'pooled' | 'none';
  controls: number;
}

export interface NormalisedProfiles {
  fields: FieldProfile[];
  controls: ControlSource[];
}

/** A plate needs at least this many DMSO fields to be normalised against its own (a standard deviation needs two). */
export const MIN_PLATE_CONTROLS = 2;
/**
 * Each feature's control standard deviation is raised to at least the mean over features (and to 1e-6): a
 * feature (a ReLU unit) that is silent in every DMSO field would otherwise divide by almost nothing and drown
 * every other feature under cosine distance.
 */
function featureStats(rows: readonly Float32Array[]): { mean: Float64Array; std: Float64Array } {
  const d = rows[0].length;
  const mean = new Float64Array(d);
  for (const row of rows) for (let j = 0; j < d; j++) mean[j] += row[j];
  for (let j = 0; j < d; j++) mean[j] /= rows.length;
  const std = new Float64Array(d);
  for (const row of rows) for (let j = 0; j < d; j++) std[j] += (row[j] - mean[j]) ** 2;
  let typical = 0;
  for (let j = 0; j < d; j++) {
    std[j] = Math.sqrt(std[j] / Math.max(1, rows.length - 1));
    typical += std[j] / d;
  }
  const floor = Math.max(typical, 1e-6);
  for (let j = 0; j < d; j++) std[j] = Math.max(std[j], floor);
  return { mean, std };
}

/**
 * Per-feature z-scores against the negative controls: each field's features minus the mean of its plate's DMSO
 * fields, divided by their standard deviation. A plate with fewer than MIN_PLATE_CONTROLS DMSO fields is normalised
 * against all plates' DMSO fields pooled; with no DMSO field at all the features are returned unchanged.
 */
export function normaliseToControls(fields: readonly FieldProfile[]): NormalisedProfiles {
  const controlsByPlate = new Map<string, Float32Array[]>();
  for (const f of fields) if (!controlsByPlate.has(f.plate)) controlsByPlate.set(f.plate, []);
  for (const f of fields) if (isControl(f.compound)) controlsByPlate.get(f.plate)!.push(f.features);
  const all = [...controlsByPlate.values()].flat();
  const pooled = all.length > 0 ? featureStats(all) : null;
  const stats = new Map<string, ReturnType<typeof featureStats> | null>();
  const controls: ControlSource[] = [];
  for (const [plate, own] of [...controlsByPlate].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (own.length >= MIN_PLATE_CONTROLS) {
      stats.set(plate, featureStats(own));
      controls.push({ plate, source: 'plate', controls: own.length });
    } else {
      stats.set(plate, pooled);
      controls.push({ plate, source: pooled ? 'pooled' : 'none', controls: all.length });
    }
  }
  const normalised = fields.map((f) => {
    const s = stats.get(f.plate);
    if (!s) return f;
    return { ...f, features: Float32Array.from(f.features, (v, j) => (v - s.mean[j]) / s.std[j]) };
  });
  return { fields: normalised, controls };
}

function median(values: number[]): number {
  values.sort((a, b) => a - b);
  const mid = values.length >> 1;
  return values.length % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

/** Per treatment: the mean (or per-feature median) of its fields' features. Treatments in order of first appearance. */
export function treatmentProfiles(fields: readonly FieldProfile[], summary: ProfileSummary = 'mean'): TreatmentProfile[] {
  const groups = new Map<string, FieldProfile[]>();
  for (const f of fields) {
    const key = treatmentKey(f.compound, f.concentration);
    const group = groups.get(key);
    if (group) group.push(f);
    else groups.set(key, [f]);
  }
  return [...groups].map(([key, group]) => {
    const d = group[0].features.length;
    const features = new Float32Array(d);
    if (summary === 'mean') {
      const sum = new Float64Array(d);
      for (const f of group) for (let j = 0; j < d; j++) sum[j] += f.features[j];
      for (let j = 0; j < d; j++) features[j] = sum[j] / group.length;
    } else {
      for (let j = 0; j < d; j++) features[j] = median(group.map((f) => f.features[j]));
    }
    const plates = [...new Set(group.map((f) => f.plate))].sort();
    return {
      key,
      compound: group[0].compound,
      concentration: group[0].concentration,
      fields: group.length,
      plates,
      batches: [...new Set(plates.map(batchOf))].sort(),
      features,
      label: group.find((f) => f.label !== undefined)?.label,
    };
  });
}

/** 1 - cosine similarity; 1 when either vector is all zeros. */
export function cosineDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let j = 0; j < a.length; j++) {
    dot += a[j] * b[j];
    na += a[j] * a[j];
    nb += b[j] * b[j];
  }
  return na === 0 || nb === 0 ? 1 : 1 - dot / Math.sqrt(na * nb);
}

/** The full matrix of pairwise cosine distances, row-major n x n. */
export function cosineDistances(rows: readonly ArrayLike<number>[]): Float64Array {
  const n = rows.length;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = i + 1; k < n; k++) {
      const d = cosineDistance(rows[i], rows[k]);
      out[i * n + k] = d;
      out[k * n + i] = d;
    }
  return out;
}

/** Who may be a treatment's neighbour: NSC, another compound; NSCB, another compound sharing none of its batches. */
export type NeighbourRule = 'nsc' | 'nscb';

export interface NearestNeighbour {
  /** Index of the query treatment. */
  treatment: number;
  /** Index of its nearest allowed treatment, or null when none is allowed. */
  neighbour: number | null;
  distance: number;
  /** The neighbour's label (the 1-NN MoA), when it has one. */
  predicted?: number;
}

/**
 * For each treatment that is not a control, its nearest treatment (cosine distance) among the `references`
 * (indices; default all) that are not controls, not the same compound and, under 'nscb', share no batch with it.
 * `labels[i]` is treatment i's reference label (ground truth, or whatever the caller trusts); references without
 * one are skipped. Ties go to the lower index.
 */
export function nearestNeighbours(
  treatments: readonly TreatmentProfile[],
  rule: NeighbourRule,
  labels: readonly (number | undefined)[] = treatments.map((t) => t.label),
  references: readonly number[] = treatments.map((_, i) => i),
): NearestNeighbour[] {
  const out: NearestNeighbour[] = [];
  treatments.forEach((t, i) => {
    if (isControl(t.compound)) return;
    let best: number | null = null;
    let bestDistance = Infinity;
    for (const r of references) {
      const ref = treatments[r];
      if (r === i || labels[r] === undefined || isControl(ref.compound) || ref.compound === t.compound) continue;
      if (rule === 'nscb' && ref.batches.some((b) => t.batches.includes(b))) continue;
      const d = cosineDistance(t.features, ref.features);
      if (d < bestDistance || (d === bestDistance && best !== null && r < best)) {
        best = r;
        bestDistance = d;
      }
    }
    out.push({ treatment: i, neighbour: best, distance: bestDistance, predicted: best === null ? undefined : labels[best] });
  });
  return out;
}

export interface NeighbourAccuracy {
  rule: NeighbourRule;
  /** Labelled, non-control treatments that had an allowed neighbour. */
  n: number;
  correct: number;
  accuracy: number;
}

/**
 * 1-NN MoA accuracy (Ljosa et al. 2013) over the labelled, non-control treatments, or over those of them listed in
 * `queries` (e.g. the held-out compounds' treatments; every treatment remains a possible neighbour).
 */
export function neighbourAccuracy(treatments: readonly TreatmentProfile[], rule: NeighbourRule, queries?: readonly number[]): NeighbourAccuracy {
  const asked = queries ? new Set(queries) : null;
  const scored = nearestNeighbours(treatments, rule).filter((nn) => (!asked || asked.has(nn.treatment)) && nn.predicted !== undefined && treatments[nn.treatment].label !== undefined);
  const correct = scored.filter((nn) => nn.predicted === treatments[nn.treatment].label).length;
  return { rule, n: scored.length, correct, accuracy: scored.length ? correct / scored.length : NaN };
}
