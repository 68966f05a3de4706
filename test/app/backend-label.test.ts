// The header's backend text and auto's measured-speed line.
import { describe, expect, it } from 'vitest';
import { autoChoiceText, backendText } from '../../src/app/state/backend-label.ts';
import type { BackendInfo } from '../../src/engine/index.ts';

const base: BackendInfo = { name: 'wasm', requested: 'auto', wasmBinary: 'threaded-simd', threads: 2, crossOriginIsolated: true, hardwareConcurrency: 2, fallbackReasons: [], tfjsVersion: '4.22.0' };

describe('backend label', () => {
  it('says what runs', () => {
    expect(backendText(null, 'starting')).toBe('starting…');
    expect(backendText(null, 'error')).toBe('engine failed');
    expect(backendText(base, 'ready')).toBe('WASM threaded-simd · 2 threads');
    expect(backendText({ ...base, name: 'webgpu', threads: 0, adapter: 'google / swiftshader' }, 'ready')).toBe('WebGPU · google / swiftshader');
    expect(backendText({ ...base, name: 'cpu', threads: 1 }, 'ready')).toBe('CPU (slow)');
  });
  it("shows auto's measurement, marked when remembered, and nothing for a forced backend", () => {
    expect(autoChoiceText(base)).toBeNull();
    expect(autoChoiceText(null)).toBeNull();
    const auto = { winner: 'wasm' as const, probed: true, remembered: false, candidates: [], summary: 'WASM 41 ms/tile, WebGPU (SwiftShader, fallback) 1,900 ms/tile: WASM faster', probeMs: 900, key: 'k' };
    expect(autoChoiceText({ ...base, auto })).toBe(auto.summary);
    expect(autoChoiceText({ ...base, auto: { ...auto, probed: false, remembered: true } })).toBe(`${auto.summary} (remembered for this model and device)`);
  });
});
