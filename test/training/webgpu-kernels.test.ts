// Our WebGPU kernels (src/core/webgpu) on a real adapter (Dawn in Node; SwiftShader where there is no GPU) against the
// cpu backend: each kernel on random tensors over many shapes, then a whole M-CNN training step.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { planFilterGrad } from '../../src/core/webgpu/conv2d-backprop-filter.ts';
import { runsOurWebgpuKernel, useWebgpuKernels, WEBGPU_KERNEL_NAMES } from '../../src/core/webgpu/kernels.ts';
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
    expect(WEBGPU_KERNEL_NAMES).toEqual(['Conv2DBackpropFilter', 'MaxPoolGrad']);
    for (const name of WEBGPU_KERNEL_NAMES) expect(runsOurWebgpuKernel(name), name).toBe(true);
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

  // M-CNN's pools (window = stride, 'valid' pre-pools, 'same' post-pools padding sizes that do not divide), ReLU zeros
  // (all-zero windows: ties, the first element gets the gradient), and overlapping windows (the stock kernel's case;
  // without ties, which TF.js's stock webgpu kernel breaks differently from the cpu backend's where windows overlap).
  const pools: { x: [number, number, number, number]; k: number; stride?: number; pad: 'same' | 'valid'; relu: boolean }[] = [
    { x: [2, 16, 20, 3], k: 4, pad: 'valid', relu: false },
    { x: [1, 16, 20, 8], k: 16, pad: 'same', relu: true },
    { x: [2, 4, 5, 16], k: 2, pad: 'same', relu: true },
    { x: [3, 9, 7, 5], k: 3, pad: 'valid', relu: true },
    { x: [1, 70, 75, 3], k: 64, pad: 'same', relu: false },
    { x: [1, 11, 13, 2], k: 3, stride: 2, pad: 'same', relu: false },
  ];
  for (const [i, p] of pools.entries()) {
    const stride = p.stride ?? p.k;
    it(`MaxPoolGrad: x ${p.x.join('x')}, ${p.k}x${p.k} stride ${stride}, ${p.pad}${p.relu ? ', ReLU zeros (ties)' : ''}${stride !== p.k ? ' (overlapping: stock kernel)' : ''}`, async () => {
      const info = tf.backend_util.computePool2DInfo(p.x, p.k, stride, 1, p.pad);
      const dyShape = [p.x[0], info.outHeight, info.outWidth, p.x[3]];
      const x = random(p.x, 31 + i);
      if (p.relu) for (let j = 0; j < x.length; j++) x[j] = Math.max(0, x[j]);
      const attrs = { filterSize: p.k, strides: stride, pad: p.pad };
      const y = await run('cpu', 'MaxPool', { x: [x, p.x] }, attrs);
      const inputs = { dy: [random(dyShape, 71 + i), dyShape] as [Float32Array, number[]], input: [x, p.x] as [Float32Array, number[]], output: [y, dyShape] as [Float32Array, number[]] };
      const ours = await run('webgpu', 'MaxPoolGrad', inputs, attrs);
      const cpu = await run('cpu', 'MaxPoolGrad', inputs, attrs);
      // Ours copies one dy per element: exact. The stock kernel sums overlapping windows in its own order.
      if (stride === p.k) expect(Array.from(ours)).toEqual(Array.from(cpu));
      else expect(maxDifference(ours, cpu).maxAbs).toBeLessThan(1e-6);
    });
  }

  it("useWebgpuKernels('stock') puts TF.js's kernels back, 'ours' ours again", () => {
    useWebgpuKernels('stock');
    for (const name of WEBGPU_KERNEL_NAMES) expect(runsOurWebgpuKernel(name), name).toBe(false);
    useWebgpuKernels('ours');
    for (const name of WEBGPU_KERNEL_NAMES) expect(runsOurWebgpuKernel(name), name).toBe(true);
  });

  it('a whole M-CNN training step (64x64, width x0.25): same loss, gradients and updated weights as cpu', async () => {
    const cpu = await trainStepOn('cpu', 42, [5]);
    const webgpu = await trainStepOn('webgpu', 42, [5]);
    expectSameStep(webgpu, cpu);
  }, 300_000); // 55-72 s on SwiftShader with the 2 cores shared by other work
});
