// The channel mapping remembered per set of channel names (localStorage in the app; a real Storage-like map here).
import { describe, expect, it } from 'vitest';
import { mappingKey, recallMapping, rememberMapping, type KeyValueStore } from '../../src/app/state/channel-memory.ts';
import { MemoryStore } from './memory-store.ts';


describe('channel mapping memory', () => {
  it('the key is the set of names: order and repeats do not matter, other names do', () => {
    expect(mappingKey(['GFP', 'DAPI', 'GFP'])).toBe(mappingKey(['DAPI', 'GFP']));
    expect(mappingKey(['DAPI', 'GFP'])).not.toBe(mappingKey(['DAPI', 'GFP', 'Propidium Iodide']));
  });

  it('remembers the choices for a set of names and gives them back for the same set only', () => {
    const store = new MemoryStore();
    const tokens = ['DAPI', 'GFP', 'Propidium Iodide'];
    expect(recallMapping(store, tokens)).toBeUndefined();
    expect(rememberMapping(store, tokens, { tokens: { GFP: 'Tubulin', 'Propidium Iodide': 'Actin', w9: 'DNA' } })).toBe(true);
    expect(recallMapping(store, [...tokens].reverse())).toEqual({ tokens: { GFP: 'Tubulin', 'Propidium Iodide': 'Actin' } });
    expect(recallMapping(store, ['DAPI', 'GFP'])).toBeUndefined();
    rememberMapping(store, tokens, { tokens: { GFP: null, 'Propidium Iodide': 'Actin' } });
    expect(recallMapping(store, tokens)).toEqual({ tokens: { GFP: null, 'Propidium Iodide': 'Actin' } });
  });

  it('ignores damaged entries and survives storage that refuses', () => {
    const store = new MemoryStore();
    store.setItem(mappingKey(['a', 'b']), '{not json');
    expect(recallMapping(store, ['a', 'b'])).toBeUndefined();
    store.setItem(mappingKey(['a', 'b']), JSON.stringify({ a: 'Nucleus', b: 'DNA' }));
    expect(recallMapping(store, ['a', 'b'])).toEqual({ tokens: { b: 'DNA' } });
    const refusing: KeyValueStore = {
      getItem: () => {
        throw new DOMException('blocked', 'SecurityError');
      },
      setItem: () => {
        throw new DOMException('full', 'QuotaExceededError');
      },
    };
    expect(rememberMapping(refusing, ['a'], { tokens: { a: 'DNA' } })).toBe(false);
    expect(recallMapping(refusing, ['a'])).toBeUndefined();
    expect(recallMapping(undefined, ['a'])).toBeUndefined();
  });
});
