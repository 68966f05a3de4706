// Where the engine finds a served bundle (one resolution of models/index.json, against one base URL) and which files it keeps offline.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bundleFiles, bundleFolder, servedBundleFiles } from '../../src/engine/bundle-source.ts';

const BASE = 'https://lens.example/app/';

/** A fetch that serves `files` (absolute URL -> JSON) and records what was asked. */
function serve(files: Record<string, unknown>): string[] {
  const asked: string[] = [];
  vi.stubGlobal('fetch', async (url: URL) => {
    asked.push(url.href);
    const body = files[url.href];
    return body === undefined ? new Response('not found', { status: 404 }) : new Response(JSON.stringify(body));
  });
  return asked;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('engine bundle sources', () => {
  it('lists a bundle folder: moa-lens.json, model.json, then the shards with their sha256, as absolute URLs', () => {
    const files = bundleFiles(new URL('models/tiny/', BASE), { files: { 'group1-shard2of2.bin': 'b2', 'model.json': 'm', 'group1-shard1of2.bin': 'b1' } });
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

  it('lists a served bundle from its moa-lens.json, and nothing for dropped files', async () => {
    serve({ [`${BASE}models/index.json`]: { default: 'tiny' }, [`${BASE}models/tiny/moa-lens.json`]: { files: { 'model.json': 'm', 'group1-shard1of1.bin': 'b' } } });
    expect((await servedBundleFiles('default', BASE)).map((f) => f.url.slice(BASE.length))).toEqual(['models/tiny/moa-lens.json', 'models/tiny/model.json', 'models/tiny/group1-shard1of1.bin']);
    expect(await servedBundleFiles([], BASE)).toEqual([]);
  });
});
