import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MOA_CLASSES, DMSO } from '../../src/core/labels.ts';
import { DEFAULT_PREPROCESS, preprocessField, type PreprocessSpec } from '../../src/core/preprocess.ts';
import { parseImageTable, parseMoaTable, treatmentKey } from '../../src/core/metadata.ts';
import { writeSimulatedDataset, type SimulatedDatasetSummary } from '../../training/src/simulate/dataset-writer.ts';
import { encodeTiff16 } from '../../training/src/simulate/tiff-writer.ts';
import {
  balancedEpochOrder, classCounts, classWeights, epochOrder, FieldCache, leaveOneCompoundOutFolds, loadDatasetIndex,
  loadFieldPlanes, LoadReport, randomFieldSplit, shardOrder, streamBatches, type DatasetIndex, type Sample,
} from '../../training/src/data/index.ts';
import { BBBC021_METADATA_DIR } from '../fixtures/paths.ts';

const metadataDir = BBBC021_METADATA_DIR;
const spec: PreprocessSpec = { ...DEFAULT_PREPROCESS, binning: 2 };

let root: string;
let summary: SimulatedDatasetSummary;
let index: DatasetIndex;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'sim-data-'));
  summary = await writeSimulatedDataset({ outDir: root, metadataDir, height: 64, width: 80, seed: 11, compoundsPerClass: 2, fieldsPerTreatment: 2, dmsoFields: 26 });
  index = await loadDatasetIndex(root);
});

describe('dataset index', () => {
  it('reads every written field back with its label from the CSV join', async () => {
    const rows = parseImageTable(await readFile(path.join(root, 'BBBC021_v1_image.csv'), 'utf8'));
    const labels = new Map(parseMoaTable(await readFile(path.join(root, 'BBBC021_v1_moa.csv'), 'utf8')).map((r) => [treatmentKey(r.compound, r.concentration), r.moa]));
    expect(index.samples).toHaveLength(summary.fields);
    expect(index.samples).toHaveLength(rows.length);
    expect(index.skipped).toEqual([]);
    for (const s of index.samples) expect(MOA_CLASSES[s.label]).toBe(labels.get(treatmentKey(s.compound, s.concentration)));
    const counts = classCounts(index.samples);
    expect(counts.every((c) => c > 0)).toBe(true); // all 12 classes + DMSO
    expect(counts[MOA_CLASSES.indexOf('DMSO')]).toBe(26);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(summary.fields);
    expect(index.samples[0].files[0]).toMatch(/Week\d+\/Week\d+_\d+\/.*_w1[0-9A-F-]+\.tif$/);
    expect(new Set(index.samples.map((s) => s.id)).size).toBe(index.samples.length);
  });
});

describe('splits', () => {
  it('leave-one-compound-out: each compound tested once, never in its own training set; DMSO dealt by plate', () => {
    const folds = leaveOneCompoundOutFolds(index.samples);
    const compounds = new Set(index.samples.filter((s) => s.moa !== DMSO).map((s) => s.compound));
    expect(folds).toHaveLength(compounds.size);
    const testedTimes = new Array(index.samples.length).fill(0);
    for (const fold of folds) {
      const testCompounds = new Set(fold.test.filter((i) => index.samples[i].moa !== DMSO).map((i) => index.samples[i].compound));
      expect(testCompounds.size).toBe(1);
      const trainSet = new Set(fold.train);
      expect(fold.test.some((i) => trainSet.has(i))).toBe(false);
      expect(fold.train.some((i) => testCompounds.has(index.samples[i].compound))).toBe(false);
      expect(fold.train.length + fold.test.length).toBe(index.samples.length);
      const testPlates = new Set(fold.test.filter((i) => index.samples[i].moa === DMSO).map((i) => index.samples[i].plate));
      expect(fold.train.some((i) => index.samples[i].moa === DMSO && testPlates.has(index.samples[i].plate))).toBe(false);
      for (const i of fold.test) testedTimes[i]++;
    }
    expect(testedTimes.every((t) => t === 1)).toBe(true);
  });

  it('random field split is stratified, disjoint and complete', () => {
    const split = randomFieldSplit(index.samples, 0.25, 3);
    expect(new Set([...split.train, ...split.test]).size).toBe(index.samples.length);
    expect(split.train.length + split.test.length).toBe(index.samples.length);
    const testLabels = new Set(split.test.map((i) => index.samples[i].label));
    expect(testLabels.size).toBe(13);
    expect(randomFieldSplit(index.samples, 0.25, 3)).toEqual(split);
  });
});

