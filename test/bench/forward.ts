// Forward-pass benchmark (inference, model.predict, batch 1): the native oneDNN engine (1 and 2 threads) and WASM, each
// in its own process, against ONNX Runtime's native CPU engine (npm onnxruntime-node) running the PyTorch peer's M-CNN
// exported to ONNX, at the same thread counts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { kernels } from '@moa-lens/native';
import { buildMcnn, mcnnForwardMacs } from '../../src/core/mcnn.ts';
import { availableCores, selectBackend } from '../../training/src/backend/select.ts';
import { loadSummary, machineSummary } from './machine.ts';
import { emitResult, implementationLines, PYTHON, quickMode, runWorker, table, timeCalls, torchAvailable, workerJob } from './worker.ts';

type Size = [number, number];
type ForwardEngine = 'native' | 'wasm';

export interface ForwardRow {
  engine: ForwardEngine | 'onnxruntime';
  threads: number;
  size: string;
  msPerImage: number;
  gflops: number;
  runs: number;
}

interface ForwardJob {
  engine: ForwardEngine;
  threads: number;
  sizes: Size[];
  maxRuns: number;
  seconds: number;
}

interface ForwardWorkerResult {
  detail: string;
  rows: ForwardRow[];
  implementations?: Record<string, string>;
}

export interface ForwardBenchOptions {
  sizes?: Size[];
  /** Thread counts of the native engine and of ONNX Runtime (WASM runs one thread in Node). */
  threads?: number[];
  engines?: ForwardEngine[];
  /** Timed runs per size: at least one, more while under `seconds` and fewer than `maxRuns`. */
  maxRuns?: number;
  seconds?: number;
  log?: (line: string) => void;
}

/** Goal: the native engine within 1.5x of ONNX Runtime at 1024x1280 on 2 threads. */
export const FORWARD_GOAL = 1.5;
const ORT_VERSION = '1.30.0';
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * Where the bench looks for onnxruntime-node when the project does not depend on it (tmp/ is git-ignored). A separate
 * prefix, not `npm install --no-save` at the root: with --ignore-scripts there npm would also add the optional
 * @tensorflow/tfjs-node without its libtensorflow, and the trainer's 'auto' backend would then pick a broken tfjs-node.
 */
const ORT_PREFIX = join(repoRoot, 'tmp', 'onnxruntime-node');
export const ORT_INSTALL_HINT = `npm install --prefix tmp/onnxruntime-node --ignore-scripts --no-audit --no-fund onnxruntime-node@${ORT_VERSION}`;
const WORKER_ENV = 'MOA_FORWARD_WORKER';
const gflop = ([h, w]: Size) => (2 * mcnnForwardMacs({ height: h, width: w })) / 1e9;

/** The worker: one engine at one thread count, every size. */
async function forwardWorker(job: ForwardJob): Promise<ForwardWorkerResult> {
  const choice = await selectBackend({ requested: job.engine, threads: job.threads, log: null });
  const rows: ForwardRow[] = [];
  for (const [height, width] of job.sizes) {
    const model = buildMcnn({ height, width, seed: 1 });
    const x = tf.randomUniform([1, height, width, 3], 0, 1, 'float32', 1);
    const timed = await timeCalls(() => tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync()), job.maxRuns, job.seconds);
    const ms = timed.seconds * 1000;
    rows.push({ engine: job.engine, threads: choice.threads, size: `${height}x${width}`, msPerImage: ms, gflops: gflop([height, width]) / timed.seconds, runs: timed.calls });
    tf.dispose(x);
    model.dispose();
  }
  return { detail: choice.detail, rows, implementations: job.engine === 'native' ? kernels().implementations() : undefined };
}

