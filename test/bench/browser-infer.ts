// Benchmark: full-size M-CNN (1024x1280, random weights) in Chromium on WASM threads, decode+preprocess+inference per field, vs PyTorch CPU.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { launchBrowser } from '../browser/harness/browser.ts';
import { classifyInPage, createPageEngine, loadPageBundle, openProbe } from '../browser/harness/engine-driver.ts';
import { tinyBundleFiles, writeFieldTiffs, writeFilesTo } from '../browser/harness/fixtures.ts';
import { REPO_ROOT, startServer, tempDir } from '../browser/harness/server.ts';

export interface BrowserInferResult {
  backend: string;
  wasmBinary?: string;
  threads: number;
  fields: number;
  /** Per field: decode + preprocess + inference (read from the engine's timings), median and best. */
  browserMsMedian: number;
  browserMsBest: number;
  breakdownMedian: { readMs: number; decodeMs: number; preprocessMs: number; inferMs: number };
  /** Wall time of the classify call divided by fields (includes message passing). */
  browserWallMsPerField: number;
  torchMsMedian: number;
  torchMsBest: number;
  torchThreads: number;
  ratioMedian: number;
  ratioBest: number;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

export async function benchBrowserInfer(options: { fields?: number; repeats?: number; height?: number; width?: number } = {}): Promise<BrowserInferResult> {
  const { fields: count = 3, repeats = 3, height = 1024, width = 1280 } = options;
  await tf.setBackend('cpu');
  const tmp = await tempDir('moa-lens-bench-');
  const MOUNT = '/__bench/';
  try {
    console.log(`bench: writing a full-size M-CNN bundle (${height}x${width}, random weights) and ${count} fields...`);
    await writeFilesTo(path.join(tmp.dir, 'bundle'), await tinyBundleFiles({ height, width, widthMultiplier: 1, binning: 1, seed: 1, name: 'bench-full-size' }));
    const fields = await writeFieldTiffs(path.join(tmp.dir, 'fields'), count + 1, height, width, 500);
    const server = await startServer({ mode: 'dev', mounts: { [MOUNT]: tmp.dir } });
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await openProbe(page, server.url);
      const info = await createPageEngine(page, 'wasm');
      console.log(`bench: backend ${info.name} (${info.wasmBinary}), ${info.threads} threads, hardwareConcurrency ${info.hardwareConcurrency}`);
      const bundle = await loadPageBundle(page, { url: `${MOUNT}bundle/` });
      console.log(`bench: bundle ${bundle.name} loaded and verified in ${bundle.loadMs.toFixed(0)} ms (${(bundle.bytes / 2 ** 20).toFixed(0)} MiB)`);
      const urls = fields.map((f) => ({ id: f.id, urls: f.names.map((n) => `${MOUNT}fields/${n}`) }));
      await classifyInPage(page, urls.slice(0, 1)); // warm-up field
      const perField: number[] = [];
      const breakdowns: { readMs: number; decodeMs: number; preprocessMs: number; inferMs: number }[] = [];
      let wall = 0;
      for (let r = 0; r < repeats; r++) {
        const { results, ms, error } = await classifyInPage(page, urls.slice(1));
        if (error) throw new Error(error);
        wall += ms;
        for (const res of results) {
          if (!res.ok || !res.timings) throw new Error(`bench field failed: ${res.message} ${JSON.stringify(res).slice(0, 800)}`);
          const t = res.timings;
          breakdowns.push(t);
          perField.push(t.readMs + t.decodeMs + t.preprocessMs + t.inferMs);
        }
      }
      const foreign = browser.foreignRequests(server.origin);
      if (foreign.length) throw new Error(`non-origin requests: ${foreign.join(', ')}`);
      console.log('bench: running PyTorch CPU (/usr/bin/python3) on the same network...');
      const { stdout } = await promisify(execFile)('/usr/bin/python3', [path.join(REPO_ROOT, 'test/bench/torch_infer.py'), '--height', String(height), '--width', String(width), '--threads', String(info.threads), '--repeats', String(Math.max(3, count * repeats))], { maxBuffer: 1 << 20 });
      const torch = JSON.parse(stdout.trim().split('\n').at(-1)!) as { msPerField: number; times: number[]; threads: number; parameters: number };
      const browserMsMedian = median(perField);
      const browserMsBest = Math.min(...perField);
      const result: BrowserInferResult = {
        backend: info.name,
        wasmBinary: info.wasmBinary,
        threads: info.threads,
        fields: perField.length,
        browserMsMedian,
        browserMsBest,
        breakdownMedian: {
          readMs: median(breakdowns.map((b) => b.readMs)),
          decodeMs: median(breakdowns.map((b) => b.decodeMs)),
          preprocessMs: median(breakdowns.map((b) => b.preprocessMs)),
          inferMs: median(breakdowns.map((b) => b.inferMs)),
        },
        browserWallMsPerField: wall / perField.length,
        torchMsMedian: median(torch.times),
        torchMsBest: Math.min(...torch.times),
        torchThreads: torch.threads,
        ratioMedian: browserMsMedian / median(torch.times),
        ratioBest: browserMsBest / Math.min(...torch.times),
      };
      console.table({
        'Chromium WASM (decode+preprocess+infer)': { median_ms: browserMsMedian.toFixed(0), best_ms: browserMsBest.toFixed(0), threads: info.threads },
        'PyTorch CPU (inference)': { median_ms: result.torchMsMedian.toFixed(0), best_ms: result.torchMsBest.toFixed(0), threads: torch.threads },
      });
      console.log(`bench: breakdown (median ms): ${JSON.stringify(result.breakdownMedian, (_, v: unknown) => (typeof v === 'number' ? Math.round(v) : v))}`);
      console.log(`bench: ratio browser/PyTorch = ${result.ratioMedian.toFixed(2)}x (median), ${result.ratioBest.toFixed(2)}x (best); goal <= 1.10x`);
      return result;
    } finally {
      await browser.close();
      await server.close();
    }
  } finally {
    await tmp.cleanup();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const fields = Number(process.env.BENCH_FIELDS ?? 3);
  await benchBrowserInfer({ fields });
}
