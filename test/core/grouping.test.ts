// Grouping file names into fields: BBBC021 names from the real image table, the CellProfiler examples'
// real names, other naming patterns, user mappings and per-field problems.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { groupChannels, parseFileName, type InputFile } from '../../src/core/grouping.ts';
import { parseImageTable } from '../../src/core/metadata.ts';
import { BBBC021_METADATA_DIR, REAL_TIFFS_DIR } from '../fixtures/paths.ts';

const realTiffs = REAL_TIFFS_DIR;

describe('BBBC021 layout, all 39,600 file names of the real image table', () => {
  const rows = parseImageTable(fs.readFileSync(path.join(BBBC021_METADATA_DIR, 'BBBC021_v1_image.csv'), 'utf8'));
  const files: InputFile[] = rows.flatMap((r) => Object.values(r.files).map((f) => ({ name: f.fileName, path: `${f.pathName}/${f.fileName}` })));

  test('group by names alone into the 13,200 fields of the table, w1/w2/w4 = DNA/Tubulin/Actin', () => {
    const { fields, unassigned, problems } = groupChannels(files);
    expect(unassigned).toEqual([]);
    expect(problems).toEqual([]);
    expect(fields).toHaveLength(13200);
    const byDnaFile = new Map(fields.map((f) => [f.channels.DNA!.file.name, f]));
    for (const row of rows) {
      const field = byDnaFile.get(row.files.DNA.fileName)!;
      expect(field.channels.Tubulin!.file.name).toBe(row.files.Tubulin.fileName);
      expect(field.channels.Actin!.file.name).toBe(row.files.Actin.fileName);
      expect(field.plate).toBe(row.plate); // from the folder Week<N>/Week<N>_<plate>
      expect(field.well).toBe(row.well);
    }
  });

  test('shuffled order and a removed file: same fields, the incomplete one reported', () => {
    const some = files.slice(0, 30).reverse();
    const removed = some.splice(4, 1)[0];
    const { fields, problems } = groupChannels(some);
    expect(fields).toHaveLength(10);
    expect(fields.filter((f) => !f.complete)).toHaveLength(1);
    expect(problems).toHaveLength(1);
    expect(problems[0].kind).toBe('missing-channel');
    expect(removed.name).toMatch(problems[0].channel === 'DNA' ? /_w1/ : problems[0].channel === 'Tubulin' ? /_w2/ : /_w4/);
  });
});

describe('CellProfiler example names (test/fixtures/real-tiffs)', () => {
  const listing = (folder: string): InputFile[] =>
    fs.readdirSync(path.join(realTiffs, 'cellprofiler-examples', folder)).filter((n) => n.endsWith('.tif')).map((name) => ({ name, path: `${folder}/${name}` }));

  test('ExampleStraightenWorms `_w1_[UUID]` .. `_w3_`: one field, well C16, order assumed and reported', () => {
    const { fields } = groupChannels(listing('ExampleStraightenWorms'));
    expect(fields).toHaveLength(1);
    const [field] = fields;
    expect(field.well).toBe('C16');
    expect(field.plate).toBe('ExampleStraightenWorms');
    expect(field.channels.DNA!.file.name).toMatch(/_w1_/);
    expect(field.channels.Tubulin!.file.name).toMatch(/_w2_/);
    expect(field.channels.Actin!.file.name).toMatch(/_w3_/);
    expect(field.problems.map((p) => p.kind)).toEqual(['assumed-order']);
  });

  test('ExampleHuman `..._D03f00d0..d2`: one field, well D03, site 0, d0/d1/d2 in order', () => {
    const { fields } = groupChannels(listing('ExampleHuman'));
    expect(fields).toHaveLength(1);
    expect(fields[0]).toMatchObject({ well: 'D03', site: 0, complete: true });
    expect(fields[0].channels.DNA!.token).toBe('d0');
    expect(fields[0].channels.Actin!.token).toBe('d2');
  });

  test('a user mapping overrides: d0 = Actin, d1 ignored, d2 = DNA -> Tubulin missing', () => {
    const { fields } = groupChannels(listing('ExampleHuman'), { mapping: { indices: { 0: 'Actin', 1: null, 2: 'DNA' } } });
    expect(fields[0].channels.Actin!.token).toBe('d0');
    expect(fields[0].channels.DNA!.token).toBe('d2');
    expect(fields[0].problems.map((p) => [p.kind, p.channel])).toEqual([['missing-channel', 'Tubulin']]);
  });

  test('ExampleIlluminationCorrection single-channel file (known after decode): a field missing two channels', () => {
    const [file] = listing('ExampleIlluminationCorrection');
    const { fields } = groupChannels([{ ...file, channelNames: [undefined] }]);
    expect(fields).toHaveLength(1);
    expect(fields[0].complete).toBe(false);
    expect(fields[0].problems.filter((p) => p.kind === 'missing-channel').map((p) => p.channel)).toEqual(['Tubulin', 'Actin']);
  });
});

