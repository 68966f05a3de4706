// Engine in Chromium: parity with a Node reference (WASM threads), WebGPU = WASM, cancel, bad files, tampered bundle, flat memory.
import { generateKeyPairSync } from 'node:crypto';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmax } from '../../src/core/aggregate.ts';
import { METADATA_FILE } from '../../src/core/bundle-format.ts';
import { signingKeyFromPem, type SigningKey } from '../../src/core/bundle-trust.ts';
import { readBundleDir } from '../../training/src/bundle-fs.ts';
import { displayPlanes } from '../../src/core/display.ts';
import { decodeTiff } from '../../src/core/tiff/index.ts';
import { launchBrowser, type TestBrowser } from './harness/browser.ts';
import { classifyInPage, createPageEngine, displayInPage, loadPageBundle, openProbe, pageHeapBytes, pageEngineMemory, type FieldUrls } from './harness/engine-driver.ts';
import { tinyBundleFiles, writeFieldTiffs, writeFilesTo, writeZstdField, type FieldFiles } from './harness/fixtures.ts';
import { loadReference, maxAbsDiff, referencePrediction } from './harness/node-reference.ts';
import { WorkerHeapProbe } from './harness/worker-heap.ts';
import { REPO_ROOT, startServer, tempDir, type TestServer } from './harness/server.ts';
import type { Page } from 'playwright-core';

const MOUNT = '/__engine-test/';
/** The same folder, but a file missing there is answered by the dev server's SPA fallback (index.html, HTTP 200). */
const SPA_MOUNT = '/__engine-spa/';
const SHARD = 'group1-shard1of1.bin';
const ZSTD_TIFF = path.join(REPO_ROOT, 'test/fixtures/tiff/gray_u16_zstd.tif');
let tmp: { dir: string; cleanup: () => Promise<void> };
let server: TestServer;
let browser: TestBrowser;
let page: Page;
let fields: FieldFiles[];
let releaseKey: SigningKey;

const fieldUrls = (list: FieldFiles[], folder = 'fields'): FieldUrls[] =>
  list.map((f) => ({ id: f.id, urls: f.names.map((n) => `${MOUNT}${folder}/${n}`) }));

beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await tempDir('moa-lens-engine-test-');
  // 64x64 model, binning 2: a 128x160 field is 64x80 model pixels -> 2 overlapping tiles; 100x100 -> 1 padded tile.
  await writeFilesTo(path.join(tmp.dir, 'bundle'), await tinyBundleFiles({ height: 64, width: 64, binning: 2, seed: 11 }));
  fields = [...(await writeFieldTiffs(path.join(tmp.dir, 'fields'), 5, 128, 160, 1)), ...(await writeFieldTiffs(path.join(tmp.dir, 'fields'), 1, 100, 100, 50))];
  fields[5].id = 'padded';
  // Tampered copy: one byte of the weights changed.
  await cp(path.join(tmp.dir, 'bundle'), path.join(tmp.dir, 'tampered'), { recursive: true });
  const shard = path.join(tmp.dir, 'tampered', 'group1-shard1of1.bin');
  const bytes = await readFile(shard);
  bytes[100] ^= 0xff;
  await writeFile(shard, bytes);
  // Missing and short shards; bundles signed at export by a trusted key, by another key, and changed after signing.
  await cp(path.join(tmp.dir, 'bundle'), path.join(tmp.dir, 'noshard'), { recursive: true });
  await rm(path.join(tmp.dir, 'noshard', SHARD));
  await cp(path.join(tmp.dir, 'bundle'), path.join(tmp.dir, 'short'), { recursive: true });
  await writeFile(path.join(tmp.dir, 'short', SHARD), (await readFile(path.join(tmp.dir, 'bundle', SHARD))).subarray(0, 100));
  const newKey = () => signingKeyFromPem(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  releaseKey = await newKey();
  await writeFilesTo(path.join(tmp.dir, 'signed'), await tinyBundleFiles({ height: 64, width: 64, seed: 4, widthMultiplier: 0.125, signer: releaseKey }));
  await writeFilesTo(path.join(tmp.dir, 'other-key'), await tinyBundleFiles({ height: 64, width: 64, seed: 4, widthMultiplier: 0.125, signer: await newKey() }));
  await cp(path.join(tmp.dir, 'signed'), path.join(tmp.dir, 'signed-changed'), { recursive: true });
  const changed = path.join(tmp.dir, 'signed-changed', METADATA_FILE);
  await writeFile(changed, (await readFile(changed, 'utf8')).replace('"binning": 1', '"binning": 2'));
  // A field of Zstandard TIFFs (a codec geotiff loads on demand), 40x24, three distinct images (Actin: the libtiff file).
  await writeZstdField(path.join(tmp.dir, 'zstd'), 'Z01_s1', ZSTD_TIFF);
  // Unreadable file for the bad-input case.
  await writeFile(path.join(tmp.dir, 'fields', 'broken.tif'), new TextEncoder().encode('this is not a TIFF'));
  // Memory test fields: small, one tile each.
  await writeFilesTo(path.join(tmp.dir, 'bundle64'), await tinyBundleFiles({ height: 64, width: 64, binning: 1, seed: 3, widthMultiplier: 0.125 }));
  await writeFieldTiffs(path.join(tmp.dir, 'small'), 20, 64, 64, 100);

  server = await startServer({ mode: 'dev', mounts: { [MOUNT]: tmp.dir }, spaMounts: { [SPA_MOUNT]: tmp.dir } });
  browser = await launchBrowser({ webgpu: true, memoryInstrumentation: true });
  page = await browser.newPage();
  await openProbe(page, server.url);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await tmp?.cleanup();
});

