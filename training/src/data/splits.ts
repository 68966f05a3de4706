// Evaluation splits: grouped compound folds (default), leave-one-compound-out, not-same-compound-or-batch, random fields.

import { DMSO } from '../../../src/core/labels.ts';
import type { Sample } from './dataset-index.ts';
import { ConfigError } from '../util/cli.ts';
import { deriveSeed, Rng } from '../util/prng.ts';

/** A train/test partition as indices into the sample list. */
export interface Split {
  name: string;
  train: number[];
  test: number[];
}

/** The protocols `--split` names. */
export const SPLIT_KINDS = ['grouped', 'loco', 'nscb', 'random'] as const;
export type SplitKind = (typeof SPLIT_KINDS)[number];

export interface SplitChoice {
  split: SplitKind;
  /** Number of folds of `grouped` (the other protocols take theirs from the data). */
  folds: number;
  fold: number;
  /** Seed of the random field split. */
  seed: number;
}

const byName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

/** The labelled (non-DMSO) compounds, sorted: the units every compound protocol holds out. */
export function labelledCompounds(samples: readonly Sample[]): string[] {
  return [...new Set(samples.filter((s) => s.moa !== DMSO).map((s) => s.compound))].sort(byName);
}

/** One fold of a compound protocol before DMSO is dealt: which labelled fields it tests, which fields training loses besides. */
interface CompoundFold {
  name: string;
  tests: (s: Sample) => boolean;
  /** Fields left out of training although not tested (NSCB: the test fields' week). */
  dropsFromTraining: (s: Sample) => boolean;
}

/**
 * Deals DMSO by plate: each plate's DMSO fields go to exactly one fold, one that tests a labelled field of that
 * plate (plate-matched controls), the candidate with the fewest DMSO plates so far, ties to the fold whose
 * compound sits on fewer plates (a specific compound before taxol, which is on every plate), then to the first.
 * A plate with no tested compound goes to the fold with the fewest DMSO plates. So every DMSO field is tested
 * exactly once over the folds, and never shares a plate with the DMSO fields of its fold's training set.
 */
function dealDmsoPlates(samples: readonly Sample[], folds: readonly CompoundFold[]): Map<string, number> {
  const platesOf = folds.map(() => new Set<string>());
  for (const s of samples) if (s.moa !== DMSO) folds.forEach((f, k) => f.tests(s) && platesOf[k].add(s.plate));
  const dealt = new Array<number>(folds.length).fill(0);
  const plateFold = new Map<string, number>();
  const dmsoPlates = [...new Set(samples.filter((s) => s.moa === DMSO).map((s) => s.plate))].sort(byName);
  for (const plate of dmsoPlates) {
    let candidates = folds.map((_, k) => k).filter((k) => platesOf[k].has(plate));
    if (candidates.length === 0) candidates = folds.map((_, k) => k);
    const best = candidates.reduce((a, b) => (dealt[b] < dealt[a] || (dealt[b] === dealt[a] && platesOf[b].size < platesOf[a].size) ? b : a));
    plateFold.set(plate, best);
    dealt[best]++;
  }
  return plateFold;
}

function compoundSplits(samples: readonly Sample[], folds: CompoundFold[]): Split[] {
  const plateFold = dealDmsoPlates(samples, folds);
  return folds.map((fold, k) => {
    const train: number[] = [];
    const test: number[] = [];
    samples.forEach((s, i) => {
      const tested = s.moa === DMSO ? plateFold.get(s.plate) === k : fold.tests(s);
      if (tested) test.push(i);
      else if (!fold.dropsFromTraining(s)) train.push(i);
    });
    return { name: fold.name, train, test };
  });
}

/**
 * Leave-one-compound-out (LOCO): one fold per labelled compound (sorted), testing every field of it, all its
 * concentrations, and training on every field of the other compounds. DMSO (one "compound" of 1,320 fields on
 * every plate, which cannot be left out whole without losing the class) is dealt by plate: a fold tests the DMSO
 * fields of plates its compound was imaged on (see dealDmsoPlates) and trains on the DMSO fields of all other
 * plates. Over the folds every labelled field is tested exactly once. BBBC021: 38 folds.
 */
export function leaveOneCompoundOutFolds(samples: readonly Sample[]): Split[] {
  return compoundSplits(samples, labelledCompounds(samples).map((compound) => ({ name: `loco:${compound}`, tests: (s) => s.compound === compound, dropsFromTraining: () => false })));
}

/**
 * Not-same-compound-or-batch (NSCB, after Ljosa et al. 2013): as LOCO, and training also loses every field of the
 * test fields' batch (BBBC021's batches are the `WeekN` folders), DMSO included. One fold per (compound, week)
 * the compound was imaged in: 37 of BBBC021's 38 compounds sit in one week (one fold each); taxol, the positive
 * control on every plate, is in all ten, and one fold holding out all of it and all ten weeks would train on
 * nothing, so each of its weeks is a fold of its own (tested by a model that saw neither taxol nor that week).
 * DMSO is dealt by plate as in LOCO, so a fold's DMSO fields come from its own week. BBBC021: 47 folds.
 */
