// How 'auto' picks a backend: pure rules (probe time limit, the choice from measured timings, the fallback-adapter
// rule, the key a choice is remembered under, the header's sentence). The worker measures; this module decides.

/** The backends 'auto' measures against each other. */
export type ProbedBackend = 'webgpu' | 'wasm';

/** One candidate's measurement: a warm-up tile of the loaded model, then a timed tile. */
export interface BackendProbe {
  backend: ProbedBackend;
  /** 'ok': measured; 'timeout': exceeded the probe limit (loses); 'error': failed (loses). */
  outcome: 'ok' | 'timeout' | 'error';
  /** Milliseconds for one tile after the warm-up (the steady rate); null unless outcome is 'ok'. */
  msPerTile: number | null;
  /** Milliseconds for the whole probe (model build on the backend, warm-up tile, timed tile). */
  probeMs: number;
  /** For WebGPU: the adapter's short name (e.g. "SwiftShader"). */
  adapter?: string;
  /** For WebGPU: the adapter is a fallback (software) adapter. */
  fallbackAdapter?: boolean;
  /** For a timeout or an error: what happened. */
  detail?: string;
}

/** What 'auto' decided and why, as BackendInfo.auto reports it. */
export interface AutoChoice {
  winner: ProbedBackend;
  /** True when this start measured the candidates; false when the choice was remembered (or there was one candidate). */
  probed: boolean;
  /** True when the choice came from the browser's memory of an earlier probe (same model, same device). */
  remembered: boolean;
  candidates: BackendProbe[];
  /** One line for the header, e.g. "WASM 41 ms/tile, WebGPU (SwiftShader, fallback) 1,900 ms/tile: WASM faster". */
  summary: string;
  /** Milliseconds the probe added to this start (0 when not probed). */
  probeMs: number;
  /** The key the choice is remembered under (model sha256 + device). */
  key: string;
}

/** The WebGPU probe may take at most this multiple of the WASM probe's time... */
export const PROBE_MULTIPLE = 4;
/** ...but never less than this (room for shader compilation when the model is tiny)... */
export const PROBE_FLOOR_MS = 400;
/** ...and never more than this (a very slow adapter cannot stall the start). */
export const PROBE_CAP_MS = 1000;

/**
 * Time limit for the WebGPU probe (build the model on the GPU, warm-up tile, timed tile), from the WASM probe's
 * time for the same work: PROBE_MULTIPLE times it, within [PROBE_FLOOR_MS, PROBE_CAP_MS]. A GPU that needs more
 * than 4x WASM's time for its first two tiles is either slower per tile or so slow to compile that the user waits;
 * the cap bounds what the probe adds to a first start whatever the model's size.
 */
export function probeLimitMs(wasmProbeMs: number): number {
  if (!Number.isFinite(wasmProbeMs) || wasmProbeMs <= 0) return PROBE_CAP_MS;
  return Math.min(PROBE_CAP_MS, Math.max(PROBE_FLOOR_MS, PROBE_MULTIPLE * wasmProbeMs));
}

/**
 * A fallback (software) adapter must beat WASM per tile by this factor to be chosen: it runs on the same CPU cores
 * as WASM, so a narrow win is noise.
 */
export const FALLBACK_MARGIN = 0.9;

/**
 * The winner from measured probes: the fastest measured candidate per tile. A candidate that timed out or failed
 * never wins; a fallback adapter wins only when measured faster than WASM by FALLBACK_MARGIN; a hardware adapter
 * wins a tie (it leaves the CPU to the page). With no measured candidate, WASM.
 */
export function decideBackend(probes: readonly BackendProbe[]): { winner: ProbedBackend; reason: string } {
  const wasm = probes.find((p) => p.backend === 'wasm' && p.outcome === 'ok' && p.msPerTile !== null);
  const gpu = probes.find((p) => p.backend === 'webgpu' && p.outcome === 'ok' && p.msPerTile !== null);
  if (!gpu) {
    const failed = probes.find((p) => p.backend === 'webgpu');
    const why = failed?.outcome === 'timeout' ? 'WebGPU exceeded the probe time limit' : failed ? 'WebGPU failed' : 'no WebGPU';
    return { winner: 'wasm', reason: wasm ? `WASM faster (${why})` : `WASM (${why})` };
  }
  if (!wasm) return { winner: 'webgpu', reason: 'WebGPU (WASM not measured)' };
  const g = gpu.msPerTile!;
  const w = wasm.msPerTile!;
  if (gpu.fallbackAdapter) {
    return g < w * FALLBACK_MARGIN
      ? { winner: 'webgpu', reason: 'WebGPU faster' }
      : { winner: 'wasm', reason: g < w ? 'WASM kept (a fallback adapter must be clearly faster)' : 'WASM faster' };
  }
  return g <= w ? { winner: 'webgpu', reason: 'WebGPU faster' } : { winner: 'wasm', reason: 'WASM faster' };
}

const msFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** "WebGPU (SwiftShader, fallback)", "WASM". */
export function candidateLabel(p: BackendProbe): string {
  if (p.backend === 'wasm') return 'WASM';
  const notes = [p.adapter, p.fallbackAdapter ? 'fallback' : undefined].filter(Boolean);
  return notes.length ? `WebGPU (${notes.join(', ')})` : 'WebGPU';
}

/** "41 ms/tile", "> 1,000 ms (time limit)", "failed". */
export function candidateSpeed(p: BackendProbe): string {
  if (p.outcome === 'ok' && p.msPerTile !== null) return `${msFormat.format(Math.max(1, Math.round(p.msPerTile)))} ms/tile`;
  if (p.outcome === 'timeout') return `over ${msFormat.format(Math.round(p.probeMs))} ms (time limit)`;
  return 'failed';
}

/** The header's sentence: each candidate's speed (WASM first), then why the winner won. */
export function summarizeChoice(probes: readonly BackendProbe[], reason: string): string {
  const ordered = [...probes].sort((a, b) => (a.backend === b.backend ? 0 : a.backend === 'wasm' ? -1 : 1));
  return `${ordered.map((p) => `${candidateLabel(p)} ${candidateSpeed(p)}`).join(', ')}: ${reason}`;
}

/** What identifies the device for a remembered choice: a change to any of these re-measures. */
export interface DeviceIdentity {
  /** WebGPU adapter info (vendor, architecture, device, description, fallback), or null without an adapter. */
  adapter: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean } | null;
  hardwareConcurrency: number;
  /** WASM threads the engine asked for and whether the page is cross-origin isolated (no isolation: one thread). */
  threads: number;
  crossOriginIsolated: boolean;
  /** TF.js version: new kernels can change which backend is faster. */
  tfjsVersion: string;
}

export function deviceKey(d: DeviceIdentity): string {
  const a = d.adapter;
  const gpu = a ? [a.vendor, a.architecture, a.device, a.description, a.isFallbackAdapter ? 'fallback' : 'hw'].map((s) => s ?? '').join('/') : 'none';
  return `gpu=${gpu};cores=${d.hardwareConcurrency};threads=${d.threads};coi=${d.crossOriginIsolated ? 1 : 0};tfjs=${d.tfjsVersion}`;
}

/** localStorage prefix of remembered choices. */
export const CHOICE_KEY_PREFIX = 'moa-lens.backend-choice.v1:';

/** The key a choice is remembered under: the model (sha256 of its moa-lens.json) and the device. */
export function choiceKey(modelHash: string, device: DeviceIdentity): string {
  return `${CHOICE_KEY_PREFIX}${modelHash}:${deviceKey(device)}`;
}

/** What is stored under choiceKey. */
export interface RememberedChoice {
  winner: ProbedBackend;
  summary: string;
  candidates: BackendProbe[];
}

/** Reads a stored choice; anything malformed is ignored (the engine probes again). */
export function parseRemembered(text: string | null | undefined): RememberedChoice | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text) as Partial<RememberedChoice>;
    if ((v.winner !== 'wasm' && v.winner !== 'webgpu') || typeof v.summary !== 'string' || !Array.isArray(v.candidates)) return null;
    return { winner: v.winner, summary: v.summary, candidates: v.candidates };
  } catch {
    return null;
  }
}

/** Short adapter name for the header: "SwiftShader" for Chromium's software adapter, else vendor / architecture. */
export function adapterShortName(a: DeviceIdentity['adapter']): string {
  if (!a) return '';
  const text = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ');
  if (/swiftshader/i.test(text)) return 'SwiftShader';
  return [a.vendor, a.architecture].filter(Boolean).join(' / ') || a.description || 'unknown adapter';
}