describe('sharding and sampling', () => {
  const all = () => index.samples.map((_, i) => i);

  it.each([1, 2, 3, 4, 7])('covers every sample once per epoch over %i ranks (pad), same count per rank', (world) => {
    const order = epochOrder(all(), 2, 99);
    const shards = Array.from({ length: world }, (_, r) => shardOrder(order, r, world));
    const counts = shards.map((s) => s.length);
    expect(new Set(counts).size).toBe(1);
    const seen = shards.flat();
    expect(new Set(seen).size).toBe(index.samples.length);
    expect(seen.length - index.samples.length).toBe((world - (index.samples.length % world)) % world);
    const dropped = Array.from({ length: world }, (_, r) => shardOrder(order, r, world, 'drop')).flat();
    expect(new Set(dropped).size).toBe(dropped.length);
    expect(dropped.length).toBe(index.samples.length - (index.samples.length % world));
  });

  it('is deterministic per (epoch, seed) and reshuffles across epochs', () => {
    expect(epochOrder(all(), 1, 5)).toEqual(epochOrder(all(), 1, 5));
    expect(epochOrder(all(), 1, 5)).not.toEqual(epochOrder(all(), 2, 5));
    expect(() => shardOrder(all(), 2, 2)).toThrow(/rank/);
  });

  it('class weights undo the imbalance; balanced order draws classes evenly', () => {
    const idx = all();
    const weights = classWeights(index.samples, idx);
    const counts = classCounts(index.samples);
    for (let c = 0; c < 13; c++) expect(weights[c] * counts[c]).toBeCloseTo(idx.length / 13, 6);
    const drawn = balancedEpochOrder(index.samples, idx, 0, 1, 13_000);
    const perClass = classCounts(drawn.map((i) => index.samples[i]));
    for (const n of perClass) expect(Math.abs(n - 1000)).toBeLessThan(150);
  });
});

