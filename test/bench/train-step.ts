// Train-step benchmark: the trainer's own M-CNN step (fused gradient + momentum SGD) on the native oneDNN engine
// (1 and 2 threads) and WASM, side by side with PyTorch CPU (1 and 2 threads), per configuration. Every TF.js
// engine/thread configuration runs in its own child process; PyTorch runs as a subprocess.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { kernels } from '@moa-lens/native';
import { buildMcnn } from '../../src/core/mcnn.ts';
import { availableCores, selectBackend } from '../../training/src/backend/select.ts';
import { NATIVE_KERNEL_NAMES } from '../../training/src/backend/native-backend.ts';
import { MomentumSgd, parameterLayout } from '../../training/src/train/optimizer.ts';
import { computeGradient } from '../../training/src/train/step.ts';
import { Rng } from '../../training/src/util/prng.ts';
import { loadSummary, machineSummary } from './machine.ts';
import { emitResult, implementationLines, PYTHON, quickMode, runWorker, table, timeCalls, torchAvailable, workerJob } from './worker.ts';

/** [height, width, batch] configurations. */
export type StepConfig = [number, number, number];
export type StepEngine = 'native' | 'wasm';

export interface TrainStepBenchOptions {
  configs?: StepConfig[];
  /** Thread counts of the native engine and of PyTorch (WASM runs one thread: TF.js 4.22 has no WASM threads in Node). */
  threads?: number[];
  engines?: StepEngine[];
  /** Timed steps per configuration: at least one, more while under `seconds` and fewer than `maxSteps`. */
  maxSteps?: number;
  seconds?: number;
  /** Run the PyTorch peer (Debian's /usr/bin/python3 with python3-torch) when available. */
  torch?: boolean;
  /** Also print the most expensive kernels of each profiled step. */
  profile?: boolean;
  /** Micro-benchmark Conv2DBackpropFilter (ours on each TF.js engine vs the cpu backend) before the steps. */
  kernel?: boolean;
  log?: (line: string) => void;
}

/** 256x320 batch 8, the trainer's usual input; full resolution at batch 1 and 4. */
export const DEFAULT_CONFIGS: StepConfig[] = [
  [256, 320, 8],
  [1024, 1280, 1],
  [1024, 1280, 4],
];
const QUICK_CONFIGS: StepConfig[] = [[256, 320, 2]];

/** wasm32 addresses 4 GiB: a 1024x1280 step at batch 4 needs several times that in activations and gradients. */
export function wasmFits([h, w, batch]: StepConfig): boolean {
  return h * w * batch <= 1024 * 1280 * 2;
}

/** Goals of the native engine against PyTorch CPU (docs/benchmarks.md). */
export const GOALS = { ratioToTorch: 0.5, speedup2: 1.7, fullResStep2: 1.5 };

interface StepJob {
  engine: StepEngine;
  threads: number;
  config: StepConfig;
  maxSteps: number;
  seconds: number;
  profile: boolean;
  kernel: boolean;
}

interface StepProfile {
  /** Wall time of the profiled step (gradient + SGD), ms. */
  wallMs: number;
  gradientMs: number;
  sgdMs: number;
  /** Sum of kernelTimeMs over all TF.js kernels of the step, and over the kernels the native backend overrides. */
  kernelMs: number;
  nativeKernelMs: number;
  top: [string, number][];
}

export interface StepRow {
  engine: StepEngine | 'pytorch';
  threads: number;
  height: number;
  width: number;
  batch: number;
  steps: number;
  secondsPerStep: number;
  detail: string;
  profile?: StepProfile;
  implementations?: Record<string, string>;
}

const here = dirname(fileURLToPath(import.meta.url));
const WORKER_ENV = 'MOA_TRAIN_STEP_WORKER';

const random = (n: number) => new Rng(12345).uniformFloats(n);

function runTorch(h: number, w: number, batch: number, threads: number, maxSteps: number, seconds: number): StepRow {
  const args = [join(here, 'torch_mcnn.py'), '--height', `${h}`, '--width', `${w}`, '--batch', `${batch}`, '--threads', `${threads}`, '--warmup', '1', '--steps', `${maxSteps}`, '--seconds', `${seconds}`];
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', timeout: 30 * 60_000 });
  if (r.status !== 0) throw new Error(`torch peer failed: ${r.stderr || r.error}`);
  const t = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { threads: number; steps: number; secondsPerStep: number; version: string };
  return { engine: 'pytorch', threads: t.threads, height: h, width: w, batch, steps: t.steps, secondsPerStep: t.secondsPerStep, detail: `PyTorch ${t.version} CPU` };
}

