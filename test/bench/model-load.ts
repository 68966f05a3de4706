// Benchmark: each shipped model in Chromium (WASM, threaded SIMD) as a user first meets it: a cold browser downloads,
// verifies and compiles the bundle, then classifies 1024x1280 fields; peak memory of the page's processes.
// The models are measured one after the other in the same script, so the ratios compare them on the same machine state.
import { readFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser } from '../browser/harness/browser.ts';
import { classifyInPage, createPageEngine, loadPageBundle, openProbe, pageEngineMemory } from '../browser/harness/engine-driver.ts';
import { writeFieldTiffs } from '../browser/harness/fixtures.ts';
import { REPO_ROOT, startServer, tempDir } from '../browser/harness/server.ts';
import { loadSummary } from './machine.ts';

export interface ModelLoadResult {
  model: string;
  bundleMiB: number;
  encoding: string;
  input: string;
  /** Download + verify + build + warm-up, in a browser with an empty cache. */
  firstLoadMs: number;
  /** Its parts: download, hash and decode the files; build the model and run its warm-up pass (kernels compile). */
  readAndVerifyMs: number;
  buildAndWarmUpMs: number;
  /** The first field after loading (its kernels compile on first use). */
  firstFieldMs: number;
  /** Decode + preprocess + inference per 1024x1280 field, median over the steady fields. */
  msPerField: number;
  /** Largest resident set (VmHWM) of the browser's renderer processes, the engine's worker included. */
  peakRendererMiB: number;
  /** The engine's WASM heap after the run (it only grows: its peak). */
  wasmHeapMiB: number;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** Peak resident memory (VmHWM) of the renderer processes descending from the Chromium run with this profile folder. */
function peakRendererBytes(userDataDir: string): number {
  const processes = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .flatMap((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const parent = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
        return [{ pid, parent, cmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8') }];
      } catch {
        return []; // the process ended while we looked
      }
    });
  const family = new Set(processes.filter((p) => p.cmdline.includes(userDataDir) && !p.cmdline.includes('--type=')).map((p) => p.pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of processes) if (!family.has(p.pid) && family.has(p.parent)) family.add(p.pid), (grew = true);
  }
  let peak = 0;
  for (const p of processes) {
    if (!family.has(p.pid) || !p.cmdline.includes('--type=renderer')) continue;
    try {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
      if (hwm) peak = Math.max(peak, Number(hwm[1]) * 1024);
    } catch {
      // ended
    }
  }
  return peak;
}

async function measureModel(dir: string, serverUrl: string, fieldUrls: { id: string; urls: string[] }[]): Promise<ModelLoadResult> {
  const metadata = JSON.parse(await readFile(path.join(REPO_ROOT, 'models', dir, 'moa-lens.json'), 'utf8')) as {
    name: string;
    input: { height: number; width: number };
    weights: { dtype: string };
  };
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await openProbe(page, serverUrl);
    const info = await createPageEngine(page, 'wasm');
    const bundle = await loadPageBundle(page, { url: `/models/${dir}/` });
    const first = await classifyInPage(page, fieldUrls.slice(0, 1));
    if (first.error || !first.results[0]?.ok) throw new Error(`${dir}: first field failed: ${first.error ?? first.results[0]?.message}`);
    const steady = await classifyInPage(page, fieldUrls.slice(1));
    if (steady.error) throw new Error(`${dir}: ${steady.error}`);
    const perField = steady.results.map((r) => {
      if (!r.ok || !r.timings) throw new Error(`${dir}: field ${r.id} failed: ${r.message}`);
      return r.timings.readMs + r.timings.decodeMs + r.timings.preprocessMs + r.timings.inferMs;
    });
    const memory = await pageEngineMemory(page);
    const result: ModelLoadResult = {
      model: metadata.name,
      bundleMiB: bundle.bytes / 2 ** 20,
      encoding: metadata.weights.dtype,
      input: `${metadata.input.height}x${metadata.input.width}`,
      firstLoadMs: bundle.loadMs,
      readAndVerifyMs: bundle.loadPhases.readAndVerifyMs,
      buildAndWarmUpMs: bundle.loadPhases.buildAndWarmUpMs,
      firstFieldMs: first.ms,
      msPerField: median(perField),
      peakRendererMiB: peakRendererBytes(browser.userDataDir) / 2 ** 20,
      wasmHeapMiB: (memory.backendBytes ?? 0) / 2 ** 20,
    };
    console.log(`bench: ${dir} on ${info.name} (${info.threads} threads): ${JSON.stringify(result, (_, v: unknown) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v))}`);
    return result;
  } finally {
    await browser.close();
  }
}

/** `--models a,b` (folders under models/; default: every shipped model, the default first) and `--fields N`. */
export function parseModelLoadArgs(argv: string[]): { models?: string[]; fields?: number } {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const fields = value('--fields');
  if (fields !== undefined && !(Number.isInteger(Number(fields)) && Number(fields) >= 1)) throw new Error(`--fields takes a positive integer, got '${fields}'`);
  return { models: value('--models')?.split(','), fields: fields === undefined ? undefined : Number(fields) };
}

/** Measures the shipped models (or `models`), each in a fresh browser, and prints them against the first. */
export async function benchModelLoad(options = parseModelLoadArgs(process.argv.slice(2))): Promise<ModelLoadResult[]> {
  const index = JSON.parse(await readFile(path.join(REPO_ROOT, 'models/index.json'), 'utf8')) as { default: string; shipped: Record<string, string> };
  const models = options.models ?? [index.default, ...Object.keys(index.shipped).filter((m) => m !== index.default)];
  const count = options.fields ?? 4;
  const tmp = await tempDir('moa-lens-bench-');
  const MOUNT = '/__bench/';
  try {
    const fields = await writeFieldTiffs(path.join(tmp.dir, 'fields'), count + 1, 1024, 1280, 700);
    const fieldUrls = fields.map((f) => ({ id: f.id, urls: f.names.map((n) => `${MOUNT}fields/${n}`) }));
    const server = await startServer({ mode: 'dev', mounts: { [MOUNT]: tmp.dir } });
    try {
      console.log(`bench: ${loadSummary()}`);
      const results: ModelLoadResult[] = [];
      for (const dir of models) results.push(await measureModel(dir, server.url, fieldUrls));
      const peer = results[0];
      console.table(
        Object.fromEntries(
          results.map((r) => [
            r.model,
            {
              MiB: r.bundleMiB.toFixed(1),
              encoding: r.encoding,
              input: r.input,
              first_load_ms: r.firstLoadMs.toFixed(0),
              read_verify_ms: r.readAndVerifyMs.toFixed(0),
              build_warm_ms: r.buildAndWarmUpMs.toFixed(0),
              first_field_ms: r.firstFieldMs.toFixed(0),
              ms_per_field: r.msPerField.toFixed(0),
              [`x ${peer.model}`]: (r.msPerField / peer.msPerField).toFixed(1),
              peak_renderer_MiB: r.peakRendererMiB.toFixed(0),
              wasm_heap_MiB: r.wasmHeapMiB.toFixed(0),
            },
          ]),
        ),
      );
      return results;
    } finally {
      await server.close();
    }
  } finally {
    await tmp.cleanup();
  }
}
