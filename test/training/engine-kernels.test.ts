// Our wasm Conv2DBackpropFilter/Input kernels against the cpu backend's, on random data over many shapes.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { conv2dBackpropFilterViaConv, stripCount } from '../../training/src/backend/conv-grad.ts';
import { registerWasmTrainingKernels } from '../../training/src/backend/wasm-kernels.ts';
import { Rng } from '../../training/src/util/prng.ts';
import { maxDifference } from './step-reference.ts';

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;
interface Case {
  x: [number, number, number, number];
  k: number;
  co: number;
  stride: number;
  pad: Pad;
}

const random = (shape: number[], seed: number) => new Rng(seed).uniformFloats(shape.reduce((a, b) => a * b, 1), -1, 1);

/** Runs one kernel on a backend and returns its values. */
async function run(backend: string, kernel: string, inputs: Record<string, [Float32Array, number[]]>, attrs: object): Promise<Float32Array> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const ins: Record<string, tf.Tensor> = {};
    for (const [k, [v, s]] of Object.entries(inputs)) ins[k] = tf.tensor(v, s);
    return (tf.engine().runKernel(kernel, ins, attrs as tf.NamedAttrMap) as tf.Tensor).dataSync() as Float32Array;
  });
}

function compare(ours: Float32Array, ref: Float32Array): { maxAbs: number; maxRel: number } {
  const { maxAbs, scale } = maxDifference(ours, ref);
  return { maxAbs, maxRel: maxAbs / scale };
}

const cases: Case[] = [
  { x: [1, 16, 20, 1], k: 5, co: 16, stride: 1, pad: 'same' },
  { x: [1, 32, 40, 3], k: 5, co: 16, stride: 1, pad: 'same' },
  { x: [2, 24, 32, 16], k: 5, co: 16, stride: 1, pad: 'same' },
  { x: [3, 16, 20, 32], k: 3, co: 8, stride: 1, pad: 'valid' },
  { x: [2, 8, 10, 64], k: 5, co: 64, stride: 1, pad: 'same' },
  { x: [1, 16, 20, 64], k: 1, co: 32, stride: 1, pad: 'same' },
  { x: [3, 11, 13, 5], k: 3, co: 7, stride: 1, pad: 'valid' },
  { x: [2, 17, 21, 4], k: 5, co: 3, stride: 2, pad: 'same' },
  { x: [1, 19, 23, 2], k: 3, co: 5, stride: 2, pad: 'valid' },
  { x: [1, 12, 14, 2], k: 3, co: 3, stride: 1, pad: [[0, 0], [1, 0], [2, 1], [0, 0]] },
];

describe('wasm training kernels vs cpu', () => {
  beforeAll(() => registerWasmTrainingKernels());

  it('registers Conv2DBackpropFilter for wasm (the stock backend has none)', () => {
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  for (const [i, c] of cases.entries()) {
    const name = `x ${c.x.join('x')}, ${c.k}x${c.k} -> ${c.co}, stride ${c.stride}, ${typeof c.pad === 'string' ? c.pad : 'explicit'}`;
    it(`matches cpu: ${name}`, async () => {
      const filterShape: [number, number, number, number] = [c.k, c.k, c.x[3], c.co];
      const info = tf.backend_util.computeConv2DInfo(c.x, filterShape, c.stride, 1, c.pad);
      const dyShape = [c.x[0], info.outHeight, info.outWidth, c.co];
      const x = random(c.x, 11 + i);
      const dy = random(dyShape, 97 + i);
      const w = random(filterShape, 5 + i);
      const attrs = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape, inputShape: c.x };
      const dwIn = { x: [x, c.x] as [Float32Array, number[]], dy: [dy, dyShape] as [Float32Array, number[]] };
      const dW = compare(await run('wasm', 'Conv2DBackpropFilter', dwIn, attrs), await run('cpu', 'Conv2DBackpropFilter', dwIn, attrs));
      expect(dW.maxRel).toBeLessThan(1e-5);
      const dxIn = { dy: [dy, dyShape] as [Float32Array, number[]], filter: [w, filterShape] as [Float32Array, number[]] };
      const dX = compare(await run('wasm', 'Conv2DBackpropInput', dxIn, attrs), await run('cpu', 'Conv2DBackpropInput', dxIn, attrs));
      expect(dX.maxRel).toBeLessThan(1e-5);
    });
  }

  // M-CNN's pools: window = stride, 'valid' pre-pools, 'same' post-pools (padding when the size does not divide).
  const pools: { x: [number, number, number, number]; k: number; pad: 'same' | 'valid'; relu: boolean }[] = [
    { x: [2, 16, 20, 3], k: 4, pad: 'valid', relu: false },
    { x: [1, 16, 20, 8], k: 16, pad: 'same', relu: true },
    { x: [2, 4, 5, 16], k: 2, pad: 'same', relu: true },
    { x: [1, 9, 7, 5], k: 3, pad: 'valid', relu: true },
  ];
  for (const [i, p] of pools.entries()) {
    it(`MaxPoolGrad matches cpu: x ${p.x.join('x')}, ${p.k}x${p.k} stride ${p.k}, ${p.pad}${p.relu ? ', ReLU zeros (ties)' : ''}`, async () => {
      const info = tf.backend_util.computePool2DInfo(p.x, p.k, p.k, 1, p.pad);
      const dyShape = [p.x[0], info.outHeight, info.outWidth, p.x[3]];
      const x = random(p.x, 31 + i);
      if (p.relu) for (let j = 0; j < x.length; j++) x[j] = Math.max(0, x[j]); // half zeros: all-zero windows tie
      const dy = random(dyShape, 71 + i);
      const attrs = { filterSize: p.k, strides: p.k, pad: p.pad };
      const ins = { dy: [dy, dyShape] as [Float32Array, number[]], input: [x, p.x] as [Float32Array, number[]] };
      const ours = await run('wasm', 'MaxPoolGrad', ins, attrs);
      const ref = await run('cpu', 'MaxPoolGrad', ins, attrs);
      expect(Array.from(ours)).toEqual(Array.from(ref));
    });
  }

  it('gives the same filter gradient when chunked over images and rows', async () => {
    await tf.setBackend('wasm');
    const xs: [number, number, number, number] = [2, 20, 24, 3];
    const x = tf.tensor4d(random(xs, 1), xs);
    const dy = tf.tensor4d(random([2, 20, 24, 4], 2), [2, 20, 24, 4]);
    const attrs = { strides: 1, pad: 'same' as const };
    const whole = conv2dBackpropFilterViaConv(x, dy, [5, 5, 3, 4], attrs).dataSync() as Float32Array;
    // 1000 floats forces one image per chunk and a few rows per chunk.
    const chunked = conv2dBackpropFilterViaConv(x, dy, [5, 5, 3, 4], attrs, { chunkFloats: 1000 }).dataSync() as Float32Array;
    expect(compare(chunked, whole).maxRel).toBeLessThan(1e-5);
  });

  it('folds enough width strips into channels, never narrower than 8 columns', () => {
    expect(stripCount(1, 1280)).toBe(8);
    expect(stripCount(8, 1280)).toBe(1);
    expect(stripCount(1, 20)).toBe(2);
    expect(stripCount(2, 4)).toBe(1);
  });
});
