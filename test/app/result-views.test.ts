import { describe, expect, it } from 'vitest';
import { viewFields, viewTreatments, NO_FILTER } from '../../src/app/state/result-views.ts';
import { compareValues, matchesQuery, sortRows, toggleSort } from '../../src/app/state/table.ts';
import type { FieldRow, TreatmentRow } from '../../src/app/state/results.ts';

const row = (p: Partial<FieldRow>): FieldRow => ({ id: p.well ?? 'x', plate: 'P1', well: 'A01', site: 1, files: [], status: 'ok', ...p });

describe('table helpers', () => {
  it('compares naturally with missing values last', () => {
    expect(compareValues('B2', 'B10')).toBeLessThan(0);
    expect(compareValues(2, 10)).toBeLessThan(0);
    expect(compareValues(undefined, 1)).toBeGreaterThan(0);
    expect(compareValues(NaN, 'a')).toBeGreaterThan(0);
  });

  it('sorts stably both ways, keeping missing values last', () => {
    const rows = [{ v: 2, n: 'a' }, { v: undefined, n: 'b' }, { v: 1, n: 'c' }, { v: 2, n: 'd' }];
    const get = (r: (typeof rows)[number], k: 'v' | 'n') => r[k];
    expect(sortRows(rows, { key: 'v', direction: 'asc' }, get).map((r) => r.n).join('')).toBe('cadb');
    expect(sortRows(rows, { key: 'v', direction: 'desc' }, get).map((r) => r.n).join('')).toBe('adcb');
    expect(toggleSort({ key: 'v', direction: 'asc' }, 'v')).toEqual({ key: 'v', direction: 'desc' });
    expect(toggleSort({ key: 'v', direction: 'desc' }, 'n')).toEqual({ key: 'n', direction: 'asc' });
  });

  it('matches every term of a query anywhere', () => {
    expect(matchesQuery('taxol b02', ['P1', 'B02', 'Taxol'])).toBe(true);
    expect(matchesQuery('taxol c02', ['P1', 'B02', 'Taxol'])).toBe(false);
    expect(matchesQuery('  ', [])).toBe(true);
  });
});

describe('viewFields', () => {
  const rows = [
    row({ well: 'B10', predicted: 1, predictedLabel: 'Aurora kinase inhibitors', confidence: 0.9, correct: true, compound: 'AZ-A' }),
    row({ well: 'B2', predicted: 2, predictedLabel: 'Cholesterol-lowering', confidence: 0.4, correct: false, compound: 'mevinolin/lovastatin' }),
    row({ well: 'C1', status: 'failed', message: 'C1_w2.tif is truncated.' }),
    row({ well: 'A5', predicted: 1, predictedLabel: 'Aurora kinase inhibitors', confidence: 0.6 }),
  ];

  it('sorts wells naturally with ties by plate/well/site', () => {
    expect(viewFields(rows, NO_FILTER, { key: 'well', direction: 'asc' }).map((r) => r.well)).toEqual(['A5', 'B2', 'B10', 'C1']);
    expect(viewFields(rows, NO_FILTER, { key: 'confidence', direction: 'desc' }).map((r) => r.well)).toEqual(['B10', 'A5', 'B2', 'C1']);
  });

  it('filters by class, outcome and text', () => {
    const s = { key: 'well', direction: 'asc' } as const;
    expect(viewFields(rows, { ...NO_FILTER, predicted: 1 }, s).map((r) => r.well)).toEqual(['A5', 'B10']);
    expect(viewFields(rows, { ...NO_FILTER, outcome: 'wrong' }, s).map((r) => r.well)).toEqual(['B2']);
    expect(viewFields(rows, { ...NO_FILTER, outcome: 'correct' }, s).map((r) => r.well)).toEqual(['B10']);
    expect(viewFields(rows, { ...NO_FILTER, outcome: 'failed' }, s).map((r) => r.well)).toEqual(['C1']);
    expect(viewFields(rows, { ...NO_FILTER, query: 'truncated' }, s).map((r) => r.well)).toEqual(['C1']);
    expect(viewFields(rows, { ...NO_FILTER, query: 'lovastatin' }, s).map((r) => r.well)).toEqual(['B2']);
  });
});

describe('viewTreatments', () => {
  const t = (compound: string, concentration: number, predicted: number, label?: number): TreatmentRow => ({
    key: `${compound}@${concentration}`, compound, concentration, fields: 4, setApart: 0, probabilities: new Float32Array(3), predicted,
    predictedLabel: ['a', 'b', 'c'][predicted], confidence: 0.5, label, correct: label === undefined ? undefined : label === predicted, wells: ['P1/B02'],
  });
  it('sorts by compound then concentration as numbers, filters by truth text', () => {
    const rows = [t('taxol', 10, 0, 0), t('taxol', 3, 1, 0), t('ALLN', 1, 2)];
    expect(viewTreatments(rows, NO_FILTER, { key: 'compound', direction: 'asc' }, ['a', 'b', 'c']).map((r) => r.key)).toEqual(['ALLN@1', 'taxol@3', 'taxol@10']);
    expect(viewTreatments(rows, { ...NO_FILTER, outcome: 'wrong' }, { key: 'compound', direction: 'asc' }, ['a', 'b', 'c']).map((r) => r.key)).toEqual(['taxol@3']);
  });
});
