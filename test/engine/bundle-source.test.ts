// Where the engine finds a served bundle (one resolution of models/index.json, against one base URL), which files it keeps offline,
// and what a server's answers mean: a 404, or the SPA fallback's index.html, is a missing file; a size other than the bundle records too.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { sha256Hex } from '../../src/core/bundle.ts';
import { METADATA_FILE, SIGNATURE_FILE } from '../../src/core/bundle-format.ts';
import { NO_TRUST, parseTrustRoots } from '../../src/core/bundle-trust.ts';
import { bundleFiles, bundleFolder, readBundle, servedBundleFiles, shippedModels } from '../../src/engine/bundle-source.ts';
import { BUILD_TRUST_ROOTS } from '../../src/core/trust-roots.ts';
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

  it('lists every shipped bundle of the real models/index.json from its moa-lens.json alone: size, input, binning, OOD check, trust', async () => {
    const models = path.resolve(import.meta.dirname, '../../models');
    const index = JSON.parse(await readFile(path.join(models, 'index.json'), 'utf8')) as { default: string; shipped: Record<string, string> };
    const served: Record<string, unknown> = { [`${BASE}models/index.json`]: await readFile(path.join(models, 'index.json')) };
    for (const name of Object.keys(index.shipped)) served[`${BASE}models/${name}/${METADATA_FILE}`] = await readFile(path.join(models, name, METADATA_FILE));
    const asked = serve(served);
    const listed = await shippedModels(BASE, BUILD_TRUST_ROOTS);
    expect(listed.map((m) => m.name)).toEqual([index.default, ...Object.keys(index.shipped).filter((n) => n !== index.default).sort()]);
    expect(asked.every((u) => u.endsWith('index.json') || u.endsWith(METADATA_FILE)), 'no weights read').toBe(true);
    for (const m of listed) {
      if (!m.ok) throw new Error(m.problem);
      const dir = path.join(models, m.name);
      const meta = JSON.parse(await readFile(path.join(dir, METADATA_FILE), 'utf8'));
      expect(m).toMatchObject({ url: `${BASE}models/${m.name}/`, isDefault: m.name === index.default, hash: index.shipped[m.name], input: meta.input, binning: meta.preprocessing.binning, oodCheck: meta.ood !== undefined });
      expect(m.trust.status).toBe('shipped');
      // Version 2 records every file's size: the sum is what is downloaded (the files on disk, moa-lens.json aside).
      const onDisk = await Promise.all(Object.keys(meta.files).map(async (f) => (await stat(path.join(dir, f))).size));
      if (meta.version === 2) expect([m.sizeRecorded, m.downloadBytes]).toEqual([true, onDisk.reduce((a, b) => a + b, 0)]);
      else expect([m.sizeRecorded, m.downloadBytes]).toEqual([false, meta.weights.bytes]);
      expect((await readdir(dir)).includes(METADATA_FILE)).toBe(true);
    }
    expect(listed.find((m) => m.name === 'mcnn-sim-v1')).toMatchObject({ ok: true, oodCheck: false, sizeRecorded: false });
  });

  it('lists a shipped bundle it cannot read with the reason, the others still, and a changed one as unverified', async () => {
    const tinyMeta = tiny.get(METADATA_FILE)!;
    const changed = new TextEncoder().encode(new TextDecoder().decode(tinyMeta).replace('"name"', '"name" '));
    serve({
      [`${BASE}models/index.json`]: { default: 'tiny', shipped: { tiny: 'x', gone: 'y', changed: 'z' } },
      [`${BASE}models/tiny/${METADATA_FILE}`]: tinyMeta,
      [`${BASE}models/changed/${METADATA_FILE}`]: changed,
    });
    const pinned = parseTrustRoots({ shipped: { tiny: await sha256Hex(tinyMeta), changed: await sha256Hex(tinyMeta) } }, {});
    const [first, second, third] = await shippedModels(BASE, pinned);
    expect(first).toMatchObject({ ok: true, name: 'tiny', isDefault: true, trust: { status: 'shipped' }, sizeRecorded: true, oodCheck: false });
    expect(second).toMatchObject({ ok: true, name: 'changed', isDefault: false, trust: { status: 'unverified' } });
    expect(third).toEqual({ ok: false, name: 'gone', url: `${BASE}models/gone/`, isDefault: false, problem: `shipped bundle "gone": moa-lens.json is missing: the server answered HTTP 404 for /app/models/gone/${METADATA_FILE}` });
  });
});