/** Micro-benchmark of Conv2DBackpropFilter: the active backend's kernel vs the cpu backend's, GFLOP/s. */
export async function benchBackpropFilter(log: (l: string) => void = console.log) {
  await import('@tensorflow/tfjs-backend-cpu');
  const backend = tf.getBackend();
  const shapes: [number, number, number, number, number][] = [
    [1, 128, 160, 16, 16],
    [1, 128, 160, 3, 16],
    [4, 64, 80, 32, 32],
  ];
  for (const [n, h, w, ci, co] of shapes) {
    const flop = 2 * n * h * w * ci * co * 25;
    const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [5, 5, ci, co] } as unknown as tf.NamedAttrMap;
    const xv = random(n * h * w * ci);
    const dv = random(n * h * w * co);
    const time = async (b: string, reps: number) => {
      await tf.setBackend(b);
      const x = tf.tensor4d(xv, [n, h, w, ci]);
      const dy = tf.tensor4d(dv, [n, h, w, co]);
      const once = () => tf.tidy(() => (tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor).dataSync());
      once();
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) once();
      const ms = (performance.now() - t0) / reps;
      tf.dispose([x, dy]);
      return ms;
    };
    const ours = await time(backend, 3);
    const cpu = await time('cpu', 1);
    await tf.setBackend(backend);
    const shape = `${n}x${h}x${w}x${ci} 5x5 ->${co}`;
    log(`  Conv2DBackpropFilter ${shape.padEnd(22)} ${backend}: ${ours.toFixed(1)} ms (${(flop / ours / 1e6).toFixed(2)} GFLOP/s)   cpu backend: ${cpu.toFixed(1)} ms (${(flop / cpu / 1e6).toFixed(2)} GFLOP/s)   speed-up x${(cpu / ours).toFixed(1)}`);
  }
}

/** One profiled step (tf.profile): time inside all kernels and inside the native backend's own kernels. */
async function profileStep(gradient: () => Promise<Float32Array>, apply: (g: Float32Array) => void): Promise<StepProfile> {
  const native = new Set(NATIVE_KERNEL_NAMES);
  let wallMs = 0;
  let gradientMs = 0;
  const info = await tf.profile(async () => {
    const t0 = performance.now();
    const g = await gradient();
    const t1 = performance.now();
    apply(g);
    gradientMs = t1 - t0;
    wallMs = performance.now() - t0;
  });
  const byName = new Map<string, number>();
  let kernelMs = 0;
  let nativeKernelMs = 0;
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    byName.set(k.name, (byName.get(k.name) ?? 0) + ms);
    kernelMs += ms;
    if (native.has(k.name)) nativeKernelMs += ms;
  }
  const top = [...byName.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
  return { wallMs, gradientMs, sgdMs: wallMs - gradientMs, kernelMs, nativeKernelMs, top };
}

/** The worker: one engine at one thread count, one configuration. */
async function stepWorker(job: StepJob): Promise<StepRow> {
  const [h, w, batch] = job.config;
  const choice = await selectBackend({ requested: job.engine, threads: job.threads, log: null });
  if (job.kernel) await benchBackpropFilter((l) => console.log(l));
  // The trainer's own step: fused gradient (label-smoothed CE) then momentum SGD with weight decay.
  const model = buildMcnn({ height: h, width: w, seed: 1 });
  const layout = parameterLayout(model.trainableWeights.map((v) => v.read() as tf.Variable));
  const optimizer = new MomentumSgd(layout, { momentum: 0.9, nesterov: false, weightDecay: 5e-5, fanInRateLimit: 0 });
  const data = { images: random(batch * h * w * 3), labels: Int32Array.from({ length: batch }, (_, k) => k % 13), weights: new Float32Array(batch).fill(1), height: h, width: w, channels: 3 };
  // As in the training loop: the gradient lands in one buffer reused every step (it is then allreduced in place).
  const fused = new Float32Array(layout.total);
  const gradient = async () => (await computeGradient(model, layout, data, 0.1, fused)).gradient;
  const apply = (g: Float32Array) => optimizer.apply(g, 0.001);
  const timed = await timeCalls(async () => apply(await gradient()), job.maxSteps, job.seconds);
  const profile = job.profile ? await profileStep(gradient, apply) : undefined;
  optimizer.dispose();
  model.dispose();
  return {
    engine: job.engine,
    threads: choice.threads,
    height: h,
    width: w,
    batch,
    steps: timed.calls,
    secondsPerStep: timed.seconds,
    detail: choice.detail,
    profile,
    implementations: job.engine === 'native' ? kernels().implementations() : undefined,
  };
}

