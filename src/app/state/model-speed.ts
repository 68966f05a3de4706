// How fast each model ran on this machine, remembered per model (the sha256 of its moa-lens.json) in localStorage:
// ms per tile from the 'auto' backend probe when the model loads, ms per field from the timings of its last run.
import type { BackendInfo, FieldTimings } from '../../engine/index.ts';
import type { KeyValueStore } from './channel-memory.ts';

const PREFIX = 'moa-lens.model-speed.v1:';

/** What was measured for one model; each part with the backend it ran on. */
export interface ModelSpeed {
  /** The 'auto' probe's steady ms per tile on the backend it chose. */
  tile?: { ms: number; backend: string };
  /** Median ms per field (read, decode, preprocess, infer) over the last run's classified fields, and how many. */
  field?: { ms: number; backend: string; fields: number };
}

export function speedKey(hash: string): string {
  return PREFIX + hash;
}

/** "WASM", "WebGPU", "CPU". */
export function backendName(backend: Pick<BackendInfo, 'name'>): string {
  return backend.name === 'wasm' ? 'WASM' : backend.name === 'webgpu' ? 'WebGPU' : 'CPU';
}

const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** The stored speed of a model; nothing (not measured yet) when absent or malformed. */
export function recallSpeed(store: KeyValueStore | undefined, hash: string): ModelSpeed {
  let v: ModelSpeed;
  try {
    v = JSON.parse(store?.getItem(speedKey(hash)) ?? '{}') as ModelSpeed;
  } catch {
    return {};
  }
  const out: ModelSpeed = {};
  if (positive(v?.tile?.ms) && typeof v.tile.backend === 'string') out.tile = { ms: v.tile.ms, backend: v.tile.backend };
  if (positive(v?.field?.ms) && typeof v.field.backend === 'string' && positive(v.field.fields)) out.field = { ms: v.field.ms, backend: v.field.backend, fields: v.field.fields };
  return out;
}

function save(store: KeyValueStore | undefined, hash: string, speed: ModelSpeed): ModelSpeed {
  try {
    store?.setItem(speedKey(hash), JSON.stringify(speed));
  } catch {
    // storage full or blocked: the speed is measured again next time
  }
  return speed;
}

/** After a model loads: the 'auto' probe's ms per tile of the backend it chose (nothing without a probe, e.g. a forced backend). */
export function recordProbe(store: KeyValueStore | undefined, hash: string, backend: BackendInfo): ModelSpeed {
  const winner = backend.auto?.candidates.find((c) => c.backend === backend.auto!.winner && c.outcome === 'ok');
  const old = recallSpeed(store, hash);
  if (!winner || !positive(winner.msPerTile)) return old;
  return save(store, hash, { ...old, tile: { ms: winner.msPerTile, backend: backendName(backend) } });
}

/** After a run: the median time per classified field (nothing when none was classified). */
export function recordRun(store: KeyValueStore | undefined, hash: string, backend: BackendInfo, timings: readonly FieldTimings[]): ModelSpeed {
  const totals = timings.map((t) => t.readMs + t.decodeMs + t.preprocessMs + t.inferMs).sort((a, b) => a - b);
  const old = recallSpeed(store, hash);
  if (totals.length === 0) return old;
  const mid = totals.length >> 1;
  const median = totals.length % 2 ? totals[mid] : (totals[mid - 1] + totals[mid]) / 2;
  if (!positive(median)) return old;
  return save(store, hash, { ...old, field: { ms: median, backend: backendName(backend), fields: totals.length } });
}

const ms = (v: number) => `${new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(Math.max(1, Math.round(v)))} ms`;

/** "850 ms/field (WASM, 24 fields) · 41 ms/tile (WASM)", or "not measured yet". */
export function speedText(speed: ModelSpeed): string {
  const parts = [
    speed.field && `${ms(speed.field.ms)}/field (${speed.field.backend}, ${speed.field.fields} field${speed.field.fields === 1 ? '' : 's'})`,
    speed.tile && `${ms(speed.tile.ms)}/tile (${speed.tile.backend})`,
  ].filter(Boolean);
  return parts.length ? parts.join(' · ') : 'not measured yet';
}
