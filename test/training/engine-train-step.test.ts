// The trainer's own step (fused gradient + momentum SGD) on wasm with our backward kernels matches the cpu backend.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { buildMcnn } from '../../src/core/mcnn.ts';
import { registerWasmTrainingKernels } from '../../training/src/backend/wasm-kernels.ts';
import { MomentumSgd, parameterLayout, readFlat } from '../../training/src/train/optimizer.ts';
import { computeGradient, type StepBatch } from '../../training/src/train/step.ts';
import { Rng } from '../../training/src/util/prng.ts';

function batchOf(labels: number[], seed: number): StepBatch {
  const n = labels.length;
  return { images: new Rng(seed).uniformFloats(n * 64 * 64 * 3), labels: Int32Array.from(labels), weights: new Float32Array(n).fill(1), height: 64, width: 64, channels: 3 };
}

async function stepOn(backend: string, seed: number) {
  await tf.setBackend(backend);
  const model = buildMcnn({ height: 64, width: 64, widthMultiplier: 0.25, seed });
  const layout = parameterLayout(model.trainableWeights.map((w) => w.read() as tf.Variable));
  const { loss, gradient } = computeGradient(model, layout, batchOf([3, 11], 7), 0.1);
  const optimizer = new MomentumSgd(layout, { momentum: 0.9, nesterov: false, weightDecay: 5e-5 });
  for (let k = 0; k < 2; k++) optimizer.apply(computeGradient(model, layout, batchOf([5], 9 + k), 0.1).gradient, 0.01);
  const after = readFlat(layout);
  const sizes = layout.variables.map((v) => [v.name.replace(/_\d+$/, ''), v.size] as const);
  optimizer.dispose();
  model.dispose();
  return { loss, gradient, after, offsets: layout.offsets, sizes };
}

describe('M-CNN training step on wasm vs cpu', () => {
  it('same loss, same gradient for every weight, same weights after two momentum steps', async () => {
    registerWasmTrainingKernels();
    const cpu = await stepOn('cpu', 42);
    const wasm = await stepOn('wasm', 42);
    expect(Math.abs(wasm.loss - cpu.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(cpu.loss)));
    expect(cpu.sizes.length).toBe(7 * 3 * 2 + 2 + 4); // 21 convs + 1x1 conv (kernel+bias each) + two dense layers
    expect(wasm.sizes).toEqual(cpu.sizes);
    cpu.sizes.forEach(([name, size], i) => {
      const a = wasm.gradient.subarray(wasm.offsets[i], wasm.offsets[i] + size);
      const b = cpu.gradient.subarray(cpu.offsets[i], cpu.offsets[i] + size);
      let maxAbs = 0;
      let scale = 0;
      for (let j = 0; j < b.length; j++) {
        maxAbs = Math.max(maxAbs, Math.abs(a[j] - b[j]));
        scale = Math.max(scale, Math.abs(b[j]));
      }
      expect(scale, `${name} gradient is all zero`).toBeGreaterThan(0);
      expect(maxAbs / scale, name).toBeLessThan(2e-3);
    });
    let maxAbs = 0;
    for (let j = 0; j < cpu.after.length; j++) maxAbs = Math.max(maxAbs, Math.abs(wasm.after[j] - cpu.after[j]));
    expect(maxAbs).toBeLessThan(1e-4);
  });
});