const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(0)}%`;
const msPerImage = (r: StepRow) => (1000 * r.secondsPerStep) / r.batch;
const verdict = (met: boolean) => (met ? 'met' : 'NOT met');

export async function benchTrainStep(options: TrainStepBenchOptions = {}): Promise<StepRow[]> {
  const log = options.log ?? console.log;
  const quick = quickMode();
  const configs = options.configs ?? (quick ? QUICK_CONFIGS : DEFAULT_CONFIGS);
  const threads = options.threads ?? [...new Set([1, Math.min(2, availableCores())])];
  const engines = options.engines ?? ['native', 'wasm'];
  const maxSteps = options.maxSteps ?? (quick ? 1 : 5);
  const seconds = options.seconds ?? (quick ? 0 : 8);
  const withTorch = (options.torch ?? true) && torchAvailable();
  log(`trainStep: the trainer's step (computeGradient + MomentumSgd) per image; one warm-up step, then ${maxSteps === 1 ? 'one timed step' : `1 to ${maxSteps} timed steps (about ${seconds} s)`}; each TF.js engine/thread count in its own process${quick ? ' [quick]' : ''}`);
  if (!withTorch) log('  PyTorch peer: not available (needs /usr/bin/python3 with python3-torch)');
  log(`  ${loadSummary()} (at the start)`);
  const rows: StepRow[] = [];
  const details = new Map<string, string>();
  for (const config of configs) {
    const [h, w, batch] = config;
    log(`\n### ${h}x${w} batch ${batch} (before it: ${loadSummary()})`);
    const configRows: StepRow[] = [];
    const jobs: { engine: StepEngine; threads: number }[] = [];
    if (engines.includes('native')) for (const t of threads) jobs.push({ engine: 'native', threads: t });
    if (engines.includes('wasm')) {
      if (wasmFits(config)) jobs.push({ engine: 'wasm', threads: 1 });
      else log(`  WASM skipped: a ${h}x${w} step at batch ${batch} does not fit the 4 GiB wasm32 heap`);
    }
    for (const { engine, threads: t } of jobs) {
      const job: StepJob = { engine, threads: t, config, maxSteps: engine === 'wasm' && h * w * batch >= 1024 * 1280 ? 1 : maxSteps, seconds, profile: engine === 'native' || !!options.profile, kernel: !!options.kernel && config === configs[0] };
      try {
        const row = runWorker<StepRow>(fileURLToPath(import.meta.url), WORKER_ENV, job, log);
        details.set(`${engine} ${row.threads} thr`, row.detail);
        configRows.push(row);
      } catch (error) {
        log(`  ${engine} ${t} thr FAILED: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (withTorch) {
      for (const t of threads) {
        const row = runTorch(h, w, batch, t, maxSteps, seconds);
        details.set('pytorch', row.detail);
        configRows.push(row);
      }
    }
    const torchAt = (t: number) => configRows.find((r) => r.engine === 'pytorch' && r.threads === t);
    const nativeAt = (t: number) => configRows.find((r) => r.engine === 'native' && r.threads === t);
    const body = configRows.map((r) => {
      const torch = r.engine === 'pytorch' ? undefined : torchAt(r.threads);
      const vsTorch = torch ? `${(msPerImage(r) / msPerImage(torch)).toFixed(2)}x${r.engine === 'native' ? ` (${verdict(msPerImage(r) / msPerImage(torch) <= GOALS.ratioToTorch)})` : ''}` : '';
      const one = nativeAt(1);
      const speedup = r.engine === 'native' && r.threads > 1 && one ? `${(one.secondsPerStep / r.secondsPerStep).toFixed(2)}x${r.threads === 2 ? ` (${verdict(one.secondsPerStep / r.secondsPerStep >= GOALS.speedup2)})` : ''}` : '';
      const share = r.engine === 'native' && r.profile ? pct(r.profile.nativeKernelMs, r.profile.wallMs) : '';
      return [r.engine, `${r.threads}`, r.secondsPerStep.toFixed(3), msPerImage(r).toFixed(1), `${r.steps}`, vsTorch, speedup, share];
    });
    for (const line of table(['engine', 'threads', 's/step', 'ms/image', 'timed steps', 'time vs PyTorch, same thr (goal <= 0.5x)', 'speed-up vs 1 thr (goal >= 1.7x)', 'share in native kernels'], body)) log(line);
    for (const r of configRows) {
      if (!r.profile) continue;
      const p = r.profile;
      log(`  ${r.engine} ${r.threads} thr, one profiled step ${p.wallMs.toFixed(0)} ms: TF.js kernels ${p.kernelMs.toFixed(0)} ms (${pct(p.kernelMs, p.wallMs)}), of which native-backend kernels ${p.nativeKernelMs.toFixed(0)} ms (${pct(p.nativeKernelMs, p.wallMs)}); momentum SGD (one native pass) ${p.sgdMs.toFixed(0)} ms (${pct(p.sgdMs, p.wallMs)}); rest (JS, gradient copy) ${(p.gradientMs - p.kernelMs).toFixed(0)} ms`);
      if (options.profile) for (const [name, ms] of p.top) log(`      ${name.padEnd(24)} ${ms.toFixed(0).padStart(7)} ms`);
    }
    rows.push(...configRows);
  }

  log('\n### Summary: ms per image (time vs PyTorch at the same thread count)');
  const cell = (r: StepRow | undefined, torch: StepRow | undefined) => (r ? `${msPerImage(r).toFixed(0)}${torch ? ` (${(msPerImage(r) / msPerImage(torch)).toFixed(2)}x)` : ''}` : '-');
  const find = (c: StepConfig, engine: StepRow['engine'], t: number) => rows.find((r) => r.engine === engine && r.threads === t && r.height === c[0] && r.width === c[1] && r.batch === c[2]);
  const last = threads[threads.length - 1];
  const header = ['input, batch', ...threads.map((t) => `native ${t} thr`), 'WASM 1 thr', ...threads.map((t) => `PyTorch ${t} thr`), ...(threads.length > 1 ? [`native ${last}/1 thr speed-up`] : [])];
  const summary = configs.map((c) => {
    const n1 = find(c, 'native', 1);
    const nN = find(c, 'native', last);
    return [
      `${c[0]}x${c[1]}, ${c[2]}`,
      ...threads.map((t) => cell(find(c, 'native', t), find(c, 'pytorch', t))),
      wasmFits(c) ? cell(find(c, 'wasm', 1), find(c, 'pytorch', 1)) : 'does not fit',
      ...threads.map((t) => cell(find(c, 'pytorch', t), undefined)),
      ...(threads.length > 1 ? [n1 && nN ? `${(n1.secondsPerStep / nN.secondsPerStep).toFixed(2)}x` : '-'] : []),
    ];
  });
  for (const line of table(header, summary)) log(line);

  const native = rows.filter((r) => r.engine === 'native');
  if (native.length) {
    log('\n### Goals of the native engine');
    const ratios = native.map((r) => ({ r, torch: find([r.height, r.width, r.batch], 'pytorch', r.threads) })).filter((x) => x.torch);
    if (ratios.length) {
      const worst = ratios.reduce((a, b) => (msPerImage(a.r) / msPerImage(a.torch!) >= msPerImage(b.r) / msPerImage(b.torch!) ? a : b));
      const worstRatio = msPerImage(worst.r) / msPerImage(worst.torch!);
      log(`  time per image <= ${GOALS.ratioToTorch}x PyTorch's at the same threads: worst ${worstRatio.toFixed(2)}x (${worst.r.height}x${worst.r.width} batch ${worst.r.batch}, ${worst.r.threads} thr): ${verdict(worstRatio <= GOALS.ratioToTorch)}`);
    }
    const speedups = configs.map((c) => ({ c, one: find(c, 'native', 1), two: find(c, 'native', 2) })).filter((x) => x.one && x.two);
    if (speedups.length) {
      const list = speedups.map((x) => (x.one!.secondsPerStep / x.two!.secondsPerStep));
      log(`  2-thread speed-up >= ${GOALS.speedup2}x: ${list.map((s, i) => `${s.toFixed(2)}x (${speedups[i].c.join('x')})`).join(', ')}: ${verdict(Math.min(...list) >= GOALS.speedup2)}`);
    }
    const full = find([1024, 1280, 1], 'native', 2);
    if (full) log(`  1024x1280 batch-1 step on 2 threads <= ${GOALS.fullResStep2} s: ${full.secondsPerStep.toFixed(2)} s: ${verdict(full.secondsPerStep <= GOALS.fullResStep2)}`);
    for (const line of implementationLines(native.map((r) => r.implementations ?? {}))) log(line);
  }
  log('\n  engines:');
  for (const [name, detail] of details) log(`    ${name}: ${detail}`);
  log(`  ${loadSummary()} (at the end)`);
  return rows;
}

// `npx tsx test/bench/train-step.ts [--quick] [--profile] [--kernel] [--engines native,wasm] [--threads 1,2] [--configs 256x320x8,1024x1280x1]`
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const job = workerJob<StepJob>(WORKER_ENV);
  if (job) {
    emitResult(await stepWorker(job));
  } else {
    const args = process.argv.slice(2);
    const value = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
    console.log(`machine: ${machineSummary()}`);
    await benchTrainStep({
      configs: value('--configs')?.split(',').map((c) => c.split('x').map(Number) as StepConfig),
      threads: value('--threads')?.split(',').map(Number),
      engines: value('--engines')?.split(',') as StepEngine[] | undefined,
      profile: args.includes('--profile'),
      kernel: args.includes('--kernel'),
    });
  }
}
