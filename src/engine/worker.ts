// The engine's module Web Worker: owns TF.js, the model and the per-field pipeline; talks via protocol.ts messages.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { bundleIOHandler } from '../core/bundle.ts';
import { parseTrustRoots, type TrustRoots } from '../core/bundle-trust.ts';
import { CHANNELS } from '../core/labels.ts';
import { layersPredictBatch } from '../core/layers-predict.ts';
import { BUILD_TRUST_ROOTS } from '../core/trust-roots.ts';
import { initBackend } from './backend.ts';
import { batchSizeFor, largestActivationBytes, WASM_LIMITS, webgpuLimits } from './batching.ts';
import { readBundle, servedBundleFiles } from './bundle-source.ts';
import { classifyField, displayField, type PipelineModel } from './pipeline.ts';
import type { FromWorker, ToWorker, WireError } from './protocol.ts';
import type { BackendInfo, BundleSource, EngineMemory, FieldInput, LoadedBundle, OfflineFile } from './types.ts';
import { WASM_FILE_URLS } from './wasm-files.ts';
import { WASM_THREAD_SCRIPT_URL } from './wasm-threads.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;

let info: BackendInfo | undefined;
let baseUrl = '';
/** The build's trust roots, plus any keys the page added at createEngine. */
let trust: TrustRoots = BUILD_TRUST_ROOTS;
let current: (PipelineModel & { model: tfl.LayersModel }) | undefined;

interface Job {
  id: number;
  total: number;
  next: number;
  queue: Map<number, FieldInput>;
  cancelled: boolean;
  wake?: () => void;
}
let job: Job | undefined;

