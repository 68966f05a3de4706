import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { adaptedBundleFiles } from '../../src/core/adapted-bundle.ts';
import { bundleInMemory, bundleIOHandler, loadBundle, writeBundleFiles } from '../../src/core/bundle.ts';
import { OOD_METHOD, type OodSection } from '../../src/core/bundle-format.ts';
import { MOA_CLASSES } from '../../src/core/labels.ts';
import { encodeOodStats, fitOod, inputStatisticsCount } from '../../src/core/ood.ts';
import { NO_TRUST } from '../../src/core/bundle-trust.ts';
import { withFeatures } from '../../src/core/layers-predict.ts';
import { headProbabilities, type LinearHead } from '../../src/core/logistic-head.ts';
import { tinyBundleFiles } from '../browser/harness/fixtures.ts';
import { Rng } from '../../training/src/util/prng.ts';

describe('adapted bundle', () => {
  it('is a verified bundle of the base network with the new head: its probabilities are the head on the base features', async () => {
    await tf.setBackend('cpu');
    const base = await loadBundle(bundleInMemory(await tinyBundleFiles({ height: 64, width: 64, widthMultiplier: 0.125 })), { trust: NO_TRUST });
    const model = await tfl.loadLayersModel(bundleIOHandler(base));
    const inputs = (model.layers[model.layers.length - 1].input as tfl.SymbolicTensor).shape[1]!;
    const rng = new Rng(4);
    const head: LinearHead = { inputs, classes: 3, kernel: Float32Array.from({ length: inputs * 3 }, () => rng.normal() * 0.3), bias: Float32Array.from([0.1, -0.2, 0.3]) };
    const adaptation = {
      name: 'tiny-adapted',
      createdAt: '2026-11-28T00:00:00.000Z',
      classes: ['mine A', 'mine B', 'DMSO'],
      head,
      labels: { source: 'labels.csv', sha256: 'ab'.repeat(32), fields: 9, compounds: 3 },
      validation: { fields: 0.5, treatments: 0.6, compounds: 3, folds: 3 },
    };
    const files = await adaptedBundleFiles(model, { metadata: base.metadata, hash: base.hash }, adaptation);
    const adapted = await loadBundle(bundleInMemory(files), { trust: NO_TRUST });
    expect(adapted.trust.status).toBe('unverified');
    expect(adapted.metadata.labelSet).toBe('custom');
    expect(adapted.metadata.classes).toEqual(['mine A', 'mine B', 'DMSO']);
    expect(adapted.metadata.provenance.adaptedFrom).toEqual({ name: 'tiny-test', sha256: base.hash });
    expect(adapted.metadata.preprocessing).toEqual(base.metadata.preprocessing);
    const adaptedModel = await tfl.loadLayersModel(bundleIOHandler(adapted));
    const x = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 11);
    const [features] = withFeatures(model).predict(x) as tf.Tensor[];
    const probabilities = adaptedModel.predict(x) as tf.Tensor;
    const f = await features.array() as number[][];
    const p = await probabilities.array() as number[][];
    expect(p[0]).toHaveLength(3);
    f.forEach((row, i) => Array.from(headProbabilities(head, row)).forEach((v, k) => expect(p[i][k]).toBeCloseTo(v, 5)));
    // The base is untouched: still 13 classes.
    expect((model.predict(x) as tf.Tensor).shape).toEqual([2, 13]);
    await expect(adaptedBundleFiles(model, base, { ...adaptation, classes: ['a'] })).rejects.toThrow(/3 outputs for 1 classes/);
  });

  it("keeps the base bundle's out-of-distribution check while its class means name classes of the adapted list", async () => {
    await tf.setBackend('cpu');
    const tiny = await loadBundle(bundleInMemory(await tinyBundleFiles({ height: 64, width: 64, widthMultiplier: 0.125 })), { trust: NO_TRUST });
    const model = await tfl.loadLayersModel(bundleIOHandler(tiny));
    const width = (model.layers[model.layers.length - 1].input as tfl.SymbolicTensor).shape[1]!;
    const rng = new Rng(8);
    const statistics = inputStatisticsCount(3);
    const fit = fitOod(Array.from({ length: 40 }, (_, i) => ({ features: Array.from({ length: width + statistics }, () => rng.normal()), label: 4 + (i % 5) })));
    const { files: _files, format: _format, version: _version, ...meta } = tiny.metadata;
    const section: OodSection = { method: OOD_METHOD, file: 'ood-stats.bin', featureSize: width + statistics, inputStatistics: statistics, classes: fit.stats.classes, threshold: 2.5, passFraction: 0.95, shrinkage: fit.shrinkage, fitOn: { data: 'test', split: 'none', trainingFields: 40, heldOutFields: 0, heldOutPassed: 0 } };
    const base = await loadBundle(bundleInMemory(await writeBundleFiles(tiny.artifacts, { ...meta, ood: section }, undefined, new Map([['ood-stats.bin', encodeOodStats(fit.stats)]]))), { trust: NO_TRUST });
    expect(base.ood?.classes).toEqual([4, 5, 6, 7, 8]);
    const head = (classes: number): LinearHead => ({ inputs: width, classes, kernel: new Float32Array(width * classes), bias: new Float32Array(classes) });
    const adaptation = { name: 'a', createdAt: '2026-11-28T00:00:00.000Z', labels: { source: 'x', sha256: 'cd'.repeat(32), fields: 1, compounds: 2 }, validation: { fields: 1, treatments: 1, compounds: 2, folds: 2 } };
    const kept = await loadBundle(bundleInMemory(await adaptedBundleFiles(model, base, { ...adaptation, classes: [...MOA_CLASSES], head: head(13) })), { trust: NO_TRUST });
    expect(kept.metadata.ood).toEqual(section);
    expect(kept.ood).toEqual(base.ood);
    expect(kept.metadata.provenance.outOfDistributionCheck).toMatch(/kept/);
    const dropped = await loadBundle(bundleInMemory(await adaptedBundleFiles(model, base, { ...adaptation, classes: ['x', 'y', 'z'], head: head(3) })), { trust: NO_TRUST });
    expect(dropped.metadata.ood).toBeUndefined();
    expect(dropped.metadata.provenance.outOfDistributionCheck).toMatch(/not kept: its 5 class means do not fit 3 classes/);
  });
});
