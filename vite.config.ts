import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Cross-origin isolation: required for SharedArrayBuffer, hence for the WASM backend's threads.
export const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export default defineConfig({
  plugins: [svelte()],
  server: { headers: isolationHeaders },
  preview: { headers: isolationHeaders },
  worker: { format: 'es' },
  // Pre-bundle at server start what the engine's worker imports: discovered later, at the worker's first
  // import, Vite re-optimizes and the in-flight imports of the first field fail (dev server only).
  optimizeDeps: { include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu', 'geotiff', 'svelte'] },
  // No minification: tfjs-backend-wasm starts its pthread workers from the threaded module factory's
  // source text (Function.prototype.toString); a minifier renames the outer names that text refers to,
  // and every pthread worker then dies with "ReferenceError: e is not defined".
  build: { target: 'es2022', minify: false },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
