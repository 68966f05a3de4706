// The engine's module Web Worker: owns TF.js, the model and the per-field pipeline; talks via protocol.ts messages.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { adaptedBundleFiles } from '../core/adapted-bundle.ts';
import { bundleIOHandler } from '../core/bundle.ts';
import { parseTrustRoots, type TrustRoots } from '../core/bundle-trust.ts';
import { CHANNELS } from '../core/labels.ts';
import { layersPredictBatch } from '../core/layers-predict.ts';
import { BUILD_TRUST_ROOTS } from '../core/trust-roots.ts';
import { dropWebGpu, initBackend, tryWebGpu, webGpuAdapterIdentity } from './backend.ts';
import {
  adapterShortName,
  choiceKey,
  decideBackend,
  parseRemembered,
  probeLimitMs,
  summarizeChoice,
  type BackendProbe,
  type DeviceIdentity,
  type ProbedBackend,
  type RememberedChoice,
} from './backend-choice.ts';
import { batchSizeFor, largestActivationBytes, WASM_LIMITS, webgpuLimits } from './batching.ts';
import { readBundle, servedBundleFiles, shippedModels } from './bundle-source.ts';
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
let current: (PipelineModel & { model: tfl.LayersModel; hash: string }) | undefined;
/** 'auto' only: what the choice is keyed on and whether WebGPU is still a candidate in this worker. */
let autoState: { device: DeviceIdentity; wasmThreads: number; gpuCandidate: boolean; gpuReady: boolean; gpuProblem?: string } | undefined;

type ReadBundle = Awaited<ReturnType<typeof readBundle>>;

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

type BuiltModel = { model: tfl.LayersModel; predictBatch: ReturnType<typeof layersPredictBatch> };

/** Builds the bundle's model on the current backend and runs one warm-up tile (compiles shaders / allocates once). */
async function buildModel(bundle: ReadBundle): Promise<BuiltModel> {
  const model = await tfl.loadLayersModel(bundleIOHandler(bundle));
  const { height, width, channels } = bundle.metadata.input;
  const predictBatch = layersPredictBatch(model, bundle.metadata.input);
  try {
    await predictBatch(new Float32Array(height * width * channels), 1);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, predictBatch };
}

/** One candidate's probe: build + warm-up, then the best of two timed tiles. */
async function probeOn(backend: ProbedBackend, bundle: ReadBundle, isAbandoned: () => boolean): Promise<{ built: BuiltModel; probe: BackendProbe }> {
  const t0 = performance.now();
  const built = await buildModel(bundle);
  const { height, width, channels } = bundle.metadata.input;
  const tile = new Float32Array(height * width * channels).fill(0.5);
  let best = Infinity;
  for (let i = 0; i < 2 && !isAbandoned(); i++) {
    const t = performance.now();
    await built.predictBatch(tile, 1);
    best = Math.min(best, performance.now() - t);
  }
  return { built, probe: { backend, outcome: 'ok', msPerTile: best, probeMs: performance.now() - t0 } };
}

/** Settles with `value` after `ms` unless `promise` settles first. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/**
 * 'auto' for one bundle: the remembered choice for this model and device, or a probe of WASM then WebGPU (the
 * latter under probeLimitMs of the former). Leaves the winner's backend active and returns its built model.
 */
async function chooseAuto(bundle: ReadBundle, remembered: Record<string, string> | undefined): Promise<{ built: BuiltModel; remember?: { key: string; value: string } }> {
  if (!info || !autoState) throw new Error('auto selection without an initialised engine');
  const key = choiceKey(bundle.hash, autoState.device);
  const setWinner = (winner: ProbedBackend) => {
    info!.name = winner;
    info!.threads = winner === 'wasm' ? autoState!.wasmThreads : 0;
  };
  if (!autoState.gpuCandidate) {
    await tf.setBackend('wasm');
    setWinner('wasm');
    const reason = autoState.gpuProblem ?? 'no WebGPU adapter';
    info.auto = { winner: 'wasm', probed: false, remembered: false, candidates: [], summary: `WASM: the only candidate (${reason})`, probeMs: 0, key };
    return { built: await buildModel(bundle) };
  }
  const stored = parseRemembered(remembered?.[key]);
  if (stored) {
    if (stored.winner === 'webgpu' && !(await ensureWebGpu())) {
      // The remembered adapter no longer initialises: measure again.
    } else {
      await tf.setBackend(stored.winner);
      setWinner(stored.winner);
      info.auto = { winner: stored.winner, probed: false, remembered: true, candidates: stored.candidates, summary: stored.summary, probeMs: 0, key };
      return { built: await buildModel(bundle) };
    }
  }
  const t0 = performance.now();
  await tf.setBackend('wasm');
  const wasm = await probeOn('wasm', bundle, () => false);
  const limit = probeLimitMs(wasm.probe.probeMs);
  const adapterName = adapterShortName(autoState.device.adapter);
  const fallbackAdapter = Boolean(autoState.device.adapter?.isFallbackAdapter);
  let abandoned = false;
  const tg = performance.now();
  const gpuRun = (async () => {
    const ready = await ensureWebGpu();
    if (abandoned) {
      // WebGPU finished initialising after the probe lost by its time limit: TF.js has just made it the active
      // backend again. Switch back at once (WASM is initialised, so this takes effect synchronously) and drop it.
      void tf.setBackend('wasm');
      dropWebGpu();
      throw new Error('abandoned');
    }
    if (!ready) throw new Error(autoState!.gpuProblem ?? 'WebGPU did not initialise');
    return probeOn('webgpu', bundle, () => abandoned);
  })();
  let gpuProbe: BackendProbe;
  let gpuBuilt: BuiltModel | undefined;
  const outcome = await within(gpuRun, limit).catch((e: unknown) => e as Error);
  if (outcome === 'timeout') {
    abandoned = true;
    gpuProbe = { backend: 'webgpu', outcome: 'timeout', msPerTile: null, probeMs: performance.now() - tg, adapter: adapterName, fallbackAdapter, detail: `exceeded ${Math.round(limit)} ms` };
    // The abandoned probe finishes (or fails on the destroyed device) in the background; free what it built.
    gpuRun.then((r) => r.built.model.dispose(), () => undefined).catch(() => undefined);
    await tf.setBackend('wasm');
    dropWebGpu();
    autoState.gpuCandidate = false;
    autoState.gpuProblem = `WebGPU (${adapterName}) exceeded the probe time limit`;
  } else if (outcome instanceof Error) {
    gpuProbe = { backend: 'webgpu', outcome: 'error', msPerTile: null, probeMs: performance.now() - tg, adapter: adapterName, fallbackAdapter, detail: outcome.message };
  } else {
    gpuBuilt = outcome.built;
    gpuProbe = { ...outcome.probe, adapter: adapterName, fallbackAdapter };
  }
  const candidates = [wasm.probe, gpuProbe];
  const { winner, reason } = decideBackend(candidates);
  const summary = summarizeChoice(candidates, reason);
  const loser = winner === 'wasm' ? gpuBuilt : wasm.built;
  loser?.model.dispose();
  await tf.setBackend(winner);
  setWinner(winner);
  const probeMs = performance.now() - t0;
  info.auto = { winner, probed: true, remembered: false, candidates, summary, probeMs, key };
  const value: RememberedChoice = { winner, summary, candidates };
  return { built: winner === 'wasm' ? wasm.built : gpuBuilt!, remember: { key, value: JSON.stringify(value) } };
}

