// train:cv's pieces in process: its argument rules, the Wilson interval, and the pooling of folds into one report.
import { describe, expect, it } from 'vitest';
import { DMSO, MOA_CLASSES } from '../../src/core/labels.ts';
import { parseCvArgs, parseFoldList } from '../../training/src/cv/args.ts';
import { cvReportMarkdown, poolFolds, wilsonInterval, type FoldOutcome, type HeldOutField } from '../../training/src/cv/report.ts';

const classes = MOA_CLASSES;
const dmso = classes.indexOf(DMSO);
const one = (k: number) => classes.map((_, j) => (j === k ? 0.9 : 0.1 / (classes.length - 1)));
const field = (id: string, treatment: string, label: number, probabilities: number[]): HeldOutField => ({ id, treatment, label, predicted: probabilities.indexOf(Math.max(...probabilities)), probabilities });
const fold = (index: number, fields: HeldOutField[], absent: number[] = []): FoldOutcome => ({ index, name: `f${index}`, heldOutCompounds: [`c${index}`], classesAbsentFromTraining: absent, fields, steps: 10, trainSeconds: 5, wallSeconds: 7 });

describe('wilsonInterval', () => {
  it('gives the textbook 95% Wilson intervals', () => {
    const [lo, hi] = wilsonInterval(5, 10);
    expect(lo).toBeCloseTo(0.2366, 4);
    expect(hi).toBeCloseTo(0.7634, 4);
    expect(wilsonInterval(0, 10)[0]).toBe(0);
    expect(wilsonInterval(0, 10)[1]).toBeCloseTo(0.2775, 4);
    expect(wilsonInterval(10, 10)[0]).toBeCloseTo(0.7225, 4);
    expect(wilsonInterval(0, 0)).toEqual([0, 1]);
  });
});

describe('poolFolds', () => {
  it('pools fields once each, averages a treatment tested by two folds, keeps DMSO out of the treatment count', () => {
    // Fold 0: treatment A@1 (class 0) right twice; B@1 (class 1) wrong; a DMSO field right.
    // Fold 1: treatment T@0.3 (class 2) is tested by both folds: wrong-ish here (0.6 for class 3) ...
    const f0 = fold(0, [field('a1', 'A@1', 0, one(0)), field('a2', 'A@1', 0, one(0)), field('b1', 'B@1', 1, one(4)), field('d1', 'DMSO@0', dmso, one(dmso)), field('t1', 'T@0.3', 2, one(2))]);
    const f1 = fold(1, [field('t2', 'T@0.3', 2, classes.map((_, j) => (j === 3 ? 0.6 : j === 2 ? 0.3 : 0.1 / 11))), field('d2', 'DMSO@0', dmso, one(0)), field('c1', 'C@2', 5, one(5))], [5]);
    const r = poolFolds([f0, f1], { classes, protocol: 'p', method: 'm', foldsTotal: 3 });
    expect(r.allFields).toMatchObject({ n: 8, correct: 5 }); // a1 a2 d1 t1 c1
    expect(r.labelledFields).toMatchObject({ n: 6, correct: 4 });
    expect(r.dmsoFields).toMatchObject({ n: 2, correct: 1 });
    // T@0.3: mean of 0.9 and 0.3 for class 2 = 0.6 against (0.1/12 + 0.6) / 2 for class 3: right once pooled.
    expect(r.treatments).toMatchObject({ n: 4, correct: 3 }); // A right, B wrong, T right, C right
    // C@2 was tested by a fold with no training field of its class: left out of the class-trained count.
    expect(r.treatmentsClassTrained).toMatchObject({ n: 3, correct: 2 });
    expect(r.treatmentConfusion[1][4]).toBe(1);
    expect(r.fieldConfusion[dmso][0]).toBe(1);
    expect(r.perClass.find((c) => c.moa === DMSO)).toMatchObject({ compounds: 1, treatments: { n: 0 }, fields: { n: 2, correct: 1 } });
    expect(r.perClass.find((c) => c.moa === classes[0])).toMatchObject({ compounds: 1, treatments: { n: 1, correct: 1 }, fields: { n: 2, correct: 2 } });
    expect(r.perFold.map((f) => [f.fields.n, f.treatments.n])).toEqual([[5, 3], [3, 2]]);
    const md = cvReportMarkdown(r);
    expect(md).toContain('**Partial sweep: 2 of 3 folds**');
    expect(md).toContain('| m | p | 4 | 75.0% |');
    expect(md).toContain('| treatments whose class had a training compound in their fold | 2/3 |');
    expect(md).toContain('| all | | 8 | 62.5% | 4 | 75.0% | 20 | 0m10s | 0m14s |');
  });
});

describe('train:cv arguments', () => {
  const tail = ['--', '--data', '/d', '--out', '/o', '--epochs', '2'];
  it('splits its own flags, the launcher flags and the trainer flags (less --out)', () => {
    expect(parseCvArgs(['--split', 'nscb', '--np', '2', '--mca', 'btl', 'tcp,self', '--max-folds', '3', ...tail])).toMatchObject({
      split: 'nscb', maxFolds: 3, launcher: ['--np', '2', '--mca', 'btl', 'tcp,self'], out: '/o', data: '/d', trainerArgs: ['--data', '/d', '--epochs', '2'],
    });
    expect(parseCvArgs(['--split=grouped', '--folds', '3', '--folds-subset', '2,0', ...tail])).toMatchObject({ split: 'grouped', folds: 3, subset: [0, 2] });
    expect(parseFoldList('0, 3,5-7,3')).toEqual([0, 3, 5, 6, 7]);
  });
  it.each([
    [['--split', 'random', ...tail], /--split must be one of loco, nscb, grouped/],
    [[...tail], /--split loco\|nscb\|grouped is required/],
    [['--split', 'loco', '--folds', '5', ...tail], /--folds is for --split grouped; --split loco has one fold per compound/],
    [['--split', 'loco', ...tail, '--fold', '3'], /--fold is set by train:cv for each fold/],
    [['--split', 'loco', ...tail, '--resume'], /--resume is set by train:cv/],
    [['--split', 'loco', '--', '--data', '/d'], /--out <sweep dir> is required/],
    [['--split', 'loco', '--max-folds', '2', '--folds-subset', '1', ...tail], /not both/],
    [['--split', 'loco', '--folds-subset', '3-1', ...tail], /runs backwards/],
    [['--split', 'loco', '--epochs', '3', ...tail], /Unknown train:cv flag --epochs; trainer flags go after "--"/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCvArgs(argv as string[])).toThrow(message);
  });
});
