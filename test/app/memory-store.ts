// A real in-memory Storage-like map for the app's remembered settings (localStorage in the browser).
import type { KeyValueStore } from '../../src/app/state/channel-memory.ts';

export class MemoryStore implements KeyValueStore {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}
