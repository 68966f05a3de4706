// The header's backend text: what runs, and for 'auto' each candidate's measured speed and why the winner won.
import type { BackendInfo } from '../../engine/index.ts';

/** "WASM threaded-simd · 2 threads", "WebGPU · <adapter>", "CPU (slow)", or the engine's state before it runs. */
export function backendText(backend: BackendInfo | null, engineStatus: string): string {
  if (!backend) return engineStatus === 'error' ? 'engine failed' : 'starting…';
  if (backend.name === 'wasm') return `WASM ${backend.wasmBinary ?? ''} · ${backend.threads} thread${backend.threads === 1 ? '' : 's'}`;
  if (backend.name === 'webgpu') return `WebGPU${backend.adapter ? ` · ${backend.adapter}` : ''}`;
  return 'CPU (slow)';
}

/**
 * For 'auto': the measured speeds and the reason ("WASM 41 ms/tile, WebGPU (SwiftShader, fallback) over 1,000 ms
 * (time limit): WASM faster"), marked "remembered" when this start reused an earlier measurement; null otherwise.
 */
export function autoChoiceText(backend: BackendInfo | null): string | null {
  const auto = backend?.auto;
  if (!auto) return null;
  return auto.remembered ? `${auto.summary} (remembered for this model and device)` : auto.summary;
}
