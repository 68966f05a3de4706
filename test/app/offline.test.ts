import { describe, expect, it } from 'vitest';
import { bundlePrecacheItems, shouldReloadForIsolation } from '../../src/app/state/offline.ts';

describe('offline helpers', () => {
  it('lists a bundle folder: moa-lens.json, model.json, then the shards with their sha256', () => {
    const items = bundlePrecacheItems('/models/tiny', { files: { 'group1-shard2of2.bin': 'b2', 'model.json': 'm', 'group1-shard1of2.bin': 'b1' } });
    expect(items).toEqual([
      { url: '/models/tiny/moa-lens.json' },
      { url: '/models/tiny/model.json', sha256: 'm' },
      { url: '/models/tiny/group1-shard1of2.bin', sha256: 'b1' },
      { url: '/models/tiny/group1-shard2of2.bin', sha256: 'b2' },
    ]);
  });

  it('reloads for isolation only once, only under a service worker, only when not isolated', () => {
    expect(shouldReloadForIsolation({ isolated: false, controlled: true, alreadyReloaded: false })).toBe(true);
    expect(shouldReloadForIsolation({ isolated: false, controlled: true, alreadyReloaded: true })).toBe(false);
    expect(shouldReloadForIsolation({ isolated: true, controlled: true, alreadyReloaded: false })).toBe(false);
    expect(shouldReloadForIsolation({ isolated: false, controlled: false, alreadyReloaded: false })).toBe(false);
  });
});
