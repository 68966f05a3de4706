import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildMcnn, checkMcnnInputSize, mcnnForwardMacs } from '../../src/core/mcnn.ts';

await tf.setBackend('cpu');

const shapeOf = (model: ReturnType<typeof buildMcnn>, name: string) => model.getLayer(name).outputShape;

describe('M-CNN builder', () => {
  it('has the paper parameter count and shapes at 1024x1280x3 with 13 classes', () => {
    const model = buildMcnn({ height: 1024, width: 1280 });
    expect(model.countParams()).toBe(42_577_261);
    expect(shapeOf(model, 'concat')).toEqual([null, 16, 20, 208]);
    expect(shapeOf(model, 'fuse_pool')).toEqual([null, 8, 10, 1024]);
    expect(shapeOf(model, 'c1_conv3')).toEqual([null, 1024, 1280, 16]);
    expect(shapeOf(model, 'c7_prepool')).toEqual([null, 16, 20, 3]);
    expect(shapeOf(model, 'moa')).toEqual([null, 13]);
    // ~25.8 GMAC per image (REFERENCE.md); column 1 is ~70% of it.
    expect(mcnnForwardMacs({ height: 1024, width: 1280 }) / 1e9).toBeCloseTo(25.8, 0);
    model.dispose();
  });

  it.each([
    [64, 64, [1, 1, 208], [1, 1, 1024]],
    [256, 320, [4, 5, 208], [2, 3, 1024]],
    [512, 640, [8, 10, 208], [4, 5, 1024]],
  ])('builds at %ix%i with the right shapes', (h, w, concat, pooled) => {
    const model = buildMcnn({ height: h, width: w });
    expect(shapeOf(model, 'concat')).toEqual([null, ...concat]);
    expect(shapeOf(model, 'fuse_pool')).toEqual([null, ...pooled]);
    model.dispose();
  });

  it('runs a small width-multiplied model end to end and gives probabilities', () => {
    const model = buildMcnn({ height: 128, width: 192, widthMultiplier: 0.25, classes: 13, seed: 1 });
    const x = tf.randomUniform([2, 128, 192, 3], 0, 1, 'float32', 7);
    const y = model.predict(x) as tf.Tensor;
    expect(y.shape).toEqual([2, 13]);
    const sums = Array.from(tf.sum(y, 1).dataSync());
    for (const s of sums) expect(s).toBeCloseTo(1, 5);
    expect(shapeOf(model, 'concat')).toEqual([null, 2, 3, 52]);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('is deterministic for a seed', () => {
    const a = buildMcnn({ height: 64, width: 64, widthMultiplier: 0.25, seed: 3 });
    const b = buildMcnn({ height: 64, width: 64, widthMultiplier: 0.25, seed: 3 });
    const wa = a.getWeights()[0].dataSync();
    const wb = b.getWeights()[0].dataSync();
    expect(Array.from(wa)).toEqual(Array.from(wb));
    a.dispose();
    b.dispose();
  });

  it.each([
    [1000, 1280],
    [1024, 1000],
    [32, 64],
    [0, 64],
    [64.5, 64],
  ])('refuses %ix%i and names the legal sizes', (h, w) => {
    expect(() => checkMcnnInputSize(h, w)).toThrow(/multiple of 64.*1024x1280/);
    expect(() => buildMcnn({ height: h, width: w })).toThrow(/must each be a positive multiple of 64/);
  });
});
