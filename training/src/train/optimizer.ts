// Momentum SGD (Nesterov option) with L2 weight decay, applied to a fused flat gradient.
import * as tf from '@tensorflow/tfjs-core';
import { nativeMomentumStep } from '../backend/native-backend.ts';

export interface OptimizerConfig {
  momentum: number;
  nesterov: boolean;
  /** L2 weight decay, added to the gradient of kernels (not biases). */
  weightDecay: number;
  /** Kernels with a larger fan-in learn at lr x limit / fan-in; 0: off (TrainConfig.fanInRateLimit). */
  fanInRateLimit: number;
}

/** The model's trainable variables in a fixed order, and their offsets in the fused gradient. */
export interface ParameterLayout {
  variables: tf.Variable[];
  offsets: number[];
  total: number;
}

export function parameterLayout(variables: tf.Variable[]): ParameterLayout {
  const offsets: number[] = [];
  let total = 0;
  for (const v of variables) {
    offsets.push(total);
    total += v.size;
  }
  return { variables, offsets, total };
}

/** Every variable's values, concatenated in layout order (read asynchronously: WebGPU has no synchronous read in Node). */
export async function readFlat(layout: ParameterLayout, tensors: tf.Tensor[] = layout.variables): Promise<Float32Array> {
  const out = new Float32Array(layout.total);
  for (const [i, t] of tensors.entries()) out.set((await t.data()) as Float32Array, layout.offsets[i]);
  return out;
}

/** Assigns a flat buffer (layout order) to the given variables. */
export function writeFlat(layout: ParameterLayout, flat: Float32Array, targets: tf.Variable[] = layout.variables): void {
  if (flat.length !== layout.total) throw new Error(`Flat buffer holds ${flat.length} values, the model has ${layout.total}.`);
  targets.forEach((v, i) => {
    const slice = flat.subarray(layout.offsets[i], layout.offsets[i] + v.size);
    tf.tidy(() => v.assign(tf.tensor(slice, v.shape, 'float32')));
  });
}

const isKernel = (v: tf.Variable) => v.rank > 1;

/** Inputs summed into one output of a kernel: every dimension but the last (kh x kw x cin for a conv, in for a dense layer). */
export const fanIn = (shape: readonly number[]) => shape.slice(0, -1).reduce((a, b) => a * b, 1);

/** Each variable's multiplier of the learning rate: limit / fan-in for kernels above the limit, 1 otherwise. */
export function rateScales(variables: readonly tf.Variable[], fanInRateLimit: number): number[] {
  return variables.map((v) => {
    if (!fanInRateLimit || !isKernel(v)) return 1;
    const n = fanIn(v.shape);
    return n > fanInRateLimit ? fanInRateLimit / n : 1;
  });
}

/**
 * The L2 norm of the whole averaged gradient (every rank holds the same one after the allreduce, so every rank
 * clips alike); when maxNorm > 0 and the norm is above it, the gradient is scaled in place down to maxNorm.
 */
export function clipGlobalNorm(gradient: Float32Array, maxNorm: number): number {
  let sum = 0;
  for (let i = 0; i < gradient.length; i++) sum += gradient[i] * gradient[i];
  const norm = Math.sqrt(sum);
  if (maxNorm > 0 && norm > maxNorm) {
    const scale = maxNorm / norm;
    for (let i = 0; i < gradient.length; i++) gradient[i] *= scale;
  }
  return norm;
}

export class MomentumSgd {
  readonly velocities: tf.Variable[];
  readonly rateScales: number[];

  constructor(
    readonly layout: ParameterLayout,
    readonly config: OptimizerConfig,
  ) {
    this.velocities = layout.variables.map((v) => tf.variable(tf.zerosLike(v), false, `${v.name}/velocity`));
    this.rateScales = rateScales(layout.variables, config.fanInRateLimit);
  }

  /** One update: v = m*v + g (+ wd*w for kernels); w -= lr * scale * (nesterov ? g + m*v : v). */
  apply(flatGradient: Float32Array, baseLr: number): void {
    const { momentum: m, nesterov, weightDecay } = this.config;
    this.layout.variables.forEach((w, i) => {
      const lr = baseLr * this.rateScales[i];
      const off = this.layout.offsets[i];
      const g = flatGradient.subarray(off, off + w.size);
      if (nativeMomentumStep(w, this.velocities[i], g, lr, m, isKernel(w) ? weightDecay : 0, nesterov)) return;
      tf.tidy(() => {
        let g: tf.Tensor = tf.tensor(flatGradient.subarray(off, off + w.size), w.shape, 'float32');
        if (weightDecay && isKernel(w)) g = tf.add(g, tf.mul(w, weightDecay));
        const v = this.velocities[i];
        const vNew = tf.add(tf.mul(v, m), g);
        v.assign(vNew);
        const step = nesterov ? tf.add(g, tf.mul(vNew, m)) : vNew;
        w.assign(tf.sub(w, tf.mul(step, lr)));
      });
    });
  }

  velocityFlat(): Promise<Float32Array> {
    return readFlat(this.layout, this.velocities);
  }

  loadVelocity(flat: Float32Array): void {
    writeFlat(this.layout, flat, this.velocities);
  }

  dispose(): void {
    tf.dispose(this.velocities);
  }
}
