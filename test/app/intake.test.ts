import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planRun, readMetadata, remap } from '../../src/app/state/intake.ts';
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
    expect(b03.problems.join(' ')).toMatch(/no Tubulin image/);
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
    let mapping = remap({}, w3, 'DNA');
    mapping = remap(mapping, w1, 'Actin');
    const second = planRun(files, readMetadata([]), { mapping });
    const input = second.fields[0].input!;
    expect('channels' in input && [input.channels.DNA, input.channels.Tubulin, input.channels.Actin].map((x) => (x as File).name)).toEqual(['A01_s1_w3000AA228-AAAA-4BBB-8CCC-000000000058.tif', 'A01_s1_w2000AA228-AAAA-4BBB-8CCC-000000000058.tif', 'A01_s1_w1000AA228-AAAA-4BBB-8CCC-000000000058.tif']);
    const third = planRun(files, readMetadata([]), { mapping: remap({}, w3, null) });
    expect(third.fields[0].input).toBeUndefined();
  });

  it('makes one field per PNG/JPEG with the chosen RGB order and one per multi-channel TIFF', () => {
    const plan = planRun([f('shots/B07_s2.png'), f('shots/stack.tif')], readMetadata([]), { rgbOrder: [2, 1, 0] });
    const png = plan.fields.find((x) => x.info.files[0] === 'shots/B07_s2.png')!;
    expect(png.info).toMatchObject({ well: 'B07', site: 2, plate: 'shots' });
    expect(png.input).toMatchObject({ channelOrder: [2, 1, 0] });
    const stack = plan.fields.find((x) => x.info.files[0] === 'shots/stack.tif')!;
    expect(stack.input).toMatchObject({ channelOrder: [0, 1, 2] });
    expect(stack.warnings.join(' ')).toMatch(/assumed/);
  });

  it('lists files it cannot use', () => {
    const plan = planRun([f('p/readme.tiff.txt')], readMetadata([]));
    expect(plan.fields).toEqual([]);
    expect(plan.unused[0]).toMatchObject({ path: 'p/readme.tiff.txt' });
  });
});
