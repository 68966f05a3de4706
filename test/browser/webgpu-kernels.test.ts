// Our WebGPU kernels in Chromium (--enable-unsafe-webgpu; SwiftShader without a GPU): the same WGSL as the trainer's
// Node path (test/training/webgpu-kernels.test.ts), registered over TF.js's in a page, against the cpu backend.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../training/src/util/prng.ts';
import { launchBrowser, type TestBrowser } from './harness/browser.ts';
import { startServer, type TestServer } from './harness/server.ts';
import type { KernelRun } from './harness/webgpu-kernels-probe.ts';

let server: TestServer;
let browser: TestBrowser;
let page: Page;
let started: { kernels: string[]; registered: boolean } | null = null;

beforeAll(async () => {
  server = await startServer({ mode: 'dev' });
  browser = await launchBrowser({ webgpu: true });
  page = await browser.newPage();
  await page.goto(new URL('test/browser/harness/webgpu-kernels-probe.html', server.url).href);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', undefined, { timeout: 60_000 });
  started = await page.evaluate(() => window.moaWebgpuKernels.start());
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const random = (shape: number[], seed: number) => Array.from(new Rng(seed).uniformFloats(shape.reduce((a, b) => a * b, 1), -1, 1));

const cases: { x: [number, number, number, number]; k: number; co: number; stride: number; pad: 'same' | 'valid' }[] = [
  { x: [1, 17, 19, 3], k: 5, co: 16, stride: 1, pad: 'same' },
  { x: [2, 4, 3, 208], k: 1, co: 1024, stride: 1, pad: 'same' },
  { x: [4, 48, 60, 3], k: 5, co: 4, stride: 1, pad: 'same' },
  { x: [2, 17, 21, 4], k: 5, co: 3, stride: 2, pad: 'valid' },
];

describe('WebGPU kernels in Chromium', () => {
  const NO_ADAPTER = 'skipped: Chromium with --enable-unsafe-webgpu gave no WebGPU adapter';

  it('the page runs our kernels over the stock ones', (ctx) => {
    if (!started) return ctx.skip(NO_ADAPTER);
    expect(started.registered).toBe(true);
    expect(started.kernels).toContain('Conv2DBackpropFilter');
  });

  for (const [i, c] of cases.entries()) {
    it(`Conv2DBackpropFilter matches cpu: x ${c.x.join('x')}, ${c.k}x${c.k} -> ${c.co}, stride ${c.stride}, ${c.pad}`, async (ctx) => {
      if (!started) return ctx.skip(NO_ADAPTER);
      const filterShape = [c.k, c.k, c.x[3], c.co] as [number, number, number, number];
      const info = tf.backend_util.computeConv2DInfo(c.x, filterShape, c.stride, 1, c.pad);
      const dyShape = [c.x[0], info.outHeight, info.outWidth, c.co];
      const run: KernelRun = {
        kernel: 'Conv2DBackpropFilter',
        inputs: { x: { values: random(c.x, 31 + i), shape: c.x }, dy: { values: random(dyShape, 71 + i), shape: dyShape } },
        attrs: { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', filterShape },
      };
      const { maxAbs, scale, length } = await page.evaluate((r) => window.moaWebgpuKernels.compare(r), run);
      expect(length).toBe(filterShape.reduce((a, b) => a * b, 1));
      expect(scale).toBeGreaterThan(0);
      expect(maxAbs / scale).toBeLessThan(1e-5);
    });
  }

  it('MaxPoolGrad matches cpu exactly: x 2x70x75x3, 64x64 stride 64, same, ReLU zeros (ties)', async (ctx) => {
    if (!started) return ctx.skip(NO_ADAPTER);
    const xShape = [2, 70, 75, 3];
    const x = random(xShape, 5).map((v) => Math.max(0, v));
    const attrs = { filterSize: 64, strides: 64, pad: 'same' };
    await tf.setBackend('cpu');
    const y = tf.maxPool(tf.tensor4d(x, xShape as [number, number, number, number]), 64, 64, 'same');
    const run: KernelRun = {
      kernel: 'MaxPoolGrad',
      inputs: { dy: { values: random(y.shape, 6), shape: y.shape }, input: { values: x, shape: xShape }, output: { values: Array.from(await y.data()), shape: y.shape } },
      attrs,
    };
    const { maxAbs, scale } = await page.evaluate((r) => window.moaWebgpuKernels.compare(r), run);
    expect(scale).toBeGreaterThan(0);
    expect(maxAbs).toBe(0);
  });
});
