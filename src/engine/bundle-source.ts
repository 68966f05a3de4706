// Bundle sources in the worker: the default bundle (models/index.json), a same-origin folder URL, or dropped files.
import { loadBundle, sha256Hex, type VerifiedBundle } from '../core/bundle.ts';
import { bundleTrust } from '../core/bundle-trust.ts';
import { MAX_METADATA_BYTES, METADATA_FILE, MissingBundleFile, MODEL_FILE, parseBundleMetadata, SIGNATURE_FILE, type BundleFile, type BundleMetadata, type OpenBundleFile } from '../core/bundle-format.ts';
import type { TrustRoots } from '../core/bundle-trust.ts';
import type { BundleSource, OfflineFile, ShippedModel } from './types.ts';

/**
 * A served file, or MissingBundleFile: a 404, or an HTML page where the file should be (a dev or preview
 * server, or an SPA host, answers a missing file with the app's index.html and HTTP 200).
 */
async function openUrl(url: URL): Promise<BundleFile> {
  const response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) throw new MissingBundleFile(`the server answered HTTP ${response.status} for ${url.pathname}`);
  if (/html/i.test(response.headers.get('content-type') ?? '')) {
    void response.body?.cancel();
    throw new MissingBundleFile(`the server answered ${url.pathname} with an HTML page (its fallback for a file it does not have), not the file`);
  }
  const length = response.headers.get('content-length');
  const encoding = response.headers.get('content-encoding');
  const size = length !== null && (!encoding || encoding === 'identity') ? Number(length) : undefined;
  return { size, read: (max) => readBody(response, max + 1), discard: () => void response.body?.cancel() };
}

/** A response body, stopping after `limit` bytes. */
async function readBody(response: Response, limit: number): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (total < limit) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.length;
  }
  if (total >= limit) void reader.cancel();
  const out = new Uint8Array(Math.min(total, limit));
  let o = 0;
  for (const c of chunks) {
    out.set(c.subarray(0, out.length - o), o);
    o += Math.min(c.length, out.length - o);
  }
  return out;
}

function openInFolderUrl(folder: URL): OpenBundleFile {
  return (name) => openUrl(new URL(encodeURIComponent(name), folder));
}

