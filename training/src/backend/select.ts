// Picks and initialises the trainer's TF.js backend: tfjs-node, else the native engine (oneDNN), else WASM;
// WebGPU (Dawn) or cpu only on request.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { isAvailable as nativeAddonLoads, unavailableReason as nativeUnavailableReason, INSTALL_HINT as NATIVE_INSTALL_HINT } from '@moa-lens/native';
import { NATIVE_BACKEND, registerNativeBackend } from './native-backend.ts';
import { registerWasmTrainingKernels } from './wasm-kernels.ts';
import { useWebgpuKernels, WEBGPU_KERNEL_NAMES } from '../../../src/core/webgpu/kernels.ts';

export const BACKEND_NAMES = ['tfjs-node', 'native', 'wasm', 'webgpu', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendRequest = 'auto' | BackendName;

export interface BackendOptions {
  requested?: BackendRequest;
  /** Threads per rank (native engine, WASM); default: the cores this process may run on. */
  threads?: number;
  /** Where to print the choice; default console.log. Pass null to stay quiet. */
  log?: ((line: string) => void) | null;
}

/** The backend selectBackend initialised, as it reports itself. */
export interface SelectedBackend {
  name: BackendName;
  /** Threads the backend actually computes with (as far as it reports). */
  threads: number;
  detail: string;
  /** Why this backend was picked (auto) or that it was asked for. */
  why: string;
}

/** Whether each backend can run here, judged without initialising anything. */
export interface BackendResolution {
  name: BackendName;
  why: string;
  /** Threaded engines run one rank per socket/NUMA domain with its cores as threads; WASM one rank per core. */
  threaded: boolean;
}

/** Which backend a request resolves to ('auto': tfjs-node, else native, else WASM) and why; starts nothing. */
export function resolveBackend(requested: BackendRequest): BackendResolution {
  if (requested !== 'auto' && !(BACKEND_NAMES as readonly string[]).includes(requested)) {
    throw new Error(`unknown backend '${String(requested)}'; choose one of auto, ${BACKEND_NAMES.join(', ')}`);
  }
  const threaded = (name: BackendName) => name === 'tfjs-node' || name === 'native';
  if (requested !== 'auto') return { name: requested, why: 'asked for', threaded: threaded(requested) };
  if (isTfjsNodeInstalled()) return { name: 'tfjs-node', why: 'auto: @tensorflow/tfjs-node is installed', threaded: true };
  if (nativeAddonLoads()) return { name: 'native', why: 'auto: tfjs-node is not installed; the native oneDNN engine loads', threaded: true };
  return {
    name: 'wasm',
    why: `auto: neither tfjs-node nor the native engine is available (${nativeUnavailableReason()}); WASM runs one thread per rank`,
    threaded: false,
  };
}

const require = createRequire(import.meta.url);

/** Whether @tensorflow/tfjs-node can be resolved (it is an optional dependency). */
export function isTfjsNodeInstalled(): boolean {
  try {
    require.resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

export function availableCores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

async function useTfjsNode(): Promise<SelectedBackend> {
  if (!isTfjsNodeInstalled()) {
    throw new Error('backend tfjs-node requested but @tensorflow/tfjs-node is not installed (npm install @tensorflow/tfjs-node)');
  }
  const moduleName = '@tensorflow/tfjs-node';
  await import(/* @vite-ignore */ moduleName); // registers the 'tensorflow' backend on the shared tfjs-core
  if (!(await tf.setBackend('tensorflow'))) throw new Error('tfjs-node is installed but its backend failed to initialise');
  const threads = Number(process.env.OMP_NUM_THREADS ?? process.env.TF_NUM_INTRAOP_THREADS ?? availableCores());
  return { name: 'tfjs-node', threads, detail: `libtensorflow (native), intra-op threads ~${threads}`, why: '' };
}

async function useNative(threads: number | undefined): Promise<SelectedBackend> {
  const want = threads ?? availableCores();
  if (!Number.isInteger(want) || want < 1) throw new Error(`threads must be a positive integer, got ${threads}`);
  if (!nativeAddonLoads()) throw new Error(`backend native requested but ${nativeUnavailableReason()}`);
  const native = registerNativeBackend();
  native.setThreads(want);
  if (!(await tf.setBackend(NATIVE_BACKEND))) throw new Error('the native backend failed to initialise');
  const version = native.version();
  return {
    name: 'native',
    threads: native.getThreads(),
    detail: `${version.onednn} ${version.isa}, OpenMP; tensors outside any wasm heap; other kernels from the cpu backend`,
    why: '',
  };
}

async function useWasm(threads: number | undefined): Promise<SelectedBackend> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const want = threads ?? availableCores();
  if (!Number.isInteger(want) || want < 1) throw new Error(`threads must be a positive integer, got ${threads}`);
  wasm.setThreadsCount(want);
  registerWasmTrainingKernels();
  if (!(await tf.setBackend('wasm'))) throw new Error('the WASM backend failed to initialise');
  const multithread = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) as boolean;
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
  const actual = wasm.getThreadsCount();
  // TF.js 4.22 sets WASM_HAS_MULTITHREAD_SUPPORT to false whenever IS_NODE, so Node loads the non-threaded
  // binary and setThreadsCount() is accepted but has no effect (forcing the flag fails: its pthread workers
  // are blob: URLs, which Node's Worker rejects with ERR_WORKER_PATH).
  const why = multithread ? '' : `; setThreadsCount(${want}) has no effect: TF.js 4.22 disables WASM threads in Node (non-threaded binary loaded)`;
  return {
    name: 'wasm',
    threads: actual,
    detail: `XNNPACK ${simd ? 'SIMD' : 'scalar'}, ${actual} thread${actual === 1 ? '' : 's'} (asked ${want})${why}; own Conv2DBackpropFilter/Input kernels`,
    why: '',
  };
}

/** Makes the Vulkan loader and SwiftShader findable for Dawn where only Debian's Chromium ships them. */
function prepareVulkan(): string {
  const notes: string[] = [];
  const chromium = '/usr/lib/chromium';
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = os.tmpdir();
  const icd = `${chromium}/vk_swiftshader_icd.json`;
  // A GPU driver's ICD (NVIDIA's is often only in /etc/vulkan/icd.d) is left to the loader; SwiftShader only without one.
  const systemIcds = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'].some(existsSync);
  if (!process.env.VK_ICD_FILENAMES && existsSync(icd) && !systemIcds) {
    process.env.VK_ICD_FILENAMES = icd;
    notes.push('SwiftShader ICD from Chromium');
  }
  const loader = `${chromium}/libvulkan.so.1`;
  const systemLoader = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/libvulkan.so.1', '/usr/lib64/libvulkan.so.1'].some(existsSync);
  if (!systemLoader && existsSync(loader)) {
    // Load Chromium's Vulkan loader once, globally and never unloaded (RTLD_NODELETE = 0x1000), so Dawn's
    // later dlopen("libvulkan.so.1") finds it. process.dlopen then throws "did not self-register": expected.
    const { RTLD_NOW, RTLD_GLOBAL } = os.constants.dlopen as Record<string, number>;
    try {
      process.dlopen({ exports: {} } as NodeJS.Module, loader, (RTLD_NOW ?? 2) | (RTLD_GLOBAL ?? 0x100) | 0x1000);
    } catch {
      /* not a Node addon; the library stays loaded */
    }
    notes.push('Vulkan loader from Chromium');
  }
  return notes.join(', ');
}

async function useWebgpu(): Promise<SelectedBackend> {
  const vulkanNotes = process.platform === 'linux' ? prepareVulkan() : '';
  const webgpu = await import('webgpu').catch((e: unknown) => {
    throw new Error(`backend webgpu requested but the optional package 'webgpu' (Dawn) cannot be loaded: ${(e as Error).message.split('\n')[0]} (npm install webgpu)`);
  });
  const create = webgpu.create;
  const globals = webgpu.globals as Record<string, unknown>;
  Object.assign(globalThis, globals);
  const gpu = create([]);
  // TF.js 4.22's WebGPU backend calls adapter.requestAdapterInfo(), which current WebGPU removed: derive it from adapter.info.
  const adapterProto = (globals.GPUAdapter as { prototype?: Record<string, unknown> } | undefined)?.prototype;
  if (adapterProto && typeof adapterProto.requestAdapterInfo !== 'function') {
    adapterProto.requestAdapterInfo = function (this: GPUAdapter) {
      return Promise.resolve(this.info);
    };
  }
  const nav = (globalThis as unknown as { navigator?: Record<string, unknown> }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('WebGPU: no adapter (needs a Vulkan driver; on Debian, chromium provides SwiftShader)');
  await import('@tensorflow/tfjs-backend-webgpu');
  useWebgpuKernels('ours');
  if (!(await tf.setBackend('webgpu'))) throw new Error('the WebGPU backend failed to initialise');
  const info = adapter.info;
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
  const ours = WEBGPU_KERNEL_NAMES.join(', ');
  return { name: 'webgpu', threads: 1, detail: `Dawn adapter: ${name || 'unknown'}${vulkanNotes ? ` (${vulkanNotes})` : ''}; own ${ours} kernels`, why: '' };
}

async function useCpu(): Promise<SelectedBackend> {
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend failed to initialise');
  return { name: 'cpu', threads: 1, detail: 'pure-JS reference backend (slow; explicit request only)', why: '' };
}

/**
 * Chooses, initialises and prints the backend and why. 'auto': tfjs-node when installed, else the native engine
 * when its addon loads, else WASM (with one line on how to get the native engine). WebGPU and the pure-JS cpu
 * backend are used only when named.
 */
export async function selectBackend(options: BackendOptions = {}): Promise<SelectedBackend> {
  const resolved = resolveBackend(options.requested ?? 'auto');
  const log = options.log === undefined ? console.log : options.log;
  let selected: SelectedBackend;
  switch (resolved.name) {
    case 'tfjs-node': selected = await useTfjsNode(); break;
    case 'native': selected = await useNative(options.threads); break;
    case 'wasm': selected = await useWasm(options.threads); break;
    case 'webgpu': selected = await useWebgpu(); break;
    case 'cpu': selected = await useCpu(); break;
  }
  selected.why = resolved.why;
  log?.(`[engine] backend: ${selected.name}, ${selected.threads} thread${selected.threads === 1 ? '' : 's'} (${selected.detail}); ${selected.why}`);
  if (resolved.name === 'wasm' && options.requested !== 'wasm') {
    log?.(`[engine] for the native oneDNN engine (many times faster, threads inside each rank): ${NATIVE_INSTALL_HINT}`);
  }
  return selected;
}
