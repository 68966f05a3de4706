// `npm run bench -- webgpu [--size HxW] [--batches 1,4,8] [--seconds S] [--steps N]`: M-CNN on the WebGPU backend (Dawn
// through the `webgpu` package: any Vulkan GPU, or SwiftShader on the CPU): the time of each kernel in one training step
// with TF.js's stock kernels and with ours (src/core/webgpu), training images/s per batch size, inference ms per image,
// and PyTorch on the same GPU (CUDA) as the peer when it is installed. docs/webgpu.md has the command for a GPU machine.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { buildMcnn } from '../../src/core/mcnn.ts';
import { filterGradWork } from '../../src/core/webgpu/conv2d-backprop-filter.ts';
import { useWebgpuKernels, WEBGPU_KERNEL_NAMES } from '../../src/core/webgpu/kernels.ts';
import { selectBackend } from '../../training/src/backend/select.ts';
import { MomentumSgd, parameterLayout } from '../../training/src/train/optimizer.ts';
import { computeGradient, type StepBatch } from '../../training/src/train/step.ts';
import { Rng } from '../../training/src/util/prng.ts';
import { loadSummary } from './machine.ts';
import { PYTHON, table, timeCalls, torchAvailable } from './worker.ts';

const here = dirname(fileURLToPath(import.meta.url));
/** The peer's interpreter: a CUDA build of PyTorch is rarely Debian's python3 (MOA_BENCH_PYTHON=/path/to/venv/bin/python). */
const python = process.env.MOA_BENCH_PYTHON ?? PYTHON;

/** Goals on an H100/H200 (issue 21): training at batch 8, and inference against PyTorch fp32 at batch 1 and 4. */
export const WEBGPU_TRAIN_GOAL_IMAGES_PER_S = 25;
export const WEBGPU_INFER_GOAL_VS_TORCH = 1.5;

export interface WebgpuBenchOptions {
  height: number;
  width: number;
  batches: number[];
  inferBatches: number[];
  /** Timed calls per configuration: at least one, more while under `seconds` and fewer than `steps`. */
  seconds: number;
  steps: number;
  widthMultiplier: number;
}

