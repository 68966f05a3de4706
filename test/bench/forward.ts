// Benchmark: M-CNN forward pass on the WASM backend in Node, ms per image and GFLOP/s.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { setThreadsCount, getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import os from 'node:os';
import { buildMcnn, mcnnForwardMacs } from '../../src/core/mcnn.ts';

export interface ForwardRow {
  size: string;
  batch: number;
  msPerImage: number;
  gflops: number;
}

export async function benchForward(sizes: [number, number][] = [[256, 320], [1024, 1280]], repeats = 2): Promise<ForwardRow[]> {
  setThreadsCount(os.cpus().length);
  await tf.setBackend('wasm');
  await tf.ready();
  console.log(`forward: backend wasm, threads requested ${os.cpus().length}, getThreadsCount() = ${getThreadsCount()}`);
  const rows: ForwardRow[] = [];
  for (const [height, width] of sizes) {
    const model = buildMcnn({ height, width, seed: 1 });
    const x = tf.randomUniform([1, height, width, 3], 0, 1, 'float32', 1);
    const run = () => tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
    run(); // warm-up
    const t0 = performance.now();
    for (let i = 0; i < repeats; i++) run();
    const ms = (performance.now() - t0) / repeats;
    const gflop = (2 * mcnnForwardMacs({ height, width })) / 1e9;
    rows.push({ size: `${height}x${width}`, batch: 1, msPerImage: ms, gflops: gflop / (ms / 1000) });
    tf.dispose(x);
    model.dispose();
  }
  console.table(rows.map((r) => ({ ...r, msPerImage: r.msPerImage.toFixed(0), gflops: r.gflops.toFixed(1) })));
  return rows;
}
