// The user's channel mapping, remembered in the browser (localStorage) per set of channel names: a
// later drop with the same names gets the same mapping back.
import type { ChannelMapping } from '../../core/grouping.ts';
import { CHANNELS, type ChannelName } from '../../core/labels.ts';

/** The parts of Storage this module uses (localStorage in the app; a Map-backed object in tests). */
export type KeyValueStore = Pick<Storage, 'getItem' | 'setItem'>;

const PREFIX = 'moa-lens.channel-mapping.v1:';

/** The storage key of a set of channel names: the names sorted and de-duplicated, so order of drop does not matter. */
export function mappingKey(tokens: readonly string[]): string {
  return PREFIX + JSON.stringify([...new Set(tokens)].sort());
}

function isChoice(value: unknown): value is ChannelName | null {
  return value === null || (CHANNELS as readonly unknown[]).includes(value);
}

/** The mapping remembered for exactly these channel names, if any (a damaged or foreign entry is ignored). */
export function recallMapping(store: KeyValueStore | undefined, tokens: readonly string[]): ChannelMapping | undefined {
  if (!store || tokens.length === 0) return undefined;
  let text: string | null;
  try {
    text = store.getItem(mappingKey(tokens));
  } catch {
    return undefined; // storage blocked (privacy settings): nothing remembered
  }
  if (!text) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object') return undefined;
    const choices = Object.entries(parsed as Record<string, unknown>).filter(([token, value]) => tokens.includes(token) && isChoice(value));
    return choices.length ? { tokens: Object.fromEntries(choices) as Record<string, ChannelName | null> } : undefined;
  } catch {
    return undefined;
  }
}

/** Remembers the user's choices for these channel names (only choices for names in the set). Returns false when storage refused. */
export function rememberMapping(store: KeyValueStore | undefined, tokens: readonly string[], mapping: ChannelMapping): boolean {
  if (!store || tokens.length === 0) return false;
  const choices = Object.fromEntries(Object.entries(mapping.tokens ?? {}).filter(([token]) => tokens.includes(token)));
  try {
    store.setItem(mappingKey(tokens), JSON.stringify(choices));
    return true;
  } catch {
    return false; // quota or privacy settings: the mapping still applies to this drop
  }
}

/** localStorage when the page may use it. */
export function browserStore(): KeyValueStore | undefined {
  try {
    return typeof localStorage === 'undefined' ? undefined : localStorage;
  } catch {
    return undefined;
  }
}