export function notSameCompoundOrBatchFolds(samples: readonly Sample[]): Split[] {
  const folds: CompoundFold[] = [];
  for (const compound of labelledCompounds(samples)) {
    const weeks = [...new Set(samples.filter((s) => s.compound === compound && s.moa !== DMSO).map((s) => s.week))].sort(byName);
    for (const week of weeks) {
      folds.push({ name: `nscb:${compound}/${week}`, tests: (s) => s.compound === compound && s.week === week, dropsFromTraining: (s) => s.week === week || s.compound === compound });
    }
  }
  return compoundSplits(samples, folds);
}

/**
 * Grouped compound folds (`--split grouped --folds K`): within each MoA class (sorted) the compounds (sorted) are
 * dealt round-robin over K folds, starting one fold further for each class, so a fold holds out about 1/K of each
 * class's compounds and, for a class with at least two compounds, keeps one in training. DMSO plates (sorted) go
 * to fold (i mod compounds) mod K, the rule of earlier versions, so their recorded held-out folds stay the same.
 * Not leave-one-compound-out: with K above the largest class, folds hold several compounds of different classes
 * or none (BBBC021, K = 38: folds 14-37 hold none), and chooseSplit refuses a fold that holds none.
 */
export function groupedCompoundFolds(samples: readonly Sample[], folds: number): Split[] {
  const compounds = labelledCompounds(samples);
  const byClass = new Map<string, string[]>();
  for (const s of samples) {
    if (s.moa === DMSO) continue;
    const list = byClass.get(s.moa) ?? [];
    if (!list.includes(s.compound)) list.push(s.compound);
    byClass.set(s.moa, list);
  }
  const foldOf = new Map<string, number>();
  [...byClass.keys()].sort().forEach((moa, classIndex) => {
    byClass.get(moa)!.sort().forEach((compound, k) => foldOf.set(compound, (k + classIndex) % folds));
  });
  const dmsoPlates = [...new Set(samples.filter((s) => s.moa === DMSO).map((s) => s.plate))].sort();
  const plateFold = new Map(dmsoPlates.map((plate, i) => [plate, (i % Math.max(1, compounds.length)) % folds]));
  return Array.from({ length: folds }, (_, fold) => {
    const train: number[] = [];
    const test: number[] = [];
    samples.forEach((s, i) => ((s.moa === DMSO ? plateFold.get(s.plate) : foldOf.get(s.compound)) === fold ? test : train).push(i));
    return { name: `grouped:${fold}/${folds}`, train, test };
  });
}

/** Every fold of a protocol, in `--fold` order (random: its one split). */
export function protocolFolds(samples: readonly Sample[], choice: Omit<SplitChoice, 'fold'>): Split[] {
  switch (choice.split) {
    case 'grouped':
      return groupedCompoundFolds(samples, choice.folds);
    case 'loco':
      return leaveOneCompoundOutFolds(samples);
    case 'nscb':
      return notSameCompoundOrBatchFolds(samples);
    case 'random':
      return [randomFieldSplit(samples, 0.2, choice.seed)];
  }
}

/** The labelled compounds a split tests (DMSO aside). */
export function testedCompounds(samples: readonly Sample[], split: Split): string[] {
  return [...new Set(split.test.filter((i) => samples[i].moa !== DMSO).map((i) => samples[i].compound))].sort(byName);
}

/** Throws ConfigError for a fold that does not exist or (grouped) holds out no compound. */
export function checkFold(samples: readonly Sample[], choice: SplitChoice, folds: readonly Split[]): Split {
  const split = folds[choice.fold];
  if (!split) throw new ConfigError(`--fold ${choice.fold} does not exist: --split ${choice.split} has ${folds.length} folds on this data (0..${folds.length - 1}).`);
  if (choice.split === 'grouped' && testedCompounds(samples, split).length === 0) {
    const holding = folds.filter((f) => testedCompounds(samples, f).length > 0).length;
    throw new ConfigError(
      `--split grouped --folds ${choice.folds} --fold ${choice.fold} holds out no compound: the grouped folds deal each class's compounds round-robin, so only ${holding} of the ${choice.folds} folds hold any. For one compound per fold use --split loco (${labelledCompounds(samples).length} folds).`,
    );
  }
  return split;
}

/** The split `--split`/`--folds`/`--fold` choose on these samples; refuses a fold that does not exist or tests no compound. */
export function chooseSplit(samples: readonly Sample[], choice: SplitChoice): Split {
  return checkFold(samples, choice, protocolFolds(samples, choice));
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
