// One point of a run's held-out curve (`npm run evaluate -- --checkpoint`): where the checkpoint stands in the run,
// what the training loss was just before it, and how it does on the held-out fold.
import type { Scores } from '../../../src/core/aggregate.ts';
import type { Checkpoint } from '../train/checkpoint.ts';

export interface CurvePoint {
  file: string;
  step: number;
  /** Epochs done, fractional (step / steps per epoch, as the training log counts them). */
  epoch: number;
  /** Mean training loss of the steps since the previous epoch boundary (a whole epoch when the checkpoint sits on one). */
  trainingLoss: number;
  fieldAccuracy: number;
  heldOutFields: number;
  treatmentAccuracy: number;
  heldOutTreatments: number;
}

export function curvePoint(file: string, checkpoint: Checkpoint, fields: Scores, treatments: Scores): CurvePoint {
  const history = checkpoint.history as { step: number; epoch: number; loss: number }[];
  const last = history.at(-1);
  const epoch = last?.epoch ?? checkpoint.epoch;
  const since = Math.ceil(epoch) - 1;
  const recent = history.filter((p) => p.epoch > since);
  const trainingLoss = recent.length ? recent.reduce((s, p) => s + p.loss, 0) / recent.length : Number.NaN;
  return { file, step: checkpoint.step, epoch, trainingLoss, fieldAccuracy: fields.accuracy, heldOutFields: fields.n, treatmentAccuracy: treatments.accuracy, heldOutTreatments: treatments.n };
}
