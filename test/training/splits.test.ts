// The evaluation protocols on the real BBBC021 metadata (vendored CSVs, no pixels needed): loco, nscb, grouped.
import { beforeAll, describe, expect, it } from 'vitest';
import { DMSO } from '../../src/core/labels.ts';
import { treatmentKey } from '../../src/core/metadata.ts';
import { chooseSplit, labelledCompounds, loadDatasetIndex, protocolFolds, testedCompounds, type Sample, type Split } from '../../training/src/data/index.ts';
import { BBBC021_METADATA_DIR } from '../fixtures/paths.ts';

let samples: Sample[];
beforeAll(async () => {
  samples = (await loadDatasetIndex(BBBC021_METADATA_DIR, { checkFiles: false })).samples;
});

const computed = new Map<string, Split[]>();
const folds = (split: 'loco' | 'nscb' | 'grouped', k = 5) => {
  const key = `${split}:${k}`;
  if (!computed.has(key)) computed.set(key, protocolFolds(samples, { split, folds: k, seed: 1 }));
  return computed.get(key)!;
};
const labelled = () => samples.map((s, i) => i).filter((i) => samples[i].moa !== DMSO);

/** Every field tested exactly once over the folds, never in its own fold's training set. */
function expectEachFieldTestedOnce(all: Split[]) {
  const tested = new Array<number>(samples.length).fill(0);
  for (const fold of all) {
    const train = new Set(fold.train);
    expect(fold.test.some((i) => train.has(i)), fold.name).toBe(false);
    for (const i of fold.test) tested[i]++;
  }
  expect(tested.every((t) => t === 1)).toBe(true);
}

describe('the real metadata', () => {
  it('has the 3,848 labelled fields of 38 compounds and 103 treatments (+ DMSO)', () => {
    expect(samples).toHaveLength(3848);
    expect(labelledCompounds(samples)).toHaveLength(38);
    expect(new Set(labelled().map((i) => treatmentKey(samples[i].compound, samples[i].concentration))).size).toBe(103);
  });
});

describe('--split loco', () => {
  it('has 38 folds, each holding out exactly one compound, all its concentrations, absent from its training set', () => {
    const all = folds('loco');
    expect(all).toHaveLength(38);
    for (const fold of all) {
      const [compound, ...others] = testedCompounds(samples, fold);
      expect(others, fold.name).toEqual([]);
      expect(fold.name).toBe(`loco:${compound}`);
      const ofCompound = samples.flatMap((s, i) => (s.compound === compound ? [i] : []));
      expect(fold.test.filter((i) => samples[i].moa !== DMSO)).toEqual(ofCompound);
      expect(fold.train.some((i) => samples[i].compound === compound)).toBe(false);
      expect(fold.train.length + fold.test.length).toBe(samples.length); // LOCO drops nothing else
    }
  });

  it('holds out every labelled treatment exactly once, and every field (DMSO too) exactly once', () => {
    const all = folds('loco');
    const heldOut = new Map<string, number>();
    for (const fold of all) {
      for (const t of new Set(fold.test.filter((i) => samples[i].moa !== DMSO).map((i) => treatmentKey(samples[i].compound, samples[i].concentration)))) heldOut.set(t, (heldOut.get(t) ?? 0) + 1);
    }
    expect(heldOut.size).toBe(103);
    expect([...heldOut.values()].every((n) => n === 1)).toBe(true);
    expectEachFieldTestedOnce(all);
  });

  it('tests DMSO fields of the held-out compound\'s own plates, and trains on no DMSO field of those plates', () => {
    const all = folds('loco');
    let foldsWithDmso = 0;
    for (const fold of all) {
      const compoundPlates = new Set(fold.test.filter((i) => samples[i].moa !== DMSO).map((i) => samples[i].plate));
      const dmsoPlates = new Set(fold.test.filter((i) => samples[i].moa === DMSO).map((i) => samples[i].plate));
      for (const plate of dmsoPlates) expect(compoundPlates.has(plate), `${fold.name}: ${plate}`).toBe(true);
      expect(fold.train.some((i) => samples[i].moa === DMSO && dmsoPlates.has(samples[i].plate))).toBe(false);
      if (dmsoPlates.size) foldsWithDmso++;
    }
    // 35 is the most plate-matched dealing can reach on BBBC021 (a maximum matching of compounds to their plates:
    // three compounds share all their plates with others), and the dealing reaches it.
    expect(foldsWithDmso).toBe(35);
  });
});

