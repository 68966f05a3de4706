// The native engine (oneDNN + OpenMP behind TF.js) against the cpu backend, kernel by kernel and for a whole
// M-CNN training step; bit-identical results for the same thread count.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { isAvailable, kernels, unavailableReason } from '@moa-lens/native';
import { beforeAll, describe, expect, it } from 'vitest';
import { NATIVE_BACKEND, registerNativeBackend } from '../../training/src/backend/native-backend.ts';
import { Rng } from '../../training/src/util/prng.ts';
import { expectSameStep, maxDifference, trainStepOn } from './step-reference.ts';

type Shape4 = [number, number, number, number];
type Inputs = Record<string, [Float32Array, number[]]>;

const random = (n: number, seed: number, lo = -1, hi = 1) => new Rng(seed).uniformFloats(n, lo, hi);
const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

async function run(backend: string, kernel: string, inputs: Inputs, attrs: object): Promise<{ values: Float32Array; shape: number[] }> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const ins: Record<string, tf.Tensor> = {};
    for (const [k, [v, s]] of Object.entries(inputs)) ins[k] = tf.tensor(v, s);
    const out = tf.engine().runKernel(kernel, ins, attrs as tf.NamedAttrMap) as tf.Tensor;
    return { values: out.dataSync() as Float32Array, shape: out.shape };
  });
}

/** Runs a kernel natively and on cpu; returns the largest difference relative to the reference's largest value. */
async function relativeError(kernel: string, inputs: Inputs, attrs: object): Promise<number> {
  const ours = await run(NATIVE_BACKEND, kernel, inputs, attrs);
  const ref = await run('cpu', kernel, inputs, attrs);
  expect(ours.shape).toEqual(ref.shape);
  const { maxAbs, scale } = maxDifference(ours.values, ref.values);
  expect(scale, `${kernel}: the reference is all zero, the comparison would prove nothing`).toBeGreaterThan(0);
  return maxAbs / scale;
}

interface ConvCase {
  x: Shape4;
  k: number;
  co: number;
  stride: number;
  pad: 'same' | 'valid';
}

// Channels 1..1024, kernels 1x1 and 5x5 (and 3x3), 'same' and 'valid', odd sizes, batch 1..8, strides 1 and 2.
const convCases: ConvCase[] = [
  { x: [1, 16, 20, 1], k: 5, co: 16, stride: 1, pad: 'same' },
  { x: [2, 32, 40, 3], k: 5, co: 16, stride: 1, pad: 'same' },
  { x: [8, 13, 17, 16], k: 5, co: 16, stride: 1, pad: 'same' },
  { x: [3, 11, 13, 5], k: 3, co: 7, stride: 1, pad: 'valid' },
  { x: [4, 9, 11, 32], k: 5, co: 64, stride: 1, pad: 'valid' },
  { x: [1, 4, 5, 1024], k: 1, co: 1024, stride: 1, pad: 'same' },
  { x: [2, 3, 3, 208], k: 1, co: 1024, stride: 1, pad: 'valid' },
  { x: [5, 7, 9, 64], k: 5, co: 64, stride: 1, pad: 'same' },
  { x: [2, 17, 21, 4], k: 5, co: 3, stride: 2, pad: 'same' },
  { x: [1, 19, 23, 2], k: 3, co: 5, stride: 2, pad: 'valid' },
];

