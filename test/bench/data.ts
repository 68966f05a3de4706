// Benchmark of the data path at 1024x1280: fields/s simulated, written (TIFF), read (core decode + preprocess), and read from the cache.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PREPROCESS, type PreprocessSpec } from '../../src/core/preprocess.ts';
import { classIndex, MOA_CLASSES } from '../../src/core/labels.ts';
import { compoundSignature, treatmentPhenotype } from '../../training/src/simulate/phenotypes.ts';
import { renderField, type RenderedField } from '../../training/src/simulate/render-field.ts';
import { encodeTiff16 } from '../../training/src/simulate/tiff-writer.ts';
import { FieldCache, loadSample, LoadReport, type Sample } from '../../training/src/data/index.ts';

export interface DataBenchResult {
  size: string;
  fields: number;
  generateFieldsPerSecond: number;
  writeFieldsPerSecond: number;
  readFieldsPerSecond: Record<string, number>;
  cachedReadFieldsPerSecond: Record<string, number>;
}

export async function benchData(options: { fields?: number; height?: number; width?: number } = {}): Promise<DataBenchResult> {
  const n = options.fields ?? 6;
  const height = options.height ?? 1024;
  const width = options.width ?? 1280;
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-data-'));
  try {
    const classes = MOA_CLASSES.filter((_, i) => i % 2 === 0);
    const phenotypes = Array.from({ length: n }, (_, i) => {
      const moa = classes[i % classes.length];
      return treatmentPhenotype(compoundSignature(`bench-${moa}`, moa, [1, 10]), 10);
    });
    renderField(phenotypes[0], { height: 128, width: 160, seed: 0 }); // warm-up (JIT)

    let t = performance.now();
    const fields: RenderedField[] = phenotypes.map((p, i) => renderField(p, { height, width, seed: i + 1 }));
    const generateSeconds = (performance.now() - t) / 1000;

    t = performance.now();
    const samples: Sample[] = [];
    for (let i = 0; i < n; i++) {
      const files = ['w1', 'w2', 'w4'].map((w) => path.join(dir, `B0${i}_s1_${w}.tif`)) as Sample['files'];
      for (let c = 0; c < 3; c++) await writeFile(files[c], encodeTiff16({ width, height, data: fields[i].planes[c] }));
      const moa = classes[i % classes.length];
      samples.push({ id: `bench/${i}`, plate: 'bench', week: 'bench', well: `B0${i}`, site: 1, compound: `bench-${moa}`, concentration: 10, moa, label: classIndex(moa), files });
    }
    const writeSeconds = (performance.now() - t) / 1000;

    const readFieldsPerSecond: Record<string, number> = {};
    const cachedReadFieldsPerSecond: Record<string, number> = {};
    for (const binning of [1, 4]) {
      const spec: PreprocessSpec = { ...DEFAULT_PREPROCESS, binning };
      const cache = new FieldCache(path.join(dir, 'cache'), spec);
      t = performance.now();
      for (const s of samples) await loadSample(s, spec, cache);
      readFieldsPerSecond[`binning ${binning}`] = n / ((performance.now() - t) / 1000);
      const cachedReads = new LoadReport();
      t = performance.now();
      for (const s of samples) await loadSample(s, spec, cache, cachedReads);
      cachedReadFieldsPerSecond[`binning ${binning}`] = n / ((performance.now() - t) / 1000);
      if (cachedReads.fromCache !== n) throw new Error(`expected ${n} cache hits, got ${cachedReads.fromCache}`);
    }
    const result: DataBenchResult = {
      size: `${height}x${width}`,
      fields: n,
      generateFieldsPerSecond: n / generateSeconds,
      writeFieldsPerSecond: n / writeSeconds,
      readFieldsPerSecond,
      cachedReadFieldsPerSecond,
    };
    const f = (x: number) => x.toFixed(2);
    console.log(`data path at ${result.size}, ${n} fields`);
    console.log(`  simulate (render 3 channels):      ${f(result.generateFieldsPerSecond)} fields/s`);
    console.log(`  encode + write 3 TIFFs:            ${f(result.writeFieldsPerSecond)} fields/s`);
    for (const key of Object.keys(readFieldsPerSecond)) {
      console.log(`  read (decode + preprocess, ${key}): ${f(readFieldsPerSecond[key])} fields/s; from cache ${f(cachedReadFieldsPerSecond[key])} fields/s`);
    }
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await benchData({ fields: Number(process.argv[2] ?? 6) });
}
