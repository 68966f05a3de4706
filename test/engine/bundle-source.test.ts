// Where the engine finds a served bundle (one resolution of models/index.json, against one base URL), which files it keeps offline,
// and what a server's answers mean: a 404, or the SPA fallback's index.html, is a missing file; a size other than the bundle records too.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { sha256Hex } from '../../src/core/bundle.ts';
import { METADATA_FILE, SIGNATURE_FILE } from '../../src/core/bundle-format.ts';
import { NO_TRUST, parseTrustRoots } from '../../src/core/bundle-trust.ts';
import { bundleFiles, bundleFolder, readBundle, servedBundleFiles } from '../../src/engine/bundle-source.ts';
import { tinyBundleFiles } from '../browser/harness/fixtures.ts';

const BASE = 'https://lens.example/app/';
const SHARD = 'group1-shard1of1.bin';
/** What a dev or preview server (or an SPA host) answers for a file it does not have. */
const SPA_FALLBACK = () => new Response('<!doctype html><title>MoA Lens</title>', { headers: { 'Content-Type': 'text/html' } });

/** A fetch that serves `files` (absolute URL -> JSON, bytes or a Response) and records what was asked; `otherwise` answers the rest (404). */
function serve(files: Record<string, unknown>, otherwise = () => new Response('not found', { status: 404 })): string[] {
  const asked: string[] = [];
  vi.stubGlobal('fetch', async (url: URL) => {
    asked.push(url.href);
    const body = files[url.href];
    if (body === undefined) return otherwise();
    if (body instanceof Response) return body;
    return new Response(body instanceof Uint8Array ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body));
  });
  return asked;
}

let tiny: Map<string, Uint8Array>;
beforeAll(async () => {
  await tf.setBackend('cpu');
  tiny = await tinyBundleFiles({ height: 64, width: 64, widthMultiplier: 0.125 });
});

/** The tiny bundle served at models/tiny/, less the files in `without`. */
const tinyServed = (without: string[] = []) => Object.fromEntries([...tiny].filter(([n]) => !without.includes(n)).map(([n, b]) => [`${BASE}models/tiny/${n}`, b]));

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('engine bundle sources', () => {
  it('lists a bundle folder: moa-lens.json, model.json, then the shards with their sha256, as absolute URLs', () => {
    const files = bundleFiles(new URL('models/tiny/', BASE), { files: { 'group1-shard2of2.bin': { sha256: 'b2' }, 'model.json': { sha256: 'm' }, 'group1-shard1of2.bin': { sha256: 'b1' } } });
    expect(files).toEqual([
      { url: `${BASE}models/tiny/moa-lens.json` },
      { url: `${BASE}models/tiny/model.json`, sha256: 'm' },
      { url: `${BASE}models/tiny/group1-shard1of2.bin`, sha256: 'b1' },
      { url: `${BASE}models/tiny/group1-shard2of2.bin`, sha256: 'b2' },
    ]);
  });

  it('resolves the default bundle from models/index.json under the base URL, and a folder URL against the same base', async () => {
    const asked = serve({ [`${BASE}models/index.json`]: { default: 'mcnn v1' } });
    expect(await bundleFolder('default', BASE)).toEqual({ folder: new URL(`${BASE}models/mcnn%20v1/`), label: 'default bundle "mcnn v1"' });
    expect(asked).toEqual([`${BASE}models/index.json`]);
    expect((await bundleFolder({ url: 'models/other' }, BASE)).folder.href).toBe(`${BASE}models/other/`);
    await expect(bundleFolder({ url: 'https://elsewhere.example/models/x/' }, BASE)).rejects.toThrow(/not on this site's origin/);
  });

  it('says why when models/index.json names no default', async () => {
    serve({ [`${BASE}models/index.json`]: { models: [] } });
    await expect(bundleFolder('default', BASE)).rejects.toThrow('Cannot read the model index /app/models/index.json: it names no "default" bundle');
  });

  it('lists a served bundle from its moa-lens.json (with its signature when it has one and is not shipped), and nothing for dropped files', async () => {
    serve({ [`${BASE}models/index.json`]: { default: 'tiny' }, ...tinyServed() });
    const listed = ['models/tiny/moa-lens.json', 'models/tiny/model.json', `models/tiny/${SHARD}`];
    expect((await servedBundleFiles('default', BASE, NO_TRUST)).map((f) => f.url.slice(BASE.length))).toEqual(listed);
    serve({ [`${BASE}models/index.json`]: { default: 'tiny' }, ...tinyServed(), [`${BASE}models/tiny/${SIGNATURE_FILE}`]: { format: 'moa-lens-signature' } });
    expect((await servedBundleFiles('default', BASE, NO_TRUST)).map((f) => f.url.slice(BASE.length))).toEqual([...listed, `models/tiny/${SIGNATURE_FILE}`]);
    const pinned = parseTrustRoots({ shipped: { tiny: await sha256Hex(tiny.get(METADATA_FILE)!) } }, {});
    expect((await servedBundleFiles('default', BASE, pinned)).map((f) => f.url.slice(BASE.length))).toEqual(listed);
    expect(await servedBundleFiles([], BASE, NO_TRUST)).toEqual([]);
  });

  it('loads a served bundle, and names a missing shard whether the server says 404 or answers with its SPA fallback page', async () => {
    serve(tinyServed());
    expect((await readBundle({ url: 'models/tiny/' }, BASE, NO_TRUST)).trust.status).toBe('unverified');
    serve(tinyServed([SHARD]));
    await expect(readBundle({ url: 'models/tiny/' }, BASE, NO_TRUST)).rejects.toThrow(`bundle at /app/models/tiny/: ${SHARD} is missing: the server answered HTTP 404 for /app/models/tiny/${SHARD}.`);
    serve(tinyServed([SHARD]), SPA_FALLBACK);
    await expect(readBundle({ url: 'models/tiny/' }, BASE, NO_TRUST)).rejects.toThrow(
      `bundle at /app/models/tiny/: ${SHARD} is missing: the server answered /app/models/tiny/${SHARD} with an HTML page (its fallback for a file it does not have), not the file.`,
    );
    serve({}, SPA_FALLBACK);
    await expect(readBundle({ url: 'models/none/' }, BASE, NO_TRUST)).rejects.toThrow(/bundle at \/app\/models\/none\/: moa-lens.json is missing: .* with an HTML page/);
  });

  it('calls a served file whose size is not the recorded one missing, without reading its body', async () => {
    const recorded = tiny.get(SHARD)!.length;
    let pulled = false;
    const body = new ReadableStream({ pull: () => void (pulled = true) }, { highWaterMark: 0 });
    serve({ ...tinyServed(), [`${BASE}models/tiny/${SHARD}`]: new Response(body, { headers: { 'Content-Length': String(recorded + 7) } }) });
    await expect(readBundle({ url: 'models/tiny/' }, BASE, NO_TRUST)).rejects.toThrow(`${SHARD} is missing or not the bundle's file: it has ${recorded + 7} bytes where moa-lens.json records ${recorded}.`);
    expect(pulled).toBe(false);
    serve({ ...tinyServed(), [`${BASE}models/tiny/${SHARD}`]: tiny.get(SHARD)!.slice(0, 100) });
    await expect(readBundle({ url: 'models/tiny/' }, BASE, NO_TRUST)).rejects.toThrow(`${SHARD} is missing or not the bundle's file: it has 100 bytes where moa-lens.json records ${recorded}.`);
  });
});
