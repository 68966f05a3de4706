import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { needsProbe, planRun, readMetadata, remap } from '../../src/app/state/intake.ts';
import type { DroppedFile } from '../../src/app/state/drop.ts';
import { BBBC021_METADATA_DIR } from '../fixtures/paths.ts';

const f = (path: string): DroppedFile => ({ path, file: new File(['x'], path.split('/').pop()!) });

const imageCsv = [
  'TableNumber,ImageNumber,Image_FileName_DAPI,Image_PathName_DAPI,Image_FileName_Tubulin,Image_PathName_Tubulin,Image_FileName_Actin,Image_PathName_Actin,Image_Metadata_Plate_DAPI,Image_Metadata_Well_DAPI,Replicate,Image_Metadata_Compound,Image_Metadata_Concentration',
  '1,1,B02_s1_w10007DAAF-AAAA-4BBB-8CCC-000000000041.tif,Week1/Week1_22123,B02_s1_w20007DAAF-AAAA-4BBB-8CCC-000000000041.tif,Week1/Week1_22123,B02_s1_w40007DAAF-AAAA-4BBB-8CCC-000000000041.tif,Week1/Week1_22123,Week1_22123,B02,1,taxol,3',
  '1,2,B02_s2_w10007F99E-AAAA-4BBB-8CCC-000000000042.tif,Week1/Week1_22123,B02_s2_w20007F99E-AAAA-4BBB-8CCC-000000000042.tif,Week1/Week1_22123,B02_s2_w40007F99E-AAAA-4BBB-8CCC-000000000042.tif,Week1/Week1_22123,Week1_22123,B02,1,taxol,3',
  '1,3,C02_s1_w10008188D-AAAA-4BBB-8CCC-000000000043.tif,Week1/Week1_22123,C02_s1_w20008188D-AAAA-4BBB-8CCC-000000000043.tif,Week1/Week1_22123,C02_s1_w40008188D-AAAA-4BBB-8CCC-000000000043.tif,Week1/Week1_22123,Week1_22123,C02,1,mystery,1',
  '1,4,D02_s1_w10008377C-AAAA-4BBB-8CCC-000000000044.tif,Week9/Week9_1,D02_s1_w20008377C-AAAA-4BBB-8CCC-000000000044.tif,Week9/Week9_1,D02_s1_w40008377C-AAAA-4BBB-8CCC-000000000044.tif,Week9/Week9_1,Week9_1,D02,1,taxol,3',
].join('\n');
const moaCsv = '"compound",concentration,"moa"\n"taxol",3.000000,"Microtubule stabilizers"\n';

describe('readMetadata', () => {
  it('tells image and MoA tables apart and reports the rest by file', () => {
    const t = readMetadata([
      { path: 'p/BBBC021_v1_image.csv', text: imageCsv },
      { path: 'p/BBBC021_v1_moa.csv', text: moaCsv },
      { path: 'p/other.csv', text: 'a,b\n1,2\n' },
      { path: 'p/bad_moa.csv', text: 'compound,concentration,moa\ntaxol,3,Magic\n' },
    ]);
    expect(t.image[0].rows).toHaveLength(4);
    expect(t.moa[0].rows).toHaveLength(1);
    expect(t.problems.map((p) => p.path)).toEqual(['p/other.csv', 'p/bad_moa.csv']);
    expect(t.problems[1].message).toMatch(/Magic/);
  });

  it('reads the real BBBC021 tables', () => {
    const t = readMetadata([
      { path: 'BBBC021_v1_image.csv', text: readFileSync(`${BBBC021_METADATA_DIR}/BBBC021_v1_image.csv`, 'utf8') },
      { path: 'BBBC021_v1_moa.csv', text: readFileSync(`${BBBC021_METADATA_DIR}/BBBC021_v1_moa.csv`, 'utf8') },
    ]);
    expect(t.problems).toEqual([]);
    expect(t.image[0].rows).toHaveLength(13200);
    expect(t.moa[0].rows.length).toBeGreaterThan(100);
  });
});