/** The bench's flags (after `npm run bench -- webgpu`); defaults: the paper's 1024x1280, batches 1/4/8. */
export function parseWebgpuBenchArgs(argv: string[]): WebgpuBenchOptions {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const size = value('--size') ?? '1024x1280';
  const match = /^(\d+)x(\d+)$/.exec(size);
  if (!match) throw new Error(`--size must be HxW (e.g. 1024x1280), got '${size}'`);
  const list = (flag: string, fallback: string) =>
    (value(flag) ?? fallback).split(',').map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} takes positive integers separated by commas, got '${s}'`);
      return n;
    });
  return {
    height: Number(match[1]),
    width: Number(match[2]),
    batches: list('--batches', '1,4,8'),
    inferBatches: list('--infer-batches', '1,4'),
    seconds: Number(value('--seconds') ?? 10),
    steps: Number(value('--steps') ?? 5),
    widthMultiplier: Number(value('--width-multiplier') ?? 1),
  };
}

function stepBatch(n: number, h: number, w: number): StepBatch {
  return { images: new Rng(12345).uniformFloats(n * h * w * 3), labels: Int32Array.from({ length: n }, (_, k) => k % 13), weights: new Float32Array(n).fill(1), height: h, width: w, channels: 3 };
}

/** The trainer's step: fused gradient read back to the CPU (as before an allreduce), then momentum SGD. */
function trainer(model: tfl.LayersModel) {
  const layout = parameterLayout(model.trainableWeights.map((v) => v.read() as tf.Variable));
  const optimizer = new MomentumSgd(layout, { momentum: 0.9, nesterov: false, weightDecay: 5e-5, fanInRateLimit: 0 });
  const fused = new Float32Array(layout.total);
  return {
    step: async (batch: StepBatch) => optimizer.apply((await computeGradient(model, layout, batch, 0.1, fused)).gradient, 0.001),
    dispose: () => optimizer.dispose(),
  };
}

/** Milliseconds per kernel name over one profiled call (GPU timestamps where the adapter has them). */
async function kernelTimes(once: () => Promise<void>): Promise<Map<string, number>> {
  const info = await tf.profile(once);
  const byName = new Map<string, number>();
  for (const k of info.kernels) byName.set(k.name, (byName.get(k.name) ?? 0) + (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0));
  return byName;
}

interface TorchRun {
  secondsPerStep?: number;
  device?: string;
  error?: string;
}

/** The PyTorch peer on CUDA (test/bench/torch_mcnn.py --device cuda); null with the reason when it cannot run. */
function torchCuda(o: WebgpuBenchOptions, batch: number, inference: boolean): TorchRun {
  const args = [join(here, 'torch_mcnn.py'), '--device', 'cuda', '--height', `${o.height}`, '--width', `${o.width}`, '--width-multiplier', `${o.widthMultiplier}`, '--batch', `${batch}`, '--warmup', '2', '--steps', `${Math.max(o.steps, 10)}`, '--seconds', `${o.seconds}`];
  if (inference) args.push('--inference');
  const r = spawnSync(python, args, { encoding: 'utf8', timeout: 30 * 60_000 });
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as TorchRun;
  } catch {
    return { error: `exit ${r.status}: ${(r.stderr ?? '').trim().split('\n').pop() ?? ''}` };
  }
}

export async function benchWebgpu(o: WebgpuBenchOptions = parseWebgpuBenchArgs(process.argv.slice(2)), log: (line: string) => void = console.log): Promise<void> {
  const choice = await selectBackend({ requested: 'webgpu', log: null });
  const { height: h, width: w } = o;
  log(`webgpu: M-CNN ${h}x${w} (width x${o.widthMultiplier}), float32, ${choice.detail}`);
  log(`  ${loadSummary()}`);
  if (/swiftshader/i.test(choice.detail)) log('  SwiftShader is Vulkan on the CPU: these numbers prove the bench runs, they are not GPU speed');
  const model = buildMcnn({ height: h, width: w, widthMultiplier: o.widthMultiplier, seed: 1 });
  const t = trainer(model);

  // 0. Work counts of Conv2DBackpropFilter per convolution (computed, not measured): why ours fills a GPU.
  log(`\n  Conv2DBackpropFilter work per layer at batch ${o.batches[0]} (stock TF.js 4.22 / ours):`);
  const workRows: string[][] = [];
  for (const layer of model.layers.filter((l) => l.getClassName() === 'Conv2D')) {
    const [, lh, lw, ci] = (layer.input as tfl.SymbolicTensor).shape;
    const config = layer.getConfig() as { filters: number; kernelSize: number[]; padding: 'same' | 'valid' };
    const k = config.kernelSize[0];
    const info = tf.backend_util.computeConv2DInfo([o.batches[0], lh as number, lw as number, ci as number], [k, k, ci as number, config.filters], 1, 1, config.padding);
    const { stock, ours } = filterGradWork(info);
    workRows.push([layer.name, `${lh}x${lw}x${ci} ${k}x${k} -> ${config.filters}`, `${stock.threads}`, `${ours.threads} (${ours.splits} splits)`, stock.bytesPerOutput.toExponential(2), ours.bytesPerOutput.toExponential(2), stock.flopPerByte.toFixed(2), ours.flopPerByte.toFixed(1)]);
  }
  for (const line of table(['layer', 'input, kernel', 'threads stock', 'threads ours', 'B/output stock', 'B/output ours', 'FLOP/B stock', 'FLOP/B ours'], workRows, '    ')) log(line);

  // 1. Where one training step's time goes, stock TF.js kernels against ours (same model, same batch).
  const profileBatch = stepBatch(o.batches[0], h, w);
  const profiles: Record<'stock' | 'ours', Map<string, number>> = { stock: new Map(), ours: new Map() };
  const stepMs: Record<'stock' | 'ours', number> = { stock: 0, ours: 0 };
  for (const which of ['stock', 'ours'] as const) {
    useWebgpuKernels(which);
    const timed = await timeCalls(() => t.step(profileBatch), 1, 0); // a warm-up step (pipelines compiled), then one timed
    stepMs[which] = timed.seconds * 1000;
    profiles[which] = await kernelTimes(() => t.step(profileBatch));
  }
  useWebgpuKernels('ours');
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const names = [...profiles.stock.keys()].sort((a, b) => (profiles.stock.get(b) ?? 0) - (profiles.stock.get(a) ?? 0));
  const oursTotal = total(profiles.ours);
  const replaced = new Set(WEBGPU_KERNEL_NAMES);
  log(`\n  per kernel, one training step at batch ${o.batches[0]} (tf.profile; kernels under 0.5% of both steps folded into 'other'):`);
  const rows: string[][] = [];
  let otherStock = 0;
  let otherOurs = 0;
  for (const name of names) {
    const s = profiles.stock.get(name) ?? 0;
    const ours = profiles.ours.get(name) ?? 0;
    if (s < 0.005 * total(profiles.stock) && ours < 0.005 * oursTotal) {
      otherStock += s;
      otherOurs += ours;
      continue;
    }
    rows.push([`${name}${replaced.has(name) ? ' (ours)' : ''}`, s.toFixed(1), ours.toFixed(1), `${((100 * ours) / oursTotal).toFixed(1)}%`, ours > 0 ? `x${(s / ours).toFixed(1)}` : '']);
  }
  rows.push(['other', otherStock.toFixed(1), otherOurs.toFixed(1), `${((100 * otherOurs) / oursTotal).toFixed(1)}%`, '']);
  rows.push(['all kernels', total(profiles.stock).toFixed(1), oursTotal.toFixed(1), '100%', `x${(total(profiles.stock) / oursTotal).toFixed(1)}`]);
  rows.push(['step, wall clock', stepMs.stock.toFixed(1), stepMs.ours.toFixed(1), '', `x${(stepMs.stock / stepMs.ours).toFixed(1)}`]);
  for (const line of table(['kernel', 'stock ms', 'ours ms', 'share (ours)', 'speed-up'], rows, '    ')) log(line);

  // 2. Training throughput with our kernels, and 3. inference (model.predict), each against PyTorch on CUDA.
  const peer = torchAvailable(python);
  const peerNote = (r: TorchRun | null) => (r?.secondsPerStep ? '' : r?.error ? `PyTorch: ${r.error}` : 'PyTorch not installed');
  const trainRows: string[][] = [];
  let batch8: number | undefined;
  for (const n of o.batches) {
    const batch = stepBatch(n, h, w);
    const timed = await timeCalls(() => t.step(batch), o.steps, o.seconds);
    const ips = n / timed.seconds;
    if (n === 8) batch8 = ips;
    const torch = peer ? torchCuda(o, n, false) : null;
    const torchIps = torch?.secondsPerStep ? n / torch.secondsPerStep : undefined;
    trainRows.push([`${n}`, `${timed.calls}`, (1000 * timed.seconds).toFixed(1), ips.toFixed(2), torchIps ? torchIps.toFixed(2) : '-', torchIps ? `${(torchIps / ips).toFixed(2)}x` : peerNote(torch)]);
  }
  t.dispose();
  log(`\n  training (the trainer's step: forward, backward, gradient read back, momentum SGD), our kernels:`);
  for (const line of table(['batch', 'steps', 'ms/step', 'images/s', 'PyTorch CUDA images/s', 'PyTorch faster by'], trainRows, '    ')) log(line);

  const inferRows: string[][] = [];
  const inferVerdicts: string[] = [];
  for (const n of o.inferBatches) {
    const x = tf.tensor4d(stepBatch(n, h, w).images, [n, h, w, 3]);
    const timed = await timeCalls(async () => {
      const y = model.predict(x) as tf.Tensor;
      await y.data();
      y.dispose();
    }, o.steps, o.seconds);
    x.dispose();
    const ms = (1000 * timed.seconds) / n;
    const torch = peer ? torchCuda(o, n, true) : null;
    const torchMs = torch?.secondsPerStep ? (1000 * torch.secondsPerStep) / n : undefined;
    if (torchMs) inferVerdicts.push(`batch ${n} ${(ms / torchMs).toFixed(2)}x PyTorch (${ms / torchMs <= WEBGPU_INFER_GOAL_VS_TORCH ? 'met' : 'NOT met'})`);
    inferRows.push([`${n}`, `${timed.calls}`, ms.toFixed(1), torchMs ? torchMs.toFixed(1) : '-', torchMs ? `${(ms / torchMs).toFixed(2)}x` : peerNote(torch)]);
  }
  model.dispose();
  log(`\n  inference (model.predict, probabilities read back):`);
  for (const line of table(['batch', 'runs', 'ms/image', 'PyTorch CUDA ms/image', 'ours / PyTorch'], inferRows, '    ')) log(line);

  const full = h === 1024 && w === 1280;
  log(`\n  goals (H100/H200, 1024x1280): training >= ${WEBGPU_TRAIN_GOAL_IMAGES_PER_S} images/s at batch 8: ${batch8 === undefined || !full ? 'not measured here' : `${batch8.toFixed(2)} images/s, ${batch8 >= WEBGPU_TRAIN_GOAL_IMAGES_PER_S ? 'met' : 'NOT met'}`}; inference <= ${WEBGPU_INFER_GOAL_VS_TORCH}x PyTorch fp32: ${full && inferVerdicts.length ? inferVerdicts.join(', ') : 'not measured here'}`);
}

