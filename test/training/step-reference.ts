// The trainer's own step (fused gradient + two momentum SGD updates) on one backend, and its comparison with the cpu
// backend's: shared by the WASM and native engine tests.
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { buildMcnn } from '../../src/core/mcnn.ts';
import { MomentumSgd, parameterLayout, readFlat } from '../../training/src/train/optimizer.ts';
import { computeGradient, type StepBatch } from '../../training/src/train/step.ts';
import { Rng } from '../../training/src/util/prng.ts';

export interface StepOutcome {
  loss: number;
  gradient: Float32Array;
  /** Weights after two further momentum steps. */
  after: Float32Array;
  offsets: number[];
  sizes: (readonly [string, number])[];
}

function batchOf(labels: number[], seed: number): StepBatch {
  const n = labels.length;
  return { images: new Rng(seed).uniformFloats(n * 64 * 64 * 3), labels: Int32Array.from(labels), weights: new Float32Array(n).fill(1), height: 64, width: 64, channels: 3 };
}

/** A small M-CNN (64x64, width x0.25): the gradient of one batch, then two momentum steps on batches of `laterLabels`. */
export async function trainStepOn(backend: string, seed: number, laterLabels: number[]): Promise<StepOutcome> {
  await tf.setBackend(backend);
  const model = buildMcnn({ height: 64, width: 64, widthMultiplier: 0.25, seed });
  const layout = parameterLayout(model.trainableWeights.map((w) => w.read() as tf.Variable));
  const { loss, gradient } = await computeGradient(model, layout, batchOf([3, 11], 7), 0.1);
  const optimizer = new MomentumSgd(layout, { momentum: 0.9, nesterov: false, weightDecay: 5e-5, fanInRateLimit: 0 });
  for (let k = 0; k < 2; k++) optimizer.apply((await computeGradient(model, layout, batchOf(laterLabels, 9 + k), 0.1)).gradient, 0.01);
  const after = await readFlat(layout);
  const sizes = layout.variables.map((v) => [v.name.replace(/_\d+$/, ''), v.size] as const);
  optimizer.dispose();
  model.dispose();
  return { loss, gradient, after, offsets: layout.offsets, sizes };
}

/** The largest absolute difference of two arrays, and the largest magnitude in the reference. */
export function maxDifference(ours: ArrayLike<number>, reference: ArrayLike<number>): { maxAbs: number; scale: number } {
  expect(ours.length).toBe(reference.length);
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(ours[i] - reference[i]));
    scale = Math.max(scale, Math.abs(reference[i]));
  }
  return { maxAbs, scale };
}

/** Same loss, every weight's gradient within 2e-3 of its largest value, weights after the updates within 1e-4. */
export function expectSameStep(ours: StepOutcome, cpu: StepOutcome): void {
  expect(Math.abs(ours.loss - cpu.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(cpu.loss)));
  expect(cpu.sizes.length).toBe(7 * 3 * 2 + 2 + 4); // 21 convs + 1x1 conv (kernel+bias each) + two dense layers
  expect(ours.sizes).toEqual(cpu.sizes);
  cpu.sizes.forEach(([name, size], i) => {
    const { maxAbs, scale } = maxDifference(ours.gradient.subarray(ours.offsets[i], ours.offsets[i] + size), cpu.gradient.subarray(cpu.offsets[i], cpu.offsets[i] + size));
    expect(scale, `${name} gradient is all zero`).toBeGreaterThan(0);
    expect(maxAbs / scale, name).toBeLessThan(2e-3);
  });
  expect(maxDifference(ours.after, cpu.after).maxAbs).toBeLessThan(1e-4);
}
