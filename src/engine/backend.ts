// Backend initialisation inside the worker: WebGPU, WASM (SIMD + threads), cpu; 'auto' starts on WASM and measures WebGPU per model (worker.ts).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgpu';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { WASM_FILE_URLS } from './wasm-files.ts';
import { loadPthreadsFromOrigin } from './wasm-threads.ts';
import type { DeviceIdentity } from './backend-choice.ts';
import type { BackendChoice, BackendInfo, WasmBinary } from './types.ts';

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
  requestAdapterInfo?: () => Promise<unknown>;
}
interface GpuLike {
  requestAdapter(options?: unknown): Promise<GpuAdapterLike | null>;
}

/**
 * Adapters handed to the WebGPU backend, kept reachable: TF.js keeps only the device, and in Chromium
 * a collected adapter can take the WebGPU instance with it ("A valid external Instance reference no
 * longer exists" on the next mapAsync).
 */
const retainedAdapters: GpuAdapterLike[] = [];

function retainAdapters(gpu: GpuLike): void {
  const original = gpu.requestAdapter.bind(gpu);
  gpu.requestAdapter = async (options?: unknown) => {
    const adapter = await original(options);
    if (adapter) retainedAdapters.push(adapter);
    return adapter;
  };
}

/**
 * TF.js 4.22's WebGPU init falls back to adapter.requestAdapterInfo(), which recent Chrome removed.
 * Where the method is missing, define it to return the `info` attribute that replaced it.
 */
export function shimRequestAdapterInfo(scope: typeof globalThis = globalThis): void {
  const proto = (scope as { GPUAdapter?: { prototype: GpuAdapterLike } }).GPUAdapter?.prototype;
  if (proto && !('requestAdapterInfo' in proto)) {
    Object.defineProperty(proto, 'requestAdapterInfo', {
      configurable: true,
      value(this: GpuAdapterLike) {
        return Promise.resolve(this.info ?? {});
      },
    });
  }
}

/**
 * The WASM backend's pthread pool is sized from navigator.hardwareConcurrency (half of it), so
 * setThreadsCount alone cannot go above half the cores. Report twice the wanted count while the
 * backend initialises, then restore the browser's value.
 */
function withHardwareConcurrency<T>(value: number, run: () => Promise<T>): Promise<T> {
  const nav = globalThis.navigator as Navigator & { hardwareConcurrency: number };
  const own = Object.getOwnPropertyDescriptor(nav, 'hardwareConcurrency');
  Object.defineProperty(nav, 'hardwareConcurrency', { configurable: true, get: () => value });
  return run().finally(() => {
    if (own) Object.defineProperty(nav, 'hardwareConcurrency', own);
    else delete (nav as unknown as Record<string, unknown>).hardwareConcurrency;
  });
}

export async function tryWebGpu(info: BackendInfo): Promise<boolean> {
  const gpu = (globalThis.navigator as Navigator & { gpu?: GpuLike }).gpu;
  if (!gpu) {
    info.fallbackReasons.push('WebGPU is not available in this browser (navigator.gpu is missing).');
    return false;
  }
  shimRequestAdapterInfo();
  retainAdapters(gpu);
  // The backend requests the adapter itself (with the adapter's own limits); it fails when none exists.
  const ok = await tf.setBackend('webgpu').catch(() => false);
  if (!ok) {
    info.fallbackReasons.push('WebGPU found no usable GPU adapter.');
    return false;
  }
  const backend = tf.backend() as unknown as {
    device?: { limits?: { maxStorageBufferBindingSize?: number } };
    adapterInfo?: { vendor?: string; architecture?: string };
  };
  const a = (backend.adapterInfo ?? {}) as { vendor?: string; architecture?: string; isFallbackAdapter?: boolean };
  const adapter = retainedAdapters.at(-1);
  const fallback = Boolean(a.isFallbackAdapter ?? adapter?.info?.isFallbackAdapter ?? adapter?.isFallbackAdapter);
  info.adapter = ([a.vendor, a.architecture].filter(Boolean).join(' / ') || 'unknown adapter') + (fallback ? ' (fallback adapter)' : '');
  info.maxBindingBytes = backend.device?.limits?.maxStorageBufferBindingSize ?? 128 * 1024 * 1024;
  return true;
}

