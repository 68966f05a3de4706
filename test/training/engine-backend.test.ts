// Backend selection: each backend this machine has, the refusal of unknown names, and the optional tfjs-node path.
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { isAvailable as nativeAvailable } from '@moa-lens/native';
import { isTfjsNodeInstalled, resolveBackend, selectBackend, type BackendRequest } from '../../training/src/backend/select.ts';

const quiet = { log: null } as const;
const hasVulkan = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/chromium/libvulkan.so.1'].some(existsSync);

async function squares(): Promise<number[]> {
  return Array.from(await tf.square(tf.tensor1d([1, 2, 3])).data());
}

describe('selectBackend', () => {
  it('refuses an unknown backend name before doing anything', async () => {
    const before = tf.getBackend();
    await expect(selectBackend({ requested: 'cuda' as BackendRequest, ...quiet })).rejects.toThrow(/unknown backend 'cuda'/);
    expect(tf.getBackend()).toBe(before);
  });

  it('auto picks tfjs-node when installed, else the native engine, else wasm (never cpu), and prints the choice and why', async () => {
    const lines: string[] = [];
    const choice = await selectBackend({ log: (l) => lines.push(l) });
    const expected = isTfjsNodeInstalled() ? 'tfjs-node' : nativeAvailable() ? 'native' : 'wasm';
    expect(choice.name).toBe(expected);
    expect(tf.getBackend()).toBe(expected === 'tfjs-node' ? 'tensorflow' : expected);
    expect(lines[0]).toContain(`backend: ${choice.name}`);
    expect(lines[0]).toMatch(/auto: /);
    expect(resolveBackend('auto').threaded).toBe(expected !== 'wasm');
  });

  it.skipIf(!nativeAvailable())('native: oneDNN with the threads asked for, computing', async () => {
    const choice = await selectBackend({ requested: 'native', threads: 2, ...quiet });
    expect(choice.name).toBe('native');
    expect(choice.threads).toBe(2);
    expect(choice.detail).toMatch(/oneDNN \d+\.\d+/);
    expect(tf.getBackend()).toBe('native');
    expect(await squares()).toEqual([1, 4, 9]);
  });

  it('wasm reports the thread count it really uses and why', async () => {
    const choice = await selectBackend({ requested: 'wasm', threads: 2, ...quiet });
    expect(choice.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    expect(choice.threads).toBe(wasm.getThreadsCount());
    // TF.js 4.22 runs WASM single-threaded in Node; the detail must say so rather than echo the request.
    if (choice.threads === 1) expect(choice.detail).toMatch(/no effect/);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(await squares()).toEqual([1, 4, 9]);
  });

  it('rejects a bad thread count', async () => {
    await expect(selectBackend({ requested: 'wasm', threads: 0, ...quiet })).rejects.toThrow(/threads/);
  });

  it('cpu only on explicit request', async () => {
    const choice = await selectBackend({ requested: 'cpu', ...quiet });
    expect(choice.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await squares()).toEqual([1, 4, 9]);
  });

  it.skipIf(!hasVulkan)('webgpu through Dawn (SwiftShader here) computes', async () => {
    const choice = await selectBackend({ requested: 'webgpu', ...quiet });
    expect(choice.name).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(choice.detail).toMatch(/Dawn adapter/);
    expect(choice.detail).toMatch(/own Conv2DBackpropFilter, MaxPoolGrad kernels/);
    expect(await squares()).toEqual([1, 4, 9]);
  });

  it('tfjs-node requested while absent fails with an install hint', async () => {
    if (isTfjsNodeInstalled()) return; // covered by the next test
    await expect(selectBackend({ requested: 'tfjs-node', ...quiet })).rejects.toThrow(/not installed/);
  });

  it.skipIf(!isTfjsNodeInstalled())('tfjs-node when installed', async () => {
    const choice = await selectBackend({ requested: 'tfjs-node', ...quiet });
    expect(choice.name).toBe('tfjs-node');
    expect(tf.getBackend()).toBe('tensorflow');
    expect(await squares()).toEqual([1, 4, 9]);
  });
});
