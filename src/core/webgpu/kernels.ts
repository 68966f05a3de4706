// Our WebGPU kernels for TF.js 4.22's 'webgpu' backend, the same WGSL in Node (Dawn) and the browser: registered over
// the stock ones, and swappable back for the before/after benchmark.
import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropFilterKernel } from './conv2d-backprop-filter.ts';
import { maxPoolGradKernel } from './max-pool-grad.ts';

/** Ours, by TF.js kernel name; each gets the stock kernel to fall back to for cases it does not cover. */
const OURS: Record<string, (stock: tf.KernelFunc | undefined) => tf.KernelFunc> = {
  Conv2DBackpropFilter: () => conv2dBackpropFilterKernel,
  MaxPoolGrad: (stock) => maxPoolGradKernel(stock),
};

/** The kernels we replace. */
export const WEBGPU_KERNEL_NAMES: readonly string[] = Object.keys(OURS);

/** The stock kernels ours replaced, and ours, built once around them. */
const stock = new Map<string, tf.KernelConfig | undefined>();
const ours = new Map<string, tf.KernelConfig>();

/**
 * Which implementation the 'webgpu' backend runs for the kernels in WEBGPU_KERNEL_NAMES: ours (the default) or
 * TF.js's stock ones. Call after '@tensorflow/tfjs-backend-webgpu' is imported (it registers the stock ones).
 */
export function useWebgpuKernels(which: 'ours' | 'stock' = 'ours'): void {
  for (const name of WEBGPU_KERNEL_NAMES) {
    const current = tf.getKernel(name, 'webgpu');
    if (!ours.has(name)) {
      stock.set(name, current);
      ours.set(name, { kernelName: name, backendName: 'webgpu', kernelFunc: OURS[name](current?.kernelFunc) });
    }
    const wanted = which === 'ours' ? ours.get(name) : stock.get(name);
    if (current === wanted) continue;
    if (current) tf.unregisterKernel(name, 'webgpu');
    if (wanted) tf.registerKernel(wanted);
  }
}

/** Whether the 'webgpu' backend runs our kernel for `name` now. */
export function runsOurWebgpuKernel(name: string): boolean {
  const config = ours.get(name);
  return config !== undefined && tf.getKernel(name, 'webgpu') === config;
}
