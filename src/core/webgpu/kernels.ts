// Our WebGPU kernels for TF.js 4.22's 'webgpu' backend, the same WGSL in Node (Dawn) and the browser: registered over
// the stock ones, and swappable back for the before/after benchmark.
import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropFilterConfig } from './conv2d-backprop-filter.ts';

/** Our kernels, by TF.js kernel name. */
export const WEBGPU_KERNELS: readonly tf.KernelConfig[] = [conv2dBackpropFilterConfig];

/** The stock kernels ours replaced, kept so that `useWebgpuKernels('stock')` can put them back. */
const stock = new Map<string, tf.KernelConfig | undefined>();

/**
 * Which implementation the 'webgpu' backend runs for the kernels in WEBGPU_KERNELS: ours (the default once called)
 * or TF.js's stock ones. Call after '@tensorflow/tfjs-backend-webgpu' is imported (it registers the stock ones).
 */
export function useWebgpuKernels(which: 'ours' | 'stock' = 'ours'): void {
  for (const ours of WEBGPU_KERNELS) {
    const current = tf.getKernel(ours.kernelName, 'webgpu');
    if (!stock.has(ours.kernelName)) stock.set(ours.kernelName, current);
    const wanted = which === 'ours' ? ours : stock.get(ours.kernelName);
    if (current === wanted) continue;
    if (current) tf.unregisterKernel(ours.kernelName, 'webgpu');
    if (wanted) tf.registerKernel(wanted);
  }
}
