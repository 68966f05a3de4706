// Evaluation: held-out fields predicted as the app predicts them, scored per field and per treatment.
import type * as tfl from '@tensorflow/tfjs-layers';
import { aggregateTreatments, argmax, score, type Scores, type TreatmentPrediction } from '../../../src/core/aggregate.ts';
import { predictImages, type FieldModel } from '../../../src/core/field-pipeline.ts';
import { layersPredictBatch } from '../../../src/core/layers-predict.ts';
import { treatmentKey } from '../../../src/core/metadata.ts';
import { loadSample, LoadReport, type FieldCache, type Sample } from '../data/index.ts';

/** One held-out field: its true label, the class predicted for it and its profile. */
export interface EvaluatedField {
  sample: number;
  id: string;
  treatment: string;
  label: number;
  predicted: number;
  probabilities: number[];
  /** The field's penultimate-layer features, from the same forward pass as its probabilities. */
  features: Float32Array;
  /** What its model input tiles look like (src/core/ood.ts tileInputStatistics): the OOD check reads them beside the features. */
  inputStatistics: Float32Array;
}

/** A field as reports write it: everything but its features (profiles have their own files). */
export function reportedField(field: EvaluatedField): Omit<EvaluatedField, 'features' | 'inputStatistics'> {
  const { sample, id, treatment, label, predicted, probabilities } = field;
  return { sample, id, treatment, label, predicted, probabilities };
}

export interface Evaluation {
  fields: EvaluatedField[];
  treatments: TreatmentPrediction[];
  fieldScores: Scores;
  treatmentScores: Scores;
  skipped: number;
}

/**
 * Predicts every listed sample (skipping unreadable ones, counted) through the core field pipeline, as the
 * app does, and scores fields and treatments. `chunk` fields are loaded at a time and their tiles batched together.
 */
export async function evaluate(model: tfl.LayersModel, samples: readonly Sample[], indices: readonly number[], fieldModel: FieldModel, classes: number, cache?: FieldCache, chunk = 16): Promise<Evaluation> {
  const report = new LoadReport();
  const fields: EvaluatedField[] = [];
  const predictBatch = layersPredictBatch(model, fieldModel.input);
  for (let i = 0; i < indices.length; i += chunk) {
    const loaded: { index: number; image: Awaited<ReturnType<typeof loadSample>> }[] = [];
    for (const index of indices.slice(i, i + chunk)) {
      try {
        loaded.push({ index, image: await loadSample(samples[index], fieldModel.preprocessing, cache, report) });
      } catch (error) {
        report.fail(index, error, samples[index]);
      }
    }
    const predictions = await predictImages(loaded.map((l) => l.image), fieldModel, predictBatch);
    loaded.forEach(({ index }, k) => {
      const s = samples[index];
      const { probabilities, features, inputStatistics } = predictions[k];
      fields.push({ sample: index, id: s.id, treatment: treatmentKey(s.compound, s.concentration), label: s.label, predicted: argmax(probabilities), probabilities: Array.from(probabilities), features, inputStatistics });
    });
  }
  const treatments = aggregateTreatments(fields);
  return { fields, treatments, fieldScores: score(fields, classes), treatmentScores: score(treatments, classes), skipped: report.failures.length };
}