async function tryWasm(info: BackendInfo, threads: number): Promise<boolean> {
  setWasmPaths(WASM_FILE_URLS);
  loadPthreadsFromOrigin();
  setThreadsCount(threads);
  const ok = await withHardwareConcurrency(Math.max(2 * threads, 2), () => tf.setBackend('wasm').catch(() => false));
  if (!ok) {
    info.fallbackReasons.push('The WASM backend failed to initialise.');
    return false;
  }
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
  const multithread = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) as boolean;
  const binary: WasmBinary = simd && multithread ? 'threaded-simd' : simd ? 'simd' : 'plain';
  info.wasmBinary = binary;
  info.threads = binary === 'threaded-simd' ? getThreadsCount() : 1;
  if (!multithread)
    info.fallbackReasons.push(
      info.crossOriginIsolated
        ? 'This browser has no WebAssembly threads; running single-threaded.'
        : 'The page is not cross-origin isolated (COOP/COEP), so WebAssembly threads are off; running single-threaded.',
    );
  return true;
}

/**
 * The WebGPU adapter TF.js would get (same power preference), described without creating a device: what 'auto'
 * keys its remembered choice on and whether WebGPU is a candidate at all. Null without navigator.gpu or an adapter.
 */
export async function webGpuAdapterIdentity(): Promise<DeviceIdentity['adapter']> {
  const gpu = (globalThis.navigator as unknown as { gpu?: GpuLike }).gpu;
  if (!gpu) return null;
  const adapter: GpuAdapterLike | null = await gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!adapter) return null;
  retainedAdapters.push(adapter);
  const i = adapter.info ?? {};
  return {
    vendor: i.vendor,
    architecture: i.architecture,
    device: i.device,
    description: i.description,
    isFallbackAdapter: Boolean(i.isFallbackAdapter ?? adapter.isFallbackAdapter),
  };
}

/**
 * Ends the WebGPU backend after a probe that lost by its time limit: destroys the device (so queued GPU work,
 * which a software adapter runs on the CPU, stops competing with WASM) and removes the backend.
 */
export function dropWebGpu(): void {
  try {
    const backend = tf.findBackend('webgpu') as unknown as { device?: { destroy?: () => void } } | null;
    backend?.device?.destroy?.();
  } catch {
    // already gone
  }
  try {
    tf.removeBackend('webgpu');
  } catch {
    // never registered
  }
}

/**
 * 'auto' at start: WASM, the baseline that is always measured, runs first; whether WebGPU beats it is decided per
 * model when a bundle loads (worker.ts, backend-choice.ts). Without WASM, WebGPU as before.
 */
async function initAuto(info: BackendInfo, threads: number): Promise<BackendInfo> {
  if (await tryWasm(info, threads)) {
    info.name = 'wasm';
    return info;
  }
  if (await tryWebGpu(info)) {
    info.name = 'webgpu';
    info.threads = 0;
    return info;
  }
  throw new Error(`No backend can run: ${info.fallbackReasons.join(' ')}`);
}

/** Initialises the requested backend (with fallbacks for 'auto') and reports what actually runs. */
export async function initBackend(requested: BackendChoice, threads?: number): Promise<BackendInfo> {
  const hardwareConcurrency = globalThis.navigator?.hardwareConcurrency ?? 1;
  const info: BackendInfo = {
    name: 'cpu',
    requested,
    threads: 1,
    crossOriginIsolated: Boolean((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated),
    hardwareConcurrency,
    fallbackReasons: [],
    tfjsVersion: tf.version_core,
  };
  const wantThreads = Math.max(1, Math.floor(threads ?? hardwareConcurrency));
  if (requested === 'auto') return initAuto(info, wantThreads);
  if (requested === 'webgpu') {
    if (await tryWebGpu(info)) {
      info.name = 'webgpu';
      info.threads = 0;
      return info;
    }
    throw new Error(`WebGPU was requested but cannot run: ${info.fallbackReasons.join(' ')}`);
  }
  if (requested === 'wasm') {
    if (await tryWasm(info, wantThreads)) {
      info.name = 'wasm';
      return info;
    }
    throw new Error(`The WASM backend cannot run: ${info.fallbackReasons.join(' ')}`);
  }
  if (!(await tf.setBackend('cpu'))) throw new Error('The cpu backend failed to initialise.');
  info.name = 'cpu';
  info.threads = 1;
  return info;
}
