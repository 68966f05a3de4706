import { describe, expect, it } from 'vitest';
import { inferFormat, layoutPlate, parseWell, platesFromFields, rowLabel, wellName } from '../../src/app/state/plate-layout.ts';

describe('well names', () => {
  it('parses the usual spellings and rejects others', () => {
    expect(parseWell('B02')).toEqual({ row: 1, col: 1 });
    expect(parseWell('b2')).toEqual({ row: 1, col: 1 });
    expect(parseWell('P24')).toEqual({ row: 15, col: 23 });
    expect(parseWell('AF48')).toEqual({ row: 31, col: 47 });
    expect(parseWell('A00')).toBeNull();
    expect(parseWell('well 3')).toBeNull();
    expect(parseWell('')).toBeNull();
    expect(wellName({ row: 27, col: 8 })).toBe('AB09');
    expect(rowLabel(0)).toBe('A');
    expect(rowLabel(26)).toBe('AA');
  });

  it('infers 96, 384 or 1536 wells from the wells present', () => {
    expect(inferFormat([{ row: 7, col: 11 }])?.wells).toBe(96);
    expect(inferFormat([{ row: 8, col: 0 }])?.wells).toBe(384);
    expect(inferFormat([{ row: 0, col: 12 }])?.wells).toBe(384);
    expect(inferFormat([{ row: 15, col: 23 }])?.wells).toBe(384);
    expect(inferFormat([{ row: 16, col: 0 }])?.wells).toBe(1536);
    expect(inferFormat([])?.wells).toBe(96);
  });
});

describe('layoutPlate', () => {
  it('places wells row-major on the inferred grid and lists names it cannot place', () => {
    const s = (well: string) => ({ well, predicted: 1, confidence: 0.5, fields: 1, failed: 0, setApart: 0 });
    const map = layoutPlate('P1', [s('B3'), s('H12'), s('junk')]);
    expect(map.format.wells).toBe(96);
    expect(map.cells).toHaveLength(96);
    expect(map.rowLabels.join('')).toBe('ABCDEFGH');
    expect(map.colLabels[11]).toBe('12');
    expect(map.cells[1 * 12 + 2].summary?.well).toBe('B3');
    expect(map.cells[1 * 12 + 2].well).toBe('B03');
    expect(map.cells[95].summary?.well).toBe('H12');
    expect(map.cells.filter((c) => c.summary).length).toBe(2);
    expect(map.unplaced).toEqual(['junk']);
    expect(layoutPlate('P2', [s('I1')]).format.wells).toBe(384);
  });
});

describe('platesFromFields', () => {
  it('averages fields per well, counts failures, one map per plate in natural order', () => {
    const maps = platesFromFields([
      { plate: 'Week1_10', well: 'B02', status: 'ok', probabilities: [0.6, 0.4, 0], label: 1, compound: 'taxol', concentration: 1 },
      { plate: 'Week1_10', well: 'B2', status: 'ok', probabilities: [0.1, 0.9, 0] },
      { plate: 'Week1_10', well: 'B02', status: 'failed' },
      { plate: 'Week1_2', well: 'C05', status: 'failed' },
    ]);
    expect(maps.map((m) => m.plate)).toEqual(['Week1_2', 'Week1_10']);
    const b02 = maps[1].cells.find((c) => c.well === 'B02')!.summary!;
    expect(b02.predicted).toBe(1);
    expect(b02.confidence).toBeCloseTo(0.65, 6);
    expect(b02.fields).toBe(3);
    expect(b02.failed).toBe(1);
    expect(b02.label).toBe(1);
    expect(b02.compound).toBe('taxol');
    const c05 = maps[0].cells.find((c) => c.well === 'C05')!.summary!;
    expect(c05.predicted).toBe(-1);
  });

  it('leaves fields unlike the training data out of the well, as out of the treatment calls, and counts them', () => {
    const [map] = platesFromFields([
      { plate: 'P', well: 'A01', status: 'ok', probabilities: [0.9, 0.1], ood: { unlike: true } },
      { plate: 'P', well: 'A01', status: 'ok', probabilities: [0.3, 0.7], ood: { unlike: false } },
      { plate: 'P', well: 'A02', status: 'ok', probabilities: [0.9, 0.1], ood: { unlike: true } },
    ]);
    const a01 = map.cells.find((c) => c.well === 'A01')!.summary!;
    expect(a01).toMatchObject({ predicted: 1, fields: 2, setApart: 1 });
    expect(a01.confidence).toBeCloseTo(0.7, 6);
    const a02 = map.cells.find((c) => c.well === 'A02')!.summary!;
    expect(a02).toMatchObject({ predicted: -1, fields: 1, failed: 0, setApart: 1 });
  });
});
