// Bundle sources in the worker: the default bundle (models/index.json), a same-origin folder URL, or dropped files.
import { loadBundle, METADATA_FILE, MODEL_FILE, type BundleMetadata, type ReadBundleFile, type VerifiedBundle } from '../core/bundle.ts';
import type { BundleSource, OfflineFile } from './types.ts';

async function fetchBytes(url: URL): Promise<Uint8Array> {
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`HTTP ${response.status} for ${url.pathname}`);
  return new Uint8Array(await response.arrayBuffer());
}

function readFromFolderUrl(folder: URL): ReadBundleFile {
  return (name) => fetchBytes(new URL(encodeURIComponent(name), folder));
}

/** Base name of a dropped file: webkitRelativePath's last part, else the name. */
function baseName(file: File): string {
  const path = (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name;
  return path.split('/').pop() ?? path;
}

function readFromFiles(files: File[]): ReadBundleFile {
  const byName = new Map(files.map((f) => [baseName(f), f]));
  return async (name) => {
    const file = byName.get(name);
    if (!file) throw new Error('not among the dropped files');
    return new Uint8Array(await file.arrayBuffer());
  };
}

/** Folder URL that must stay on our origin; anything else is refused before a request is made. */
function sameOriginFolder(url: string, baseUrl: string): URL {
  const folder = new URL(url.endsWith('/') ? url : `${url}/`, baseUrl);
  if (folder.origin !== new URL(baseUrl).origin) throw new Error(`Bundle URL ${folder.href} is not on this site's origin; MoA Lens loads nothing from other hosts.`);
  return folder;
}

/** A bundle served from a folder of our origin, and how messages name it. */
export interface BundleFolder {
  folder: URL;
  label: string;
}

/**
 * Where a served bundle lives: 'default' is the folder models/index.json names, { url } that folder;
 * both resolve against `baseUrl` (the app's base) and must stay on its origin.
 */
export async function bundleFolder(source: 'default' | { url: string }, baseUrl: string): Promise<BundleFolder> {
  if (source !== 'default') {
    const folder = sameOriginFolder(source.url, baseUrl);
    return { folder, label: `bundle at ${folder.pathname}` };
  }
  const indexUrl = new URL('models/index.json', baseUrl);
  let name: string;
  try {
    const index = JSON.parse(new TextDecoder().decode(await fetchBytes(indexUrl))) as { default?: unknown };
    if (typeof index.default !== 'string' || !index.default) throw new Error('it names no "default" bundle');
    name = index.default;
  } catch (e) {
    throw new Error(`Cannot read the model index ${indexUrl.pathname}: ${(e as Error).message}`);
  }
  return { folder: sameOriginFolder(`models/${encodeURIComponent(name)}/`, baseUrl), label: `default bundle "${name}"` };
}

/** Reads and verifies a bundle from any source (BundleError on a bad bundle). */
export async function readBundle(source: BundleSource, baseUrl: string): Promise<VerifiedBundle> {
  if (Array.isArray(source)) {
    if (source.length === 0) throw new Error('No bundle files were given.');
    const first = source[0] as File & { webkitRelativePath?: string };
    const folder = first.webkitRelativePath?.split('/').slice(0, -1).join('/') || 'dropped files';
    return loadBundle(readFromFiles(source), `bundle "${folder}"`);
  }
  const { folder, label } = await bundleFolder(source, baseUrl);
  return loadBundle(readFromFolderUrl(folder), label);
}

/**
 * The files of a bundle folder: moa-lens.json, model.json, then the weight shards, each file but
 * moa-lens.json with the sha256 moa-lens.json records (a cache keyed by it fetches a changed model again).
 */
export function bundleFiles(folder: URL, metadata: Pick<BundleMetadata, 'files'>): OfflineFile[] {
  const names = Object.keys(metadata.files).sort((a, b) => (a === MODEL_FILE ? -1 : b === MODEL_FILE ? 1 : a.localeCompare(b)));
  return [{ url: new URL(METADATA_FILE, folder).href }, ...names.map((name) => ({ url: new URL(encodeURIComponent(name), folder).href, sha256: metadata.files[name] }))];
}

/** The files of a served bundle, read from its moa-lens.json; none for dropped files (they are not on the network). */
export async function servedBundleFiles(source: BundleSource, baseUrl: string): Promise<OfflineFile[]> {
  if (Array.isArray(source)) return [];
  const { folder } = await bundleFolder(source, baseUrl);
  const metadata = JSON.parse(new TextDecoder().decode(await fetchBytes(new URL(METADATA_FILE, folder)))) as Pick<BundleMetadata, 'files'>;
  return bundleFiles(folder, metadata);
}
