// MoA Lens service worker: offline cache (app shell, WASM, model shards) and the security headers (isolation, CSP), in one worker.
/* eslint-env serviceworker */
'use strict';

// Bump when this file's caching rules change; hashed assets need no bump.
const VERSION = 'v1';
const SHELL_CACHE = `moa-lens-shell-${VERSION}`;
const DATA_CACHE = `moa-lens-data-${VERSION}`;
const SCOPE = new URL(self.registration.scope);

/**
 * Headers added to every response this worker serves, from the cache or the network, where the response lacks
 * them: cross-origin isolation (WASM threads) and the Content-Security-Policy (which a <meta> cannot give
 * workers), so the page and its workers keep them offline and on hosts that cannot set headers.
 */
// BEGIN SECURITY_HEADERS (generated from security-headers.ts: npx tsx security-headers.ts)
const SECURITY_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Content-Security-Policy": "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; connect-src 'self' data:; img-src 'self' blob:; style-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
};
// END SECURITY_HEADERS

/** Files that change without changing name: fetched from the network first, the cache is the fallback. */
function isMutable(url) {
  const p = url.pathname;
  return p === SCOPE.pathname || p.endsWith('/index.html') || p.endsWith('/models/index.json') || p.endsWith('/manifest.webmanifest') || p.endsWith('/moa-lens.json') || p.endsWith('/moa-lens.sig.json');
}

function withSecurityHeaders(response) {
  if (!response || response.status === 0 || response.type === 'opaque' || response.type === 'opaqueredirect') return response;
  const headers = new Headers(response.headers);
  let changed = false;
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) {
    if (!headers.has(k)) {
      headers.set(k, v);
      changed = true;
    }
  }
  if (!changed) return response;
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** Same-origin URLs named in HTML/JS/CSS text: src/href attributes and quoted asset paths, resolved against `base`. */
function referencedUrls(text, base) {
  const out = new Set();
  const re = /(?:src|href)\s*=\s*"([^"#?]+)"|["'`]([^"'`\s<>()]{1,300}?\.(?:js|mjs|css|wasm|svg|png|ico|webmanifest|woff2?))["'`]/g;
  let m;
  while ((m = re.exec(text))) {
    const ref = m[1] || m[2];
    if (/^(data|blob|javascript|mailto):/i.test(ref) || ref.startsWith('//')) continue;
    try {
      const url = new URL(ref, base);
      if (url.origin === SCOPE.origin && url.pathname.startsWith(SCOPE.pathname)) out.add(url.href);
    } catch {
      /* not a URL */
    }
  }
  return out;
}

/**
 * Caches the app shell: the start page and every same-origin file it references, followed through
 * JS and CSS (hashed chunk, worker and WASM names are only known from the built files themselves).
 * References that do not exist (strings in libraries that look like file names) are skipped.
 */
async function cacheShell() {
  const cache = await caches.open(SHELL_CACHE);
  const seen = new Set();
  const queue = [SCOPE.href, new URL('manifest.webmanifest', SCOPE).href];
  while (queue.length && seen.size < 400) {
    const url = queue.shift();
    if (seen.has(url)) continue;
    seen.add(url);
    const isStart = url === SCOPE.href;
    let response = await cache.match(url, { ignoreVary: true });
    if (!response || isMutable(new URL(url))) {
      try {
        const fresh = await fetch(url, { cache: 'no-cache' });
        const type = fresh.headers.get('Content-Type') || '';
        // A server that answers unknown paths with the start page (SPA fallback) must not fill the cache with copies of it.
        if (!fresh.ok || (!isStart && type.includes('text/html'))) continue;
        response = fresh;
        await cache.put(url, fresh.clone());
      } catch {
        if (!response) continue;
      }
    }
    const type = response.headers.get('Content-Type') || '';
    if (isStart || /javascript|css|manifest/.test(type)) {
      for (const ref of referencedUrls(await response.clone().text(), url)) if (!seen.has(ref)) queue.push(ref);
    }
  }
}

self.addEventListener('install', (event) => {
  event.waitUntil(cacheShell().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key.startsWith('moa-lens-') && key !== SHELL_CACHE && key !== DATA_CACHE) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

async function fromNetworkFirst(request) {
  try {
    const response = await fetch(request);
    if (response.ok && request.method === 'GET') {
      const cache = await caches.open(SHELL_CACHE);
      await cache.put(request, response.clone());
    }
    return response;
  } catch (err) {
    const cached = (await caches.match(request, { ignoreSearch: request.mode === 'navigate', ignoreVary: true })) || (request.mode === 'navigate' ? await caches.match(SCOPE.href, { ignoreVary: true }) : undefined);
    if (cached) return cached;
    throw err;
  }
}

async function fromCacheFirst(request) {
  // ignoreVary: servers send `Vary: Origin`, and a module script's request carries an Origin header that the
  // cached (crawled) request did not, so a Vary-respecting match would miss every script when offline.
  const cached = await caches.match(request, { ignoreVary: true });
  if (cached) return cached;
  const response = await fetch(request);
  // Keep what the app loads (hashed assets, WASM, model files, the demo plate once tried) so the next visit works offline.
  if (response.ok && response.type === 'basic') {
    const path = new URL(request.url).pathname;
    const cache = await caches.open(path.includes('/models/') || path.includes('/demo/') ? DATA_CACHE : SHELL_CACHE);
    await cache.put(request, response.clone());
  }
  return response;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== SCOPE.origin) return;
  if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
  if (request.headers.has('range')) return;
  const mutable = request.mode === 'navigate' || isMutable(url);
  event.respondWith((mutable ? fromNetworkFirst(request) : fromCacheFirst(request)).then(withSecurityHeaders));
});

/**
 * Precache on request from the page: [{ url, sha256? }]. Files already cached (with the same sha256
 * when one is given) are not fetched again. Progress goes back to the asking page.
 */
async function precache(items, client) {
  const cache = await caches.open(DATA_CACHE);
  const total = items.length;
  let done = 0;
  let bytes = 0;
  const report = (extra) => client && client.postMessage({ type: 'moa-lens-precache', done, total, bytes, ...extra });
  report({});
  for (const item of items) {
    const url = new URL(item.url, SCOPE).href;
    const cached = item.sha256 ? await cache.match(url, { ignoreVary: true }) : await caches.match(url, { ignoreVary: true });
    if (!(cached && (!item.sha256 || cached.headers.get('X-MoA-Lens-SHA256') === item.sha256))) {
      const response = await fetch(url, { cache: 'no-cache' });
      if (!response.ok) throw new Error(`HTTP ${response.status} for ${new URL(url).pathname}`);
      const body = await response.arrayBuffer();
      bytes += body.byteLength;
      const headers = new Headers(response.headers);
      if (item.sha256) headers.set('X-MoA-Lens-SHA256', item.sha256);
      await cache.put(url, new Response(body, { status: 200, headers }));
    }
    done++;
    report({});
  }
}

self.addEventListener('message', (event) => {
  const data = event.data || {};
  if (data.type !== 'moa-lens-precache' || !Array.isArray(data.items)) return;
  const client = event.source;
  event.waitUntil(
    cacheShell()
      .then(() => precache(data.items, client))
      .then(() => client && client.postMessage({ type: 'moa-lens-precache', finished: true }))
      .catch((err) => client && client.postMessage({ type: 'moa-lens-precache', error: String(err && err.message ? err.message : err) })),
  );
});
