// Our WebGPU kernels (src/core/webgpu) on a real adapter (Dawn in Node; SwiftShader where there is no GPU) against the
// cpu backend: each kernel on random tensors over many shapes, then a whole M-CNN training step.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { planFilterGrad } from '../../src/core/webgpu/conv2d-backprop-filter.ts';
import { WEBGPU_KERNELS } from '../../src/core/webgpu/kernels.ts';
import { selectBackend } from '../../training/src/backend/select.ts';
import { Rng } from '../../training/src/util/prng.ts';
import { expectSameStep, maxDifference, trainStepOn } from './step-reference.ts';

/** Null when Dawn gives an adapter; else why not (no adapter, or the optional Dawn package absent). Any other failure fails the file. */
async function webgpuUnavailable(): Promise<string | null> {
  try {
    await selectBackend({ requested: 'webgpu', log: null });
    return null;
  } catch (e) {
    const message = (e as Error).message;
    if (/no adapter|optional package 'webgpu'/.test(message)) return message;
    throw e;
  }
}
const unavailable = await webgpuUnavailable();

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;
interface Case {
  x: [number, number, number, number];
  k: number;
  co: number;
  stride?: number;
  pad: Pad;
}

const random = (shape: number[], seed: number) => new Rng(seed).uniformFloats(shape.reduce((a, b) => a * b, 1), -1, 1);

async function run(backend: string, kernel: string, inputs: Record<string, [Float32Array, number[]]>, attrs: object): Promise<Float32Array> {
  await tf.setBackend(backend);
  const out = tf.tidy(() => {
    const ins: Record<string, tf.Tensor> = {};
    for (const [name, [values, shape]] of Object.entries(inputs)) ins[name] = tf.tensor(values, shape);
    return tf.engine().runKernel(kernel, ins, attrs as tf.NamedAttrMap) as tf.Tensor;
  });
  const values = (await out.data()) as Float32Array;
  out.dispose();
  return values;
}

// Channels 1..1024 (small images for the wide ones), 1x1 and 5x5, 'same', 'valid' and explicit padding, strides 1
// and 2, batch 1..8, odd sizes, output widths that are not a multiple of a tile; one split and many.
const filterCases: Case[] = [
  { x: [1, 17, 19, 3], k: 5, co: 16, pad: 'same' },
  { x: [2, 9, 11, 16], k: 5, co: 16, pad: 'valid' },
  { x: [3, 7, 9, 32], k: 1, co: 64, pad: 'same' },
  { x: [8, 5, 7, 24], k: 5, co: 40, pad: 'same' },
  { x: [1, 3, 5, 1024], k: 1, co: 12, pad: 'valid' },
  { x: [2, 4, 3, 208], k: 1, co: 1024, pad: 'same' },
  { x: [1, 6, 7, 5], k: 5, co: 1023, pad: 'same' },
  { x: [4, 48, 60, 3], k: 5, co: 4, pad: 'same' },
  { x: [2, 17, 21, 4], k: 5, co: 3, stride: 2, pad: 'same' },
  { x: [1, 19, 23, 2], k: 5, co: 5, stride: 2, pad: 'valid' },
  { x: [1, 12, 14, 1], k: 5, co: 7, pad: [[0, 0], [1, 3], [2, 1], [0, 0]] },
];

describe.skipIf(unavailable !== null)(`WebGPU kernels vs cpu${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('the webgpu backend runs ours, not the stock kernels', () => {
    for (const ours of WEBGPU_KERNELS) expect(tf.getKernel(ours.kernelName, 'webgpu')).toBe(ours);
  });

  it('the cases cover one split and many', () => {
    const splits = filterCases.map((c) => planFilterGrad(tf.backend_util.computeConv2DInfo(c.x, [c.k, c.k, c.x[3], c.co], c.stride ?? 1, 1, c.pad)).splits);
    expect(Math.min(...splits)).toBe(1);
    expect(Math.max(...splits)).toBeGreaterThan(8);
  });

  for (const [i, c] of filterCases.entries()) {
    const padName = typeof c.pad === 'string' ? c.pad : 'explicit';
    it(`Conv2DBackpropFilter: x ${c.x.join('x')}, ${c.k}x${c.k} -> ${c.co}, stride ${c.stride ?? 1}, ${padName}`, async () => {
      const filterShape: [number, number, number, number] = [c.k, c.k, c.x[3], c.co];
      const info = tf.backend_util.computeConv2DInfo(c.x, filterShape, c.stride ?? 1, 1, c.pad);
      const dyShape = [c.x[0], info.outHeight, info.outWidth, c.co];
      const attrs = { strides: [c.stride ?? 1, c.stride ?? 1], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape };
      const inputs = { x: [random(c.x, 11 + i), c.x] as [Float32Array, number[]], dy: [random(dyShape, 97 + i), dyShape] as [Float32Array, number[]] };
      const ours = await run('webgpu', 'Conv2DBackpropFilter', inputs, attrs);
      const cpu = await run('cpu', 'Conv2DBackpropFilter', inputs, attrs);
      const { maxAbs, scale } = maxDifference(ours, cpu);
      expect(scale).toBeGreaterThan(0);
      expect(maxAbs / scale).toBeLessThan(1e-5);
    });
  }

  it('a whole M-CNN training step (64x64, width x0.25): same loss, gradients and updated weights as cpu', async () => {
    const cpu = await trainStepOn('cpu', 42, [5]);
    const webgpu = await trainStepOn('webgpu', 42, [5]);
    expectSameStep(webgpu, cpu);
  });
});
