// Evaluation: held-out fields predicted as the app predicts them, scored per field and per treatment.
import type * as tfl from '@tensorflow/tfjs-layers';
import { aggregateTreatments, argmax, score, type Scores, type TreatmentPrediction } from '../../../src/core/aggregate.ts';
import { treatmentKey } from '../../../src/core/metadata.ts';
import type { PreprocessSpec } from '../../../src/core/preprocess.ts';
import { loadSample, LoadReport, type FieldCache, type Sample } from '../data/index.ts';
import { predictFields, type ModelInput } from './predict.ts';

export interface FieldResult {
  sample: number;
  id: string;
  treatment: string;
  label: number;
  predicted: number;
  probabilities: number[];
}

export interface Evaluation {
  fields: FieldResult[];
  treatments: TreatmentPrediction[];
  fieldScores: Scores;
  treatmentScores: Scores;
  skipped: number;
}

/** Predicts every listed sample (skipping unreadable ones, counted) and scores fields and treatments. */
export async function evaluate(model: tfl.LayersModel, samples: readonly Sample[], indices: readonly number[], spec: PreprocessSpec, input: ModelInput, classes: number, cache?: FieldCache, chunk = 16): Promise<Evaluation> {
  const report = new LoadReport();
  const fields: FieldResult[] = [];
  for (let i = 0; i < indices.length; i += chunk) {
    const loaded: { index: number; image: Awaited<ReturnType<typeof loadSample>> }[] = [];
    for (const index of indices.slice(i, i + chunk)) {
      try {
        loaded.push({ index, image: await loadSample(samples[index], spec, cache, report) });
      } catch (error) {
        report.fail(index, error, samples[index]);
      }
    }
    const probs = predictFields(model, loaded.map((l) => l.image), input);
    loaded.forEach(({ index }, k) => {
      const s = samples[index];
      fields.push({ sample: index, id: s.id, treatment: treatmentKey(s.compound, s.concentration), label: s.label, predicted: argmax(probs[k]), probabilities: Array.from(probs[k]) });
    });
  }
  const treatments = aggregateTreatments(fields);
  return { fields, treatments, fieldScores: score(fields, classes), treatmentScores: score(treatments, classes), skipped: report.failures.length };
}