describe('--split nscb', () => {
  it('never trains on a field of the test compound nor of the test fields\' week (batch)', () => {
    const all = folds('nscb');
    for (const fold of all) {
      const [compound, ...others] = testedCompounds(samples, fold);
      expect(others).toEqual([]);
      const weeks = new Set(fold.test.map((i) => samples[i].week));
      expect(weeks.size, fold.name).toBe(1); // DMSO comes from the test week too
      expect(fold.name).toBe(`nscb:${compound}/${[...weeks][0]}`);
      expect(fold.train.some((i) => weeks.has(samples[i].week) || samples[i].compound === compound)).toBe(false);
      expect(fold.train.length).toBeGreaterThan(0);
    }
    expectEachFieldTestedOnce(all);
  });

  it('is loco with the week removed: one fold per compound, taxol (on every plate) one per week', () => {
    const all = folds('nscb');
    const taxol = all.filter((f) => f.name.startsWith('nscb:taxol/'));
    expect(taxol).toHaveLength(10);
    expect(all).toHaveLength(37 + 10);
    const loco = new Map(folds('loco').map((f) => [f.name.slice('loco:'.length), f]));
    for (const fold of all.filter((f) => !f.name.startsWith('nscb:taxol/'))) {
      const compound = testedCompounds(samples, fold)[0];
      const locoFold = loco.get(compound)!;
      const week = samples[fold.test[0]].week;
      expect(fold.test.filter((i) => samples[i].moa !== DMSO)).toEqual(locoFold.test.filter((i) => samples[i].moa !== DMSO));
      expect(fold.train).toEqual(locoFold.train.filter((i) => samples[i].week !== week));
    }
  });

  it('leaves two classes without a training compound: the 92 treatments of the published NSCB', () => {
    const unlearnable = new Set<string>();
    for (const fold of folds('nscb')) {
      const trained = new Set(fold.train.map((i) => samples[i].moa));
      for (const i of fold.test) if (!trained.has(samples[i].moa)) unlearnable.add(treatmentKey(samples[i].compound, samples[i].concentration));
    }
    const classes = new Set(samples.filter((s) => unlearnable.has(treatmentKey(s.compound, s.concentration))).map((s) => s.moa));
    expect([...classes].sort()).toEqual(['Cholesterol-lowering', 'Kinase inhibitors']);
    expect(103 - unlearnable.size).toBe(92);
  });
});

describe('--split grouped', () => {
  it('deals compounds round-robin: K folds partition the compounds and every field is tested once', () => {
    for (const k of [2, 3, 5]) {
      const all = folds('grouped', k);
      expect(all.map((f) => f.name)).toEqual(Array.from({ length: k }, (_, i) => `grouped:${i}/${k}`));
      expect(all.flatMap((f) => testedCompounds(samples, f)).sort()).toEqual(labelledCompounds(samples).slice().sort());
      expectEachFieldTestedOnce(all);
    }
  });

  it('with --folds 38 is not leave-one-compound-out: folds holding no compound are refused by name', () => {
    const all = folds('grouped', 38);
    const holding = all.filter((f) => testedCompounds(samples, f).length > 0);
    expect(holding.length).toBeLessThan(38);
    expect(Math.max(...all.map((f) => testedCompounds(samples, f).length))).toBeGreaterThan(1);
    const empty = all.findIndex((f) => testedCompounds(samples, f).length === 0);
    expect(() => chooseSplit(samples, { split: 'grouped', folds: 38, fold: empty, seed: 1 })).toThrow(
      new RegExp(`--split grouped --folds 38 --fold ${empty} holds out no compound.*only ${holding.length} of the 38 folds hold any.*--split loco \\(38 folds\\)`),
    );
    expect(chooseSplit(samples, { split: 'grouped', folds: 38, fold: 0, seed: 1 }).name).toBe('grouped:0/38');
  });
});

describe('chooseSplit', () => {
  it('refuses a fold the protocol does not have, naming how many it has', () => {
    expect(() => chooseSplit(samples, { split: 'loco', folds: 5, fold: 38, seed: 1 })).toThrow(/--fold 38 does not exist: --split loco has 38 folds on this data \(0\.\.37\)/);
    expect(chooseSplit(samples, { split: 'nscb', folds: 5, fold: 46, seed: 1 }).name).toMatch(/^nscb:/);
    expect(chooseSplit(samples, { split: 'random', folds: 5, fold: 0, seed: 1 }).name).toBe('random:0.2');
  });
});
