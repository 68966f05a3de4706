import { configDefaults, defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { isolationHeaders, securityHeaders, securityHeadersPlugin } from './security-headers.ts';

// Cross-origin isolation (COOP/COEP/CORP: SharedArrayBuffer, hence the WASM backend's threads) and the
// Content-Security-Policy, on every response of both servers: the page, the engine's worker script, sw.js.
export { isolationHeaders };

/** The slow tier, by measured duration (vitest --reporter=verbose on 2 cores): child processes, real MPI jobs, Chromium, or over ~2 s a file. */
const E2E_TESTS = [
  'test/browser/**/*.test.ts', // real Chromium (playwright-core) against the dev server or a built site
  'test/mpi/binding.test.ts', // mpirun -np 2
  'test/mpi/cluster-run.test.ts', // train:cluster as a child process, dry runs and real mpirun
  'test/mpi/failures.test.ts', // mpirun jobs that crash, hang or time out
  'test/mpi/multi-host.test.ts', // training runs over mpirun across two network-namespace hosts (root; ~20 s)
  'test/mpi/train-cluster.test.ts', // a training run over mpirun
  'test/mpi/train-watchdog.test.ts', // a training run over mpirun with one rank stopped (SIGSTOP)
  'test/training/train-learns.test.ts', // trainer child processes that learn (~50 s)
  'test/training/train-resume.test.ts', // trainer child processes, one killed and resumed
  'test/training/train-cv.test.ts', // train:cv sweeps as child processes: two folds, killed and resumed (~90 s)
  'test/training/train-failures.test.ts', // trainer and other CLIs as child processes that fail (~10 s)
  'test/training/checkpoint-curve.test.ts', // short training runs, then npm run evaluate -- --checkpoint as a child process (~35 s)
  'test/training/ood-export.test.ts', // a short training run exporting the OOD check, then npm run export --add-ood
  'test/training/bundle-trust-cli.test.ts', // keygen, export and evaluate as child processes
  'test/training/engine-backend-fallback.test.ts', // a fresh Node process without the native engine
  'test/training/native-engine.test.ts', // the native engine's kernel suite against cpu (~40 s)
  'test/training/engine-kernels.test.ts', // WASM training kernels against cpu (~4 s)
  'test/training/engine-train-step.test.ts', // an M-CNN training step, WASM against cpu (~4 s)
  'test/training/webgpu-kernels.test.ts', // our WebGPU kernels and an M-CNN step on Dawn (SwiftShader here) against cpu (~100 s)
  'test/training/simulate-learnability.test.ts', // the simulator's features on 38 held-out folds (~6 s)
  'test/training/simulate-dataset.test.ts', // the simulator writing a plate of files (~3 s)
  'test/training/simulate-realism-report.test.ts', // four full-size DMSO fields against the real crop figures, the oracle's 38 folds (~15 s CPU)
  'test/training/data.test.ts', // every test reads a simulated dataset its beforeAll writes (~9 s)
  'test/training/demo-plate.test.ts', // renders the demo plate's wells against the full dataset (~4 s)
  'test/core/tiff-mutation.test.ts', // mutated TIFFs decoded in a forked child (~4 s)
  'test/training/data-bbbc021.test.ts', // npm run data:bbbc021 as a child process against a faulty local HTTP mirror (7 runs, ~25 s CPU)
];

export default defineConfig({
  plugins: [svelte(), securityHeadersPlugin()],
  server: { headers: securityHeaders('dev') },
  preview: { headers: securityHeaders() },
  worker: { format: 'es' },
  // Pre-bundle at server start what the engine's worker imports: discovered later, at the worker's first
  // import, Vite re-optimizes and the in-flight imports of the first field fail (dev server only).
  optimizeDeps: { include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu', 'geotiff', 'svelte'] },
  // No minification: tfjs-backend-wasm starts its pthread workers from the threaded module factory's
  // source text (Function.prototype.toString); a minifier renames the outer names that text refers to,
  // and every pthread worker then dies with "ReferenceError: e is not defined".
  build: { target: 'es2022', minify: false },
  // Two tiers (`npm test` runs both, unit first; `npm run test:unit` / `npm run test:e2e` one each):
  // - unit: fast, self-contained, in-process files, two at a time (under 30 s on 2 cores);
  // - e2e: E2E_TESTS above, which spawn processes (trainer runs, mpirun, Chromium) or take seconds each,
  //   one file at a time, as they compete for the cores. Every other test file is a unit test: list a new
  //   file in E2E_TESTS when it spawns a process or a browser or needs more than ~2 s.
  test: {
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...E2E_TESTS],
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: E2E_TESTS,
          fileParallelism: false,
          maxWorkers: 1,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