describe.skipIf(!isAvailable())('native engine kernels vs cpu', () => {
  beforeAll(() => {
    registerNativeBackend().setThreads(2);
  });

  for (const [i, c] of convCases.entries()) {
    it(`convolutions: x ${c.x.join('x')}, ${c.k}x${c.k} -> ${c.co}, stride ${c.stride}, ${c.pad}`, async () => {
      const filterShape: Shape4 = [c.k, c.k, c.x[3], c.co];
      const info = tf.backend_util.computeConv2DInfo(c.x, filterShape, c.stride, 1, c.pad);
      const yShape = [c.x[0], info.outHeight, info.outWidth, c.co];
      const x = random(sizeOf(c.x), 11 + i);
      const w = random(sizeOf(filterShape), 5 + i);
      const bias = random(c.co, 3 + i);
      const dy = random(sizeOf(yShape), 97 + i);
      const attrs = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', dilations: [1, 1], filterShape, inputShape: c.x };
      const fwd = { x: [x, c.x], filter: [w, filterShape] } as Inputs;
      expect(await relativeError('Conv2D', fwd, attrs)).toBeLessThan(1e-5);
      for (const activation of ['linear', 'relu']) {
        expect(await relativeError('FusedConv2D', { ...fwd, bias: [bias, [c.co]] }, { ...attrs, activation })).toBeLessThan(1e-5);
      }
      expect(await relativeError('Conv2DBackpropInput', { dy: [dy, yShape], filter: [w, filterShape] }, attrs)).toBeLessThan(1e-5);
      expect(await relativeError('Conv2DBackpropFilter', { x: [x, c.x], dy: [dy, yShape] }, attrs)).toBeLessThan(1e-5);
    });
  }

  it('picks oneDNN JIT kernels for M-CNN convolutions, never the reference ones', async () => {
    const xShape: Shape4 = [2, 64, 80, 16];
    const filterShape: Shape4 = [5, 5, 16, 16];
    const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], filterShape, inputShape: xShape };
    const x = random(sizeOf(xShape), 1);
    const w = random(sizeOf(filterShape), 2);
    await run(NATIVE_BACKEND, 'Conv2D', { x: [x, xShape], filter: [w, filterShape] }, attrs);
    await run(NATIVE_BACKEND, 'Conv2DBackpropInput', { dy: [x, xShape], filter: [w, filterShape] }, attrs);
    await run(NATIVE_BACKEND, 'Conv2DBackpropFilter', { x: [x, xShape], dy: [x, xShape] }, attrs);
    const impls = Object.entries(kernels().implementations()).filter(([key]) => key.includes(':2,64,80,16,5,5,16,') || key.startsWith('conv_bwd_weights_band:1,'));
    // With 2 threads the weight gradient runs as row bands, one single-threaded primitive per band.
    expect([...new Set(impls.map(([key]) => key.split(':')[0]))].sort()).toEqual(['conv_bwd_data', 'conv_bwd_weights_band', 'conv_fwd']);
    for (const [key, impl] of impls) expect(impl, key).not.toMatch(/^ref/);
  });

  const pools: { x: Shape4; k: number; stride?: number; pad: 'same' | 'valid'; relu: boolean }[] = [
    { x: [2, 16, 20, 3], k: 4, pad: 'valid', relu: false },
    { x: [1, 16, 20, 8], k: 16, pad: 'same', relu: true },
    { x: [2, 4, 5, 16], k: 2, pad: 'same', relu: true },
    { x: [1, 9, 7, 5], k: 3, pad: 'valid', relu: true },
    { x: [3, 10, 12, 4], k: 3, stride: 2, pad: 'same', relu: false }, // overlapping: native forward, cpu gradient
    { x: [1, 64, 80, 3], k: 64, pad: 'valid', relu: false },
  ];
  for (const [i, p] of pools.entries()) {
    const stride = p.stride ?? p.k;
    it(`max pool and its gradient: x ${p.x.join('x')}, ${p.k}x${p.k} stride ${stride}, ${p.pad}${p.relu ? ', ReLU zeros (ties)' : ''}`, async () => {
      const info = tf.backend_util.computePool2DInfo(p.x, p.k, stride, 1, p.pad);
      const dyShape = [p.x[0], info.outHeight, info.outWidth, p.x[3]];
      const x = random(sizeOf(p.x), 31 + i);
      if (p.relu) for (let j = 0; j < x.length; j++) x[j] = Math.max(0, x[j]); // half zeros: all-zero windows tie
      const dy = random(sizeOf(dyShape), 71 + i);
      const attrs = { filterSize: p.k, strides: stride, pad: p.pad };
      const forward = { x: [x, p.x] } as Inputs;
      expect(Array.from((await run(NATIVE_BACKEND, 'MaxPool', forward, attrs)).values)).toEqual(Array.from((await run('cpu', 'MaxPool', forward, attrs)).values));
      const ins = { dy: [dy, dyShape], input: [x, p.x], output: [new Float32Array(sizeOf(dyShape)), dyShape] } as Inputs;
      const ours = await run(NATIVE_BACKEND, 'MaxPoolGrad', ins, attrs);
      const ref = await run('cpu', 'MaxPoolGrad', ins, attrs);
      expect(Array.from(ours.values)).toEqual(Array.from(ref.values));
    });
  }

  it('matrix products: dense layers forward and backward, batched and broadcast', async () => {
    const cases: { a: number[]; b: number[]; transposeA: boolean; transposeB: boolean }[] = [
      { a: [1, 3, 1280], b: [1, 1280, 512], transposeA: false, transposeB: false },
      { a: [1, 3, 512], b: [1, 1280, 512], transposeA: false, transposeB: true },
      { a: [1, 3, 1280], b: [1, 3, 512], transposeA: true, transposeB: false },
      { a: [4, 7, 5], b: [4, 5, 6], transposeA: false, transposeB: false },
      { a: [4, 7, 5], b: [1, 6, 5], transposeA: false, transposeB: true },
      { a: [2, 1, 9], b: [2, 1, 9], transposeA: true, transposeB: false },
    ];
    for (const [i, c] of cases.entries()) {
      const ins = { a: [random(sizeOf(c.a), 3 + i), c.a], b: [random(sizeOf(c.b), 9 + i), c.b] } as Inputs;
      expect(await relativeError('BatchMatMul', ins, c), JSON.stringify(c)).toBeLessThan(1e-5);
    }
    const n = 512;
    const fused = { a: [random(3 * 1280, 1), [3, 1280]], b: [random(1280 * n, 2), [1280, n]], bias: [random(n, 3), [n]] } as Inputs;
    for (const activation of ['linear', 'relu']) {
      expect(await relativeError('_FusedMatMul', fused, { transposeA: false, transposeB: false, activation })).toBeLessThan(1e-5);
    }
  });

  it('element-wise ops with same-shape, scalar and bias broadcasting, and general broadcasting through the fallback', async () => {
    const shapes: [number[], number[]][] = [
      [[2, 9, 11, 16], [2, 9, 11, 16]],
      [[2, 9, 11, 16], [16]],
      [[16], [2, 9, 11, 16]],
      [[1, 1, 1, 16], [2, 9, 11, 16]],
      [[3, 5], []],
      [[], [3, 5]],
      [[3, 1], [1, 5]], // not an innermost repeat: the cpu kernel runs
    ];
    for (const [i, [sa, sb]] of shapes.entries()) {
      const ins = { a: [random(sizeOf(sa), 13 + i), sa], b: [random(sizeOf(sb), 17 + i, 0.5, 2), sb] } as Inputs;
      for (const op of ['Add', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Minimum']) {
        expect(await relativeError(op, ins, {}), `${op} ${sa} ${sb}`).toBeLessThan(1e-6);
      }
    }
    const x = { x: [random(2 * 9 * 11 * 16, 5), [2, 9, 11, 16]] } as Inputs;
    expect(await relativeError('Relu', x, {})).toBe(0);
    expect(await relativeError('Step', x, { alpha: 0 })).toBe(0);
  });

  it('sums over leading axes (bias gradients), everything, and other axes through the fallback', async () => {
    const shape = [3, 17, 19, 16];
    const ins = { x: [random(sizeOf(shape), 23), shape] } as Inputs;
    for (const [axis, keepDims] of [[[0, 1, 2], false], [[0, 1, 2, 3], false], [[0], true], [[1, 0], false], [[3], false], [[1, 2], true]] as const) {
      expect(await relativeError('Sum', ins, { axis, keepDims }), `axis ${axis}`).toBeLessThan(1e-5);
    }
  });

  it('refuses buffers of the wrong size with a clear error instead of reading past them', () => {
    const native = kernels();
    expect(() => native.conv2dForward(new Float32Array(10), new Float32Array(25), null, new Float32Array(10), [1, 2, 5, 1], [5, 5, 1, 1], [1, 2, 5, 1], [1, 1], [2, 2, 2, 2], false)).not.toThrow();
    expect(() => native.conv2dForward(new Float32Array(9), new Float32Array(25), null, new Float32Array(10), [1, 2, 5, 1], [5, 5, 1, 1], [1, 2, 5, 1], [1, 1], [2, 2, 2, 2], false)).toThrow(/x holds 9 floats, expected 10/);
    expect(() => native.sumRows(new Float32Array(6), 2, 4, new Float32Array(4))).toThrow(/holds 6 floats, expected 8/);
  });
});

