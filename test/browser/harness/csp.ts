// Helpers for checking the Content-Security-Policy in Chromium: a probe that runs as a realm's own code (page,
// engine worker, WASM pthread worker), another local origin to fetch from, and the security headers of a URL.
import { createServer } from 'node:http';
import type { Page, Worker } from 'playwright-core';
import { expect } from 'vitest';
import { contentSecurityPolicy, isolationHeaders, type HeaderTarget } from '../../../security-headers.ts';

/** Mount this on a test server (startServer / startStaticServer `mounts`) to serve csp-probe.js. */
export const CSP_PROBE_MOUNT = { '/__csp/': import.meta.dirname };
const PROBE_PATH = '__csp/csp-probe.js';

export interface ProbeResult {
  eval: string;
  newFunction: string;
  fetch: string;
  violations: string[];
}

let probes = 0;

/** A URL of the probe module on `baseUrl`, unique per call (a module runs once per URL). */
export function probeUrl(baseUrl: string, foreignUrl: string, n = ++probes): string {
  return `${baseUrl}${PROBE_PATH}?foreign=${encodeURIComponent(foreignUrl)}&n=${n}`;
}

/**
 * Imports csp-probe.js into a page or worker, so that eval, new Function and the fetch run as that realm's own
 * code (a DevTools evaluation itself is exempt from CSP's eval checks); undefined if the realm does not answer
 * within timeoutMs (a pthread blocked in a futex wait).
 */
export async function runProbe(realm: Page | Worker, url: string, timeoutMs = 20_000): Promise<ProbeResult | undefined> {
  const expression = `import(${JSON.stringify(url)}).then((m) => m.default)`;
  const run: Promise<ProbeResult> = 'goto' in realm ? realm.evaluate(expression) : realm.evaluate(expression);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
  try {
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** eval and new Function refused by the CSP; with `fetch`, the fetch to the other origin failed and a connect-src violation was reported. */
export function expectLockedDown(result: ProbeResult | undefined, where: string, options: { fetch?: boolean } = { fetch: true }): void {
  expect(result, `${where} answered the probe`).toBeDefined();
  const r = result!;
  expect(r.eval, `${where}: eval`).toMatch(/^EvalError: .*Content Security Policy/);
  expect(r.newFunction, `${where}: new Function`).toMatch(/^EvalError: .*Content Security Policy/);
  expect(r.violations, `${where}: violations reported`).toEqual(expect.arrayContaining(['script-src']));
  if (options.fetch) {
    expect(r.fetch, `${where}: fetch to another origin`).toMatch(/^TypeError: /);
    expect(r.violations, `${where}: violations reported`).toEqual(expect.arrayContaining(['connect-src']));
  }
}

/** Another local origin (127.0.0.1, another port) that answers anyone: CORS and CORP allow it, only a CSP stops a fetch. */
export interface ForeignServer {
  url: string;
  /** Paths requested so far. */
  hits: string[];
  close(): Promise<void>;
}

export async function startForeignServer(): Promise<ForeignServer> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    res.end('foreign');
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the foreign server has no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    hits,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const HEADER_NAMES = ['Content-Security-Policy', 'Cross-Origin-Opener-Policy', 'Cross-Origin-Embedder-Policy', 'Cross-Origin-Resource-Policy'];

/** What every response carries: the policy (the dev server's or the site's) and COOP/COEP/CORP. */
export function expectedHeaders(target: HeaderTarget): Record<string, string | null> {
  return { 'Content-Security-Policy': contentSecurityPolicy(target), ...isolationHeaders };
}

export const NO_HEADERS: Record<string, string | null> = Object.fromEntries(HEADER_NAMES.map((n) => [n, null]));

/** The security headers of a URL as the server sends them (fetched from Node). */
export async function serverHeadersOf(url: string): Promise<Record<string, string | null>> {
  const response = await fetch(url);
  await response.arrayBuffer();
  return Object.fromEntries(HEADER_NAMES.map((n) => [n, response.headers.get(n)]));
}

/** The security headers of a same-origin URL as the page's fetch() gets them (through the service worker, where one controls the page). */
export function pageHeadersOf(page: Page, url: string): Promise<Record<string, string | null>> {
  return page.evaluate(
    async ({ url, names }) => {
      const response = await fetch(url, { cache: 'no-store' });
      return Object.fromEntries(names.map((n) => [n, response.headers.get(n)]));
    },
    { url, names: HEADER_NAMES },
  );
}