describe('engine in Chromium', () => {
  let wasmProbabilities: number[][] = [];

  it('WASM (threaded SIMD, >1 thread) matches the Node reference per field', async () => {
    const info = await createPageEngine(page, 'wasm');
    expect(info.name).toBe('wasm');
    expect(info.crossOriginIsolated).toBe(true);
    expect(info.wasmBinary).toBe('threaded-simd');
    expect(info.threads).toBeGreaterThan(1);
    const bundle = await loadPageBundle(page, { url: `${MOUNT}bundle/` });
    expect(bundle.input).toEqual({ height: 64, width: 64, channels: 3 });
    const { results, progress, error } = await classifyInPage(page, fieldUrls(fields), { withTiles: true });
    expect(error).toBeUndefined();
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results).toHaveLength(fields.length);
    expect(progress.at(-1)).toMatchObject({ done: fields.length, total: fields.length, etaSeconds: 0 });

    const ref = await loadReference(await readBundleDir(path.join(tmp.dir, 'bundle')));
    let worst = 0;
    for (const [i, f] of fields.entries()) {
      const tiffs = await Promise.all(f.names.map((n) => readFile(path.join(tmp.dir, 'fields', n))));
      const expected = await referencePrediction(ref, tiffs.map((b) => new Uint8Array(b)));
      worst = Math.max(worst, maxAbsDiff(results[i].probabilities!, expected.probabilities), maxAbsDiff(results[i].tileProbabilities!, expected.tileProbabilities));
      expect(results[i].predicted).toBe(argmax(expected.probabilities));
      expect(results[i].tileCount).toBe(expected.grid.tiles.length);
    }
    expect(results[0].tileCount).toBe(2);
    expect(results[5].tileCount).toBe(1);
    console.log(`WASM vs Node cpu: max |dp| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
    // Fields differ from each other: the comparison is not between constant outputs.
    expect(maxAbsDiff(results[0].probabilities!, results[1].probabilities!)).toBeGreaterThan(1e-6);
    wasmProbabilities = results.map((r) => r.probabilities!);
  });

  it('WebGPU (software adapter) matches WASM', async () => {
    const info = await createPageEngine(page, 'webgpu');
    expect(info.name).toBe('webgpu');
    expect(info.adapter).toBeTruthy();
    await loadPageBundle(page, { url: `${MOUNT}bundle/` });
    const { results, error } = await classifyInPage(page, fieldUrls(fields));
    expect(error).toBeUndefined();
    expect(results.filter((r) => !r.ok)).toEqual([]);
    let worst = 0;
    results.forEach((r, i) => {
      worst = Math.max(worst, maxAbsDiff(r.probabilities!, wasmProbabilities[i]));
      expect(r.predicted).toBe(argmax(wasmProbabilities[i]));
    });
    console.log(`WebGPU (${info.adapter}) vs WASM: max |dp| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-3);
  });

  it('refuses a tampered bundle with the reason, from a URL and from dropped files', async () => {
    await createPageEngine(page, 'wasm');
    await expect(loadPageBundle(page, { url: `${MOUNT}tampered/` })).rejects.toThrow(/group1-shard1of1\.bin does not match the sha256/);
    const names = ['moa-lens.json', 'model.json', 'group1-shard1of1.bin'];
    await expect(loadPageBundle(page, { fileUrls: names.map((n) => `${MOUNT}tampered/${n}`) })).rejects.toThrow(/damaged or was modified/);
    const ok = await loadPageBundle(page, { fileUrls: names.map((n) => `${MOUNT}bundle/${n}`) });
    expect(ok.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names a missing shard whether the server says 404 or answers with its SPA fallback page, and a short one', async () => {
    await expect(loadPageBundle(page, { url: `${MOUNT}noshard/` })).rejects.toThrow(`bundle at ${MOUNT}noshard/: ${SHARD} is missing: the server answered HTTP 404 for ${MOUNT}noshard/${SHARD}.`);
    await expect(loadPageBundle(page, { url: `${SPA_MOUNT}noshard/` })).rejects.toThrow(
      `bundle at ${SPA_MOUNT}noshard/: ${SHARD} is missing: the server answered ${SPA_MOUNT}noshard/${SHARD} with an HTML page (its fallback for a file it does not have), not the file.`,
    );
    await expect(loadPageBundle(page, { url: `${MOUNT}short/` })).rejects.toThrow(new RegExp(`${SHARD} is missing or not the bundle's file: it has 100 bytes where moa-lens.json records \\d+`));
    await expect(loadPageBundle(page, { fileUrls: ['moa-lens.json', 'model.json'].map((n) => `${MOUNT}noshard/${n}`) })).rejects.toThrow(`${SHARD} is missing: not among the dropped files.`);
  });

  it('verifies Ed25519 signatures in Chromium: a trusted key signs, another key or a changed moa-lens.json is unverified; the default is shipped', async () => {
    await createPageEngine(page, 'wasm', undefined, [{ id: 'test-release', publicKey: releaseKey.publicKey }]);
    expect((await loadPageBundle(page, { url: `${MOUNT}signed/` })).trust).toMatchObject({ status: 'signed', detail: expect.stringContaining('signed by "test-release"') });
    expect((await loadPageBundle(page, { url: `${MOUNT}other-key/` })).trust).toMatchObject({ status: 'unverified', detail: expect.stringContaining('which this build does not trust') });
    const changed = await loadPageBundle(page, { url: `${MOUNT}signed-changed/` });
    expect(changed.preprocessing.binning).toBe(2);
    expect(changed.trust).toEqual({ status: 'unverified', detail: 'its signature by "test-release" does not match moa-lens.json: the bundle was changed after it was signed' });
    expect((await loadPageBundle(page, { url: `${MOUNT}bundle/` })).trust.status).toBe('unverified');
    expect((await loadPageBundle(page, 'default')).trust).toMatchObject({ status: 'shipped' });
  });

  it('reports a bad file per field and completes the rest; cancel stops early and the engine stays usable', async () => {
    const list = fieldUrls(fields.slice(0, 3));
    list[1] = { id: 'bad', urls: [`${MOUNT}fields/broken.tif`, ...list[1].urls.slice(1)] };
    const { results } = await classifyInPage(page, list);
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(results[1]).toMatchObject({ stage: 'decode' });
    expect(results[1].message).toContain('broken.tif');

    const many = fieldUrls([...fields, ...fields, ...fields]);
    const cancelled = await classifyInPage(page, many, { cancelAfter: 2 });
    expect(cancelled.error).toMatch(/^AbortError/);
    expect(cancelled.progress.at(-1)!.done).toBeLessThan(many.length);
    const again = await classifyInPage(page, fieldUrls(fields.slice(0, 2)));
    expect(again.error).toBeUndefined();
    expect(again.results).toHaveLength(2);
  });

  it('displays fields decoded in the worker (Zstandard too), box-averaged to maxSide, beside a running classification', async () => {
    const zstd: FieldUrls = { id: 'zstd', urls: ['w1', 'w2', 'w4'].map((w) => `${MOUNT}zstd/Z01_s1_${w}.tif`) };
    const decoded = (await decodeTiff(await readFile(ZSTD_TIFF), 'zstd.tif')).planes[0];
    const shown = await displayInPage(page, zstd);
    expect(shown).toMatchObject({ channels: ['DNA', 'Tubulin', 'Actin'], binning: 1, sourceHeight: 24, sourceWidth: 40 });
    expect('planes' in shown && shown.planes[2]).toEqual({ height: 24, width: 40, type: 'Uint16Array', values: Array.from(decoded.data) });
    const { results } = await classifyInPage(page, [zstd]);
    expect(results[0]).toMatchObject({ ok: true, tileCount: 1 });

    const field = fieldUrls(fields)[0];
    const tiffs = await Promise.all(fields[0].names.map(async (n) => (await decodeTiff(await readFile(path.join(tmp.dir, 'fields', n)), n)).planes[0]));
    const expected = displayPlanes(tiffs, 64);
    const small = await displayInPage(page, field, 64);
    expect(small).toMatchObject({ binning: 3, sourceHeight: 128, sourceWidth: 160 });
    expect('planes' in small && small.planes).toEqual(expected.planes.map((p) => ({ height: 43, width: 54, type: 'Uint16Array', values: Array.from(p.data) })));
    expect(await displayInPage(page, { id: 'bad', urls: [`${MOUNT}fields/broken.tif`, ...field.urls.slice(1)] })).toEqual({ error: expect.stringMatching(/^FieldError: .*broken\.tif/) });

    // A display request is answered while a classification runs, not after it.
    const order = await page.evaluate(async (urls) => {
      const engine = (window as unknown as { engine: import('../../src/engine/types.ts').Engine }).engine;
      const files = await Promise.all(urls.map(async (u) => new File([await (await fetch(u)).blob()], u.split('/').pop()!)));
      const input = { id: 'f', channels: { DNA: files[0], Tubulin: files[1], Actin: files[2] } };
      let done = 0;
      const run = engine.classify(Array.from({ length: 12 }, (_, i) => ({ ...input, id: `f${i}` })), { onProgress: (p) => (done = p.done) });
      const shownAt = await engine.displayField(input).then(() => done);
      await run;
      return { shownAt, total: done };
    }, field.urls);
    expect(order.total).toBe(12);
    expect(order.shownAt).toBeLessThan(12);
  });

  it('keeps tensors, WASM heap and JS heap flat over 300 fields', async () => {
    // A fresh page: the heap probe asks every worker target, and the earlier tests' engine workers would be counted (or never answer).
    await page.close();
    page = await browser.newPage();
    await openProbe(page, server.url);
    await createPageEngine(page, 'wasm');
    await loadPageBundle(page, { url: `${MOUNT}bundle64/` });
    const small = fieldUrls((await import('node:fs')).readdirSync(path.join(tmp.dir, 'small')).filter((n) => n.includes('_w1_')).map((n) => ({ id: n, names: [n, n.replace('_w1_', '_w2_'), n.replace('_w1_', '_w4_')] })), 'small');
    expect(small).toHaveLength(20);
    const heapProbe = await WorkerHeapProbe.open(browser.context);
    const samples = [];
    const heaps: number[] = [];
    for (let round = 0; round < 15; round++) {
      const { results, error } = await classifyInPage(page, small);
      expect(error).toBeUndefined();
      expect(results.every((r) => r.ok)).toBe(true);
      samples.push(await pageEngineMemory(page));
      heaps.push((await heapProbe.heapBytes('worker')).reduce((a, b) => a + b, 0) + (await pageHeapBytes(page)));
    }
    const warm = samples[2];
    const last = samples.at(-1)!;
    console.log('memory after warm-up / after 300 fields:', JSON.stringify(warm), JSON.stringify(last));
    expect(last.numTensors).toBe(warm.numTensors);
    expect(last.numBytes).toBe(warm.numBytes);
    if (warm.backendBytes !== undefined) expect(last.backendBytes).toBe(warm.backendBytes);
    console.log('JS heap (page + worker) per round, MiB:', heaps.map((b) => (b / 2 ** 20).toFixed(1)).join(' '));
    await heapProbe.close();
    const warmHeap = Math.max(heaps[1], heaps[2]);
    expect(Math.max(...heaps.slice(3))).toBeLessThan(warmHeap * 1.2 + 2 * 2 ** 20);
  }, 300_000);

  it('made no request outside its origin', () => {
    expect(browser.requests.length).toBeGreaterThan(10);
    expect(browser.foreignRequests(server.origin)).toEqual([]);
  });
});
