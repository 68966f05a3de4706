import { describe, expect, it } from 'vitest';
import { csvCell } from '../../src/core/csv.ts';
import { exportName, fieldsCsv, runJson, treatmentsCsv, type ModelRef } from '../../src/app/state/export.ts';
import { planRun, readMetadata, remap } from '../../src/app/state/intake.ts';
import type { FieldRow, TreatmentRow } from '../../src/app/state/results.ts';
import { score } from '../../src/core/aggregate.ts';

const classes = ['Actin disruptors', 'DNA damage', 'DMSO'];
const model: ModelRef = { name: 'mcnn sim/v1', hash: 'ab'.repeat(32), trained: true };

/** Minimal RFC 4180 parser for checking what a spreadsheet would read. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(cell), (cell = '');
    else if (ch === '\r' && text[i + 1] === '\n') row.push(cell), rows.push(row), (row = []), (cell = ''), i++;
    else cell += ch;
  }
  return rows;
}

const fields: FieldRow[] = [
  {
    id: '1', plate: 'Week1_22123', well: 'B02', site: 1, files: ['a/B02_s1_w1.tif', 'a/B02_s1_w2.tif'], compound: 'mevinolin, "lovastatin"', concentration: 0.3,
    moa: 'DNA damage', label: 1, status: 'ok', predicted: 1, predictedLabel: 'DNA damage', confidence: 0.61234567, correct: true,
    probabilities: Float32Array.from([0.2, 0.61234567, 0.18765433]),
    ood: { score: 3.14159265, threshold: 2.5, unlike: true },
    warnings: ['"a/B02_s1_w2.tif", used as Tubulin, is blank (every pixel is 0): the prediction does not rest on a real Tubulin image.', 'a/B02_s1_w1.tif states 1.3 um per pixel; the model was trained at 0.32 um (4.06x larger).'],
    notes: ['a/B02_s1_w1.tif: Page 0 stores dark as high values (WhiteIsZero); values were inverted.'],
    top3: [{ index: 1, label: 'DNA damage', probability: 0.61234567 }, { index: 0, label: 'Actin disruptors', probability: 0.2 }, { index: 2, label: 'DMSO', probability: 0.18765433 }],
  },
  { id: '2', plate: 'Week1_22123', well: 'B03', site: 2, files: ['=cmd.tif'], status: 'failed', message: 'B03_s2_w4.tif is missing, line\nbreak' },
];
const treatments: TreatmentRow[] = [
  { key: 'x@0.3', compound: 'mevinolin, "lovastatin"', concentration: 0.3, fields: 1, setApart: 2, probabilities: Float32Array.from([0.2, 0.6, 0.2]), predicted: 1, predictedLabel: 'DNA damage', confidence: 0.6, label: 1, correct: true, wells: ['Week1_22123/B02'] },
];

describe('CSV cells', () => {
  it('quotes separators and defuses formulas', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('=SUM(A1)')).toBe("'=SUM(A1)");
    expect(csvCell(-1.5)).toBe('-1.5');
    expect(csvCell(undefined)).toBe('');
    expect(csvCell(NaN)).toBe('');
  });
});

describe('fieldsCsv', () => {
  it('writes one row per field with the model name and hash, readable back cell for cell', () => {
    const rows = parseCsv(fieldsCsv(fields, classes, model));
    expect(rows).toHaveLength(3);
    const [h, a, b] = rows;
    const col = (r: string[], name: string) => r[h.indexOf(name)];
    expect(h.slice(0, 3)).toEqual(['plate', 'well', 'site']);
    expect(h).toContain('p_Actin disruptors');
    expect(col(a, 'compound')).toBe('mevinolin, "lovastatin"');
    expect(col(a, 'predicted_moa')).toBe('DNA damage');
    expect(col(a, 'confidence')).toBe('0.612346');
    expect(col(a, 'top2_moa')).toBe('Actin disruptors');
    expect(col(a, 'correct')).toBe('1');
    expect(Number(col(a, 'p_DMSO'))).toBeCloseTo(0.187654, 6);
    expect(col(a, 'model')).toBe('mcnn sim/v1');
    expect(col(a, 'model_sha256')).toBe(model.hash);
    expect(col(a, 'files')).toBe('a/B02_s1_w1.tif;a/B02_s1_w2.tif');
    expect(col(b, 'status')).toBe('failed');
    expect(col(b, 'message')).toBe('B03_s2_w4.tif is missing, line\nbreak');
    expect(col(b, 'predicted_moa')).toBe('');
    expect(col(b, 'files')).toBe("'=cmd.tif");
    // The OOD check: the score, the threshold and the flag; the mechanism is still exported beside them.
    expect(col(a, 'ood_score')).toBe('3.14159');
    expect(col(a, 'ood_threshold')).toBe('2.5');
    expect(col(a, 'unlike_training_data')).toBe('1');
    expect([col(b, 'ood_score'), col(b, 'unlike_training_data')]).toEqual(['', '']);
    // Warnings and decoder notes, one per line in their cell; none: empty.
    expect(col(a, 'warnings').split('\n')).toEqual(fields[0].warnings);
    expect(col(a, 'notes')).toBe(fields[0].notes![0]);
    expect([col(b, 'warnings'), col(b, 'notes')]).toEqual(['', '']);
  });
});

describe('treatmentsCsv and runJson', () => {
  it('name the model and carry the same numbers', () => {
    const rows = parseCsv(treatmentsCsv(treatments, classes, model));
    expect(rows[0]).toContain('model_sha256');
    expect(rows[1][rows[0].indexOf('true_moa')]).toBe('DNA damage');
    expect(rows[1][rows[0].indexOf('model_sha256')]).toBe(model.hash);

    expect(rows[1][rows[0].indexOf('fields_set_apart')]).toBe('2');
    const setApart = { fields: 1, labelledFields: 1, treatments: 0, labelledTreatments: 0 };
    const scores = { fields: score([{ predicted: 1, label: 1 }], 3), treatments: score([], 3), setApart };
    const doc = JSON.parse(runJson(fields, treatments, scores, classes, model, '2026-01-01T00:00:00Z'));
    expect(doc.model).toEqual({ name: 'mcnn sim/v1', sha256: model.hash, trained: true });
    expect(doc.classes).toEqual(classes);
    expect(doc.fields).toHaveLength(2);
    expect(doc.fields[0].probabilities[1]).toBeCloseTo(0.61234567, 6);
    expect(doc.fields[0].top3.map((t: { moa: string }) => t.moa)).toEqual(['DNA damage', 'Actin disruptors', 'DMSO']);
    expect(doc.fields[1]).toMatchObject({ status: 'failed', predicted: null, message: 'B03_s2_w4.tif is missing, line\nbreak' });
    expect(doc.treatments[0]).toMatchObject({ compound: 'mevinolin, "lovastatin"', trueMoa: 'DNA damage', correct: true });
    expect(doc.scores.fields.accuracy).toBe(1);
    expect(doc.scores.setApart).toEqual(setApart);
    expect(doc.fields[0].ood).toEqual({ score: 3.14159265, threshold: 2.5, unlikeTrainingData: true });
    expect(doc.fields[1].ood).toBeNull();
    expect(doc.fields[0]).toMatchObject({ warnings: fields[0].warnings, notes: fields[0].notes });
    expect(doc.fields[1]).toMatchObject({ warnings: [], notes: [] });
    expect(doc.treatments[0].fieldsSetApart).toBe(2);
    expect(doc.scores.treatments.accuracy).toBeNull();
    expect(exportName(model, 'fields', 'csv')).toBe('moa-lens_mcnn-sim-v1_abababab_fields.csv');
  });
});

describe('the channel mapping travels with the results', () => {
  it('CSV: a header comment line names each channel and its use; JSON: a channelMapping field', () => {
    const images = ['B2_01_1_1_DAPI_001', 'B2_01_2_1_GFP_001', 'B2_01_3_1_Propidium Iodide_001'].map((n) => ({ path: `c/${n}.tif`, file: new File(['x'], `${n}.tif`) }));
    const plan = planRun(images, readMetadata([]), { mapping: remap(remap({}, 'GFP', 'Tubulin'), 'Propidium Iodide', null) });
    const csv = fieldsCsv(fields, classes, model, plan.mapping);
    const [comment, ...rest] = csv.split('\r\n');
    expect(comment).toBe('# channel mapping: DAPI = DNA (1 file); GFP = Tubulin (1 file); Propidium Iodide = not used (1 file)');
    expect(parseCsv(rest.join('\r\n'))[0][0]).toBe('plate');
    expect(treatmentsCsv(treatments, classes, model, plan.mapping).split('\r\n')[0]).toBe(comment);
    expect(fieldsCsv(fields, classes, model).startsWith('plate,')).toBe(true); // no mapping, no comment
    const doc = JSON.parse(runJson(fields, treatments, { fields: score([], 3), treatments: score([], 3), setApart: { fields: 0, labelledFields: 0, treatments: 0, labelledTreatments: 0 } }, classes, model, '2026-01-01T00:00:00Z', plan.mapping));
    expect(doc.channelMapping).toEqual([
      { name: 'DAPI', usedAs: 'DNA', files: 1, decidedBy: 'word' },
      { name: 'GFP', usedAs: 'Tubulin', files: 1, decidedBy: 'mapping' },
      { name: 'Propidium Iodide', usedAs: null, files: 1, decidedBy: 'mapping' },
    ]);
  });
});
