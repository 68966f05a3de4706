// Grouping file names into fields: BBBC021 names from the real image table, the CellProfiler examples'
// real names, other naming patterns, user mappings and per-field problems.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { channelTokens, groupChannels, parseFileName, type Field, type InputFile } from '../../src/core/grouping.ts';
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

  test('a user mapping overrides: d0 = Actin, d1 not used, d2 = DNA -> Tubulin missing', () => {
    const { fields } = groupChannels(listing('ExampleHuman'), { mapping: { tokens: { d0: 'Actin', d1: null, d2: 'DNA' } } });
    expect(fields[0].channels.Actin!.token).toBe('d0');
    expect(fields[0].channels.DNA!.token).toBe('d2');
    expect(fields[0].problems.map((p) => [p.kind, p.channel])).toEqual([['missing-channel', 'Tubulin']]);
  });

  test('ExampleIlluminationCorrection, one scanR file `--W00001--P00001--Z00000--T00000--cherry`: one channel, never three', () => {
    const [file] = listing('ExampleIlluminationCorrection');
    for (const input of [file, { ...file, channelNames: [undefined] }]) {
      const { fields } = groupChannels([input]);
      expect(fields).toHaveLength(1);
      expect(fields[0]).toMatchObject({ complete: false, site: 1, channels: {} });
      expect(fields[0].extras.map((e) => e.token)).toEqual(['cherry']);
      expect(fields[0].problems.map((p) => p.kind)).toEqual(['too-few-channels', 'extra-channel']);
      expect(fields[0].problems[0].message).toMatch(/has one channel \(--W00001--P00001--Z00000--T00000--cherry\.tif\); DNA, Tubulin and Actin must each come from a channel of its own/);
    }
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
    const withMapping = groupChannels(['img_ch1.tif', 'img_ch2.tif', 'img_ch3.tif', 'img_ch4.tif'].map((name) => ({ name })), { mapping: { tokens: { ch1: 'DNA', ch3: 'Tubulin', ch4: 'Actin' } } });
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

describe('microscope naming schemes: files named by channel group into fields, plate/well/site parsed', () => {
  const names = (...list: string[]): InputFile[] => list.map((name) => ({ name }));
  const tokensOf = (field: Field) => [...Object.values(field.channels).map((s) => s!.token), ...field.extras.map((e) => e.token)].sort();

  test('ImageXpress `<plate>_<well>_s<site>_w<N><UUID>`: BBBC021 w1/w2/w4 decide DNA/Tubulin/Actin; other numbers are only names', () => {
    const uuid = '0D8A9B7C-1111-4222-8333-444455556666';
    const { fields } = groupChannels(names(`Plate7_B03_s2_w1${uuid}.tif`, `Plate7_B03_s2_w2${uuid}.tif`, `Plate7_B03_s2_w4${uuid}.tif`));
    expect(fields).toHaveLength(1);
    expect(fields[0]).toMatchObject({ plate: 'Plate7', well: 'B03', site: 2, complete: true, name: 'Plate7_B03_s2' });
    expect(fields[0].channels.Actin!).toMatchObject({ token: 'w4', assignedBy: 'pattern' });
    // Five Cell Painting channels w1..w5: no stain is guessed from a number.
    const five = groupChannels(names(...[1, 2, 3, 4, 5].map((w) => `P_A01_s1_w${w}.tif`)));
    expect(five.fields).toHaveLength(1);
    expect(tokensOf(five.fields[0])).toEqual(['w1', 'w2', 'w3', 'w4', 'w5']);
    expect(five.fields[0].channels).toMatchObject({ DNA: { token: 'w1' }, Tubulin: { token: 'w2' }, Actin: { token: 'w4' } });
  });

  test('Cellomics `<plate>_<well>f<NN>d<N>` (MFGTMP_140206180002_A01f00d0.TIF)', () => {
    const { fields } = groupChannels(names('MFGTMP_140206180002_A01f00d0.TIF', 'MFGTMP_140206180002_A01f00d1.TIF', 'MFGTMP_140206180002_A01f00d2.TIF', 'MFGTMP_140206180002_A01f01d0.TIF'));
    expect(fields).toHaveLength(2);
    expect(fields[0]).toMatchObject({ plate: 'MFGTMP_140206180002', well: 'A01', site: 0, complete: true });
    expect(fields[0].problems.map((p) => p.kind)).toEqual(['assumed-order']);
    expect(fields[1]).toMatchObject({ site: 1, complete: false });
    expect(fields[1].problems[0].kind).toBe('too-few-channels');
  });

  test('Cytation / Gen5 `<well>_<read>_<channel>_<site>_<stain>_<image>`: DAPI, GFP, Propidium Iodide', () => {
    const both = [
      names('B2_01_1_1_DAPI_001.tif', 'B2_01_2_1_GFP_001.tif', 'B2_01_3_1_Propidium Iodide_001.tif', 'B2_01_1_2_DAPI_001.tif'),
      names('B2_01_1_1_DAPI_001.tif', 'B2_01_1_1_GFP_001.tif', 'B2_01_1_1_Propidium Iodide_001.tif', 'B2_01_1_2_DAPI_001.tif'),
    ];
    for (const files of both) {
      const { fields } = groupChannels(files);
      expect(fields).toHaveLength(2);
      const [first] = fields;
      expect(first).toMatchObject({ well: 'B02', site: 1, complete: false });
      expect(first.channels.DNA).toMatchObject({ token: 'DAPI', assignedBy: 'word' });
      expect(tokensOf(first)).toEqual(['DAPI', 'GFP', 'Propidium Iodide']);
      expect(first.problems.filter((p) => p.kind === 'missing-channel').map((p) => p.channel)).toEqual(['Tubulin', 'Actin']);
      const mapped = groupChannels(files, { mapping: { tokens: { GFP: 'Tubulin', 'Propidium Iodide': 'Actin' } } });
      expect(mapped.fields[0].complete).toBe(true);
      expect(mapped.fields[0].channels.Actin!.file.name).toBe(files[2].name);
    }
  });

  test('Cell Painting stains DAPI / ER / RNA / AGP / Mito: one field, DAPI is DNA, the rest wait for a mapping', () => {
    const files = names(...['DAPI', 'ER', 'RNA', 'AGP', 'Mito'].map((stain) => `CP_plate1_C05_s3_${stain}.tif`));
    const { fields } = groupChannels(files);
    expect(fields).toHaveLength(1);
    expect(fields[0]).toMatchObject({ plate: 'CP_plate1', well: 'C05', site: 3, complete: false });
    expect(tokensOf(fields[0])).toEqual(['AGP', 'DAPI', 'ER', 'Mito', 'RNA']);
    expect(channelTokens(fields).map((t) => [t.token, t.files])).toEqual([['AGP', 1], ['DAPI', 1], ['ER', 1], ['Mito', 1], ['RNA', 1]]);
    const mapped = groupChannels(files, { mapping: { tokens: { er: 'Tubulin', AGP: 'Actin' } } });
    expect(mapped.fields[0].complete).toBe(true);
    expect(mapped.fields[0].channels.Tubulin!.token).toBe('ER');
  });

  test('Ch1/Ch2 and `Channel 1-01-A-01-00`: numbered channels; three in order, two never guessed', () => {
    const two = groupChannels(names('sample7_Ch1.tif', 'sample7_Ch2.tif')).fields;
    expect(two).toHaveLength(1);
    expect(two[0].complete).toBe(false);
    expect(two[0].channels).toEqual({});
    const three = groupChannels(names('Channel 1-01-A-01-00.tif', 'Channel 2-01-A-01-00.tif', 'Channel 3-01-A-01-00.tif', 'Channel 1-01-A-01-01.tif')).fields;
    expect(three).toHaveLength(2);
    expect(three[0]).toMatchObject({ well: 'A01', site: 0, complete: true });
    expect(three[0].channels.Tubulin!.token).toBe('Channel 2');
    expect(three[1]).toMatchObject({ well: 'A01', site: 1, complete: false });
  });

  test('Operetta / Opera Phenix `r<row>c<col>f<field>p<plane>-ch<N>sk1fk1fl1`', () => {
    const { fields } = groupChannels(names('r02c03f04p01-ch1sk1fk1fl1.tiff', 'r02c03f04p01-ch2sk1fk1fl1.tiff', 'r02c03f04p01-ch3sk1fk1fl1.tiff', 'r02c03f04p02-ch1sk1fk1fl1.tiff'));
    expect(fields).toHaveLength(2);
    expect(fields[0]).toMatchObject({ well: 'B03', site: 4, complete: true });
    expect(fields[0].channels.Actin!.token).toBe('ch3');
    expect(fields[1].complete).toBe(false);
  });

  test('Yokogawa CellVoyager `<plate>_<well>_T0001F001L01A01Z01C01`', () => {
    const { fields } = groupChannels(
      names('AssayPlate_Greiner_B03_T0001F002L01A01Z01C01.tif', 'AssayPlate_Greiner_B03_T0001F002L01A02Z01C02.tif', 'AssayPlate_Greiner_B03_T0001F002L01A03Z01C03.tif', 'AssayPlate_Greiner_B03_T0001F003L01A01Z01C01.tif'),
    );
    expect(fields).toHaveLength(2);
    expect(fields[0]).toMatchObject({ plate: 'AssayPlate_Greiner', well: 'B03', site: 2, complete: true });
    expect(tokensOf(fields[0])).toEqual(['C01', 'C02', 'C03']);
  });

  test('GE InCell `A - 1(fld 1 wv DAPI - DAPI)`', () => {
    const { fields } = groupChannels(names('A - 1(fld 1 wv DAPI - DAPI).tif', 'A - 1(fld 1 wv FITC - FITC).tif', 'A - 1(fld 1 wv Cy3 - Cy3).tif', 'B - 12(fld 2 wv DAPI - DAPI).tif'));
    expect(fields).toHaveLength(2);
    expect(fields[0]).toMatchObject({ well: 'A01', site: 1, complete: false });
    expect(fields[0].channels.DNA!.token).toBe('DAPI - DAPI');
    expect(tokensOf(fields[0])).toEqual(['Cy3 - Cy3', 'DAPI - DAPI', 'FITC - FITC']);
    expect(fields[1]).toMatchObject({ well: 'B12', site: 2 });
    const mapped = groupChannels(names('A - 1(fld 1 wv DAPI - DAPI).tif', 'A - 1(fld 1 wv FITC - FITC).tif', 'A - 1(fld 1 wv Cy3 - Cy3).tif'), { mapping: { tokens: { 'FITC - FITC': 'Tubulin', 'Cy3 - Cy3': 'Actin' } } });
    expect(mapped.fields[0].complete).toBe(true);
  });

  test('parseFileName gives plate, well and site where the scheme carries them', () => {
    expect(parseFileName('MFGTMP_140206180002_A01f00d0.TIF')).toMatchObject({ scheme: 'cellomics', plate: 'MFGTMP_140206180002', well: 'A01', site: 0, token: 'd0' });
    expect(parseFileName('r01c01f01p01-ch1sk1fk1fl1.tiff')).toMatchObject({ scheme: 'operetta', well: 'A01', site: 1, token: 'ch1' });
    expect(parseFileName('P1_H12_T0001F001L01A01Z01C04.tif')).toMatchObject({ scheme: 'cellvoyager', plate: 'P1', well: 'H12', site: 1, token: 'C04' });
    expect(parseFileName('A - 1(fld 1 wv DAPI - DAPI).tif')).toMatchObject({ scheme: 'incell', well: 'A01', site: 1, token: 'DAPI - DAPI', channel: 'DNA' });
    expect(parseFileName('B2_01_1_1_Propidium Iodide_001.tif')).toMatchObject({ scheme: 'cytation', well: 'B02', site: 1, token: 'Propidium Iodide' });
    expect(parseFileName('Channel 2-01-C-07-03.tif')).toMatchObject({ scheme: 'channel-prefix', well: 'C07', site: 3, token: 'Channel 2' });
    expect(parseFileName('fly_wing.tif')).toMatchObject({ scheme: 'none', stem: 'fly_wing' });
    // A stain word early in the name is not the channel part when a channel number follows it.
    expect(parseFileName('ER_stress_A01_ch2.tif')).toMatchObject({ scheme: 'c-suffix', token: 'ch2', well: 'A01' });
    expect(parseFileName('plate1_A01_site2_DAPI.tif')).toMatchObject({ scheme: 'stain-word', token: 'DAPI', plate: 'plate1', well: 'A01', site: 2 });
  });
});

describe('one sample is one channel', () => {
  test('a greyscale file (or a palette TIFF with a grey palette) is one channel: never DNA, Tubulin and Actin at once', () => {
    for (const file of [{ name: 'fly_tissue.tif' }, { name: 'fly_tissue.tif', channelNames: [undefined] }, { name: 'nuclei_only.ome.tif', channelNames: ['DAPI'] }]) {
      const { fields } = groupChannels([file]);
      expect(fields).toHaveLength(1);
      expect(fields[0].complete).toBe(false);
      expect(Object.keys(fields[0].channels).length).toBeLessThanOrEqual(1);
      expect(fields[0].problems[0]).toMatchObject({ kind: 'too-few-channels' });
      expect(fields[0].problems[0].message).toContain(file.name);
      expect(fields[0].name).toBe(file.name);
    }
  });

  test('an RGBA composite exposes Red, Green, Blue and Alpha: colours by order (a warning), alpha not used; a mapping overrides', () => {
    const rgba = { name: 'composite.tif', path: 'shots/composite.tif', channelNames: ['Red', 'Green', 'Blue', 'Alpha'] };
    const { fields } = groupChannels([rgba]);
    expect(fields[0]).toMatchObject({ complete: true, plate: 'shots', name: 'composite.tif' });
    expect([fields[0].channels.DNA!.channelIndex, fields[0].channels.Tubulin!.channelIndex, fields[0].channels.Actin!.channelIndex]).toEqual([0, 1, 2]);
    expect(fields[0].extras.map((e) => e.token)).toEqual(['Alpha']);
    expect(fields[0].problems.map((p) => p.kind)).toEqual(['assumed-order', 'extra-channel']);
    const mapped = groupChannels([rgba], { mapping: { tokens: { Blue: 'DNA', Red: 'Actin', Green: 'Tubulin' } } }).fields[0];
    expect([mapped.channels.DNA!.channelIndex, mapped.channels.Actin!.channelIndex]).toEqual([2, 0]);
    // Four unnamed samples: nothing guessed, every sample offered for the mapping.
    const four = groupChannels([{ name: 'stack.tif', channelNames: [undefined, undefined, undefined, undefined] }]).fields[0];
    expect(four.complete).toBe(false);
    expect(channelTokens([four]).map((t) => t.token)).toEqual(['channel 1', 'channel 2', 'channel 3', 'channel 4']);
  });
});