describe('other naming patterns', () => {
  test('channel words: DAPI / Hoechst -> DNA, tubulin, actin / phalloidin', () => {
    const { fields } = groupChannels([
      { name: 'plate1_A01_site2_DAPI.tif' },
      { name: 'plate1_A01_site2_Tubulin.tif' },
      { name: 'plate1_A01_site2_Phalloidin.tif' },
      { name: 'B02-hoechst.tiff' },
      { name: 'B02-Tubulin.tiff' },
      { name: 'B02-actin.tiff' },
    ]);
    expect(fields).toHaveLength(2);
    expect(fields.every((f) => f.complete && f.problems.length === 0)).toBe(true);
    expect(fields[0].channels.DNA!.file.name).toBe('plate1_A01_site2_DAPI.tif');
    expect(fields[1].channels.Actin!.file.name).toBe('B02-actin.tiff');
  });

  test('ch1/c1 suffixes group and assign by order; an extra channel is reported', () => {
    const { fields } = groupChannels(['img_ch1.tif', 'img_ch2.tif', 'img_ch3.tif', 'img_ch4.tif', 'x_c1.tif', 'x_c2.tif', 'x_c3.tif'].map((name) => ({ name })));
    expect(fields).toHaveLength(2);
    const img = fields.find((f) => f.id === 'img_\u2022')!;
    expect(img.complete).toBe(false); // four numbered channels, no names: cannot guess
    expect(img.problems.map((p) => p.kind)).toEqual(['missing-channel', 'missing-channel', 'missing-channel', 'extra-channel', 'extra-channel', 'extra-channel', 'extra-channel']);
    const withMapping = groupChannels(['img_ch1.tif', 'img_ch2.tif', 'img_ch3.tif', 'img_ch4.tif'].map((name) => ({ name })), { mapping: { indices: { 1: 'DNA', 3: 'Tubulin', 4: 'Actin' } } });
    expect(withMapping.fields[0].complete).toBe(true);
    expect(withMapping.fields[0].problems.map((p) => p.kind)).toEqual(['extra-channel']);
    const x = fields.find((f) => f.id === 'x_\u2022')!;
    expect(x.channels.Tubulin!.file.name).toBe('x_c2.tif');
  });

  test('token mapping: user tokens override patterns', () => {
    const { fields } = groupChannels(['s1_cherry.tif', 's1_gfp.tif', 's1_bfp.tif'].map((name) => ({ name })), {
      mapping: { tokens: { bfp: 'DNA', gfp: 'Tubulin', cherry: 'Actin' } },
    });
    expect(fields).toHaveLength(1);
    expect(fields[0].complete).toBe(true);
    expect(fields[0].channels.Actin!.assignedBy).toBe('mapping');
  });

  test('duplicate channel and non-TIFF files are reported, not dropped', () => {
    const result = groupChannels([
      { name: 'A01_s1_w1AAAAAAAA-AAAA-AAAA-AAAA-AAAAAAAAAAAA.tif', path: 'P1/A01_s1_w1AAAAAAAA-AAAA-AAAA-AAAA-AAAAAAAAAAAA.tif' },
      { name: 'A01_s1_w1BBBBBBBB-AAAA-AAAA-AAAA-AAAAAAAAAAAA.tif', path: 'P1/A01_s1_w1BBBBBBBB-AAAA-AAAA-AAAA-AAAAAAAAAAAA.tif' },
      { name: 'A01_s1_w2CCCCCCCC-AAAA-AAAA-AAAA-AAAAAAAAAAAA.tif', path: 'P1/A01_s1_w2CCCCCCCC-AAAA-AAAA-AAAA-AAAAAAAAAAAA.tif' },
      { name: 'A01_s1_w4DDDDDDDD-AAAA-AAAA-AAAA-AAAAAAAAAAAA.tif', path: 'P1/A01_s1_w4DDDDDDDD-AAAA-AAAA-AAAA-AAAAAAAAAAAA.tif' },
      { name: 'notes.csv', path: 'P1/notes.csv' },
    ]);
    expect(result.fields).toHaveLength(1);
    expect(result.fields[0]).toMatchObject({ plate: 'P1', well: 'A01', site: 1, complete: true });
    expect(result.problems.map((p) => p.kind)).toEqual(['duplicate-channel']);
    expect(result.unassigned.map((u) => u.file.name)).toEqual(['notes.csv']);
  });

  test('multi-channel single file: channels from its decoded channel names', () => {
    const { fields } = groupChannels([{ name: 'field7.ome.tif', channelNames: ['Phalloidin', 'Hoechst 33342', 'Tubulin', 'Brightfield'] }]);
    expect(fields).toHaveLength(1);
    expect(fields[0].channels.DNA!.channelIndex).toBe(1);
    expect(fields[0].channels.Actin!.channelIndex).toBe(0);
    expect(fields[0].extras.map((e) => e.channelIndex)).toEqual([3]);
    expect(fields[0].problems.map((p) => p.kind)).toEqual(['extra-channel']);
  });

  test('parseFileName on prefixed BBBC021 names (Week6_200607_F10_s1_w1<UUID>)', () => {
    expect(parseFileName('Week6_200607_F10_s1_w18277D67B-2726-41F0-B5A5-4300C0230936.tif')).toMatchObject({
      well: 'F10', site: 1, channelIndex: 1, plate: 'Week6_200607', stem: 'Week6_200607_F10_s1',
    });
  });
});
