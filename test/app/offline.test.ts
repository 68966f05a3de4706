import { describe, expect, it } from 'vitest';
import { shouldReloadForIsolation } from '../../src/app/state/offline.ts';

describe('offline helpers', () => {
  it('reloads for isolation only once, only under a service worker, only when not isolated', () => {
    expect(shouldReloadForIsolation({ isolated: false, controlled: true, alreadyReloaded: false })).toBe(true);
    expect(shouldReloadForIsolation({ isolated: false, controlled: true, alreadyReloaded: true })).toBe(false);
    expect(shouldReloadForIsolation({ isolated: true, controlled: true, alreadyReloaded: false })).toBe(false);
    expect(shouldReloadForIsolation({ isolated: false, controlled: false, alreadyReloaded: false })).toBe(false);
  });
});
