// The model the user chose, remembered and restored (falling back to the default, with a sentence, when it is gone),
// and the model list: shipped bundles with size, input, OOD check, trust and the speed measured here, then the adapted ones.
import { describe, expect, it } from 'vitest';
import type { LoadedBundle, ShippedModel } from '../../src/engine/index.ts';
import { MemoryStore } from './memory-store.ts';
import type { LocalBundleInfo } from '../../src/app/state/local-bundles.ts';
import { CHOICE_KEY, megabytes, modelEntries, recallChoice, rememberChoice, resolveChoice } from '../../src/app/state/model-choice.ts';


const shipped = (name: string, extra: Partial<Extract<ShippedModel, { ok: true }>> = {}): ShippedModel => ({
  ok: true,
  name,
  url: `https://lens.example/models/${name}/`,
  isDefault: false,
  bundleName: name,
  hash: `${name}-hash`,
  trust: { status: 'shipped', detail: `shipped with this build as "${name}"` },
  input: { height: 256, width: 320, channels: 3 },
  binning: 4,
  downloadBytes: 2_241_279,
  sizeRecorded: true,
  oodCheck: true,
  classes: 13,
  ...extra,
});
const V2 = shipped('mcnn-sim-v2', { isDefault: true });
const V1 = shipped('mcnn-sim-v1', { oodCheck: false, sizeRecorded: false, downloadBytes: 1_902_202 });
const ADAPTED: LocalBundleInfo = { hash: 'a'.repeat(64), name: 'mcnn-sim-v2-adapted-1', createdAt: '2026-11-28T20:01:02.000Z', classes: ['A', 'B'] };

describe('model choice', () => {
  it('is remembered and read back; a malformed or missing entry means the default; the old adapted-bundle key is still read', () => {
    const store = new MemoryStore();
    expect(recallChoice(store)).toBeNull();
    rememberChoice(store, { kind: 'shipped', name: 'mcnn-sim-v1' });
    expect(recallChoice(store)).toEqual({ kind: 'shipped', name: 'mcnn-sim-v1' });
    rememberChoice(store, { kind: 'adapted', hash: ADAPTED.hash });
    expect(recallChoice(store)).toEqual({ kind: 'adapted', hash: ADAPTED.hash });
    store.setItem(CHOICE_KEY, '{"kind":"shipped"}');
    expect(recallChoice(store)).toBeNull();
    store.setItem(CHOICE_KEY, 'not json');
    expect(recallChoice(store)).toBeNull();
    const legacy = new MemoryStore();
    legacy.setItem('moa-lens.local-bundle', ADAPTED.hash);
    expect(recallChoice(legacy)).toEqual({ kind: 'adapted', hash: ADAPTED.hash });
    rememberChoice(legacy, { kind: 'shipped', name: 'mcnn-sim-v2' });
    expect(legacy.items.has('moa-lens.local-bundle')).toBe(false);
    expect(recallChoice(undefined)).toBeNull();
  });

  it('restores a choice that is still there, else falls back to the default and says why', () => {
    const list = [V2, V1];
    expect(resolveChoice(null, list, [])).toEqual({ choice: null, message: null });
    expect(resolveChoice({ kind: 'shipped', name: 'mcnn-sim-v1' }, list, [])).toEqual({ choice: { kind: 'shipped', name: 'mcnn-sim-v1' }, message: null });
    expect(resolveChoice({ kind: 'adapted', hash: ADAPTED.hash }, list, [ADAPTED]).choice).toEqual({ kind: 'adapted', hash: ADAPTED.hash });
    expect(resolveChoice({ kind: 'shipped', name: 'mcnn-sim-v0' }, list, [])).toEqual({
      choice: null,
      message: 'The model you chose before, "mcnn-sim-v0", is no longer shipped with this app; using the default model "mcnn-sim-v2".',
    });
    expect(resolveChoice({ kind: 'adapted', hash: ADAPTED.hash }, list, [])).toEqual({
      choice: null,
      message: 'The model you chose before (made in this browser, sha256 aaaaaaaaaaaa) is no longer stored here; using the default model "mcnn-sim-v2".',
    });
    const broken: ShippedModel = { ok: false, name: 'mcnn-sim-v1', url: 'u', isDefault: false, problem: 'moa-lens.json is missing' };
    expect(resolveChoice({ kind: 'shipped', name: 'mcnn-sim-v1' }, [V2, broken], []).message).toBe(
      'The model you chose before, "mcnn-sim-v1", cannot be read (moa-lens.json is missing); using the default model "mcnn-sim-v2".',
    );
  });

  it('lists shipped models (default first as given) and adapted ones, with size, input, OOD check, trust, speed, and the one in use', () => {
    const loaded = { hash: V1.ok ? V1.hash : '', input: { height: 256, width: 320, channels: 3 }, preprocessing: { binning: 4 }, metadata: {} } as unknown as LoadedBundle;
    const speeds: Record<string, { tile?: { ms: number; backend: string } }> = { 'mcnn-sim-v1-hash': { tile: { ms: 41.4, backend: 'WASM' } } };
    const entries = modelEntries([V2, V1], [ADAPTED], loaded, (h) => speeds[h] ?? {});
    expect(entries.map((e) => [e.key, e.current])).toEqual([
      ['shipped:mcnn-sim-v2', false],
      ['shipped:mcnn-sim-v1', true],
      [`adapted:${ADAPTED.hash}`, false],
    ]);
    expect(entries[0]).toMatchObject({ name: 'mcnn-sim-v2', isDefault: true, size: '2.2 MB', input: '256x320, fields binned 4x4', ood: 'out-of-distribution check', speed: 'not measured yet', trust: { status: 'shipped' } });
    expect(entries[1]).toMatchObject({ size: '1.9 MB (weights; a version 1 bundle records no file sizes)', ood: 'no out-of-distribution check', speed: '41 ms/tile (WASM)' });
    expect(entries[2]).toMatchObject({ kind: 'adapted', size: null, input: null, trust: { status: 'made here' }, choice: { kind: 'adapted', hash: ADAPTED.hash } });
    // Once the adapted model is loaded, its input and OOD check are known.
    const adaptedLoaded = { ...loaded, hash: ADAPTED.hash, metadata: { ood: {} } } as unknown as LoadedBundle;
    expect(modelEntries([V2], [ADAPTED], adaptedLoaded, () => ({}))[1]).toMatchObject({ current: true, input: '256x320, fields binned 4x4', ood: 'out-of-distribution check' });
    const broken: ShippedModel = { ok: false, name: 'gone', url: 'u', isDefault: false, problem: 'moa-lens.json is missing' };
    expect(modelEntries([broken], [], null, () => ({}))[0]).toMatchObject({ problem: 'moa-lens.json is missing', size: null, current: false });
    expect(megabytes(42_000_000)).toBe('42.0 MB');
  });
});
