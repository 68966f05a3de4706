// A full M-CNN training step on wasm (with our backward kernels) gives the cpu backend's gradients and update.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { buildMcnn } from '../../src/core/mcnn.ts';
import { createTrainStep, lossGradients } from '../../training/src/engine/train-step.ts';
import { registerWasmTrainingKernels } from '../../training/src/engine/wasm-kernels.ts';

function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

async function gradientsOn(backend: string, seed: number) {
  await tf.setBackend(backend);
  const model = buildMcnn({ height: 64, width: 64, widthMultiplier: 0.25, seed });
  const x = tf.tensor4d(random(2 * 64 * 64 * 3, 7), [2, 64, 64, 3]);
  const labels = tf.oneHot(tf.tensor1d([3, 11], 'int32'), 13);
  const { loss, grads } = lossGradients(model, x, labels);
  const out: Record<string, Float32Array> = {};
  for (const [k, g] of Object.entries(grads)) out[k.replace(/_\d+$/, '')] = g.dataSync() as Float32Array;
  const lossValue = loss.dataSync()[0];
  tf.dispose([x, labels, loss, ...Object.values(grads)]);
  const step = createTrainStep(model, { learningRate: 0.01, momentum: 0.9 });
  const xs = tf.tensor4d(random(64 * 64 * 3, 9), [1, 64, 64, 3]);
  const ys = tf.oneHot(tf.tensor1d([5], 'int32'), 13);
  step(xs, ys);
  step(xs, ys);
  const after = model.getWeights().map((w) => w.dataSync() as Float32Array);
  tf.dispose([xs, ys]);
  model.dispose();
  return { loss: lossValue, grads: out, after };
}

describe('M-CNN training step on wasm vs cpu', () => {
  it('same loss, same gradients for every weight, same weights after two momentum steps', async () => {
    registerWasmTrainingKernels();
    const cpu = await gradientsOn('cpu', 42);
    const wasm = await gradientsOn('wasm', 42);
    expect(Math.abs(wasm.loss - cpu.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(cpu.loss)));
    const names = Object.keys(cpu.grads);
    expect(names.length).toBe(7 * 3 * 2 + 2 + 4); // 21 convs + 1x1 conv (kernel+bias each) + two dense layers
    expect(Object.keys(wasm.grads).sort()).toEqual(names.sort());
    for (const name of names) {
      const a = wasm.grads[name];
      const b = cpu.grads[name];
      let maxAbs = 0;
      let scale = 0;
      for (let i = 0; i < b.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
        scale = Math.max(scale, Math.abs(b[i]));
      }
      expect(scale, `${name} gradient is all zero`).toBeGreaterThan(0);
      expect(maxAbs / scale, name).toBeLessThan(2e-3);
    }
    for (let i = 0; i < cpu.after.length; i++) {
      let maxAbs = 0;
      for (let j = 0; j < cpu.after[i].length; j++) maxAbs = Math.max(maxAbs, Math.abs(wasm.after[i][j] - cpu.after[i][j]));
      expect(maxAbs).toBeLessThan(1e-4);
    }
  });
});
