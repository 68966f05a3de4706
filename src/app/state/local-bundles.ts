// Bundles made in this browser (adapted models), kept in IndexedDB so they load offline and can be chosen again.
// Each is trusted by the sha256 of its moa-lens.json recorded when it was made here; the one in use is remembered (model-choice.ts).
import { METADATA_FILE, sha256Hex } from '../../core/bundle.ts';
import type { BundleFileBytes } from '../../engine/index.ts';

const DB_NAME = 'moa-lens-local-bundles';
const STORE = 'bundles';

/** A local bundle as listed: its name, when it was made, and the sha256 it was made with. */
export interface LocalBundleInfo {
  hash: string;
  name: string;
  createdAt: string;
  classes: string[];
}

interface LocalBundleRecord extends LocalBundleInfo {
  files: BundleFileBytes[];
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed.'));
  });
}

async function open(): Promise<IDBDatabase> {
  const r = indexedDB.open(DB_NAME, 1);
  r.onupgradeneeded = () => r.result.createObjectStore(STORE, { keyPath: 'hash' });
  return request(r);
}

async function withStore<T>(mode: IDBTransactionMode, run: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    const tx = db.transaction(STORE, mode);
    const result = await request(run(tx.objectStore(STORE)));
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed.'));
    });
    return result;
  } finally {
    db.close();
  }
}

/** Stores a bundle made here; returns how it is listed. Its hash is computed from its moa-lens.json, as the loader does. */
export async function saveLocalBundle(files: readonly BundleFileBytes[]): Promise<LocalBundleInfo> {
  const metadata = files.find((f) => f.name === METADATA_FILE);
  if (!metadata) throw new Error(`The bundle to store has no ${METADATA_FILE}.`);
  const parsed = JSON.parse(new TextDecoder().decode(metadata.bytes)) as { name: string; createdAt: string; classes: string[] };
  const info: LocalBundleInfo = { hash: await sha256Hex(metadata.bytes), name: parsed.name, createdAt: parsed.createdAt, classes: parsed.classes };
  await withStore('readwrite', (s) => s.put({ ...info, files: [...files] } satisfies LocalBundleRecord));
  return info;
}

/** Every stored bundle, newest first (none when IndexedDB is unavailable). */
export async function listLocalBundles(): Promise<LocalBundleInfo[]> {
  if (typeof indexedDB === 'undefined') return [];
  const all = (await withStore('readonly', (s) => s.getAll())) as LocalBundleRecord[];
  return all.map(({ hash, name, createdAt, classes }) => ({ hash, name, createdAt, classes })).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** A stored bundle's files, as File objects the engine loads like a dropped folder; null when it is not stored. */
export async function localBundleFiles(hash: string): Promise<File[] | null> {
  const record = (await withStore('readonly', (s) => s.get(hash))) as LocalBundleRecord | undefined;
  return record ? record.files.map((f) => new File([f.bytes as Uint8Array<ArrayBuffer>], f.name)) : null;
}

export async function deleteLocalBundle(hash: string): Promise<void> {
  await withStore('readwrite', (s) => s.delete(hash));
}