describe('batch streaming', () => {
  it('streams batches equal to core decode + preprocess, then serves later epochs from the cache', async () => {
    const cacheDir = await mkdtemp(path.join(tmpdir(), 'sim-cache-'));
    const order = [0, 5, 9, 17, 30];
    const run = async (cache: FieldCache) => {
      const report = new LoadReport();
      const batches = [];
      for await (const b of streamBatches(index.samples, order, { batchSize: 2, spec: cache.spec, cache, report })) batches.push(b);
      return { batches, report };
    };
    const first = await run(new FieldCache(cacheDir, spec));
    expect(first.batches.map((b) => b.size)).toEqual([2, 2, 1]);
    expect(first.report.decoded).toBe(5);
    const b0 = first.batches[0];
    expect([b0.height, b0.width, b0.channels]).toEqual([32, 40, 3]);
    expect(Array.from(b0.labels)).toEqual([index.samples[0].label, index.samples[5].label]);
    const expected = preprocessField(await loadFieldPlanes(index.samples[5], spec.channels), spec);
    expect(Array.from(b0.x.subarray(expected.data.length))).toEqual(Array.from(expected.data));

    const second = await run(new FieldCache(cacheDir, spec));
    expect(second.report.fromCache).toBe(5);
    expect(second.report.decoded).toBe(0);
    expect(second.batches.map((b) => Array.from(b.x))).toEqual(first.batches.map((b) => Array.from(b.x)));

    // A touched source file invalidates its entry; another spec uses another cache folder.
    const later = new Date(Date.now() + 5000);
    await utimes(index.samples[9].files[1], later, later);
    const third = await run(new FieldCache(cacheDir, spec));
    expect(third.report.decoded).toBe(1);
    const otherSpec = new FieldCache(cacheDir, { ...spec, binning: 4 });
    expect(otherSpec.dir).not.toBe(new FieldCache(cacheDir, spec).dir);
    const fourth = await run(otherSpec);
    expect(fourth.report.decoded).toBe(5);
    expect(fourth.batches[0].height).toBe(16);
    const mismatched = streamBatches(index.samples, order, { batchSize: 2, spec, cache: otherSpec });
    await expect(mismatched.next()).rejects.toThrow(/cache was opened for/);
  });

  it('names, counts and skips missing or unreadable files without stopping, keeping the batch count', async () => {
    const copy = await mkdtemp(path.join(tmpdir(), 'sim-bad-'));
    const samples: Sample[] = index.samples.slice(0, 8).map((s) => ({ ...s }));
    // Field 1: DNA file deleted; field 3: Tubulin file truncated; field 6: Actin file replaced by text.
    const missing = path.join(copy, 'gone.tif');
    samples[1] = { ...samples[1], files: [missing, samples[1].files[1], samples[1].files[2]] };
    const truncated = path.join(copy, 'truncated.tif');
    await writeFile(truncated, await readFile(samples[3].files[1]));
    await truncate(truncated, 100);
    samples[3] = { ...samples[3], files: [samples[3].files[0], truncated, samples[3].files[2]] };
    const text = path.join(copy, 'text.tif');
    await writeFile(text, 'not a tiff at all');
    samples[6] = { ...samples[6], files: [samples[6].files[0], samples[6].files[1], text] };
    // Field 4: a valid Deflate-compressed copy of its DNA file loads like the uncompressed original.
    const planes = await loadFieldPlanes(samples[4]);
    const deflated = path.join(copy, 'deflated.tif');
    await writeFile(deflated, encodeTiff16({ width: planes[0].width, height: planes[0].height, data: planes[0].data as Uint16Array }, { compression: 'deflate', predictor: true }));
    samples[4] = { ...samples[4], files: [deflated, samples[4].files[1], samples[4].files[2]] };
    expect((await loadFieldPlanes(samples[4]))[0].data).toEqual(planes[0].data);
    const report = new LoadReport();
    const order = samples.map((_, i) => i);
    const seen: number[] = [];
    let batches = 0;
    for await (const b of streamBatches(samples, order, { batchSize: 3, spec, report })) {
      batches++;
      seen.push(...b.sampleIndices);
    }
    expect(batches).toBe(3);
    expect(seen).toHaveLength(8);
    expect(seen.filter((i) => [1, 3, 6].includes(i))).toEqual([]);
    expect(report.failures.map((f) => f.file).sort()).toEqual([missing, text, truncated].sort());
    expect(report.failures.find((f) => f.file === missing)?.reason).toMatch(/not found/);
    expect(report.summary()).toContain('3 skipped');
    // A second epoch skips known-bad fields without retrying them.
    for await (const _ of streamBatches(samples, order, { batchSize: 3, spec, report })) void _;
    expect(report.failures).toHaveLength(3);
    await rm(copy, { recursive: true, force: true });
  });

  it('reports fields whose files are missing at indexing time', async () => {
    const victim = index.samples[2].files[2];
    const saved = await readFile(victim);
    await rm(victim);
    try {
      const again = await loadDatasetIndex(root);
      expect(again.samples).toHaveLength(index.samples.length - 1);
      expect(again.skipped).toEqual([{ fieldId: index.samples[2].id, file: victim, reason: 'file not found' }]);
    } finally {
      await writeFile(victim, saved);
    }
  });
});
