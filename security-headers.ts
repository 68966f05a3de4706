// The site's security headers, in one place: cross-origin isolation (COOP/COEP/CORP, which the WASM
// backend's threads need) and the Content-Security-Policy. Everything that sends them takes them from here:
// - the Vite dev and preview servers (vite.config.ts: `server.headers`, `preview.headers`), on every response,
//   the page, the engine's worker script and sw.js included;
// - index.html's CSP <meta> (injected by `securityHeadersPlugin`, for hosts that send no header);
// - the committed copies, written by `npx tsx security-headers.ts` and checked by the build (this plugin) and
//   by test/security-headers.test.ts: public/_headers (Netlify / Cloudflare Pages) and the SECURITY_HEADERS
//   block of public/sw.js (added to every response the service worker serves, from cache or network).
// docs/app.md "Security headers" explains each directive and gives the nginx equivalent.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Plugin } from 'vite';

const ROOT = path.dirname(fileURLToPath(import.meta.url));

/** Cross-origin isolation: required for SharedArrayBuffer, hence for the WASM backend's threads. */
export const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;

/**
 * The policy, directive by directive (docs/app.md says why each is there). Deny by default; no
 * 'unsafe-eval' (eval / new Function / string timers fail everywhere, workers included) and no 'unsafe-inline'.
 */
export const CSP_DIRECTIVES: Readonly<Record<string, readonly string[]>> = {
  'default-src': ["'none'"],
  // Our own scripts only. 'wasm-unsafe-eval' allows WebAssembly compilation (TF.js WASM) and nothing else.
  'script-src': ["'self'", "'wasm-unsafe-eval'"],
  // blob:: TF.js WASM starts each pthread worker from a blob: URL it makes of Emscripten's worker script
  // (tfjs-backend-wasm locateFile). Such a worker inherits this policy; it imports the threaded module from our
  // origin (src/engine/wasm-threads.ts), so script-src needs no blob:.
  'worker-src': ["'self'", 'blob:'],
  // data:: geotiff's Zstandard codec (zstddec) loads its WASM with fetch('data:application/wasm;base64,...').
  // A data: URL is decoded in the browser: nothing leaves it, and every other origin stays refused.
  'connect-src': ["'self'", 'data:'],
  // blob:: the Map view exports its pictures as PNG by drawing its own SVG (made in the tab) from a blob: URL on a canvas.
  'img-src': ["'self'", 'blob:'],
  // Svelte's build emits one stylesheet; its style: directives go through the CSSOM, which CSP does not govern.
  'style-src': ["'self'"],
  'manifest-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  // Ignored in a <meta> (browsers warn): header only.
  'frame-ancestors': ["'none'"],
};

/** Directives a <meta> CSP cannot carry. */
const HEADER_ONLY = new Set(['frame-ancestors', 'report-uri', 'sandbox']);

export type HeaderTarget = 'site' | 'dev';

/**
 * The policy as a header value. 'dev' (the Vite dev server only) adds 'unsafe-inline' to style-src: in dev,
 * Vite injects every stylesheet (Svelte's component CSS too) as a <style> element from JS.
 */
export function contentSecurityPolicy(target: HeaderTarget = 'site', options: { meta?: boolean } = {}): string {
  return Object.entries(CSP_DIRECTIVES)
    .filter(([name]) => !(options.meta && HEADER_ONLY.has(name)))
    .map(([name, sources]) => [name, ...sources, ...(target === 'dev' && name === 'style-src' ? ["'unsafe-inline'"] : [])].join(' '))
    .join('; ');
}

/** Every header the site sends on every response. */
export function securityHeaders(target: HeaderTarget = 'site'): Record<string, string> {
  return { ...isolationHeaders, 'Content-Security-Policy': contentSecurityPolicy(target) };
}

/** public/_headers: Netlify and Cloudflare Pages read it from the published folder. */
export function headersFile(): string {
  const lines = Object.entries(securityHeaders()).map(([k, v]) => `  ${k}: ${v}`);
  return `# Generated from security-headers.ts (npx tsx security-headers.ts); docs/app.md "Security headers".\n/*\n${lines.join('\n')}\n`;
}

const SW_BEGIN = '// BEGIN SECURITY_HEADERS (generated from security-headers.ts: npx tsx security-headers.ts)';
const SW_END = '// END SECURITY_HEADERS';

/** The block of public/sw.js between the markers. */
export function serviceWorkerBlock(): string {
  return `${SW_BEGIN}\nconst SECURITY_HEADERS = ${JSON.stringify(securityHeaders(), null, 2)};\n${SW_END}`;
}

const blockPattern = () => new RegExp(`${escapeRegExp(SW_BEGIN)}[\\s\\S]*?${escapeRegExp(SW_END)}`);
function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export const HEADERS_FILE = path.join(ROOT, 'public/_headers');
export const SERVICE_WORKER_FILE = path.join(ROOT, 'public/sw.js');

/** The committed copies that differ from this module (file paths relative to the repository), with the fix. */
export function staleCopies(): string[] {
  const stale: string[] = [];
  let headers = '';
  try {
    headers = readFileSync(HEADERS_FILE, 'utf8');
  } catch {
    /* missing */
  }
  if (headers !== headersFile()) stale.push('public/_headers');
  const sw = readFileSync(SERVICE_WORKER_FILE, 'utf8');
  if (blockPattern().exec(sw)?.[0] !== serviceWorkerBlock()) stale.push('public/sw.js');
  return stale;
}

/** Rewrites public/_headers and sw.js's SECURITY_HEADERS block from this module. */
export function writeCopies(): void {
  writeFileSync(HEADERS_FILE, headersFile());
  const sw = readFileSync(SERVICE_WORKER_FILE, 'utf8');
  if (!blockPattern().test(sw)) throw new Error(`public/sw.js has no ${SW_BEGIN} ... ${SW_END} block.`);
  writeFileSync(SERVICE_WORKER_FILE, sw.replace(blockPattern(), serviceWorkerBlock()));
}

/**
 * Puts the CSP <meta> into every HTML page, after <meta charset> (the dev variant in dev), and refuses to build when
 * public/_headers or sw.js's copy of the headers is stale.
 */
export function securityHeadersPlugin(): Plugin {
  let dev = false;
  return {
    name: 'moa-lens-security-headers',
    configResolved(config) {
      dev = config.command === 'serve';
    },
    buildStart() {
      if (dev) return;
      const stale = staleCopies();
      if (stale.length) this.error(`${stale.join(' and ')} differ from security-headers.ts: run \`npx tsx security-headers.ts\`.`);
    },
    transformIndexHtml: {
      order: 'pre',
      handler(html, ctx) {
        const meta = `<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(ctx.server ? 'dev' : 'site', { meta: true })}" />`;
        // Right after <meta charset> (which must come first), before anything the policy governs.
        const charset = /<meta\s+charset\b[^>]*>/i.exec(html);
        if (charset) return html.replace(charset[0], () => `${charset[0]}\n    ${meta}`);
        return html.replace(/<head[^>]*>/i, (head) => `${head}\n    ${meta}`);
      },
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  writeCopies();
  console.log('wrote public/_headers and the SECURITY_HEADERS block of public/sw.js');
}
