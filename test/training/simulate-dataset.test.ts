// The simulator's dataset-sized runs (whole BBBC021 metadata tables, a plate of files on disk): slower than the
// unit tests in simulate.test.ts, so they run in the e2e tier (vite.config.ts).
import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeTiff } from '../../src/core/tiff/index.ts';
import { parseImageTable, parseMoaTable } from '../../src/core/metadata.ts';
import { MOA_CLASSES } from '../../src/core/labels.ts';
import { readMetadataTables, selectImageRows, writeSimulatedDataset } from '../../training/src/simulate/dataset-writer.ts';
import { renderClassExamples, writeMultiChannelExamples } from '../../training/src/simulate/class-examples.ts';
import { BBBC021_METADATA_DIR } from '../fixtures/paths.ts';

const metadataDir = BBBC021_METADATA_DIR;

describe('dataset writer', () => {
  it('selects subsets by plate, compounds per class and fields per treatment', async () => {
    const tables = await readMetadataTables(metadataDir);
    expect(selectImageRows(tables, {})).toHaveLength(13200);
    const onePlate = selectImageRows(tables, { plates: ['Week1_22123'] });
    expect(onePlate).toHaveLength(240);
    const labelled = selectImageRows(tables, { labelledOnly: true });
    expect(labelled).toHaveLength(3848);
    const small = selectImageRows(tables, { compoundsPerClass: 1, fieldsPerTreatment: 1, dmsoFields: 5 });
    const classes = new Set(small.map((i) => tables.imageRows[i].compound));
    expect(classes.size).toBe(13); // one compound per class + DMSO
    expect(() => selectImageRows(tables, { plates: ['Week0_1'] })).toThrow(/Unknown plate Week0_1/);
  });

  it('writes the real file names under Week<N>/Week<N>_<plate>/ with subset CSVs of the same columns', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'sim-writer-'));
    const summary = await writeSimulatedDataset({ outDir: out, metadataDir, height: 32, width: 40, plates: ['Week1_22123'], fieldsPerTreatment: 1, dmsoFields: 2 });
    const image = parseImageTable(await readFile(path.join(out, 'BBBC021_v1_image.csv'), 'utf8'));
    const original = await readFile(path.join(metadataDir, 'BBBC021_v1_image.csv'), 'utf8');
    expect((await readFile(path.join(out, 'BBBC021_v1_image.csv'), 'utf8')).split('\n')[0]).toBe(original.split(/\r?\n/)[0]);
    expect(image).toHaveLength(summary.fields);
    expect(summary.files).toBe(3 * summary.fields);
    const moa = parseMoaTable(await readFile(path.join(out, 'BBBC021_v1_moa.csv'), 'utf8'));
    expect(moa.length).toBeGreaterThan(0);
    const listed = await readdir(path.join(out, 'Week1', 'Week1_22123'));
    expect(listed).toHaveLength(summary.files);
    const first = image[0];
    expect(listed).toContain(first.files.Tubulin.fileName);
    const decoded = await decodeTiff(await readFile(path.join(out, first.files.Actin.pathName, first.files.Actin.fileName)), 'a.tif');
    expect([decoded.width, decoded.height]).toEqual([40, 32]);
  });
});

describe('multi-channel demo files', () => {
  it('writes one 3-channel TIFF per class that the core decodes as DNA, Tubulin, Actin planes', async () => {
    const tables = await readMetadataTables(metadataDir);
    const examples = renderClassExamples(tables, { height: 48, width: 60 }, 1);
    expect(examples.map((e) => e.moa)).toEqual([...MOA_CLASSES]);
    const dir = await mkdtemp(path.join(tmpdir(), 'sim-multi-'));
    for (const layout of ['planar', 'pages'] as const) {
      const files = await writeMultiChannelExamples(examples.slice(0, 2), path.join(dir, layout), layout);
      const decoded = await decodeTiff(new Uint8Array(await readFile(files[1])), files[1]);
      expect(decoded.planes).toHaveLength(3);
      expect(decoded.planes.map((p) => Array.from(p.data))).toEqual(examples[1].field.planes.map((p) => Array.from(p)));
      if (layout === 'pages') expect(decoded.planes.map((p) => p.name)).toEqual(['DNA', 'Tubulin', 'Actin']);
    }
  });
});
