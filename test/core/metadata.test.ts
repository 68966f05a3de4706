// BBBC021 metadata: CSV parsing edge cases and the real image + MoA tables vendored in training/data/bbbc021.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { MetadataError } from '../../src/core/errors.ts';
import { MOA_CLASSES } from '../../src/core/labels.ts';
import { fieldsFromImageTable, parseCsv, parseImageTable, parseMoaTable, treatmentKey } from '../../src/core/metadata.ts';
import { BBBC021_METADATA_DIR } from '../fixtures/paths.ts';

const bbbc = BBBC021_METADATA_DIR;
const imageCsv = fs.readFileSync(path.join(bbbc, 'BBBC021_v1_image.csv'), 'utf8');
const moaCsv = fs.readFileSync(path.join(bbbc, 'BBBC021_v1_moa.csv'), 'utf8');

describe('parseCsv', () => {
  test('quotes, escaped quotes, commas and line breaks in quotes, CRLF, BOM, blank lines', () => {
    const text = '\uFEFFa,"b ""x""",c\r\n1,"two, three","line\nbreak"\r\n\r\n4,,6\n';
    expect(parseCsv(text)).toEqual([
      ['a', 'b "x"', 'c'],
      ['1', 'two, three', 'line\nbreak'],
      ['4', '', '6'],
    ]);
  });
  test('lone CR line ends and no final newline', () => {
    expect(parseCsv('x,y\r1,2')).toEqual([['x', 'y'], ['1', '2']]);
  });
});

describe('real BBBC021 tables', () => {
  const rows = parseImageTable(imageCsv);
  const moa = parseMoaTable(moaCsv);
  const { fields } = fieldsFromImageTable(rows, moa);

  // Expected numbers: /usr/bin/python3 csv.DictReader over both files, joined on
  // (compound, float(concentration)); counted with collections.Counter (see the report of issue 3).
  test('13,200 fields of three channels, 55 plates, 104 MoA rows (103 treatments + DMSO)', () => {
    expect(rows).toHaveLength(13200);
    expect(fields).toHaveLength(13200);
    expect(fields.every((f) => f.complete && f.channels.DNA && f.channels.Tubulin && f.channels.Actin)).toBe(true);
    expect(new Set(rows.map((r) => r.plate)).size).toBe(55);
    expect(moa).toHaveLength(104);
    expect(moa.filter((m) => m.compound !== 'DMSO')).toHaveLength(103);
    expect(new Set(fields.map((f) => f.id)).size).toBe(13200);
  });

  test('channel files: w1 DAPI, w2 Tubulin, w4 Actin, paths kept', () => {
    expect(fields.every((f) => /_w1/.test(f.channels.DNA!.file.name) && /_w2/.test(f.channels.Tubulin!.file.name) && /_w4/.test(f.channels.Actin!.file.name))).toBe(true);
    expect(fields[0].channels.DNA!.file.path).toBe('Week4/Week4_27481/G10_s1_w1BEDC2073-A983-4B98-95E9-84466707A25D.tif');
    expect(fields[0].metadata).toMatchObject({ compound: '5-fluorouracil', concentration: 0.003, replicate: 1 });
  });

  test('3,848 labelled fields; 103 treatments of 38 compounds plus DMSO (1,320 fields, concentration 0)', () => {
    const labelled = fields.filter((f) => f.metadata?.moa);
    expect(labelled).toHaveLength(3848);
    const treatments = new Set(labelled.filter((f) => f.metadata!.moa !== 'DMSO').map((f) => treatmentKey(f.metadata!.compound!, f.metadata!.concentration!)));
    expect(treatments.size).toBe(103);
    expect(new Set(labelled.filter((f) => f.metadata!.moa !== 'DMSO').map((f) => f.metadata!.compound)).size).toBe(38);
    const dmso = fields.filter((f) => f.metadata?.compound === 'DMSO');
    expect(dmso).toHaveLength(1320);
    expect(dmso.every((f) => f.metadata!.concentration === 0 && f.metadata!.moa === 'DMSO')).toBe(true);
    // all image-table treatments (compound, concentration): 906 distinct (python)
    expect(new Set(rows.map((r) => treatmentKey(r.compound, r.concentration))).size).toBe(906);
  });

  test('per-class fields / compounds / treatments match REFERENCE.md (and python)', () => {
    const expected: Record<string, [number, number, number]> = {
      'Actin disruptors': [60, 3, 5], 'Aurora kinase inhibitors': [144, 3, 12], 'Cholesterol-lowering': [72, 2, 6],
      'DNA damage': [108, 4, 9], 'DNA replication': [96, 4, 8], 'Eg5 inhibitors': [144, 2, 12], Epithelial: [88, 3, 8],
      'Kinase inhibitors': [40, 3, 5], 'Microtubule destabilizers': [168, 4, 14], 'Microtubule stabilizers': [1428, 3, 9],
      'Protein degradation': [84, 4, 7], 'Protein synthesis': [96, 3, 8], DMSO: [1320, 1, 1],
    };
    for (const cls of MOA_CLASSES) {
      const inClass = fields.filter((f) => f.metadata?.moa === cls);
      const compounds = new Set(inClass.map((f) => f.metadata!.compound));
      const treatments = new Set(inClass.map((f) => treatmentKey(f.metadata!.compound!, f.metadata!.concentration!)));
      expect([inClass.length, compounds.size, treatments.size], cls).toEqual(expected[cls]);
    }
  });

  test('join compares concentrations as numbers ("3.000000" in the MoA table matches "3" in the image table)', () => {
    expect(moaCsv).toContain('"PP-2",3.000000');
    const pp2 = fields.filter((f) => f.metadata?.compound === 'PP-2' && f.metadata.concentration === 3);
    expect(pp2.length).toBeGreaterThan(0);
    expect(pp2.every((f) => f.metadata!.moa === 'Epithelial')).toBe(true);
  });

  test('with a dropped folder, absent files are reported per field', () => {
    const subset = rows.slice(0, 2);
    const files = subset.flatMap((r) => Object.values(r.files).map((f) => ({ name: f.fileName, path: `BBBC021/${f.pathName}/${f.fileName}` })));
    files.splice(1, 1); // drop the first row's Tubulin image
    const result = fieldsFromImageTable(subset, moa, files);
    expect(result.fields[0].complete).toBe(false);
    expect(result.problems).toEqual([expect.objectContaining({ kind: 'missing-file', channel: 'Tubulin', fieldId: result.fields[0].id })]);
    expect(result.fields[1].complete).toBe(true);
  });
});

describe('bad tables', () => {
  test('missing column, non-numeric concentration and unknown MoA are typed errors', () => {
    expect(() => parseMoaTable('compound,moa\nx,DMSO\n', 'm.csv')).toThrow(MetadataError);
    expect(() => parseMoaTable('compound,concentration,moa\nx,abc,DMSO\n', 'm.csv')).toThrow(/row 2/);
    expect(() => parseMoaTable('compound,concentration,moa\nx,1,Magic\n', 'm.csv')).toThrow(/unknown mechanism/);
    expect(() => parseImageTable('', 'i.csv')).toThrow(MetadataError);
  });
});
