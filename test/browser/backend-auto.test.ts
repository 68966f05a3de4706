// 'auto' measures, not guesses: with Chromium's software WebGPU adapter (SwiftShader) it probes both backends on the
// shipped model, keeps WASM and says why in the header; a later start with the same model and device does not probe;
// WebGPU forced still classifies a field.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendInfo } from '../../src/engine/types.ts';
import { writeDemoPlate } from '../../training/src/simulate/demo-plate.ts';
import { launchBrowser, type TestBrowser } from './harness/browser.ts';
import { classifyInPage, createPageEngine, loadPageBundle, openProbe } from './harness/engine-driver.ts';
import { REPO_ROOT, startServer, type TestServer } from './harness/server.ts';

const DEMO = path.join(REPO_ROOT, 'public/demo');
let server: TestServer;
let browser: TestBrowser;
let page: Page;
let field: { id: string; urls: string[] };

beforeAll(async () => {
  await writeDemoPlate(await readFile(path.join(DEMO, 'plate.json'), 'utf8'), DEMO);
  const files = (JSON.parse(await readFile(path.join(DEMO, 'index.json'), 'utf8')) as { files: string[] }).files.filter((f) => f.endsWith('.tif'));
  const first = files[0].replace(/_w[0-9][^/]*$/, '');
  const channel = (w: string) => files.find((f) => f.startsWith(first) && f.slice(first.length).startsWith(`_w${w}`))!;
  server = await startServer({ mode: 'dev' });
  field = { id: 'demo-1', urls: ['1', '2', '4'].map((w) => new URL(`demo/${channel(w)}`, server.url).href) };
  browser = await launchBrowser({ webgpu: true });
  page = await browser.newPage();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe("'auto' backend in Chromium with a software WebGPU adapter", () => {
  it('probes both on the first start, keeps WASM and says why in the header', async () => {
    await page.goto(server.url);
    const reason = page.getByTestId('backend-reason');
    await reason.waitFor({ timeout: 120_000 });
    const text = (await reason.textContent()) ?? '';
    console.log(`header: ${await page.getByTestId('backend').textContent()} | ${text}`);
    expect(await page.getByTestId('backend').textContent()).toMatch(/^WASM threaded-simd/);
    expect(text).toMatch(/^WASM [\d,]+ ms\/tile, WebGPU \(SwiftShader[^)]*\) (over )?[\d,]+ ms[^:]*: WASM/);
    expect(text).not.toMatch(/remembered/);
  });

  it('a later start with the same model and device reads the remembered choice and does not probe', async () => {
    await openProbe(page, server.url);
    await createPageEngine(page, 'auto');
    const bundle = await loadPageBundle(page, 'default');
    const auto = bundle.backend.auto!;
    expect(bundle.backend.name).toBe('wasm');
    expect(auto).toMatchObject({ winner: 'wasm', probed: false, remembered: true, probeMs: 0 });
    expect(auto.candidates.map((c) => c.backend).sort()).toEqual(['wasm', 'webgpu']);
    const current = await page.evaluate(() => (window as unknown as { engine: { backendInfo: BackendInfo } }).engine.backendInfo);
    expect(current.auto?.probed).toBe(false);
  });

  it('re-measures for another device key, and the probe adds little to the start', async () => {
    // Another device: forget the remembered choices (what a changed adapter or core count amounts to).
    await page.evaluate(() => {
      for (const k of Object.keys(localStorage)) if (k.startsWith('moa-lens.backend-choice.')) localStorage.removeItem(k);
    });
    await createPageEngine(page, 'auto');
    const bundle = await loadPageBundle(page, 'default');
    const auto = bundle.backend.auto!;
    expect(auto).toMatchObject({ winner: 'wasm', probed: true, remembered: false });
    const [wasm, gpu] = ['wasm', 'webgpu'].map((b) => auto.candidates.find((c) => c.backend === b)!);
    expect(wasm.outcome).toBe('ok');
    expect(gpu.fallbackAdapter !== undefined).toBe(true);
    expect(gpu.outcome !== 'ok' || gpu.msPerTile! >= wasm.msPerTile! * 0.9).toBe(true);
    // Speed goals belong in benchmarks: recorded in docs/engine-browser.md, printed here, not asserted.
    console.log(`probe: ${auto.probeMs.toFixed(0)} ms added to a ${bundle.loadMs.toFixed(0)} ms load; ${auto.summary}`);
    const { results, error } = await classifyInPage(page, [field]);
    expect(error).toBeUndefined();
    expect(results[0].ok).toBe(true);
  });

  it('WebGPU forced still classifies a field', async () => {
    const info = await createPageEngine(page, 'webgpu');
    expect(info.name).toBe('webgpu');
    expect(info.auto).toBeUndefined();
    const bundle = await loadPageBundle(page, 'default');
    expect(bundle.backend.name).toBe('webgpu');
    const { results, error } = await classifyInPage(page, [field]);
    expect(error).toBeUndefined();
    expect(results[0].ok).toBe(true);
    console.log(`WebGPU (${info.adapter}) forced: ${results[0].timings?.inferMs.toFixed(0)} ms inference for one field`);
  }, 300_000);
});
