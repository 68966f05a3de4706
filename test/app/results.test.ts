import { describe, expect, it } from 'vitest';
import { aggregateTreatments, score } from '../../src/core/aggregate.ts';
import { treatmentKey } from '../../src/core/metadata.ts';
import { MOA_CLASSES } from '../../src/core/labels.ts';
import { applyResult, isUnlike, pendingRow, runCounts, runScores, treatmentRows, type FieldInfo } from '../../src/app/state/results.ts';
import type { FieldResult } from '../../src/engine/types.ts';

const classes = [...MOA_CLASSES];
const K = classes.length;

function probs(hot: number, p = 0.7): Float32Array {
  const a = new Float32Array(K).fill((1 - p) / (K - 1));
  a[hot] = p;
  return a;
}

function ok(id: string, p: Float32Array): FieldResult {
  let best = 0;
  for (let j = 1; j < K; j++) if (p[j] > p[best]) best = j;
  return {
    id, ok: true, probabilities: p, predicted: best, predictedLabel: classes[best], confidence: p[best],
    top3: [{ index: best, label: classes[best], probability: p[best] }],
    tileProbabilities: p, features: new Float32Array(4), tiles: { fieldHeight: 1, fieldWidth: 1, sourceHeight: 1, sourceWidth: 1, binning: 1, tileHeight: 1, tileWidth: 1, rows: 1, cols: 1, tiles: [{ y: 0, x: 0, validHeight: 1, validWidth: 1 }] },
    timings: { readMs: 0, decodeMs: 0, preprocessMs: 0, inferMs: 0 }, notes: [], warnings: [],
  };
}

const info = (id: string, well: string, compound?: string, concentration?: number, moa?: string): FieldInfo => ({
  id, plate: 'P1', well, site: 1, files: [`${id}.tif`], compound, concentration, moa,
});

describe('result rows', () => {
  it('joins ground truth by class name and marks correctness', () => {
    const r = applyResult(pendingRow(info('a', 'B02', 'taxol', 3, 'Microtubule stabilizers'), classes), ok('a', probs(9)));
    expect(r.label).toBe(9);
    expect(r.correct).toBe(true);
    const wrong = applyResult(pendingRow(info('b', 'B02', 'taxol', 3, 'Microtubule stabilizers'), classes), ok('b', probs(2)));
    expect(wrong.correct).toBe(false);
    const unknown = pendingRow(info('c', 'B03', 'x', 1, 'Not a class'), classes);
    expect(unknown.label).toBeUndefined();
    const failed = applyResult(pendingRow(info('d', 'B04'), classes), { id: 'd', ok: false, stage: 'decode', message: 'd.tif is not a TIFF.' });
    expect(failed).toMatchObject({ status: 'failed', message: 'd.tif is not a TIFF.' });
    expect(runCounts([r, wrong, unknown, failed])).toEqual({ total: 4, ok: 2, failed: 1, pending: 1, unlike: 0 });
  });

  it('aggregates treatments exactly as core aggregateTreatments does, and scores both levels', () => {
    const rows = [
      applyResult(pendingRow(info('1', 'B02', 'taxol', 3, 'Microtubule stabilizers'), classes), ok('1', probs(9, 0.5))),
      applyResult(pendingRow(info('2', 'B03', 'taxol', 3.0, 'Microtubule stabilizers'), classes), ok('2', probs(2, 0.4))),
      applyResult(pendingRow(info('3', 'C02', 'taxol', 0.3, 'Microtubule stabilizers'), classes), ok('3', probs(2, 0.9))),
      applyResult(pendingRow(info('4', 'D02', 'DMSO', 0, 'DMSO'), classes), ok('4', probs(12))),
      applyResult(pendingRow(info('5', 'E02'), classes), ok('5', probs(0))), // no metadata: no treatment
      applyResult(pendingRow(info('6', 'E03', 'DMSO', 0, 'DMSO'), classes), { id: '6', ok: false, stage: 'read', message: 'x' }),
    ];
    const t = treatmentRows(rows, classes);
    const expected = aggregateTreatments(
      rows.slice(0, 4).map((r) => ({ treatment: treatmentKey(r.compound!, r.concentration!), probabilities: r.probabilities!, label: r.label })),
    );
    expect(t.map((x) => x.key)).toEqual(expected.map((x) => x.treatment));
    expect(t.map((x) => x.predicted)).toEqual(expected.map((x) => x.predicted));
    const taxol3 = t.find((x) => x.key === 'taxol@3')!;
    expect(taxol3.fields).toBe(2);
    expect(taxol3.wells).toEqual(['P1/B02', 'P1/B03']);
    expect(taxol3.probabilities[9]).toBeCloseTo((0.5 + 0.6 / 12) / 2, 6);
    expect(taxol3.predictedLabel).toBe('Microtubule stabilizers');
    expect(taxol3.correct).toBe(true);
    expect(t.find((x) => x.key === 'taxol@0.3')!.correct).toBe(false);

    const s = runScores(rows, t, K);
    expect(s.fields).toEqual(score(rows.filter((r) => r.status === 'ok').map((r) => ({ predicted: r.predicted!, label: r.label })), K));
    expect(s.fields.n).toBe(4);
    expect(s.fields.correct).toBe(2);
    expect(s.treatments.n).toBe(3);
    expect(s.treatments.correct).toBe(2);
    expect(s.treatments.confusion[9][2]).toBe(1);
    expect(s.setApart).toEqual({ fields: 0, labelledFields: 0, treatments: 0, labelledTreatments: 0 });
  });

  it('sets fields unlike the training data apart: no share in treatment calls or accuracy, counted', () => {
    const unlike = (id: string, p: Float32Array): FieldResult => ({ ...(ok(id, p) as Extract<FieldResult, { ok: true }>), ood: { score: 9, threshold: 2, unlike: true } });
    const like = (id: string, p: Float32Array): FieldResult => ({ ...(ok(id, p) as Extract<FieldResult, { ok: true }>), ood: { score: 1, threshold: 2, unlike: false } });
    const rows = [
      applyResult(pendingRow(info('1', 'B02', 'taxol', 3, 'Microtubule stabilizers'), classes), like('1', probs(9, 0.5))),
      applyResult(pendingRow(info('2', 'B03', 'taxol', 3, 'Microtubule stabilizers'), classes), unlike('2', probs(2, 0.99))),
      applyResult(pendingRow(info('3', 'C02', 'taxol', 0.3, 'Microtubule stabilizers'), classes), unlike('3', probs(2, 0.9))),
      applyResult(pendingRow(info('4', 'E02'), classes), unlike('4', probs(0))),
    ];
    expect(rows.map(isUnlike)).toEqual([false, true, true, true]);
    expect(rows[1].ood).toEqual({ score: 9, threshold: 2, unlike: true });
    const t = treatmentRows(rows, classes);
    // taxol@3 is called from field 1 alone (the confident wrong field 2 is set apart); taxol@0.3 has no field left: no call.
    expect(t.map((x) => x.key)).toEqual(['taxol@3']);
    expect(t[0]).toMatchObject({ fields: 1, setApart: 1, predicted: 9, correct: true, wells: ['P1/B02'] });
    const s = runScores(rows, t, K);
    expect(s.fields.n).toBe(1);
    expect(s.treatments.n).toBe(1);
    expect(s.setApart).toEqual({ fields: 3, labelledFields: 2, treatments: 1, labelledTreatments: 1 });
    expect(runCounts(rows)).toMatchObject({ ok: 4, unlike: 3 });
  });
});
