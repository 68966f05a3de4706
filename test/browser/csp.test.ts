// The Content-Security-Policy in Chromium (security-headers.ts): the dev server and vite preview send it as a header
// with the page, the engine's worker script, the WASM threads' script and sw.js, and the service worker adds it
// where the host sends none; in the page, the engine's worker and a WASM pthread worker, eval and new Function
// fail and a fetch to another local origin is refused before it leaves the browser.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeaderTarget } from '../../security-headers.ts';
import { launchBrowser, type TestBrowser } from './harness/browser.ts';
import {
  CSP_PROBE_MOUNT,
  expectedHeaders,
  expectLockedDown,
  NO_HEADERS,
  pageHeadersOf,
  probeUrl,
  runProbe,
  serverHeadersOf,
  startForeignServer,
  type ForeignServer,
  type ProbeResult,
} from './harness/csp.ts';
import { PROBE_PAGE } from './harness/engine-driver.ts';
import { buildSite, startServer, startStaticServer, type TestServer } from './harness/server.ts';

let browser: TestBrowser;
let foreign: ForeignServer;
const servers: TestServer[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
  foreign = await startForeignServer();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
  await foreign?.close();
});

/** CSP reports in the console (the page's, and its workers' where Playwright forwards them). */
const cspLogs = (from: number) => browser.logs.slice(from).filter((l) => /Content Security Policy/i.test(l));

/**
 * Opens the app on `server` and checks: the headers of the page, the engine's worker script, the threads'
 * script and sw.js, as the server sends them and as the page gets them; no violation while the app starts;
 * the probe in the page, the engine worker and a WASM pthread worker; nothing reached the foreign origin.
 */
async function checkSite(server: TestServer, target: HeaderTarget, options: { hostHeaders: boolean }) {
  const logsFrom = browser.logs.length;
  const hitsFrom = foreign.hits.length;
  const requestsFrom = browser.requests.length;
  const page = await browser.context.newPage();
  await page.goto(`${server.url}?backend=wasm`);
  // On a host without headers the app reloads once, when its service worker controls the page.
  await page.waitForFunction(() => self.crossOriginIsolated, undefined, { timeout: 60_000 });
  await page.waitForSelector('main[data-engine="ready"]', { timeout: 120_000 });
  expect(cspLogs(logsFrom), 'CSP reports while the app starts').toEqual([]);

  const workers = page.workers();
  const engine = workers.find((w) => !w.url().startsWith('blob:') && /worker/.test(w.url()));
  expect(engine, `the engine's worker among ${workers.map((w) => w.url()).join(', ')}`).toBeDefined();
  const threadScript = browser.requests.find((u) => u.startsWith(server.url) && /tfjs-backend-wasm-threaded-simd[^/]*\.js$/.test(u));
  expect(threadScript, 'the WASM threads loaded the threaded module from our origin').toBeDefined();

  const expected = expectedHeaders(target);
  const urls = { 'the page': page.url(), "the engine's worker script": engine!.url(), "the WASM threads' script": threadScript!, 'sw.js': new URL('sw.js', server.url).href };
  for (const [what, url] of Object.entries(urls)) {
    expect(await serverHeadersOf(url), `${what} from the server`).toEqual(options.hostHeaders ? expected : NO_HEADERS);
    // sw.js is not served by itself; the browser fetches it past the service worker.
    if (what !== 'sw.js') expect(await pageHeadersOf(page, url), `${what} as the page gets it`).toEqual(expected);
  }

  expectLockedDown(await runProbe(page, probeUrl(server.url, foreign.url)), 'the page');
  // The console does report CSP violations (so the check above would have seen one).
  expect(cspLogs(logsFrom).length, 'CSP reports of the probe in the console').toBeGreaterThan(0);
  expectLockedDown(await runProbe(engine!, probeUrl(server.url, foreign.url)), "the engine's worker");
  // TF.js's pthread workers (blob: URLs, inheriting the engine worker's policy); a running one may be blocked in a futex wait.
  const pthreads = page.workers().filter((w) => w.url().startsWith('blob:'));
  expect(pthreads.length, 'WASM pthread workers').toBeGreaterThan(0);
  let pthreadResult: ProbeResult | undefined;
  for (const w of pthreads) {
    pthreadResult = await runProbe(w, probeUrl(server.url, foreign.url), 5_000);
    if (pthreadResult) break;
  }
  expectLockedDown(pthreadResult, 'a WASM pthread worker');

  expect(foreign.hits.slice(hitsFrom), 'requests that reached the foreign origin').toEqual([]);
  // Another test's server may still hear from its service worker (precaching).
  const ours = [...servers.map((s) => s.url), foreign.url];
  expect(browser.requests.slice(requestsFrom).filter((u) => !ours.some((o) => u.startsWith(o)) && !/^(blob|data):/.test(u)), 'requests to other origins').toEqual([]);
  await page.close();
}

describe('Content-Security-Policy', () => {
  it('dev server: header on the page, the worker scripts and sw.js; eval, new Function and foreign fetches refused in the page and its workers', async () => {
    const server = await startServer({ mode: 'dev', mounts: CSP_PROBE_MOUNT });
    servers.push(server);
    await checkSite(server, 'dev', { hostHeaders: true });
  });

  it('built site under vite preview: the same, with the site policy', async () => {
    // The same build as the next test's (and engine-isolation's): extraPages is the build's cache key.
    const server = await startServer({ mode: 'preview', mounts: CSP_PROBE_MOUNT, extraPages: [PROBE_PAGE] });
    servers.push(server);
    await checkSite(server, 'site', { hostHeaders: true });
  });

  it('built site on a host that sends no header: the service worker adds the policy to what it serves', async () => {
    const dist = await buildSite([PROBE_PAGE]);
    const server = await startStaticServer(dist, CSP_PROBE_MOUNT);
    servers.push(server);
    // No header from the host (sw.js itself runs without one): the page and its workers get them from sw.js.
    await checkSite(server, 'site', { hostHeaders: false });
  });
});