describe('planRun', () => {
  it('groups a dropped plate folder by file name, with the BBBC021 channel numbers', () => {
    const plan = planRun(
      [f('Week1_22123/B02_s1_w10007DAAF-AAAA-4BBB-8CCC-000000000041.tif'), f('Week1_22123/B02_s1_w20007DAAF-AAAA-4BBB-8CCC-000000000041.tif'), f('Week1_22123/B02_s1_w40007DAAF-AAAA-4BBB-8CCC-000000000041.tif'), f('Week1_22123/B03_s1_w10008566B-AAAA-4BBB-8CCC-000000000045.tif')],
      readMetadata([]),
    );
    expect(plan.fields).toHaveLength(2);
    const [b02, b03] = plan.fields;
    expect(b02.info).toMatchObject({ plate: 'Week1_22123', well: 'B02', site: 1 });
    expect(b02.input && 'channels' in b02.input && (b02.input.channels.Actin as File).name).toBe('B02_s1_w40007DAAF-AAAA-4BBB-8CCC-000000000041.tif');
    expect(b03.input).toBeUndefined();
    expect(b03.problems.join(' ')).toMatch(/has one channel \(B03_s1_w1\S*\.tif\).*\(no Tubulin or Actin image\)/);
    expect(plan.mapping.map((m) => [m.token, m.channel])).toEqual([['w1', 'DNA'], ['w2', 'Tubulin'], ['w4', 'Actin']]);
  });

  it('joins the image table (even when only the plate folder was dropped) and the MoA table for ground truth', () => {
    const tables = readMetadata([{ path: 'BBBC021_v1_image.csv', text: imageCsv }, { path: 'BBBC021_v1_moa.csv', text: moaCsv }]);
    const plan = planRun(
      ['B02_s1_w10007DAAF-AAAA-4BBB-8CCC-000000000041', 'B02_s1_w20007DAAF-AAAA-4BBB-8CCC-000000000041', 'B02_s1_w40007DAAF-AAAA-4BBB-8CCC-000000000041', 'B02_s2_w10007F99E-AAAA-4BBB-8CCC-000000000042', 'B02_s2_w20007F99E-AAAA-4BBB-8CCC-000000000042', 'C02_s1_w10008188D-AAAA-4BBB-8CCC-000000000043', 'C02_s1_w20008188D-AAAA-4BBB-8CCC-000000000043', 'C02_s1_w40008188D-AAAA-4BBB-8CCC-000000000043', 'E05_s1_w1000AE006-AAAA-4BBB-8CCC-00000000005A', 'E05_s1_w2000AE006-AAAA-4BBB-8CCC-00000000005A', 'E05_s1_w4000AE006-AAAA-4BBB-8CCC-00000000005A'].map((n) =>
        f(`Week1_22123/${n}.tif`),
      ),
      tables,
    );
    const byWell = (w: string, s = 1) => plan.fields.find((x) => x.info.well === w && x.info.site === s)!;
    expect(byWell('B02').info).toMatchObject({ plate: 'Week1_22123', compound: 'taxol', concentration: 3, moa: 'Microtubule stabilizers' });
    expect(byWell('B02').input).toBeDefined();
    expect(byWell('B02', 2).input).toBeUndefined();
    expect(byWell('B02', 2).problems.join(' ')).toMatch(/Actin image .*B02_s2_w4.*\.tif/);
    expect(byWell('C02').info.moa).toBeUndefined();
    // E05 is not in the table: grouped by name, no metadata.
    expect(byWell('E05').input).toBeDefined();
    expect(byWell('E05').info.compound).toBeUndefined();
    expect(plan.notes.join(' ')).toMatch(/1 field\(s\) of the image table have none of their files/);
    expect(plan.notes.join(' ')).toMatch(/1 field\(s\) have a treatment the MoA table does not list/);
  });

  it('applies a user mapping by channel number and keeps ignored channels out', () => {
    const files = ['A01_s1_w1000AA228-AAAA-4BBB-8CCC-000000000058', 'A01_s1_w2000AA228-AAAA-4BBB-8CCC-000000000058', 'A01_s1_w3000AA228-AAAA-4BBB-8CCC-000000000058'].map((n) => f(`p/${n}.tif`));
    const first = planRun(files, readMetadata([]));
    // w3 is not a BBBC021 stain number: assumed by order for the missing Actin, with a warning.
    expect(first.fields[0].input).toBeDefined();
    expect(first.fields[0].warnings.join(' ')).toMatch(/assumed/);
    const w3 = first.mapping.find((m) => m.token === 'w3')!;
    const w1 = first.mapping.find((m) => m.token === 'w1')!;
    let mapping = remap({}, w3.token, 'DNA');
    mapping = remap(mapping, w1.token, 'Actin');
    const second = planRun(files, readMetadata([]), { mapping });
    const input = second.fields[0].input!;
    expect('channels' in input && [input.channels.DNA, input.channels.Tubulin, input.channels.Actin].map((x) => (x as File).name)).toEqual(['A01_s1_w3000AA228-AAAA-4BBB-8CCC-000000000058.tif', 'A01_s1_w2000AA228-AAAA-4BBB-8CCC-000000000058.tif', 'A01_s1_w1000AA228-AAAA-4BBB-8CCC-000000000058.tif']);
    const third = planRun(files, readMetadata([]), { mapping: remap({}, w3.token, null) });
    expect(third.fields[0].input).toBeUndefined();
  });

  it('makes one field per PNG/JPEG with the chosen RGB order and one per multi-channel TIFF (channels as inspected)', () => {
    const images = [f('shots/B07_s2.png'), f('shots/stack.tif')];
    const probes = new Map([
      ['shots/B07_s2.png', { format: 'png' as const, width: 4, height: 4, channelNames: ['Red', 'Green', 'Blue'] }],
      ['shots/stack.tif', { format: 'tiff' as const, width: 4, height: 4, channelNames: [undefined, undefined, undefined] }],
    ]);
    const plan = planRun(images, readMetadata([]), { rgbOrder: [2, 1, 0], probes });
    const png = plan.fields.find((x) => x.info.files[0] === 'shots/B07_s2.png')!;
    expect(png.info).toMatchObject({ well: 'B07', site: 2, plate: 'shots', name: 'B07_s2.png' });
    expect(png.input).toMatchObject({ channelOrder: [2, 1, 0] });
    const stack = plan.fields.find((x) => x.info.files[0] === 'shots/stack.tif')!;
    expect(stack.input).toMatchObject({ channelOrder: [0, 1, 2] });
    expect(stack.info.name).toBe('stack.tif');
    expect(stack.warnings.join(' ')).toMatch(/assumed/);
    expect(plan.mapping.map((m) => [m.token, m.channel, m.assignedBy])).toEqual([['channel 1', 'DNA', 'order'], ['channel 2', 'Tubulin', 'order'], ['channel 3', 'Actin', 'order']]);
  });

  it('one sample is one channel: a greyscale TIFF, PNG or JPEG is an incomplete field before the run, never three copies', () => {
    const images = [f('flies/fly_tissue.tif'), f('flies/wing.png'), f('flies/eye.jpg'), f('flies/unread.tif')];
    const grey = (format: 'tiff' | 'png' | 'jpeg') => ({ format, width: 4, height: 4, channelNames: [undefined] });
    const probes = new Map([
      ['flies/fly_tissue.tif', grey('tiff')],
      ['flies/wing.png', grey('png')],
      ['flies/eye.jpg', grey('jpeg')],
    ]);
    // Inspected or not (unread.tif), none of them is ready.
    const plan = planRun(images, readMetadata([]), { probes });
    expect(plan.fields).toHaveLength(4);
    for (const field of plan.fields) {
      expect(field.input).toBeUndefined();
      expect(field.problems.join(' ')).toMatch(/one channel .*DNA, Tubulin and Actin must each come from a channel of its own/);
      expect(field.problems.join(' ')).toContain(field.info.name!);
    }
    expect(plan.mapping).toEqual([]);
  });

  it('an RGBA composite offers its samples for the mapping, alpha not used; a mapping reorders them', () => {
    const probes = new Map([['c/composite.tif', { format: 'tiff' as const, width: 4, height: 4, channelNames: ['Red', 'Green', 'Blue', 'Alpha'] }]]);
    const first = planRun([f('c/composite.tif')], readMetadata([]), { probes });
    expect(first.fields[0].input).toMatchObject({ channelOrder: [0, 1, 2] });
    expect(first.mapping.map((m) => [m.token, m.channel])).toEqual([['Alpha', null], ['Blue', 'Actin'], ['Green', 'Tubulin'], ['Red', 'DNA']]);
    let mapping = remap({}, 'Blue', 'DNA');
    mapping = remap(mapping, 'Red', 'Actin');
    const second = planRun([f('c/composite.tif')], readMetadata([]), { probes, mapping });
    expect(second.fields[0].input).toMatchObject({ channelOrder: [2, 1, 0] });
    expect(second.mapping.find((m) => m.token === 'Blue')).toMatchObject({ channel: 'DNA', assignedBy: 'mapping' });
  });

  it('lists every channel name of a stain-named drop with its file count; mapping them makes the fields ready', () => {
    const names = ['B2_01_1_1_DAPI_001', 'B2_01_2_1_GFP_001', 'B2_01_3_1_Propidium Iodide_001', 'B3_01_1_1_DAPI_001', 'B3_01_2_1_GFP_001', 'B3_01_3_1_Propidium Iodide_001'];
    const images = names.map((n) => f(`cytation/${n}.tif`));
    const plan = planRun(images, readMetadata([]));
    expect(plan.fields.map((x) => [x.info.well, x.info.site, x.input === undefined])).toEqual([['B02', 1, true], ['B03', 1, true]]);
    expect(plan.fields[0].problems.join(' ')).toMatch(/has no Tubulin image: none of its channels \(DAPI, GFP, Propidium Iodide\) is mapped to Tubulin/);
    expect(plan.mapping.map((m) => [m.token, m.files, m.channel, m.assignedBy])).toEqual([
      ['DAPI', 2, 'DNA', 'word'],
      ['GFP', 2, null, 'none'],
      ['Propidium Iodide', 2, null, 'none'],
    ]);
    const mapping = remap(remap({}, 'GFP', 'Tubulin'), 'Propidium Iodide', 'Actin');
    const mapped = planRun(images, readMetadata([]), { mapping });
    expect(mapped.fields.every((x) => x.input !== undefined)).toBe(true);
  });

  it('a file that could not be inspected is listed as not used, with the reason naming it', () => {
    const plan = planRun([f('p/broken.tif'), f('p/ok_w1.tif')], readMetadata([]), { probes: new Map([['p/broken.tif', new Error('"broken.tif" is a damaged TIFF file.')]]) });
    expect(plan.unused).toEqual([{ path: 'p/broken.tif', message: '"broken.tif" is a damaged TIFF file.' }]);
    expect(plan.fields.map((x) => x.info.files)).toEqual([['p/ok_w1.tif']]);
  });

  it('inspects only images whose names do not say their channel', () => {
    expect(['a/fly.tif', 'a/x.png', 'a/y.JPG', 'a/B02_s1_w1.tif', 'a/r01c01f01p01-ch1sk1fk1fl1.tiff', 'a/A01_DAPI.tif', 'a/.hidden.tif'].filter(needsProbe)).toEqual(['a/fly.tif', 'a/x.png', 'a/y.JPG']);
  });

  it('lists files it cannot use', () => {
    const plan = planRun([f('p/readme.tiff.txt')], readMetadata([]));
    expect(plan.fields).toEqual([]);
    expect(plan.unused[0]).toMatchObject({ path: 'p/readme.tiff.txt' });
  });
});
