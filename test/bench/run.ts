// `npm run bench [-- name ...]`: runs the project's benchmarks, each in its own process, and prints the machine they ran on.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { machineSummary } from './machine.ts';

/** Each benchmark prints its own peer ratios (C for allreduce, PyTorch for the steps, Node for the browser). */
const benches: Record<string, () => Promise<unknown>> = {
  data: async () => (await import('./data.ts')).benchData(),
  forward: async () => (await import('./forward.ts')).benchForward(),
  trainStep: async () => (await import('./train-step.ts')).benchTrainStep(),
  allreduce: async () => (await import('./allreduce.ts')).benchAllreduce(),
  bundleSize: async () => (await import('./bundle-size.ts')).benchBundleSize(),
  scaling: async () => (await import('./scaling.ts')).benchScaling(),
  browserInfer: async () => (await import('./browser-infer.ts')).benchBrowserInfer(),
  webgpu: async () => (await import('./webgpu.ts')).benchWebgpu(),
  profiles: async () => (await import('./profiles.ts')).benchProfiles(),
  modelLoad: async () => (await import('./model-load.ts')).benchModelLoad(),
};
/** Run only when named: made for a GPU machine (on SwiftShader at full size it would take hours). */
const onlyWhenNamed = new Set(['webgpu']);

const child = process.env.MOA_BENCH_CHILD;
if (child) {
  await benches[child]();
} else {
  // Names first, then flags for the benches (`npm run bench -- webgpu --size 256x320`), passed to each child.
  const args = process.argv.slice(2);
  const firstFlag = args.findIndex((a) => a.startsWith('--'));
  const wanted = firstFlag < 0 ? args : args.slice(0, firstFlag);
  const flags = firstFlag < 0 ? [] : args.slice(firstFlag);
  const unknown = wanted.filter((w) => !(w in benches));
  if (unknown.length) {
    console.error(`Unknown benchmark(s): ${unknown.join(', ')}. Known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  console.log(`machine: ${machineSummary()}`);
  console.log(`date: ${new Date().toISOString()}`);
  let failed = 0;
  for (const name of wanted.length ? wanted : Object.keys(benches).filter((b) => !onlyWhenNamed.has(b))) {
    console.log(`\n## ${name}`);
    // A fresh process per benchmark: TF.js backends, WASM heaps and MPI jobs do not leak into the next one.
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...flags], { stdio: 'inherit', env: { ...process.env, MOA_BENCH_CHILD: name } });
    if (r.status !== 0) {
      console.log(`## ${name} FAILED (exit ${r.status ?? r.signal})`);
      failed++;
    }
  }
  process.exit(failed ? 1 : 0);
}
