// Field names for rows and views: plate/well/site where known, the files otherwise.
import { describe, expect, it } from 'vitest';
import { fieldName, fieldTitle, siteLabel } from '../../src/app/state/field-names.ts';
import { planRun, readMetadata } from '../../src/app/state/intake.ts';

const f = (path: string) => ({ path, file: new File(['x'], path.split('/').pop()!) });

describe('field names', () => {
  it('a BBBC021 field is named by plate, well and site', () => {
    const plan = planRun(['B02_s1_w1', 'B02_s1_w2', 'B02_s1_w4'].map((n) => f(`Week1_22123/${n}.tif`)), readMetadata([]));
    expect(fieldTitle(plan.fields[0].info)).toBe('Week1_22123 · B02 · site 1');
    expect(siteLabel(plan.fields[0].info)).toBe('site 1');
  });

  it('files without plate or well are named by their files, never "– –" or "site ?"', () => {
    const probes = new Map([['fly_tissue.tif', { format: 'tiff' as const, width: 2, height: 2, channelNames: [undefined, undefined, undefined] }]]);
    const plan = planRun([f('fly_tissue.tif'), f('shapes/pic_ch1.tif'), f('shapes/pic_ch2.tif'), f('shapes/pic_ch3.tif')], readMetadata([]), { probes });
    const titles = plan.fields.map((x) => [fieldTitle(x.info), siteLabel(x.info)]);
    expect(titles).toEqual([
      ['fly_tissue.tif', 'fly_tissue.tif'],
      ['shapes · pic_*', 'pic_*'],
    ]);
    for (const [title, site] of titles) expect(`${title} ${site}`).not.toMatch(/–|\?/);
    expect(fieldName({ id: 'x', files: ['a/b/c.tif'] })).toBe('c.tif');
  });
});
