// createEngine: the main-thread handle of the inference worker (posts Files/ArrayBuffers, receives results).
import { CHOICE_KEY_PREFIX } from './backend-choice.ts';
import type { FromWorker, ToWorker, WireError } from './protocol.ts';
import type { Adaptation } from '../core/adapted-bundle.ts';
import type {
  BackendInfo,
  BundleFileBytes,
  BundleSource,
  ClassifyOptions,
  Engine,
  EngineMemory,
  EngineOptions,
  DisplayOptions,
  FieldDisplay,
  FieldInput,
  FieldResult,
  LoadedBundle,
  OfflineFile,
  ShippedModel,
} from './types.ts';

/** Fields posted ahead of the one being classified: the worker never waits, memory stays bounded. */
const FIELDS_IN_FLIGHT = 3;

/** An Error with the name the worker gave it (BundleError, AbortError, ...). */
export class EngineError extends Error {
  constructor(wire: WireError) {
    super(wire.message);
    this.name = wire.name;
  }
}

function abortError(): DOMException {
  return new DOMException('Classification was cancelled.', 'AbortError');
}

/** The page's remembered 'auto' choices (localStorage; the worker has none). Empty where storage is blocked. */
interface StorageLike {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** The page's localStorage (the engine project is typed for workers, which have none). */
function storage(): StorageLike {
  const s = (globalThis as { localStorage?: StorageLike }).localStorage;
  if (!s) throw new Error('no localStorage');
  return s;
}

function rememberedChoices(): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    const localStorage = storage();
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (key?.startsWith(CHOICE_KEY_PREFIX)) out[key] = localStorage.getItem(key) ?? '';
    }
  } catch {
    // storage unavailable: 'auto' probes every start
  }
  return out;
}

function rememberChoice(entry: { key: string; value: string } | undefined): void {
  if (!entry) return;
  try {
    storage().setItem(entry.key, entry.value);
  } catch {
    // storage full or blocked: the next start probes again
  }
}

interface Pending {
  resolve: (value: FromWorker) => void;
  reject: (error: Error) => void;
  onMessage?: (message: FromWorker) => void;
}

export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  const worker = options.workerUrl
    ? new Worker(options.workerUrl, { type: 'module', name: 'moa-lens-engine' })
    : new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'moa-lens-engine' });
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let disposed = false;

  worker.onmessage = (event: MessageEvent<FromWorker>) => {
    const msg = event.data;
    const p = pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'error') {
      pending.delete(msg.id);
      p.reject(new EngineError(msg.error));
    } else if (msg.type === 'result') {
      p.onMessage?.(msg);
    } else {
      pending.delete(msg.id);
      p.resolve(msg);
    }
  };
  worker.onerror = (event: ErrorEvent) => {
    const error = new EngineError({ name: 'EngineError', message: `The engine worker failed: ${event.message || 'unknown error'}` });
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };

  function request(message: ToWorker, onMessage?: (m: FromWorker) => void): Promise<FromWorker> {
    if (disposed) return Promise.reject(new EngineError({ name: 'EngineError', message: 'The engine was disposed.' }));
    return new Promise((resolve, reject) => {
      pending.set(message.id, { resolve, reject, onMessage });
      worker.postMessage(message);
    });
  }

  const ready = (await request({
    type: 'init',
    id: nextId++,
    backend: options.backend ?? 'auto',
    threads: options.threads,
    baseUrl: options.baseUrl ?? new URL(import.meta.env.BASE_URL, location.href).href,
    trustedKeys: options.trustedKeys,
  })) as Extract<FromWorker, { type: 'ready' }>;
  let backendInfo: BackendInfo = ready.info;

  let classifyChain: Promise<unknown> = Promise.resolve();

  async function runClassify(fields: FieldInput[], opts: ClassifyOptions): Promise<FieldResult[]> {
    const { signal, onProgress, onResult } = opts;
    const collect = opts.collect ?? true;
    if (signal?.aborted) throw abortError();
    const id = nextId++;
    const total = fields.length;
    const results: FieldResult[] = [];
    const started = performance.now();
    let done = 0;
    let failed = 0;
    let posted = 0;
    const postNext = () => {
      while (posted < total && posted < done + FIELDS_IN_FLIGHT) {
        worker.postMessage({ type: 'field', id, index: posted, field: fields[posted] } satisfies ToWorker);
        posted++;
      }
    };
    const onAbort = () => worker.postMessage({ type: 'cancel', id } satisfies ToWorker);
    signal?.addEventListener('abort', onAbort, { once: true });
    const finished = request({ type: 'classifyStart', id, total }, (msg) => {
      if (msg.type !== 'result') return;
      done++;
      if (!msg.result.ok) failed++;
      if (collect) results.push(msg.result);
      onResult?.(msg.result);
      const elapsedMs = performance.now() - started;
      const fieldsPerSecond = done / (elapsedMs / 1000);
      onProgress?.({ total, done, failed, elapsedMs, fieldsPerSecond, etaSeconds: fieldsPerSecond > 0 ? (total - done) / fieldsPerSecond : null });
      postNext();
    });
    onProgress?.({ total, done: 0, failed: 0, elapsedMs: 0, fieldsPerSecond: 0, etaSeconds: null });
    postNext();
    try {
      await finished;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    return results;
  }

  return {
    get backendInfo() {
      return backendInfo;
    },
    async loadBundle(source: BundleSource): Promise<LoadedBundle> {
      const remembered = backendInfo.requested === 'auto' ? rememberedChoices() : undefined;
      const run = classifyChain.then(() => request({ type: 'loadBundle', id: nextId++, source, remembered }));
      classifyChain = run.catch(() => undefined);
      const reply = (await run) as Extract<FromWorker, { type: 'bundle' }>;
      rememberChoice(reply.remember);
      backendInfo = reply.bundle.backend;
      return reply.bundle;
    },
    classify(fields: FieldInput[], opts: ClassifyOptions = {}): Promise<FieldResult[]> {
      const run = classifyChain.then(() => runClassify(fields, opts));
      classifyChain = run.catch(() => undefined);
      return run;
    },
    async displayField(field: FieldInput, opts: DisplayOptions = {}): Promise<FieldDisplay> {
      return ((await request({ type: 'display', id: nextId++, field, maxSide: opts.maxSide })) as Extract<FromWorker, { type: 'display' }>).display;
    },
    async offlineFiles(source: BundleSource = 'default'): Promise<OfflineFile[]> {
      return ((await request({ type: 'offlineFiles', id: nextId++, source })) as Extract<FromWorker, { type: 'offlineFiles' }>).files;
    },
    async adaptBundle(adaptation: Adaptation): Promise<BundleFileBytes[]> {
      const run = classifyChain.then(() => request({ type: 'adaptBundle', id: nextId++, adaptation }));
      classifyChain = run.catch(() => undefined);
      return ((await run) as Extract<FromWorker, { type: 'adaptedBundle' }>).files;
    },
    async listShippedModels(): Promise<ShippedModel[]> {
      return ((await request({ type: 'shippedModels', id: nextId++ })) as Extract<FromWorker, { type: 'shippedModels' }>).models;
    },
    async memory(): Promise<EngineMemory> {
      return ((await request({ type: 'memory', id: nextId++ })) as Extract<FromWorker, { type: 'memory' }>).memory;
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      worker.terminate();
      const error = new EngineError({ name: 'EngineError', message: 'The engine was disposed.' });
      for (const p of pending.values()) p.reject(error);
      pending.clear();
    },
  };
}
