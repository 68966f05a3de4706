// Aggregation and scoring shared by the trainer's evaluation and the app: treatments, accuracy, confusion.

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** The k most probable classes, most probable first. */
export function topK(probabilities: ArrayLike<number>, k: number): { index: number; probability: number }[] {
  return Array.from(probabilities, (probability, index) => ({ index, probability }))
    .sort((a, b) => b.probability - a.probability || a.index - b.index)
    .slice(0, k);
}

/** One field's class probabilities under its treatment: what aggregateTreatments averages. */
export interface TreatmentField {
  treatment: string;
  probabilities: ArrayLike<number>;
  /** Ground-truth class index, when known. */
  label?: number;
}

export interface TreatmentPrediction {
  treatment: string;
  fields: number;
  probabilities: Float32Array;
  predicted: number;
  label?: number;
}

/** Per treatment: the mean of its fields' probabilities, then argmax. */
export function aggregateTreatments(fields: TreatmentField[]): TreatmentPrediction[] {
  const byTreatment = new Map<string, { sum: Float64Array; n: number; label?: number }>();
  for (const f of fields) {
    let t = byTreatment.get(f.treatment);
    if (!t) {
      t = { sum: new Float64Array(f.probabilities.length), n: 0, label: f.label };
      byTreatment.set(f.treatment, t);
    }
    for (let j = 0; j < f.probabilities.length; j++) t.sum[j] += f.probabilities[j];
    t.n++;
  }
  return [...byTreatment].map(([treatment, t]) => {
    const probabilities = Float32Array.from(t.sum, (s) => s / t.n);
    return { treatment, fields: t.n, probabilities, predicted: argmax(probabilities), label: t.label };
  });
}

export interface Scores {
  n: number;
  correct: number;
  accuracy: number;
  /** confusion[true][predicted] counts. */
  confusion: number[][];
}

/** Accuracy and confusion matrix over items that have a label. */
export function score(items: { predicted: number; label?: number }[], classes: number): Scores {
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let n = 0;
  let correct = 0;
  for (const it of items) {
    if (it.label === undefined) continue;
    confusion[it.label][it.predicted]++;
    n++;
    if (it.label === it.predicted) correct++;
  }
  return { n, correct, accuracy: n ? correct / n : NaN, confusion };
}
