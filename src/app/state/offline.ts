// Offline support from the page's side: registers the service worker, reloads once for isolation, asks it to precache with progress.
import type { OfflineFile } from '../../engine/index.ts';

export interface PrecacheProgress {
  done: number;
  total: number;
  bytes: number;
  finished?: boolean;
  error?: string;
}

/**
 * Whether to reload once so the service worker's isolation headers apply: only when the page is
 * not isolated, a service worker controls it, and we have not tried already in this tab.
 */
export function shouldReloadForIsolation(state: { isolated: boolean; controlled: boolean; alreadyReloaded: boolean }): boolean {
  return !state.isolated && state.controlled && !state.alreadyReloaded;
}

const RELOAD_FLAG = 'moa-lens-isolation-reload';

function waitFor<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([promise, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))]);
}

/**
 * Registers ./sw.js and waits (bounded) until it controls the page. Returns 'reloading' when a
 * reload for cross-origin isolation was started, 'controlled' or 'unavailable' otherwise.
 */
export async function startServiceWorker(swUrl = './sw.js'): Promise<'controlled' | 'unavailable' | 'reloading'> {
  if (!('serviceWorker' in navigator)) return 'unavailable';
  try {
    await navigator.serviceWorker.register(swUrl, { scope: './' });
  } catch {
    return 'unavailable';
  }
  if (!navigator.serviceWorker.controller) {
    await waitFor(new Promise<void>((resolve) => navigator.serviceWorker.addEventListener('controllerchange', () => resolve(), { once: true })), 20_000);
  }
  const controlled = Boolean(navigator.serviceWorker.controller);
  const alreadyReloaded = sessionStorage.getItem(RELOAD_FLAG) === '1';
  if (shouldReloadForIsolation({ isolated: self.crossOriginIsolated, controlled, alreadyReloaded })) {
    sessionStorage.setItem(RELOAD_FLAG, '1');
    location.reload();
    return 'reloading';
  }
  if (self.crossOriginIsolated) sessionStorage.removeItem(RELOAD_FLAG);
  return controlled ? 'controlled' : 'unavailable';
}

/** Asks the controlling service worker to cache `items`; resolves when it is done, reporting progress on the way. */
export function precache(items: readonly OfflineFile[], onProgress: (p: PrecacheProgress) => void): Promise<void> {
  const sw = navigator.serviceWorker?.controller;
  if (!sw) return Promise.reject(new Error('No service worker controls this page.'));
  return new Promise((resolve, reject) => {
    const onMessage = (event: MessageEvent) => {
      const data = event.data as ({ type?: string } & Partial<PrecacheProgress>) | undefined;
      if (data?.type !== 'moa-lens-precache') return;
      if (data.error) {
        navigator.serviceWorker.removeEventListener('message', onMessage);
        onProgress({ done: 0, total: items.length, bytes: 0, error: data.error });
        reject(new Error(data.error));
      } else if (data.finished) {
        navigator.serviceWorker.removeEventListener('message', onMessage);
        onProgress({ done: items.length, total: items.length, bytes: 0, finished: true });
        resolve();
      } else onProgress({ done: data.done ?? 0, total: data.total ?? items.length, bytes: data.bytes ?? 0 });
    };
    navigator.serviceWorker.addEventListener('message', onMessage);
    sw.postMessage({ type: 'moa-lens-precache', items });
  });
}
