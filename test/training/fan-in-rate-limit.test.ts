import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { buildMcnn } from '../../src/core/mcnn.ts';
import { parseTrainArgs, validateTrainConfig } from '../../training/src/train/config.ts';
import { fanIn, MomentumSgd, parameterLayout, rateScales } from '../../training/src/train/optimizer.ts';

describe('--fan-in-rate-limit', () => {
  it('scales the rate of the kernels whose fan-in is above the limit, and of nothing else', async () => {
    await tf.setBackend('cpu');
    // 128x128 at width x0.25: the dense layer reads 1x1x256 (fan-in 256), the 5x5 convs 25 x 3..16.
    const model = buildMcnn({ height: 128, width: 128, widthMultiplier: 0.25, seed: 3 });
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const scales = rateScales(variables, 200);
    const scaled = Object.fromEntries(variables.flatMap((v, i) => (scales[i] === 1 ? [] : [[v.name.replace(/_\d+$/, ''), [fanIn(v.shape), scales[i]]]])));
    // Column 7 (64 filters x0.25 = 16) reads 25 x 16 = 400 in its second and third convs; columns 4-6 read 25 x 8 = 200, not above.
    expect(scaled).toEqual({ 'c7_conv2/kernel': [400, 0.5], 'c7_conv3/kernel': [400, 0.5], 'dense512/kernel': [256, 200 / 256] });
    expect(rateScales(variables, 0).every((s) => s === 1)).toBe(true);
    // Biases keep the rate whatever their layer's kernel gets.
    variables.forEach((v, i) => {
      if (v.rank === 1) expect(scales[i]).toBe(1);
    });
  });

  it('moves a scaled kernel by exactly that fraction of the unscaled step', async () => {
    await tf.setBackend('cpu');
    const kernel = tf.variable(tf.zeros([8, 2]), true, 'wide/kernel');
    const bias = tf.variable(tf.zeros([2]), true, 'wide/bias');
    const layout = parameterLayout([kernel, bias]);
    const gradient = new Float32Array(layout.total).fill(1);
    const plain = new MomentumSgd(layout, { momentum: 0, nesterov: false, weightDecay: 0, fanInRateLimit: 0 });
    plain.apply(gradient, 0.1);
    expect(Array.from(await kernel.data())).toEqual(Array(16).fill(-0.1).map(Math.fround));
    plain.dispose();
    kernel.assign(tf.zeros([8, 2]));
    bias.assign(tf.zeros([2]));
    const limited = new MomentumSgd(layout, { momentum: 0, nesterov: false, weightDecay: 0, fanInRateLimit: 2 });
    limited.apply(gradient, 0.1);
    for (const x of await kernel.data()) expect(x).toBeCloseTo(-0.1 * (2 / 8), 7);
    for (const x of await bias.data()) expect(x).toBeCloseTo(-0.1, 7);
    limited.dispose();
  });

  it('is off by default, takes a positive limit and refuses a negative one', () => {
    const base = ['--data', '/d', '--out', '/o'];
    expect(parseTrainArgs(base).fanInRateLimit).toBe(0);
    expect(parseTrainArgs([...base, '--fan-in-rate-limit', '3072']).fanInRateLimit).toBe(3072);
    expect(() => validateTrainConfig(parseTrainArgs([...base, '--fan-in-rate-limit', '-1']), 1, { requirePaths: false })).toThrow('--fan-in-rate-limit must be 0 (off) or positive.');
  });
});