describe.skipIf(!isAvailable())('M-CNN training step on the native engine', () => {
  it('same loss, gradient of every weight and weights after two momentum steps as the cpu backend', async () => {
    registerNativeBackend().setThreads(2);
    const cpu = await trainStepOn('cpu', 42, [5, 1, 12]);
    const native = await trainStepOn(NATIVE_BACKEND, 42, [5, 1, 12]);
    expectSameStep(native, cpu);
  });

  it('is bit-identical run to run for the same thread count (1 and 2 threads)', async () => {
    const native = registerNativeBackend();
    for (const threads of [1, 2]) {
      native.setThreads(threads);
      const first = await trainStepOn(NATIVE_BACKEND, 7, [5, 1, 12]);
      const second = await trainStepOn(NATIVE_BACKEND, 7, [5, 1, 12]);
      expect(Buffer.from(second.gradient.buffer).equals(Buffer.from(first.gradient.buffer)), `gradient, ${threads} threads`).toBe(true);
      expect(Buffer.from(second.after.buffer).equals(Buffer.from(first.after.buffer)), `weights, ${threads} threads`).toBe(true);
    }
    native.setThreads(2);
  });
});

describe.runIf(!isAvailable())('native engine unavailable', () => {
  it('says why and how to install it', () => {
    expect(unavailableReason()).toMatch(/libdnnl-dev/);
  });
});
