// 'auto' backend decision rules: the probe time limit, the choice from timings, the fallback-adapter rule, the cache key.
import { describe, expect, it } from 'vitest';
import {
  CHOICE_KEY_PREFIX,
  PROBE_CAP_MS,
  PROBE_FLOOR_MS,
  adapterShortName,
  choiceKey,
  decideBackend,
  parseRemembered,
  probeLimitMs,
  summarizeChoice,
  type BackendProbe,
  type DeviceIdentity,
} from '../../src/engine/backend-choice.ts';

const wasm = (ms: number): BackendProbe => ({ backend: 'wasm', outcome: 'ok', msPerTile: ms, probeMs: 3 * ms });
const gpu = (ms: number | null, extra: Partial<BackendProbe> = {}): BackendProbe => ({
  backend: 'webgpu',
  outcome: ms === null ? 'timeout' : 'ok',
  msPerTile: ms,
  probeMs: ms === null ? 1000 : 3 * ms,
  adapter: 'NVIDIA / ampere',
  ...extra,
});

describe('probeLimitMs', () => {
  it('is 4x the WASM probe, within the floor and the cap', () => {
    expect(probeLimitMs(150)).toBe(600);
    expect(probeLimitMs(10)).toBe(PROBE_FLOOR_MS);
    expect(probeLimitMs(5000)).toBe(PROBE_CAP_MS);
    expect(probeLimitMs(NaN)).toBe(PROBE_CAP_MS);
    expect(probeLimitMs(0)).toBe(PROBE_CAP_MS);
  });
});

describe('decideBackend', () => {
  it('keeps the faster per tile', () => {
    expect(decideBackend([wasm(40), gpu(10)])).toEqual({ winner: 'webgpu', reason: 'WebGPU faster' });
    expect(decideBackend([wasm(40), gpu(90)])).toEqual({ winner: 'wasm', reason: 'WASM faster' });
  });
  it('gives a hardware adapter a tie', () => {
    expect(decideBackend([wasm(40), gpu(40)]).winner).toBe('webgpu');
  });
  it('a probe over the time limit or failed loses', () => {
    expect(decideBackend([wasm(400), gpu(null)])).toEqual({ winner: 'wasm', reason: 'WASM faster (WebGPU exceeded the probe time limit)' });
    expect(decideBackend([wasm(400), gpu(null, { outcome: 'error' })]).winner).toBe('wasm');
  });
  it('never picks a fallback adapter unless measured clearly faster', () => {
    expect(decideBackend([wasm(40), gpu(1900, { fallbackAdapter: true })]).winner).toBe('wasm');
    expect(decideBackend([wasm(40), gpu(40, { fallbackAdapter: true })]).winner).toBe('wasm');
    expect(decideBackend([wasm(40), gpu(38, { fallbackAdapter: true })])).toEqual({ winner: 'wasm', reason: 'WASM kept (a fallback adapter must be clearly faster)' });
    expect(decideBackend([wasm(40), gpu(null, { fallbackAdapter: true })]).winner).toBe('wasm');
    expect(decideBackend([wasm(40), gpu(20, { fallbackAdapter: true })]).winner).toBe('webgpu');
  });
  it('falls back to what was measured', () => {
    expect(decideBackend([gpu(20)]).winner).toBe('webgpu');
    expect(decideBackend([]).winner).toBe('wasm');
  });
});

describe('summarizeChoice', () => {
  it('lists each candidate (WASM first) with ms per tile and the reason', () => {
    const probes = [gpu(1900, { adapter: 'SwiftShader', fallbackAdapter: true }), wasm(41)];
    expect(summarizeChoice(probes, decideBackend(probes).reason)).toBe('WASM 41 ms/tile, WebGPU (SwiftShader, fallback) 1,900 ms/tile: WASM faster');
  });
  it('says when a probe hit the time limit', () => {
    const probes = [wasm(41), gpu(null, { adapter: 'SwiftShader', probeMs: 1003 })];
    expect(summarizeChoice(probes, decideBackend(probes).reason)).toBe(
      'WASM 41 ms/tile, WebGPU (SwiftShader) over 1,003 ms (time limit): WASM faster (WebGPU exceeded the probe time limit)',
    );
  });
});

describe('choiceKey', () => {
  const device: DeviceIdentity = {
    adapter: { vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader Device', isFallbackAdapter: true },
    hardwareConcurrency: 2,
    threads: 2,
    crossOriginIsolated: true,
    tfjsVersion: '4.22.0',
  };
  it('names the model and the device; a change to either gives another key', () => {
    const k = choiceKey('abc', device);
    expect(k.startsWith(CHOICE_KEY_PREFIX + 'abc:')).toBe(true);
    expect(choiceKey('abc', { ...device })).toBe(k);
    expect(choiceKey('abd', device)).not.toBe(k);
    expect(choiceKey('abc', { ...device, hardwareConcurrency: 8 })).not.toBe(k);
    expect(choiceKey('abc', { ...device, threads: 1 })).not.toBe(k);
    expect(choiceKey('abc', { ...device, crossOriginIsolated: false })).not.toBe(k);
    expect(choiceKey('abc', { ...device, adapter: null })).not.toBe(k);
    expect(choiceKey('abc', { ...device, adapter: { ...device.adapter, isFallbackAdapter: false } })).not.toBe(k);
    expect(choiceKey('abc', { ...device, adapter: { ...device.adapter, vendor: 'nvidia' } })).not.toBe(k);
    expect(choiceKey('abc', { ...device, tfjsVersion: '4.23.0' })).not.toBe(k);
  });
  it('names SwiftShader', () => {
    expect(adapterShortName(device.adapter)).toBe('SwiftShader');
    expect(adapterShortName({ vendor: 'nvidia', architecture: 'ampere' })).toBe('nvidia / ampere');
  });
});

describe('parseRemembered', () => {
  it('reads a stored choice and ignores anything malformed', () => {
    const v = { winner: 'wasm', summary: 'WASM 41 ms/tile: WASM faster', candidates: [wasm(41)] };
    expect(parseRemembered(JSON.stringify(v))).toEqual(v);
    expect(parseRemembered(null)).toBeNull();
    expect(parseRemembered('{')).toBeNull();
    expect(parseRemembered(JSON.stringify({ ...v, winner: 'cpu' }))).toBeNull();
    expect(parseRemembered(JSON.stringify({ winner: 'wasm' }))).toBeNull();
  });
});
