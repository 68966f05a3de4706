// What adapting the head does, measured: the held-out compounds split into two halves (alternating within each
// class); a new logistic-regression head fitted on one half's fields (as the app's "Adapt to this plate" would, on
// the user's marked compounds), or on the training fold plus that half, predicts the other half; and back.
import { argmax } from '../../../src/core/aggregate.ts';
import { DMSO } from '../../../src/core/labels.ts';
import { fitLogisticHead, headProbabilities, type HeadExample } from '../../../src/core/logistic-head.ts';
import type { Sample, Split } from '../data/index.ts';
import { ConfigError } from '../util/cli.ts';
import type { EvaluatedField } from './evaluate.ts';

export interface Rate {
  n: number;
  correct: number;
  accuracy: number;
}

export interface HalvesRound {
  fitCompounds: string[];
  scoredCompounds: string[];
  /** Per treatment of the scored half: the shipped classifier, a head fitted on the other half, one fitted on the training fold plus it. */
  classifier: Rate;
  headOnHalf: Rate;
  headOnTrainingAndHalf: Rate;
}

export interface HalvesResult {
  rounds: HalvesRound[];
  classifier: Rate;
  headOnHalf: Rate;
  headOnTrainingAndHalf: Rate;
}

const rate = (correct: number, n: number): Rate => ({ n, correct, accuracy: n ? correct / n : NaN });
const sum = (rates: Rate[]) => rate(rates.reduce((a, r) => a + r.correct, 0), rates.reduce((a, r) => a + r.n, 0));

/** Treatment accuracy: each treatment's fields' probabilities averaged, then argmax, against its label. */
function treatmentAccuracy(fields: readonly EvaluatedField[], probabilities: (f: EvaluatedField) => ArrayLike<number>): Rate {
  const byTreatment = new Map<string, { sum: Float64Array; label: number }>();
  for (const f of fields) {
    const p = probabilities(f);
    const t = byTreatment.get(f.treatment) ?? { sum: new Float64Array(p.length), label: f.label };
    for (let c = 0; c < p.length; c++) t.sum[c] += p[c];
    byTreatment.set(f.treatment, t);
  }
  const correct = [...byTreatment.values()].filter((t) => argmax(t.sum) === t.label).length;
  return rate(correct, byTreatment.size);
}

export function adaptOnHalves(fields: readonly EvaluatedField[], samples: readonly Sample[], split: Split, classes: number): HalvesResult {
  const tested = new Set(split.test);
  const trained = new Set(split.train);
  const compoundOf = (f: EvaluatedField) => samples[f.sample].compound;
  const heldOut = [...new Set(fields.filter((f) => tested.has(f.sample) && samples[f.sample].moa !== DMSO).map((f) => `${f.label}\t${compoundOf(f)}`))]
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((k) => k.split('\t')[1]);
  // Alternate down the list sorted by class, then name, so both halves see most classes.
  const halves: [Set<string>, Set<string>] = [new Set(), new Set()];
  heldOut.forEach((compound, i) => halves[i % 2].add(compound));
  const example = (f: EvaluatedField): HeadExample => ({ features: f.features, label: f.label, compound: compoundOf(f), treatment: f.treatment });
  // The held-out DMSO fields are controls the user would mark too: they join each fit, never the score.
  const heldOutControls = fields.filter((f) => tested.has(f.sample) && samples[f.sample].moa === DMSO);
  if (halves[1].size === 0) throw new ConfigError(`--adapt-halves needs at least 2 held-out compounds; ${split.name} holds out ${heldOut.length}.`);
  const rounds = ([0, 1] as const).map((h): HalvesRound => {
    const fit = halves[h];
    const scored = halves[1 - h];
    const fitFields = fields.filter((f) => fit.has(compoundOf(f)) && tested.has(f.sample));
    const scoredFields = fields.filter((f) => scored.has(compoundOf(f)) && tested.has(f.sample));
    const onHalf = fitLogisticHead([...fitFields, ...heldOutControls].map(example), classes);
    const onTrainingAndHalf = fitLogisticHead([...fields.filter((f) => trained.has(f.sample)), ...fitFields, ...heldOutControls].map(example), classes);
    return {
      fitCompounds: [...fit],
      scoredCompounds: [...scored],
      classifier: treatmentAccuracy(scoredFields, (f) => f.probabilities),
      headOnHalf: treatmentAccuracy(scoredFields, (f) => headProbabilities(onHalf, f.features)),
      headOnTrainingAndHalf: treatmentAccuracy(scoredFields, (f) => headProbabilities(onTrainingAndHalf, f.features)),
    };
  });
  return {
    rounds,
    classifier: sum(rounds.map((r) => r.classifier)),
    headOnHalf: sum(rounds.map((r) => r.headOnHalf)),
    headOnTrainingAndHalf: sum(rounds.map((r) => r.headOnTrainingAndHalf)),
  };
}