interface OrtTensor {
  dispose?(): void;
}
interface OrtSession {
  inputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface Ort {
  InferenceSession: { create(path: string, options: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => OrtTensor;
  env: { versions?: { node?: string; common?: string } };
}

/** onnxruntime-node from the project's node_modules, else from tmp/onnxruntime-node; null when neither has it. */
function loadOrt(): { ort: Ort; from: string } | null {
  for (const base of [join(repoRoot, 'package.json'), join(ORT_PREFIX, 'package.json')]) {
    if (!existsSync(base)) continue;
    try {
      const require = createRequire(base);
      const path = require.resolve('onnxruntime-node');
      return { ort: require(path) as Ort, from: path.slice(0, path.lastIndexOf('onnxruntime-node') + 'onnxruntime-node'.length) };
    } catch {
      /* not installed there */
    }
  }
  return null;
}

/** ONNX Runtime (CPU execution provider, all graph optimisations) on the exported M-CNN, ms per image. */
async function runOrt(ort: Ort, onnx: string, [height, width]: Size, threads: number, maxRuns: number, seconds: number): Promise<ForwardRow> {
  const session = await ort.InferenceSession.create(onnx, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  try {
    const data = new Float32Array(3 * height * width);
    for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) >>> 0) / 2 ** 32;
    const x = new ort.Tensor('float32', data, [1, 3, height, width]);
    const timed = await timeCalls(async () => {
      const out = await session.run({ [session.inputNames[0]]: x });
      for (const t of Object.values(out)) t.dispose?.();
    }, maxRuns, seconds);
    return { engine: 'onnxruntime', threads, size: `${height}x${width}`, msPerImage: timed.seconds * 1000, gflops: gflop([height, width]) / timed.seconds, runs: timed.calls };
  } finally {
    await session.release();
  }
}

/** The ONNX Runtime peer at every size and thread count, or the reason it cannot run. */
async function ortPeer(sizes: Size[], threads: number[], maxRuns: number, seconds: number, log: (l: string) => void): Promise<ForwardRow[]> {
  const loaded = loadOrt();
  if (!loaded) {
    log(`  ONNX Runtime peer SKIPPED: onnxruntime-node is not installed. It is kept out of the project's dependencies (a ${ORT_VERSION} tarball is 113 MB, 301 MB unpacked,`);
    log(`  mostly Windows/macOS binaries). To enable the peer, from the repository root: ${ORT_INSTALL_HINT}`);
    log('  (--ignore-scripts: its postinstall would only fetch CUDA providers from NuGet; the CPU library ships in the package.)');
    return [];
  }
  if (!torchAvailable()) {
    log('  ONNX Runtime peer SKIPPED: exporting the network needs /usr/bin/python3 with python3-torch');
    return [];
  }
  const dir = mkdtempSync(join(os.tmpdir(), 'moa-lens-onnx-'));
  const rows: ForwardRow[] = [];
  try {
    for (const size of sizes) {
      const onnx = join(dir, `mcnn-${size[0]}x${size[1]}.onnx`);
      const script = join(repoRoot, 'test', 'bench', 'torch_infer.py');
      const r = spawnSync(PYTHON, [script, '--height', `${size[0]}`, '--width', `${size[1]}`, '--onnx', onnx], { encoding: 'utf8', timeout: 10 * 60_000 });
      if (r.status !== 0 || !existsSync(onnx)) throw new Error(`ONNX export failed: ${(r.stderr || String(r.error)).slice(-2000)}`);
      for (const t of threads) rows.push(await runOrt(loaded.ort, onnx, size, t, maxRuns, seconds));
      rmSync(onnx, { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const version = loaded.ort.env.versions?.node ?? loaded.ort.env.versions?.common ?? '?';
  log(`  ONNX Runtime ${version} (onnxruntime-node from ${loaded.from.replace(`${repoRoot}/`, '')}), CPU EP, graph optimisation 'all', model exported by torch.onnx.export (opset 13) from test/bench/torch_mcnn.py`);
  return rows;
}

export async function benchForward(options: ForwardBenchOptions = {}): Promise<ForwardRow[]> {
  const log = options.log ?? console.log;
  const quick = quickMode();
  const sizes = options.sizes ?? (quick ? [[256, 320]] : [[256, 320], [1024, 1280]]);
  const threads = options.threads ?? [...new Set([1, Math.min(2, availableCores())])];
  const engines = options.engines ?? ['native', 'wasm'];
  const maxRuns = options.maxRuns ?? (quick ? 1 : 5);
  const seconds = options.seconds ?? (quick ? 0 : 5);
  log(`forward: M-CNN model.predict, batch 1, ms per image (one warm-up run, then ${maxRuns === 1 ? 'one timed run' : `1 to ${maxRuns} timed runs (about ${seconds} s)`}); each TF.js engine/thread count in its own process${quick ? ' [quick]' : ''}`);
  log(`  ${loadSummary()} (at the start)`);
  const rows: ForwardRow[] = [];
  const details: string[] = [];
  const impls: Record<string, string>[] = [];
  const jobs: ForwardJob[] = [
    ...(engines.includes('native') ? threads.map((t) => ({ engine: 'native' as const, threads: t, sizes, maxRuns, seconds })) : []),
    ...(engines.includes('wasm') ? [{ engine: 'wasm' as const, threads: 1, sizes, maxRuns, seconds }] : []),
  ];
  for (const job of jobs) {
    try {
      const r = runWorker<ForwardWorkerResult>(fileURLToPath(import.meta.url), WORKER_ENV, job, log);
      rows.push(...r.rows);
      details.push(`${job.engine} ${r.rows[0]?.threads ?? job.threads} thr: ${r.detail}`);
      if (r.implementations) impls.push(r.implementations);
    } catch (error) {
      log(`  ${job.engine} ${job.threads} thr FAILED: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const peer = await ortPeer(sizes, threads, maxRuns, seconds, log);
  rows.push(...peer);

  const ortAt = (size: string, t: number) => peer.find((p) => p.size === size && p.threads === t);
  const body = sizes.flatMap(([h, w]) => {
    const size = `${h}x${w}`;
    return rows.filter((r) => r.size === size).map((r) => {
      const ort = r.engine === 'onnxruntime' ? undefined : ortAt(size, r.threads);
      const ratio = ort ? r.msPerImage / ort.msPerImage : undefined;
      const goal = ratio !== undefined && r.engine === 'native' && size === '1024x1280' && r.threads === 2 ? ` (goal <= ${FORWARD_GOAL}x: ${ratio <= FORWARD_GOAL ? 'met' : 'NOT met'})` : '';
      return [size, r.engine, `${r.threads}`, r.msPerImage.toFixed(1), r.gflops.toFixed(1), `${r.runs}`, ort ? ort.msPerImage.toFixed(1) : '', ratio !== undefined ? `${ratio.toFixed(2)}x${goal}` : ''];
    });
  });
  log('');
  for (const line of table(['input', 'engine', 'threads', 'ms/image', 'GFLOP/s', 'timed runs', 'ORT ms/image, same thr', 'time vs ORT'], body)) log(line);
  log(`  (${gflop([1024, 1280]).toFixed(1)} GFLOP per 1024x1280 forward; FLOP = 2 x MAC of convolutions and dense layers)`);
  if (impls.length) for (const line of implementationLines(impls)) log(line);
  log('  engines:');
  for (const d of details) log(`    ${d}`);
  log(`  ${loadSummary()} (at the end)`);
  return rows;
}

// `npx tsx test/bench/forward.ts [--quick] [--engines native,wasm] [--threads 1,2] [--sizes 256x320,1024x1280]`
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const job = workerJob<ForwardJob>(WORKER_ENV);
  if (job) {
    emitResult(await forwardWorker(job));
  } else {
    const args = process.argv.slice(2);
    const value = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
    console.log(`machine: ${machineSummary()}`);
    await benchForward({
      sizes: value('--sizes')?.split(',').map((s) => s.split('x').map(Number) as Size),
      threads: value('--threads')?.split(',').map(Number),
      engines: value('--engines')?.split(',') as ForwardEngine[] | undefined,
    });
  }
}
