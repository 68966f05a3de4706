import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { buildMcnn } from '../../src/core/mcnn.ts';
import { MOA_CLASSES } from '../../src/core/labels.ts';
import { DEFAULT_PREPROCESS } from '../../src/core/preprocess.ts';
import { bundleIOHandler, loadBundle, METADATA_FILE, MODEL_FILE, sha256Hex, writeBundleFiles } from '../../src/core/bundle.ts';
import { createHash } from 'node:crypto';

await tf.setBackend('cpu');

async function makeBundle() {
  const model = buildMcnn({ height: 64, width: 128, widthMultiplier: 0.25, seed: 5 });
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save({ save: async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }) });
  const files = await writeBundleFiles(artifacts!, {
    name: 'test',
    createdAt: '2026-01-01T00:00:00Z',
    classes: [...MOA_CLASSES],
    input: { height: 64, width: 128, channels: 3 },
    preprocessing: DEFAULT_PREPROCESS,
    tiling: { minOverlap: 0 },
    architecture: { name: 'M-CNN', widthMultiplier: 0.25, parameters: model.countParams() },
    weights: { dtype: 'float32', bytes: model.countParams() * 4 },
    provenance: { trained: false, summary: 'random weights for a test' },
  });
  return { model, files };
}

const reader = (files: Map<string, Uint8Array>) => async (name: string) => {
  const f = files.get(name);
  if (!f) throw new Error('not found');
  return f;
};

describe('model bundle', () => {
  it('hashes with sha256 like node:crypto', async () => {
    const bytes = new TextEncoder().encode('MoA Lens');
    expect(await sha256Hex(bytes)).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('round-trips: written files load, verify and predict the same', async () => {
    const { model, files } = await makeBundle();
    const bundle = await loadBundle(reader(files));
    expect(bundle.metadata.classes).toEqual([...MOA_CLASSES]);
    expect(bundle.hash).toBe(createHash('sha256').update(files.get(METADATA_FILE)!).digest('hex'));
    const loaded = await tfl.loadLayersModel(bundleIOHandler(bundle));
    const x = tf.randomUniform([1, 64, 128, 3], 0, 1, 'float32', 1);
    const a = (model.predict(x) as tf.Tensor).dataSync();
    const b = (loaded.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it('refuses a tampered weight shard, naming the file', async () => {
    const { files } = await makeBundle();
    const shard = [...files.keys()].find((k) => k.endsWith('.bin'))!;
    const bad = files.get(shard)!.slice();
    bad[100] ^= 1;
    files.set(shard, bad);
    await expect(loadBundle(reader(files))).rejects.toThrow(new RegExp(`${shard} does not match the sha256`));
  });

  it('refuses a wrong version, a missing file and a shape mismatch', async () => {
    const { files } = await makeBundle();
    const meta = JSON.parse(new TextDecoder().decode(files.get(METADATA_FILE)));
    const withMeta = (m: object) => new Map([...files, [METADATA_FILE, new TextEncoder().encode(JSON.stringify(m))]]);
    await expect(loadBundle(reader(withMeta({ ...meta, version: 99 })))).rejects.toThrow(/version 99 is not supported/);
    await expect(loadBundle(reader(withMeta({ ...meta, input: { height: 128, width: 128, channels: 3 } })))).rejects.toThrow(/model takes input \[64,128,3\]/);
    await expect(loadBundle(reader(withMeta({ ...meta, classes: ['a', 'b'] })))).rejects.toThrow(/13 outputs but moa-lens.json names 2 classes/);
    const missing = new Map(files);
    missing.delete(MODEL_FILE);
    await expect(loadBundle(reader(missing))).rejects.toThrow(/cannot read model.json/);
    await expect(loadBundle(reader(new Map()))).rejects.toThrow(/cannot read moa-lens.json/);
  });
});
