// Drives the engine inside a page (via the probe page's window.moaLens) and returns plain JSON to Node.
import type { Page } from 'playwright-core';
import type { BackendChoice, BackendInfo, BundleSource, EngineMemory, LoadedBundle, TrustedKey } from '../../../src/engine/types.ts';

export const PROBE_PAGE = 'test/browser/harness/engine-probe.html';

export interface PlainFieldResult {
  id: string;
  ok: boolean;
  probabilities?: number[];
  predicted?: number;
  top3?: { index: number; label: string; probability: number }[];
  tileProbabilities?: number[];
  tileCount?: number;
  stage?: string;
  message?: string;
  timings?: { readMs: number; decodeMs: number; preprocessMs: number; inferMs: number };
}

export interface FieldUrls {
  id: string;
  /** DNA, Tubulin, Actin file URLs (same origin). */
  urls: string[];
}

/** Opens the probe page; resolves once the engine module has loaded. */
export async function openProbe(page: Page, baseUrl: string): Promise<void> {
  await page.goto(new URL(PROBE_PAGE, baseUrl).href);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', undefined, { timeout: 60_000 });
}

/** Creates (replacing any previous) the page's engine, trusting `trustedKeys` besides the build's keys; returns its backend report. */
export function createPageEngine(page: Page, backend: BackendChoice, threads?: number, trustedKeys?: TrustedKey[]): Promise<BackendInfo> {
  return page.evaluate(
    async ({ backend, threads, trustedKeys }) => {
      const w = window as unknown as { engine?: { dispose(): void; backendInfo: unknown } };
      w.engine?.dispose();
      w.engine = await window.moaLens.createEngine({ backend, threads, trustedKeys });
      return w.engine.backendInfo as BackendInfo;
    },
    { backend, threads, trustedKeys },
  );
}

/** Loads a bundle from a same-origin URL, 'default', or (filesFromUrls) by fetching files and passing File objects. */
export function loadPageBundle(page: Page, source: { url: string } | 'default' | { fileUrls: string[] }): Promise<LoadedBundle> {
  return page.evaluate(async (source) => {
    const engine = (window as unknown as { engine: { loadBundle(s: BundleSource): Promise<LoadedBundle> } }).engine;
    if (typeof source === 'object' && 'fileUrls' in source) {
      const files = await Promise.all(
        source.fileUrls.map(async (u) => new File([await (await fetch(u)).blob()], u.split('/').pop()!)),
      );
      return engine.loadBundle(files);
    }
    return engine.loadBundle(source);
  }, source);
}

/**
 * Classifies fields whose channel files the page fetches as Files; returns plain results, the
 * progress events seen, and the ms the classify call took.
 */
export function classifyInPage(
  page: Page,
  fields: FieldUrls[],
  options: { cancelAfter?: number; withTiles?: boolean } = {},
): Promise<{ results: PlainFieldResult[]; progress: { done: number; total: number; etaSeconds: number | null }[]; ms: number; error?: string }> {
  return page.evaluate(
    async ({ fields, options }) => {
      const engine = (window as unknown as { engine: import('../../../src/engine/types.ts').Engine }).engine;
      const inputs = await Promise.all(
        fields.map(async (f) => {
          const files = await Promise.all(f.urls.map(async (u) => new File([await (await fetch(u)).blob()], u.split('/').pop()!)));
          return { id: f.id, channels: { DNA: files[0], Tubulin: files[1], Actin: files[2] } };
        }),
      );
      const progress: { done: number; total: number; etaSeconds: number | null }[] = [];
      const controller = new AbortController();
      const t0 = performance.now();
      let error: string | undefined;
      let raw: import('../../../src/engine/types.ts').FieldResult[] = [];
      try {
        raw = await engine.classify(inputs, {
          signal: controller.signal,
          onProgress: (p) => {
            progress.push({ done: p.done, total: p.total, etaSeconds: p.etaSeconds });
            if (options.cancelAfter !== undefined && p.done >= options.cancelAfter) controller.abort();
          },
        });
      } catch (e) {
        error = `${(e as Error).name}: ${(e as Error).message}`;
      }
      const ms = performance.now() - t0;
      const results = raw.map((r) =>
        r.ok
          ? {
              id: r.id,
              ok: true,
              probabilities: Array.from(r.probabilities),
              predicted: r.predicted,
              top3: r.top3,
              tileProbabilities: options.withTiles ? Array.from(r.tileProbabilities) : undefined,
              tileCount: r.tiles.tiles.length,
              timings: r.timings,
            }
          : { id: r.id, ok: false, stage: r.stage, message: r.message },
      );
      return { results, progress, ms, error };
    },
    { fields, options },
  );
}

export interface PlainDisplay {
  channels: string[];
  binning: number;
  sourceHeight: number;
  sourceWidth: number;
  planes: { height: number; width: number; type: string; values: number[] }[];
}

/** Asks the page's engine for a field's display planes (files fetched by the page); the error's name and message when it refuses. */
export function displayInPage(page: Page, field: FieldUrls, maxSide?: number): Promise<PlainDisplay | { error: string }> {
  return page.evaluate(
    async ({ field, maxSide }) => {
      const engine = (window as unknown as { engine: import('../../../src/engine/types.ts').Engine }).engine;
      const files = await Promise.all(field.urls.map(async (u) => new File([await (await fetch(u)).blob()], u.split('/').pop()!)));
      try {
        const d = await engine.displayField({ id: field.id, channels: { DNA: files[0], Tubulin: files[1], Actin: files[2] } }, { maxSide });
        const planes = d.planes.map((p) => ({ height: p.height, width: p.width, type: p.data.constructor.name, values: Array.from(p.data) }));
        return { channels: d.channels, binning: d.binning, sourceHeight: d.sourceHeight, sourceWidth: d.sourceWidth, planes };
      } catch (e) {
        return { error: `${(e as Error).name}: ${(e as Error).message}` };
      }
    },
    { field, maxSide },
  );
}

export function pageEngineMemory(page: Page): Promise<EngineMemory> {
  return page.evaluate(() => (window as unknown as { engine: { memory(): Promise<EngineMemory> } }).engine.memory());
}

/** Used JS heap of the page's main thread after a GC (needs --enable-precise-memory-info --js-flags=--expose-gc). */
export function pageHeapBytes(page: Page): Promise<number> {
  return page.evaluate(() => {
    (globalThis as { gc?: () => void }).gc?.();
    const memory = (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory;
    if (!memory) throw new Error('performance.memory is unavailable');
    return memory.usedJSHeapSize;
  });
}
