// The built site ships the TIFF decoders once, in the engine worker's chunks only: the page itself never decodes images.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildSite } from './harness/server.ts';

let dist: string;
let scripts: string[];

/** The chunks a script loads: static imports, re-exports and dynamic import() of other built files (not worker URLs). */
function reachable(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const m of source.matchAll(/\bfrom\s*"(\.{1,2}\/[^"]+)"|\bimport\s*\(\s*"(\.{1,2}\/[^"]+)"\s*\)|\bimport\s*"(\.{1,2}\/[^"]+)"/g)) {
      const target = path.resolve(path.dirname(file), m[1] ?? m[2] ?? m[3]);
      if (scripts.includes(target)) queue.push(target); // import("...") in geotiff's JSDoc names files that were never built
    }
  }
  return seen;
}

const name = (file: string) => path.basename(file);
/** A chunk's name without its content hash: zstd-xbJ2uZX5.js -> zstd. */
const stem = (file: string) => name(file).replace(/-[\w-]{8}\.js$/, '');

beforeAll(async () => {
  dist = await buildSite();
  const assets = path.join(dist, 'assets');
  scripts = readdirSync(assets).filter((f) => f.endsWith('.js')).map((f) => path.join(assets, f));
}, 300_000);

describe('built site', () => {
  it('ships every chunk once, and the TIFF decoders only behind the engine worker', () => {
    const html = readFileSync(path.join(dist, 'index.html'), 'utf8');
    const pageEntries = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="\/?([^"]+\.js)"/g)].map((m) => path.join(dist, m[1]));
    expect(pageEntries.length).toBeGreaterThan(0);
    const page = reachable(pageEntries);
    const workers = scripts.filter((f) => stem(f) === 'worker');
    expect(workers.map(name)).toHaveLength(1);
    const worker = reachable(workers);

    const stems = scripts.map(stem);
    expect(stems.filter((s, i) => stems.indexOf(s) !== i), 'chunks built twice').toEqual([]);
    const decoders = [...worker].filter((f) => /\bclass( \w+)? extends BaseDecoder\b/.test(readFileSync(f, 'utf8')));
    expect(decoders.map(stem)).toEqual(expect.arrayContaining(['zstd', 'deflate', 'lzw', 'packbits', 'raw']));
    expect([...page].filter((f) => worker.has(f)).map(name), 'chunks the page shares with the worker').toEqual([]);
    expect([...page].filter((f) => /\bfunction decodeTiff\b|\bextends BaseDecoder\b/.test(readFileSync(f, 'utf8'))).map(name), 'page chunks holding TIFF decoding').toEqual([]);
  });
});
