// Cross-origin isolation and the threaded SIMD WASM binary in dev, preview (built site) and a header-less static host.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from './harness/browser.ts';
import { createPageEngine, loadPageBundle, openProbe, PROBE_PAGE } from './harness/engine-driver.ts';
import { buildSite, REPO_ROOT, startServer, startStaticServer, type TestServer } from './harness/server.ts';

const DEFAULT_MODEL = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'models/index.json'), 'utf8')) as { default: string }).default;
let browser: TestBrowser;
const servers: TestServer[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
});

async function isolated(page: Page): Promise<boolean> {
  return page.evaluate(() => self.crossOriginIsolated);
}

/** Checks the engine on an open probe page; `since`: index in the request log where this server's test began. */
async function checkEngine(page: Page, server: TestServer, since: number) {
  const before = browser.requests.length;
  const info = await createPageEngine(page, 'wasm');
  expect(info.crossOriginIsolated).toBe(true);
  expect(info.wasmBinary).toBe('threaded-simd');
  expect(info.threads).toBeGreaterThan(1);
  expect(info.fallbackReasons).toEqual([]);
  const bundle = await loadPageBundle(page, 'default');
  expect(bundle.name).toBe(DEFAULT_MODEL);
  // Unique URLs: behind the service worker each fetch is seen twice (page and worker). A built site's service
  // worker also precaches every binary for offline use; the engine itself must load the threaded SIMD one.
  const wasmFetched = [...new Set(browser.requests.slice(before).filter((u) => u.endsWith('.wasm')))];
  expect(wasmFetched.some((u) => /tfjs-backend-wasm-threaded-simd.*\.wasm$/.test(u))).toBe(true);
  if (server.mode === 'dev') expect(wasmFetched).toHaveLength(1);
  // Requests to this test's server or to an earlier test's (whose service worker may still be precaching).
  const ours = [server, ...servers].map((s) => s.url);
  const foreign = browser.requests.slice(since).filter((u) => !ours.some((o) => u.startsWith(o)) && !/^(blob|data):/.test(u));
  expect(foreign).toEqual([]);
}

describe('cross-origin isolation and WASM threads', () => {
  it('dev server: the app and the engine are isolated; threaded SIMD with >1 thread runs', async () => {
    const server = await startServer({ mode: 'dev' });
    servers.push(server);
    const since = browser.requests.length;
    const page = await browser.newPage();
    await page.goto(server.url);
    expect(await isolated(page)).toBe(true);
    await openProbe(page, server.url);
    await checkEngine(page, server, since);
    await page.close();
  });

  it('built site under vite preview: isolated by headers, engine assets emitted and served', async () => {
    const server = await startServer({ mode: 'preview', extraPages: [PROBE_PAGE] });
    servers.push(server);
    const since = browser.requests.length;
    const page = await browser.context.newPage();
    await page.goto(server.url);
    expect(await isolated(page)).toBe(true);
    await openProbe(page, server.url);
    await checkEngine(page, server, since);
    await page.close();
  });

  it('built site on a static host without headers: the service worker makes it isolated', async () => {
    const dist = await buildSite([PROBE_PAGE]);
    const server = await startStaticServer(dist);
    servers.push(server);
    const since = browser.requests.length;
    const page = await browser.context.newPage();
    // First load is not isolated; coi-serviceworker.js registers, takes control and reloads once.
    await page.goto(new URL(PROBE_PAGE, server.url).href);
    await page.waitForFunction(() => self.crossOriginIsolated, undefined, { timeout: 30_000 });
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', undefined, { timeout: 30_000 });
    await checkEngine(page, server, since);
    await page.close();
  });
});
