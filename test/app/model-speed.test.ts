// Speed per model measured on this machine: the 'auto' probe's ms per tile at load, the median ms per field of a run.
import { describe, expect, it } from 'vitest';
import { MemoryStore } from './memory-store.ts';
import { recallSpeed, recordProbe, recordRun, speedKey, speedText } from '../../src/app/state/model-speed.ts';
import type { BackendInfo, FieldTimings } from '../../src/engine/index.ts';


const wasm: BackendInfo = { name: 'wasm', requested: 'wasm', wasmBinary: 'threaded-simd', threads: 2, crossOriginIsolated: true, hardwareConcurrency: 2, fallbackReasons: [], tfjsVersion: '4.22.0' };
const auto: BackendInfo = {
  ...wasm,
  requested: 'auto',
  auto: {
    winner: 'wasm',
    probed: true,
    remembered: false,
    candidates: [
      { backend: 'wasm', outcome: 'ok', msPerTile: 41.4, probeMs: 200 },
      { backend: 'webgpu', outcome: 'timeout', msPerTile: null, probeMs: 1000 },
    ],
    summary: '',
    probeMs: 1200,
    key: 'k',
  },
};
const field = (ms: number): FieldTimings => ({ readMs: 1, decodeMs: 2, preprocessMs: 3, inferMs: ms - 6 });

describe('model speed', () => {
  it('is not measured before first use', () => {
    expect(speedText(recallSpeed(new MemoryStore(), 'h'))).toBe('not measured yet');
  });

  it("keeps the probe's ms per tile (the winner's), and nothing for a forced backend", () => {
    const store = new MemoryStore();
    expect(recordProbe(store, 'h', wasm)).toEqual({});
    expect(store.items.size).toBe(0);
    expect(recordProbe(store, 'h', auto)).toEqual({ tile: { ms: 41.4, backend: 'WASM' } });
    expect(speedText(recallSpeed(store, 'h'))).toBe('41 ms/tile (WASM)');
    expect(recallSpeed(store, 'other')).toEqual({});
  });

  it('keeps the median ms per field of a run beside the probe, per model; ignores malformed entries', () => {
    const store = new MemoryStore();
    recordProbe(store, 'h', auto);
    expect(recordRun(store, 'h', wasm, [])).toEqual({ tile: { ms: 41.4, backend: 'WASM' } });
    recordRun(store, 'h', wasm, [field(900), field(100), field(1200), field(1000)]);
    expect(recallSpeed(store, 'h')).toEqual({ tile: { ms: 41.4, backend: 'WASM' }, field: { ms: 950, backend: 'WASM', fields: 4 } });
    expect(speedText(recallSpeed(store, 'h'))).toBe('950 ms/field (WASM, 4 fields) · 41 ms/tile (WASM)');
    recordRun(store, 'h', { ...wasm, name: 'webgpu' }, [field(1500)]);
    expect(speedText(recallSpeed(store, 'h'))).toBe('1,500 ms/field (WebGPU, 1 field) · 41 ms/tile (WASM)');
    store.setItem(speedKey('bad'), '{"tile":{"ms":-1,"backend":"WASM"},"field":"x"}');
    expect(recallSpeed(store, 'bad')).toEqual({});
    store.setItem(speedKey('bad'), 'nope');
    expect(recallSpeed(store, 'bad')).toEqual({});
  });
});
