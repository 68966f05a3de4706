// Cross-origin isolation for static hosts that cannot send COOP/COEP headers: as a page script it registers
// itself as a service worker and reloads once; as the service worker it adds the headers to every response.
/* eslint-disable no-restricted-globals */
if (typeof window === 'undefined') {
  self.addEventListener('install', () => self.skipWaiting());
  self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
  self.addEventListener('fetch', (event) => {
    const request = event.request;
    // Requests a service worker may not replay.
    if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
    if (new URL(request.url).origin !== self.location.origin) return;
    event.respondWith(
      fetch(request).then((response) => {
        if (response.status === 0 || response.type === 'opaque') return response;
        const headers = new Headers(response.headers);
        headers.set('Cross-Origin-Opener-Policy', 'same-origin');
        headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
        headers.set('Cross-Origin-Resource-Policy', 'same-origin');
        return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
      }),
    );
  });
} else {
  (() => {
    const KEY = 'moa-lens-coi-reload';
    if (window.crossOriginIsolated) {
      sessionStorage.removeItem(KEY);
      return;
    }
    if (!window.isSecureContext || !('serviceWorker' in navigator)) {
      console.warn('MoA Lens: no cross-origin isolation (needs HTTPS or localhost and service workers); WASM runs single-threaded.');
      return;
    }
    const reloadOnce = () => {
      if (sessionStorage.getItem(KEY)) {
        console.warn('MoA Lens: the isolation service worker did not take effect; WASM runs single-threaded.');
        return;
      }
      sessionStorage.setItem(KEY, '1');
      window.location.reload();
    };
    const script = document.currentScript && document.currentScript.src;
    navigator.serviceWorker.register(script || '/coi-serviceworker.js').then(
      (registration) => {
        if (navigator.serviceWorker.controller) reloadOnce();
        else {
          navigator.serviceWorker.addEventListener('controllerchange', reloadOnce, { once: true });
          if (registration.active && !navigator.serviceWorker.controller) reloadOnce();
        }
      },
      (error) => console.warn('MoA Lens: cannot register the isolation service worker:', error),
    );
  })();
}
