import { describe, expect, it } from 'vitest';
import { adaptation, adaptationProblem, annotationsCsv, classesOf, combinedAnnotations, fitHead, labelledFields, parseAnnotations, runCompounds, singleCompoundClasses } from '../../src/app/state/adapt.ts';
import type { FieldRow } from '../../src/app/state/results.ts';
import { argmax } from '../../src/core/aggregate.ts';
import { headProbabilities } from '../../src/core/logistic-head.ts';
import { parseCsv } from '../../src/core/metadata.ts';
import { Rng } from '../../training/src/util/prng.ts';

const rng = new Rng(9);
const centres = [0, 1, 2].map(() => Array.from({ length: 12 }, () => Math.max(0, rng.normal() + 1)));
const row = (plate: string, well: string, compound: string, kind: number, moa?: string): FieldRow => ({
  id: `${plate}/${well}/${compound}`, plate, well, site: 1, files: [], compound, concentration: 1, moa, status: 'ok',
  features: Float32Array.from(centres[kind], (v) => Math.max(0, v + 0.15 * rng.normal())),
});
const rows: FieldRow[] = [];
['a1', 'a2', 'a3'].forEach((c, i) => [0, 1].forEach((s) => rows.push(row('P1', `B0${i}${s}`, c, 0, 'Actin disruptors'))));
['m1', 'm2', 'm3'].forEach((c, i) => [0, 1].forEach((s) => rows.push(row('P1', `C0${i}${s}`, c, 1, 'my own class'))));
['DMSO'].forEach((c) => [0, 1, 2, 3].forEach((s) => rows.push(row(s < 2 ? 'P1' : 'P2', `G1${s}`, c, 2, 'DMSO'))));
rows.push({ ...row('P1', 'H01', 'failed', 0), status: 'failed', features: undefined });

describe('adapt to this plate', () => {
  it('reads annotation CSVs by compound or well, and names the file and row of a bad one', () => {
    expect(parseAnnotations('Plate,Well,MoA\r\nP1,b02,Actin disruptors\r\n,G10,DMSO\r\n', 'labels.csv')).toEqual([
      { plate: 'P1', well: 'B02', moa: 'Actin disruptors' },
      { well: 'G10', moa: 'DMSO' },
    ]);
    expect(parseAnnotations('compound,moa\ntaxol,Microtubule stabilizers\n', 'c.csv')).toEqual([{ compound: 'taxol', moa: 'Microtubule stabilizers' }]);
    expect(() => parseAnnotations('compound,class\nx,y\n', 'bad.csv')).toThrow(/bad\.csv: the header must name a "moa" column/);
    expect(() => parseAnnotations('compound,moa\nx,\n', 'bad.csv')).toThrow(/bad\.csv row 2: no MoA/);
    expect(() => parseAnnotations('plate,well,moa\nP1,,DMSO\n', 'bad.csv')).toThrow(/bad\.csv row 2: neither a well nor a compound/);
  });

  it('labels fields by well before compound, keeps BBBC021 classes in canonical order before the user own', () => {
    expect(classesOf(['zeta', 'DMSO', 'Actin disruptors', 'alpha'])).toEqual(['Actin disruptors', 'DMSO', 'alpha', 'zeta']);
    const marks = new Map([['a1', 'Actin disruptors'], ['m1', 'my own class'], ['a2', '']]);
    const annotations = combinedAnnotations([{ plate: 'P1', well: 'B000', moa: 'DMSO' }], marks);
    const labelled = labelledFields(rows, annotations);
    expect(labelled.classes).toEqual(['Actin disruptors', 'DMSO', 'my own class']);
    // a1 has 2 fields (one relabelled DMSO by its well), m1 2: the failed field and unmarked compounds are out.
    expect(labelled.examples.map((e) => [e.compound, labelled.classes[e.label]])).toEqual([
      ['a1', 'DMSO'],
      ['a1', 'Actin disruptors'],
      ['m1', 'my own class'],
      ['m1', 'my own class'],
    ]);
    expect(runCompounds(rows).map((c) => [c.compound, c.fields, c.truth])).toContainEqual(['DMSO', 4, 'DMSO']);
    expect(adaptationProblem(labelledFields(rows, [{ compound: 'a1', moa: 'x' }]))).toMatch(/one class/);
    expect(adaptationProblem(labelledFields(rows, []))).toMatch(/No classified field/);
  });

  it('fits a head on the labels, validates it leaving each compound out, and records the label table it used', async () => {
    const annotations = combinedAnnotations([], new Map(runCompounds(rows).map((c) => [c.compound, c.truth ?? ''])));
    const labelled = labelledFields(rows, annotations);
    const fitted = fitHead(labelled);
    expect(fitted.classes).toEqual(['Actin disruptors', 'DMSO', 'my own class']);
    expect(fitted.validation.compounds).toBe(7);
    expect(fitted.validation.folds).toBe(7); // up to MAX_COMPOUND_FOLDS compounds: one compound a fold
    expect(singleCompoundClasses(labelled)).toEqual(['DMSO']);
    expect(fitted.validation.treatments.correct).toBeGreaterThanOrEqual(6); // DMSO, alone in its class, cannot be left out and found
    for (const e of labelled.examples) expect(argmax(headProbabilities(fitted.head, e.features))).toBe(e.label);
    const a = await adaptation(fitted, annotations, 'marked in the app', 'mcnn-sim-v1', new Date('2026-11-28T12:34:56Z'));
    expect(a.name).toBe('mcnn-sim-v1-adapted-20261128123456');
    expect(a.labels.fields).toBe(16);
    expect(parseCsv(annotationsCsv(annotations))).toHaveLength(8);
    expect(a.labels.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
