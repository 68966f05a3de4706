// Train-step benchmark: M-CNN forward+backward+momentum update in TF.js vs PyTorch CPU, plus the Conv2DBackpropFilter kernel.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { buildMcnn } from '../../src/core/mcnn.ts';
import { availableCores, selectBackend, type BackendRequest } from '../../training/src/engine/backend.ts';
import { MomentumSgd, parameterLayout } from '../../training/src/train/optimizer.ts';
import { computeGradient } from '../../training/src/train/step.ts';

export interface TrainStepBenchOptions {
  backend?: BackendRequest;
  /** [height, width, batch] configurations. */
  configs?: [number, number, number][];
  warmup?: number;
  steps?: number;
  /** Run the PyTorch peer (Debian's /usr/bin/python3 with python3-torch) when available. */
  torch?: boolean;
  python?: string;
  /** Micro-benchmark Conv2DBackpropFilter (ours on the chosen backend vs the cpu backend). */
  kernel?: boolean;
  /** Print the most expensive kernels of one step at the first configuration. */
  profile?: boolean;
  log?: (line: string) => void;
}

export interface TrainStepResult {
  height: number;
  width: number;
  batch: number;
  backend: string;
  threads: number;
  secondsPerStep: number;
  imagesPerSecond: number;
  torch: { threads: number; imagesPerSecond: number }[];
}

/** One TF.js window fits a 1024x1280 step at batch 1; batch 8 needs ~8x the activations (> the 4 GiB wasm32 heap). */
export const DEFAULT_CONFIGS: [number, number, number][] = [
  [256, 320, 1],
  [256, 320, 8],
  [1024, 1280, 1],
];

const here = dirname(fileURLToPath(import.meta.url));

function random(n: number): Float32Array {
  const out = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

function runTorch(python: string, h: number, w: number, batch: number, threads: number, warmup: number, steps: number) {
  const script = join(here, 'torch_mcnn.py');
  const args = [script, '--height', `${h}`, '--width', `${w}`, '--batch', `${batch}`, '--threads', `${threads}`, '--warmup', `${warmup}`, '--steps', `${steps}`];
  const r = spawnSync(python, args, { encoding: 'utf8', timeout: 30 * 60_000 });
  if (r.status !== 0) throw new Error(`torch peer failed: ${r.stderr || r.error}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as { threads: number; imagesPerSecond: number; parameters: number };
}

export function torchAvailable(python = '/usr/bin/python3'): boolean {
  if (!existsSync(python)) return false;
  return spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
}

async function profileStep(step: () => void, log: (l: string) => void) {
  const info = await tf.profile(() => {
    step();
  });
  const byName = new Map<string, number>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : Number((k.kernelTimeMs as { error?: string }).error ? 0 : 0);
    byName.set(k.name, (byName.get(k.name) ?? 0) + ms);
  }
  const top = [...byName.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12);
  log('  kernel time in one step (nested kernels are also counted inside their parents):');
  for (const [name, ms] of top) log(`    ${name.padEnd(24)} ${ms.toFixed(0).padStart(7)} ms`);
}

/** Micro-benchmark of Conv2DBackpropFilter: the active backend's kernel vs the cpu backend's, GFLOP/s. */
export async function benchBackpropFilter(log: (l: string) => void = console.log) {
  const backend = tf.getBackend();
  const shapes: [number, number, number, number, number][] = [
    [1, 128, 160, 16, 16],
    [1, 128, 160, 3, 16],
    [4, 64, 80, 32, 32],
  ];
  const rows: { shape: string; ours: number; cpu: number }[] = [];
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
    rows.push({ shape, ours, cpu });
    log(`  Conv2DBackpropFilter ${shape.padEnd(22)} ${backend}: ${ours.toFixed(1)} ms (${(flop / ours / 1e6).toFixed(2)} GFLOP/s)   cpu backend: ${cpu.toFixed(1)} ms (${(flop / cpu / 1e6).toFixed(2)} GFLOP/s)   speed-up x${(cpu / ours).toFixed(1)}`);
  }
  return rows;
}

export async function benchTrainStep(options: TrainStepBenchOptions = {}): Promise<TrainStepResult[]> {
  const log = options.log ?? console.log;
  const warmup = options.warmup ?? 1;
  const steps = options.steps ?? 1;
  const python = options.python ?? '/usr/bin/python3';
  const choice = await selectBackend({ requested: options.backend ?? 'auto', log });
  await import('@tensorflow/tfjs-backend-cpu');
  const withTorch = (options.torch ?? true) && torchAvailable(python);
  if (!withTorch) log('  PyTorch peer: not available (needs /usr/bin/python3 with python3-torch)');
  const cores = availableCores();
  const results: TrainStepResult[] = [];
  if (options.kernel ?? true) await benchBackpropFilter(log);
  for (const [i, [h, w, batch]] of (options.configs ?? DEFAULT_CONFIGS).entries()) {
    // The trainer's own step: fused gradient (label-smoothed CE) then momentum SGD with weight decay.
    const model = buildMcnn({ height: h, width: w, seed: 1 });
    const layout = parameterLayout(model.trainableWeights.map((v) => v.read() as tf.Variable));
    const optimizer = new MomentumSgd(layout, { momentum: 0.9, nesterov: false, weightDecay: 5e-5 });
    const data = { images: random(batch * h * w * 3), labels: Int32Array.from({ length: batch }, (_, k) => k % 13), weights: new Float32Array(batch).fill(1), height: h, width: w, channels: 3 };
    const step = () => optimizer.apply(computeGradient(model, layout, data, 0.1).gradient, 0.001);
    for (let k = 0; k < warmup; k++) step();
    const t0 = performance.now();
    for (let k = 0; k < steps; k++) step();
    const sec = (performance.now() - t0) / 1000 / steps;
    if (options.profile && i === 0) await profileStep(step, log);
    optimizer.dispose();
    model.dispose();
    const result: TrainStepResult = { height: h, width: w, batch, backend: choice.name, threads: choice.threads, secondsPerStep: sec, imagesPerSecond: batch / sec, torch: [] };
    log(`  ${h}x${w} batch ${batch}: TF.js ${choice.name} (${choice.threads} thr) ${sec.toFixed(2)} s/step, ${result.imagesPerSecond.toFixed(3)} img/s`);
    if (withTorch) {
      for (const threads of [...new Set([choice.threads, cores])]) {
        const t = runTorch(python, h, w, batch, threads, warmup, steps);
        result.torch.push({ threads: t.threads, imagesPerSecond: t.imagesPerSecond });
        log(`    PyTorch ${threads} thr: ${t.imagesPerSecond.toFixed(3)} img/s -> TF.js takes x${(t.imagesPerSecond / result.imagesPerSecond).toFixed(2)} the time per image`);
      }
    }
    results.push(result);
  }
  return results;
}

// `npx tsx test/bench/train-step.ts [--quick] [--profile] [--backend wasm]`
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const backendAt = args.indexOf('--backend');
  await benchTrainStep({
    backend: backendAt >= 0 ? (args[backendAt + 1] as BackendRequest) : 'auto',
    configs: args.includes('--quick') ? [[256, 320, 1]] : undefined,
    profile: args.includes('--profile'),
  });
}