/** Initialises (once) the WebGPU backend for 'auto'; false, with the reason kept, when it cannot. */
async function ensureWebGpu(): Promise<boolean> {
  if (!info || !autoState) return false;
  if (tf.findBackend('webgpu') && autoState.gpuReady) return tf.setBackend('webgpu');
  const probeInfo: BackendInfo = { ...info, fallbackReasons: [] };
  if (await tryWebGpu(probeInfo)) {
    autoState.gpuReady = true;
    info.adapter = probeInfo.adapter;
    info.maxBindingBytes = probeInfo.maxBindingBytes;
    return true;
  }
  autoState.gpuProblem = probeInfo.fallbackReasons.join(' ');
  return false;
}

async function loadModel(source: BundleSource, remembered?: Record<string, string>): Promise<{ bundle: LoadedBundle; remember?: { key: string; value: string } }> {
  if (!info) throw Object.assign(new Error('The engine is not initialised.'), { name: 'EngineError' });
  const t0 = performance.now();
  const bundle = await readBundle(source, baseUrl, trust);
  const readAndVerifyMs = performance.now() - t0;
  let built: BuiltModel;
  let remember: { key: string; value: string } | undefined;
  if (autoState) ({ built, remember } = await chooseAuto(bundle, remembered));
  else built = await buildModel(bundle);
  const { model, predictBatch } = built;
  const perTile = largestActivationBytes(model);
  const limits = info.name === 'webgpu' ? webgpuLimits(info.maxBindingBytes ?? 128 * 1024 * 1024) : WASM_LIMITS;
  const batchSize = batchSizeFor(perTile, limits);
  current?.model.dispose();
  current = { model, metadata: bundle.metadata, predictBatch, batchSize, hash: bundle.hash, ood: bundle.ood };
  const m = bundle.metadata;
  return {
    remember,
    bundle: {
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
      loadPhases: { readAndVerifyMs, buildAndWarmUpMs: performance.now() - t0 - readAndVerifyMs },
      backend: structuredClone(info),
    },
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
    const transfer = result.ok ? [result.probabilities.buffer, result.tileProbabilities.buffer, result.features.buffer] : [];
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
        autoState = undefined;
        if (msg.backend === 'auto' && info.name === 'wasm') {
          const adapter = await webGpuAdapterIdentity();
          autoState = {
            device: { adapter, hardwareConcurrency: info.hardwareConcurrency, threads: info.threads, crossOriginIsolated: info.crossOriginIsolated, tfjsVersion: info.tfjsVersion },
            wasmThreads: info.threads,
            gpuCandidate: adapter !== null,
            gpuReady: false,
            gpuProblem: adapter ? undefined : 'no WebGPU adapter',
          };
        }
        return info;
      }).then(
        (i) => post({ type: 'ready', id: msg.id, info: i }),
        (e) => post({ type: 'error', id: msg.id, error: wire(e) }),
      );
      break;
    case 'loadBundle':
      serial(() => loadModel(msg.source, msg.remembered)).then(
        ({ bundle, remember }) => post({ type: 'bundle', id: msg.id, bundle, remember }),
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
    case 'shippedModels':
      shippedModels(baseUrl, trust).then(
        (models) => post({ type: 'shippedModels', id: msg.id, models }),
        (e) => post({ type: 'error', id: msg.id, error: wire(e) }),
      );
      break;
    case 'adaptBundle':
      serial(async () => {
        if (!current) throw Object.assign(new Error('No model bundle is loaded; call loadBundle first.'), { name: 'NoBundleError' });
        const files = await adaptedBundleFiles(current.model, current, msg.adaptation);
        return [...files].map(([name, bytes]) => ({ name, bytes }));
      }).then(
        (files) => post({ type: 'adaptedBundle', id: msg.id, files }), // copied: the weight shards share one buffer
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