function post(message: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

function wire(e: unknown): WireError {
  const err = e as { name?: string; message?: string };
  return { name: err?.name ?? 'EngineError', message: err?.message ?? String(e) };
}

async function loadModel(source: Parameters<typeof readBundle>[0]): Promise<LoadedBundle> {
  if (!info) throw Object.assign(new Error('The engine is not initialised.'), { name: 'EngineError' });
  const t0 = performance.now();
  const bundle = await readBundle(source, baseUrl, trust);
  const model = await tfl.loadLayersModel(bundleIOHandler(bundle));
  const perTile = largestActivationBytes(model);
  const limits = info.name === 'webgpu' ? webgpuLimits(info.maxBindingBytes ?? 128 * 1024 * 1024) : WASM_LIMITS;
  const batchSize = batchSizeFor(perTile, limits);
  const { height, width, channels } = bundle.metadata.input;
  const predictBatch = layersPredictBatch(model, bundle.metadata.input);
  // Warm-up: compiles shaders / allocates once, so the first field's timing is honest.
  await predictBatch(new Float32Array(height * width * channels), 1);
  current?.model.dispose();
  current = { model, metadata: bundle.metadata, predictBatch, batchSize };
  const m = bundle.metadata;
  return {
    name: m.name,
    hash: bundle.hash,
    trust: bundle.trust,
    classes: m.classes,
    input: m.input,
    preprocessing: m.preprocessing,
    trained: Boolean(m.provenance?.trained),
    bytes: bundle.bytes,
    metadata: m,
    batchSize,
    loadMs: performance.now() - t0,
  };
}

async function runJob(j: Job): Promise<void> {
  const pm = current;
  if (!pm) throw Object.assign(new Error('No model bundle is loaded; call loadBundle first.'), { name: 'NoBundleError' });
  while (j.next < j.total) {
    let field = j.queue.get(j.next);
    while (!field && !j.cancelled) {
      await new Promise<void>((resolve) => (j.wake = resolve));
      field = j.queue.get(j.next);
    }
    if (j.cancelled || !field) throw new DOMException('Classification was cancelled.', 'AbortError');
    j.queue.delete(j.next);
    const result = await classifyField(pm, field, () => j.cancelled);
    if (j.cancelled) throw new DOMException('Classification was cancelled.', 'AbortError');
    const transfer = result.ok ? [result.probabilities.buffer, result.tileProbabilities.buffer] : [];
    post({ type: 'result', id: j.id, index: j.next, result }, transfer as Transferable[]);
    j.next++;
  }
}

/** The WASM binaries (as this worker resolves them) and the files of a served bundle. */
async function offlineFiles(source: BundleSource): Promise<OfflineFile[]> {
  const wasm = [...Object.values(WASM_FILE_URLS), WASM_THREAD_SCRIPT_URL].map((url) => ({ url: new URL(url, scope.location.href).href }));
  return [...wasm, ...(await servedBundleFiles(source, baseUrl, trust))];
}

function memory(): EngineMemory {
  const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
  const backend = tf.getBackend() ? (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }) : undefined;
  (globalThis as { gc?: () => void }).gc?.(); // only exposed under --js-flags=--expose-gc (tests)
  const heap = (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize;
  return {
    numTensors: m.numTensors,
    numBytes: m.numBytes,
    backendBytes: backend?.wasm?.HEAPU8?.buffer.byteLength ?? m.numBytesInGPU,
    jsHeapBytes: heap,
  };
}

let chain: Promise<unknown> = Promise.resolve();
function serial<T>(task: () => Promise<T>): Promise<T> {
  const run = chain.then(task, task);
  chain = run.catch(() => undefined);
  return run;
}

scope.onmessage = (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  switch (msg.type) {
    case 'init':
      baseUrl = msg.baseUrl;
      serial(async () => {
        trust = { ...BUILD_TRUST_ROOTS, keys: [...BUILD_TRUST_ROOTS.keys, ...parseTrustRoots({}, { keys: msg.trustedKeys ?? [] }).keys] };
        info = await initBackend(msg.backend, msg.threads);
        return info;
      }).then(
        (i) => post({ type: 'ready', id: msg.id, info: i }),
        (e) => post({ type: 'error', id: msg.id, error: wire(e) }),
      );
      break;
    case 'loadBundle':
      serial(() => loadModel(msg.source)).then(
        (bundle) => post({ type: 'bundle', id: msg.id, bundle }),
        (e) => post({ type: 'error', id: msg.id, error: wire(e) }),
      );
      break;
    case 'classifyStart': {
      const j: Job = { id: msg.id, total: msg.total, next: 0, queue: new Map(), cancelled: false };
      job = j;
      serial(() => runJob(j)).then(
        () => post({ type: 'classifyDone', id: msg.id }),
        (e) => post({ type: 'error', id: msg.id, error: wire(e) }),
      ).finally(() => {
        if (job === j) job = undefined;
      });
      break;
    }
    case 'field':
      if (job && job.id === msg.id) {
        job.queue.set(msg.index, msg.field);
        job.wake?.();
      }
      break;
    case 'cancel':
      if (job && job.id === msg.id) {
        job.cancelled = true;
        job.queue.clear();
        job.wake?.();
      }
      break;
    // Display and file lists need no model: they run beside a classification, not after it.
    case 'display':
      displayField(msg.field, current?.metadata.preprocessing.channels ?? CHANNELS, msg.maxSide).then(
        (display) => post({ type: 'display', id: msg.id, display }, display.planes.map((p) => p.data.buffer as ArrayBuffer)),
        (e) => post({ type: 'error', id: msg.id, error: wire(e) }),
      );
      break;
    case 'offlineFiles':
      offlineFiles(msg.source).then(
        (files) => post({ type: 'offlineFiles', id: msg.id, files }),
        (e) => post({ type: 'error', id: msg.id, error: wire(e) }),
      );
      break;
    case 'memory':
      try {
        post({ type: 'memory', id: msg.id, memory: memory() });
      } catch (e) {
        post({ type: 'error', id: msg.id, error: wire(e) });
      }
      break;
  }
};
