// The demo plate: its index, then its files fetched from our own origin and handed to the app as if dropped.
import { DEMO_INDEX_FILE, type DemoIndex } from '../../core/demo-plate.ts';
import type { DropResult } from './drop.ts';

export interface DemoProgress {
  done: number;
  total: number;
  bytes: number;
}

export class DemoUnavailableError extends Error {}

/** Fetches every file of the demo plate (a few at a time) as Files with their paths inside the plate folder. */
export async function fetchDemoPlate(base: string, onProgress: (p: DemoProgress) => void = () => {}, fetchFn: typeof fetch = fetch, concurrency = 4): Promise<{ index: DemoIndex; drop: DropResult }> {
  const root = base.endsWith('/') ? base : `${base}/`;
  const response = await fetchFn(`${root}${DEMO_INDEX_FILE}`).catch(() => null);
  if (!response?.ok) throw new DemoUnavailableError('The demo plate is not on this server (build the app with `npm start`, which renders it, or run `npm run demo-plate`).');
  const index = (await response.json()) as DemoIndex;
  const drop: DropResult = { files: [], problems: [] };
  let next = 0;
  let bytes = 0;
  const worker = async () => {
    while (next < index.files.length) {
      const path = index.files[next++];
      try {
        const r = await fetchFn(root + path.split('/').map(encodeURIComponent).join('/'));
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        const blob = await r.blob();
        bytes += blob.size;
        drop.files.push({ path: `demo/${path}`, file: new File([blob], path.slice(path.lastIndexOf('/') + 1)) });
      } catch (err) {
        drop.problems.push({ path: `demo/${path}`, message: `could not be downloaded: ${(err as Error).message}` });
      }
      onProgress({ done: drop.files.length + drop.problems.length, total: index.files.length, bytes });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, index.files.length) }, worker));
  drop.files.sort((a, b) => a.path.localeCompare(b.path));
  return { index, drop };
}
