// Evaluation splits: leave-one-compound-out folds (default; DMSO split across folds by plate) and a random field split.

import { DMSO } from '../../../src/core/labels.ts';
import type { Sample } from './dataset-index.ts';
import { deriveSeed, Rng } from '../util/prng.ts';

/** A train/test partition as indices into the sample list. */
export interface Split {
  name: string;
  train: number[];
  test: number[];
}

/**
 * One fold per non-DMSO compound: the test set is every field of that compound (all its concentrations),
 * the training set every field of the other compounds. DMSO is one "compound" with 1,320 fields, so it
 * cannot be left out whole without losing the class: its plates are dealt round-robin (sorted by name)
 * over the folds, each fold tests the DMSO fields of its plates and trains on the DMSO fields of all
 * other plates. Every DMSO field is thus tested exactly once over all folds, never in its own fold's
 * training set, and DMSO never shares a plate between train and test within a fold.
 */
export function leaveOneCompoundOutFolds(samples: readonly Sample[]): Split[] {
  const compounds = [...new Set(samples.filter((s) => s.moa !== DMSO).map((s) => s.compound))].sort();
  if (compounds.length === 0) return [];
  const dmsoPlates = [...new Set(samples.filter((s) => s.moa === DMSO).map((s) => s.plate))].sort();
  const plateFold = new Map(dmsoPlates.map((plate, i) => [plate, i % compounds.length]));
  return compounds.map((compound, fold) => {
    const train: number[] = [];
    const test: number[] = [];
    samples.forEach((s, i) => {
      if (s.moa === DMSO) (plateFold.get(s.plate) === fold ? test : train).push(i);
      else (s.compound === compound ? test : train).push(i);
    });
    return { name: `loco:${compound}`, train, test };
  });
}

/**
 * Random field split, stratified by class (the 2018 protocol): leaks compound identity between train
 * and test, so it overstates accuracy; offered for comparison only.
 */
export function randomFieldSplit(samples: readonly Sample[], testFraction = 0.2, seed = 0): Split {
  if (!(testFraction > 0 && testFraction < 1)) throw new Error(`testFraction must be in (0, 1), got ${testFraction}`);
  const rng = new Rng(deriveSeed(seed, 'random-field-split'));
  const byClass = new Map<number, number[]>();
  samples.forEach((s, i) => {
    if (!byClass.has(s.label)) byClass.set(s.label, []);
    byClass.get(s.label)!.push(i);
  });
  const train: number[] = [];
  const test: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const indices = rng.shuffle(byClass.get(label)!.slice());
    const nTest = Math.max(1, Math.round(indices.length * testFraction));
    test.push(...indices.slice(0, Math.min(nTest, indices.length - 1)));
    train.push(...indices.slice(Math.min(nTest, indices.length - 1)));
  }
  return { name: `random:${testFraction}`, train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}
