// Test servers: Vite dev or a production build + preview, on a free port, with extra static folders mounted.
import { mkdtemp, rm } from 'node:fs/promises';
import { createReadStream, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build, createServer, preview, type Plugin, type ViteDevServer, type PreviewServer } from 'vite';
import { isolationHeaders } from '../../../vite.config.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');

export interface TestServer {
  /** Origin with a trailing slash, e.g. http://127.0.0.1:41234/ */
  url: string;
  origin: string;
  mode: 'dev' | 'preview';
  close(): Promise<void>;
}

export interface ServerOptions {
  mode: 'dev' | 'preview';
  /** URL prefix (like '/__test/') -> folder on disk, served with the isolation headers. */
  mounts?: Record<string, string>;
  /** Like mounts, but a file missing there is left to the server, whose SPA fallback answers it with index.html (HTTP 200). */
  spaMounts?: Record<string, string>;
  /** Extra HTML entries for the build (paths relative to the repo root), e.g. the engine probe page. */
  extraPages?: string[];
  /** Keep the site's own service worker out (tests that check header-based isolation). */
  outDir?: string;
}

const MIME: Record<string, string> = {
  '.json': 'application/json',
  '.bin': 'application/octet-stream',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.png': 'image/png',
  '.js': 'text/javascript',
};

/**
 * A plugin serving folders under URL prefixes in dev and preview, with COOP/COEP/CORP headers; a missing file is a 404,
 * or under spaMounts whatever the server answers (Vite's SPA fallback: index.html).
 */
export function mountPlugin(mounts: Record<string, string>, spaMounts: Record<string, string> = {}): Plugin {
  const middleware = (req: { url?: string }, res: import('node:http').ServerResponse, next: () => void) => {
    const url = decodeURIComponent((req.url ?? '').split('?')[0]);
    for (const [prefix, dir] of [...Object.entries(mounts), ...Object.entries(spaMounts)]) {
      if (!url.startsWith(prefix)) continue;
      const file = path.join(dir, url.slice(prefix.length));
      if (!file.startsWith(dir)) break;
      try {
        if (!statSync(file).isFile()) break;
      } catch {
        if (prefix in spaMounts) break;
        res.statusCode = 404;
        res.end('not found');
        return;
      }
      for (const [k, v] of Object.entries(isolationHeaders)) res.setHeader(k, v);
      res.setHeader('Content-Type', MIME[path.extname(file)] ?? 'application/octet-stream');
      createReadStream(file).pipe(res);
      return;
    }
    next();
  };
  return {
    name: 'moa-lens-test-mounts',
    configureServer(server) {
      server.middlewares.use(middleware);
    },
    configurePreviewServer(server) {
      server.middlewares.use(middleware);
    },
  };
}

function serverUrl(server: ViteDevServer | PreviewServer): string {
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('Vite server has no TCP address.');
  return `http://127.0.0.1:${address.port}/`;
}

const buildCache = new Map<string, Promise<string>>();

/** Builds the site once per set of extra pages per process; returns the output folder. */
export function buildSite(extraPages: string[] = [], outDir?: string): Promise<string> {
  const key = `${extraPages.join(',')}|${outDir ?? ''}`;
  let cached = buildCache.get(key);
  if (!cached) {
    cached = (async () => {
      const out = outDir ?? (await mkdtemp(path.join(os.tmpdir(), 'moa-lens-build-')));
      const input: Record<string, string> = { main: path.join(REPO_ROOT, 'index.html') };
      for (const p of extraPages) input[path.basename(p, '.html')] = path.join(REPO_ROOT, p);
      // Vitest sets NODE_ENV=test, and Vite then builds with import.meta.env.PROD false (no service worker):
      // build as `npm start` does.
      const nodeEnv = process.env.NODE_ENV;
      process.env.NODE_ENV = 'production';
      try {
        await build({
          root: REPO_ROOT,
          configFile: path.join(REPO_ROOT, 'vite.config.ts'),
          logLevel: 'warn',
          mode: 'production',
          build: { outDir: out, emptyOutDir: true, rollupOptions: { input } },
        });
      } finally {
        process.env.NODE_ENV = nodeEnv;
      }
      return out;
    })();
    buildCache.set(key, cached);
  }
  return cached;
}

export async function startServer(options: ServerOptions): Promise<TestServer> {
  const plugins = [mountPlugin(options.mounts ?? {}, options.spaMounts)];
  if (options.mode === 'dev') {
    const server = await createServer({
      root: REPO_ROOT,
      configFile: path.join(REPO_ROOT, 'vite.config.ts'),
      logLevel: 'warn',
      plugins,
      server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null },
      clearScreen: false,
    });
    await server.listen();
    const url = serverUrl(server);
    return { url, origin: new URL(url).origin, mode: 'dev', close: () => server.close() };
  }
  const outDir = await buildSite(options.extraPages, options.outDir);
  const server = await preview({
    root: REPO_ROOT,
    configFile: path.join(REPO_ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    plugins,
    build: { outDir },
    preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false },
  });
  const url = serverUrl(server);
  return {
    url,
    origin: new URL(url).origin,
    mode: 'preview',
    close: async () => {
      await server.close();
    },
  };
}

/** A temp folder removed by the returned cleanup. */
export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const STATIC_MIME: Record<string, string> = {
  ...MIME,
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.webmanifest': 'application/manifest+json',
};

/** A plain static file server with no isolation headers: stands in for hosts like GitHub Pages. `mounts`: URL prefix -> folder, as for startServer. */
export async function startStaticServer(dir: string, mounts: Record<string, string> = {}): Promise<TestServer> {
  const { createServer: createHttpServer } = await import('node:http');
  const root = path.resolve(dir);
  const server = createHttpServer((req, res) => {
    let url = decodeURIComponent((req.url ?? '/').split('?')[0]);
    if (url.endsWith('/')) url += 'index.html';
    const mount = Object.keys(mounts).find((prefix) => url.startsWith(prefix));
    const base = mount ? path.resolve(mounts[mount]) : root;
    const file = path.join(base, mount ? url.slice(mount.length) : url);
    try {
      if (!file.startsWith(base) || !statSync(file).isFile()) throw new Error('missing');
    } catch {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('Content-Type', STATIC_MIME[path.extname(file)] ?? 'application/octet-stream');
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('static server has no TCP address');
  const url = `http://127.0.0.1:${address.port}/`;
  return { url, origin: new URL(url).origin, mode: 'preview', close: () => new Promise((resolve) => server.close(() => resolve())) };
}
