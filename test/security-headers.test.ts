// One source of truth for the security headers (security-headers.ts): the policy keeps its promises, and
// everything that carries a copy (public/_headers, public/sw.js, the servers, index.html's <meta>, the nginx
// example in docs/app.md) says the same.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { IndexHtmlTransformContext, IndexHtmlTransformHook } from 'vite';
import { describe, expect, it } from 'vitest';
import config from '../vite.config.ts';
import { contentSecurityPolicy, CSP_DIRECTIVES, headersFile, isolationHeaders, securityHeaders, securityHeadersPlugin, staleCopies } from '../security-headers.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const read = (rel: string) => readFileSync(path.join(ROOT, rel), 'utf8');

/** 'a b; c d' -> { a: ['b'], c: ['d'] } */
function parse(policy: string): Record<string, string[]> {
  return Object.fromEntries(
    policy
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name, sources]),
  );
}

describe('the Content-Security-Policy', () => {
  const site = parse(contentSecurityPolicy());

  it('forbids eval, inline code and plugins, allows WebAssembly, and talks to our origin only', () => {
    expect(site['default-src']).toEqual(["'none'"]);
    expect(site['script-src']).toEqual(["'self'", "'wasm-unsafe-eval'"]);
    expect(site['worker-src']).toEqual(["'self'", 'blob:']);
    expect(site['connect-src']).toEqual(["'self'", 'data:']);
    expect(site['style-src']).toEqual(["'self'"]);
    expect(site['object-src']).toEqual(["'none'"]);
    expect(site['base-uri']).toEqual(["'none'"]);
    expect(site['frame-ancestors']).toEqual(["'none'"]);
    const sources = Object.values(site).flat();
    expect(sources).not.toContain("'unsafe-eval'");
    expect(sources).not.toContain("'unsafe-inline'");
    // No host, scheme-wide or wildcard source that reaches another origin.
    expect(sources.filter((s) => /^(https?:|wss?:|\*)|\*/.test(s) || /^[a-z0-9.-]+\.[a-z]{2,}/i.test(s))).toEqual([]);
  });

  it("the dev server's variant differs only by 'unsafe-inline' styles (vite injects <style> elements)", () => {
    const dev = parse(contentSecurityPolicy('dev'));
    expect(dev['style-src']).toEqual(["'self'", "'unsafe-inline'"]);
    expect({ ...dev, 'style-src': site['style-src'] }).toEqual(site);
  });

  it('the <meta> variant leaves out what a <meta> cannot carry', () => {
    const meta = parse(contentSecurityPolicy('site', { meta: true }));
    expect(meta['frame-ancestors']).toBeUndefined();
    expect({ ...meta, 'frame-ancestors': site['frame-ancestors'] }).toEqual(site);
    expect(Object.keys(site)).toEqual(Object.keys(CSP_DIRECTIVES));
  });
});

describe('every copy agrees with security-headers.ts', () => {
  it('public/_headers and the SECURITY_HEADERS block of public/sw.js (npx tsx security-headers.ts rewrites them)', () => {
    expect(staleCopies()).toEqual([]);
    expect(read('public/_headers')).toBe(headersFile());
    const block = /const SECURITY_HEADERS = (\{[\s\S]*?\});/.exec(read('public/sw.js'));
    expect(JSON.parse(block![1])).toEqual(securityHeaders());
    // Every path, each header indented under it.
    const lines = read('public/_headers').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual(['/*', ...Object.entries(securityHeaders()).map(([k, v]) => `  ${k}: ${v}`)]);
  });

  it('the dev and preview servers send every header on every response', () => {
    expect(config.server?.headers).toEqual(securityHeaders('dev'));
    expect(config.preview?.headers).toEqual(securityHeaders());
    expect(securityHeaders()).toEqual({ ...isolationHeaders, 'Content-Security-Policy': contentSecurityPolicy() });
  });

  it("index.html has no policy of its own; the build puts the <meta> right after <meta charset>", async () => {
    const html = read('index.html');
    expect(html).not.toMatch(/http-equiv="Content-Security-Policy"/i);
    const hook = securityHeadersPlugin().transformIndexHtml as { handler: IndexHtmlTransformHook };
    const built = (await hook.handler.call({} as never, html, { path: '/index.html', filename: 'index.html' } as IndexHtmlTransformContext)) as string;
    const dev = (await hook.handler.call({} as never, html, { path: '/index.html', filename: 'index.html', server: {} } as IndexHtmlTransformContext)) as string;
    const metaOf = (h: string) => /<meta charset="UTF-8" \/>\s*<meta http-equiv="Content-Security-Policy" content="([^"]+)" \/>/.exec(h)?.[1];
    expect(metaOf(built)).toBe(contentSecurityPolicy('site', { meta: true }));
    expect(metaOf(dev)).toBe(contentSecurityPolicy('dev', { meta: true }));
  });

  it("docs/app.md's nginx example sends the same headers", () => {
    const docs = read('docs/app.md');
    const nginx = /```nginx\n([\s\S]*?)```/.exec(docs)?.[1] ?? '';
    const sent = Object.fromEntries([...nginx.matchAll(/add_header ([\w-]+) "([^"]*)" always;/g)].map((m) => [m[1], m[2]]));
    expect(sent).toEqual(securityHeaders());
    expect(docs).toContain(`\`\`\`\n${contentSecurityPolicy()}\n\`\`\``);
  });
});
