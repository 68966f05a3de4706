// Test page script: our WebGPU kernels (src/core/webgpu, the same WGSL the trainer runs in Node) on the page's
// WebGPU backend against the cpu backend, driven by test/browser/webgpu-kernels.test.ts.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgpu';
import { runsOurWebgpuKernel, useWebgpuKernels, WEBGPU_KERNEL_NAMES } from '../../../src/core/webgpu/kernels.ts';

export interface KernelRun {
  kernel: string;
  inputs: Record<string, { values: number[]; shape: number[] }>;
  attrs: Record<string, unknown>;
}

async function runOn(backend: string, run: KernelRun): Promise<Float32Array> {
  await tf.setBackend(backend);
  const out = tf.tidy(() => {
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, { values, shape }] of Object.entries(run.inputs)) inputs[name] = tf.tensor(values, shape);
    return tf.engine().runKernel(run.kernel, inputs, run.attrs as tf.NamedAttrMap) as tf.Tensor;
  });
  const values = (await out.data()) as Float32Array;
  out.dispose();
  return values;
}

const probe = {
  /** Registers ours and starts the webgpu backend; null when the page has no WebGPU adapter. */
  async start(): Promise<{ kernels: string[]; registered: boolean } | null> {
    if (!('gpu' in navigator) || !(await navigator.gpu.requestAdapter())) return null;
    useWebgpuKernels('ours');
    if (!(await tf.setBackend('webgpu'))) return null;
    return { kernels: [...WEBGPU_KERNEL_NAMES], registered: WEBGPU_KERNEL_NAMES.every(runsOurWebgpuKernel) };
  },
  /** The largest difference between webgpu (ours) and cpu, and the largest cpu magnitude. */
  async compare(run: KernelRun): Promise<{ maxAbs: number; scale: number; length: number }> {
    const ours = await runOn('webgpu', run);
    const cpu = await runOn('cpu', run);
    let maxAbs = 0;
    let scale = 0;
    for (let i = 0; i < cpu.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(ours[i] - cpu[i]));
      scale = Math.max(scale, Math.abs(cpu[i]));
    }
    return { maxAbs, scale, length: ours.length === cpu.length ? cpu.length : -1 };
  },
};

declare global {
  interface Window {
    moaWebgpuKernels: typeof probe;
  }
}

window.moaWebgpuKernels = probe;
document.getElementById('status')!.textContent = 'ready';
