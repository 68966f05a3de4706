// Debian Chromium via playwright-core: one persistent context per test file, every request recorded and checked.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.MOA_LENS_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface BrowserOptions {
  /** Adds --enable-unsafe-webgpu (software adapter in headless Chromium). */
  webgpu?: boolean;
  /** Exposes precise performance.memory and gc() for memory tests. */
  memoryInstrumentation?: boolean;
  extraArgs?: string[];
}

export interface TestBrowser {
  context: BrowserContext;
  /** The fresh profile folder (empty cache) this browser runs with; its processes name it on their command lines. */
  userDataDir: string;
  /** Every URL requested by pages, workers and service workers of this context. */
  requests: string[];
  /** Console lines and page errors, for failure messages. */
  logs: string[];
  newPage(): Promise<Page>;
  /** Requests to any origin other than the allowed ones (data:, blob: are local). */
  foreignRequests(...allowedOrigins: string[]): string[];
  close(): Promise<void>;
}

function isLocalScheme(url: string): boolean {
  return /^(data|blob|about|chrome|chrome-extension|devtools):/.test(url);
}

export async function launchBrowser(options: BrowserOptions = {}): Promise<TestBrowser> {
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'moa-lens-chromium-'));
  const args = [...CHROMIUM_ARGS];
  if (options.webgpu) args.push('--enable-unsafe-webgpu');
  if (options.memoryInstrumentation) args.push('--enable-precise-memory-info', '--js-flags=--expose-gc');
  args.push(...(options.extraArgs ?? []));
  const context = await chromium.launchPersistentContext(userDataDir, {
    headless: true,
    executablePath: CHROMIUM_PATH,
    args,
    viewport: { width: 1280, height: 800 },
  });
  // tsx/esbuild (keepNames) wraps functions in __name(...); functions sent to page.evaluate need it defined.
  await context.addInitScript({ content: 'globalThis.__name = globalThis.__name || ((f) => f);' });
  const requests: string[] = [];
  const logs: string[] = [];
  context.on('request', (request) => requests.push(request.url()));
  const watch = (page: Page) => {
    page.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  };
  context.on('page', watch);
  for (const p of context.pages()) watch(p);
  return {
    context,
    userDataDir,
    requests,
    logs,
    async newPage() {
      const existing = context.pages().find((p) => p.url() === 'about:blank');
      return existing ?? context.newPage();
    },
    foreignRequests(...allowedOrigins: string[]) {
      return requests.filter((u) => !isLocalScheme(u) && !allowedOrigins.some((o) => u.startsWith(o.endsWith('/') ? o : `${o}/`) || u === o));
    },
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}