/** Base name of a dropped file: webkitRelativePath's last part, else the name. */
function baseName(file: File): string {
  const path = (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name;
  return path.split('/').pop() ?? path;
}

function openInFiles(files: File[]): OpenBundleFile {
  const byName = new Map(files.map((f) => [baseName(f), f]));
  return async (name) => {
    const file = byName.get(name);
    if (!file) throw new MissingBundleFile('not among the dropped files');
    return { size: file.size, read: async (max) => new Uint8Array(await file.slice(0, max + 1).arrayBuffer()) };
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
  const name = (await readModelIndex(baseUrl)).default;
  return { folder: shippedFolder(name, baseUrl), label: `default bundle "${name}"` };
}

/** What the served models/index.json names: the default bundle and the shipped ones (their pins are the build's, not the server's). */
async function readModelIndex(baseUrl: string): Promise<{ default: string; shipped: string[] }> {
  const indexUrl = new URL('models/index.json', baseUrl);
  try {
    const index = JSON.parse(new TextDecoder().decode(await (await openUrl(indexUrl)).read(MAX_METADATA_BYTES))) as { default?: unknown; shipped?: unknown };
    if (typeof index.default !== 'string' || !index.default) throw new Error('it names no "default" bundle');
    const shipped = typeof index.shipped === 'object' && index.shipped !== null && !Array.isArray(index.shipped) ? Object.keys(index.shipped) : [];
    return { default: index.default, shipped };
  } catch (e) {
    throw new Error(`Cannot read the model index ${indexUrl.pathname}: ${(e as Error).message}`);
  }
}

/** The folder of a bundle models/index.json names (models/<name>/ under the base). */
function shippedFolder(name: string, baseUrl: string): URL {
  return sameOriginFolder(`models/${encodeURIComponent(name)}/`, baseUrl);
}

/**
 * Every bundle models/index.json lists (the default first, then the shipped ones by name), each from its
 * moa-lens.json alone, checked as the loader checks it (parseBundleMetadata, and its trust from its sha256 and
 * signature against the build's roots); one that cannot be read is listed with the reason, the rest still are.
 */
export async function shippedModels(baseUrl: string, trust: TrustRoots): Promise<ShippedModel[]> {
  const index = await readModelIndex(baseUrl);
  const names = [index.default, ...index.shipped.filter((n) => n !== index.default).sort()];
  return Promise.all(
    names.map(async (name): Promise<ShippedModel> => {
      const folder = shippedFolder(name, baseUrl);
      const url = folder.href;
      const label = `shipped bundle "${name}"`;
      try {
        const open = openInFolderUrl(folder);
        const bytes = await (await open(METADATA_FILE)).read(MAX_METADATA_BYTES);
        if (bytes.length > MAX_METADATA_BYTES) throw new Error(`${METADATA_FILE} is larger than ${MAX_METADATA_BYTES} bytes`);
        const metadata = parseBundleMetadata(bytes, label);
        const hash = await sha256Hex(bytes);
        const readSignature = () => open(SIGNATURE_FILE).then((f) => f.read(MAX_METADATA_BYTES), () => undefined);
        const sizes = Object.values(metadata.files).map((f) => f.bytes);
        const sizeRecorded = sizes.every((b) => b !== undefined);
        return {
          ok: true,
          name,
          url,
          isDefault: name === index.default,
          bundleName: metadata.name,
          hash,
          trust: await bundleTrust(hash, bytes, readSignature, trust),
          input: metadata.input,
          binning: metadata.preprocessing.binning,
          downloadBytes: sizeRecorded ? sizes.reduce<number>((a, b) => a + b!, 0) : metadata.weights.bytes,
          sizeRecorded,
          oodCheck: metadata.ood !== undefined,
          classes: metadata.classes.length,
        };
      } catch (e) {
        const message = e instanceof MissingBundleFile ? `${METADATA_FILE} is missing: ${e.message}` : (e as Error).message;
        return { ok: false, name, url, isDefault: name === index.default, problem: message.startsWith(label) ? message : `${label}: ${message}` };
      }
    }),
  );
}

/** Reads and verifies a bundle from any source (BundleError on a bad bundle); `trust` decides what is shipped or signed. */
export async function readBundle(source: BundleSource, baseUrl: string, trust: TrustRoots): Promise<VerifiedBundle> {
  if (Array.isArray(source)) {
    if (source.length === 0) throw new Error('No bundle files were given.');
    const first = source[0] as File & { webkitRelativePath?: string };
    const folder = first.webkitRelativePath?.split('/').slice(0, -1).join('/') || 'dropped files';
    return loadBundle(openInFiles(source), { label: `bundle "${folder}"`, trust });
  }
  const { folder, label } = await bundleFolder(source, baseUrl);
  return loadBundle(openInFolderUrl(folder), { label, trust });
}

/**
 * The files of a bundle folder: moa-lens.json, model.json, the weight shards, each file but moa-lens.json
 * with the sha256 moa-lens.json records (a cache keyed by it fetches a changed model again), and the
 * signature when the bundle has one.
 */
export function bundleFiles(folder: URL, metadata: Pick<BundleMetadata, 'files'>, signed = false): OfflineFile[] {
  const names = Object.keys(metadata.files).sort((a, b) => (a === MODEL_FILE ? -1 : b === MODEL_FILE ? 1 : a.localeCompare(b)));
  const url = (name: string) => new URL(encodeURIComponent(name), folder).href;
  return [{ url: url(METADATA_FILE) }, ...names.map((name) => ({ url: url(name), sha256: metadata.files[name].sha256 })), ...(signed ? [{ url: url(SIGNATURE_FILE) }] : [])];
}

/**
 * The files of a served bundle, read from its moa-lens.json (names checked as the loader checks them), with
 * its signature file when it is not a shipped bundle and has one; none for dropped files (they are not on the network).
 */
export async function servedBundleFiles(source: BundleSource, baseUrl: string, trust: TrustRoots): Promise<OfflineFile[]> {
  if (Array.isArray(source)) return [];
  const { folder, label } = await bundleFolder(source, baseUrl);
  const open = openInFolderUrl(folder);
  const bytes = await (await open(METADATA_FILE)).read(MAX_METADATA_BYTES);
  const metadata = parseBundleMetadata(bytes, label);
  const shipped = Object.values(trust.shipped).includes(await sha256Hex(bytes));
  const signed = !shipped && (await open(SIGNATURE_FILE).then((f) => (f.discard?.(), true), () => false));
  return bundleFiles(folder, metadata, signed);
}
