// Turns a drop (files and folders, via FileSystemEntry) or a file picker selection into files with relative paths,
// and reads what the images hold (their channels) before a run.
import { probeImageFile, type ImageChannels } from '../../core/image-probe.ts';
import { checkBeforeReading, DEFAULT_MAX_DECODE_BYTES } from '../../core/tiff/index.ts';

/** A file with the path it had inside what the user dropped or picked ("Week1_22123/B02_s1_w1.tif"). */
export interface DroppedFile {
  file: File;
  path: string;
}

/** A folder or file that could not be read (permission, vanished), with the reason. */
export interface DropProblem {
  path: string;
  message: string;
}

export interface DropResult {
  files: DroppedFile[];
  problems: DropProblem[];
}

/** The parts of FileSystemEntry this module uses (so tests can pass plain objects). */
export interface EntryLike {
  isFile: boolean;
  isDirectory: boolean;
  name: string;
  fullPath?: string;
}
export interface FileEntryLike extends EntryLike {
  file(success: (file: File) => void, error?: (err: unknown) => void): void;
}
export interface DirectoryEntryLike extends EntryLike {
  createReader(): { readEntries(success: (entries: EntryLike[]) => void, error?: (err: unknown) => void): void };
}

/** The parts of DataTransferItem this module uses. */
export interface ItemLike {
  kind: string;
  webkitGetAsEntry?(): EntryLike | null;
  getAsFile(): File | null;
}

/** Most files one drop may collect; a guard against dropping a whole disk. */
export const MAX_DROPPED_FILES = 200_000;

function message(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'name' in err) return String((err as { name: unknown }).name);
  return String(err);
}

function readFile(entry: FileEntryLike): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

/** All entries of a directory: readEntries returns batches (100 in Chromium) until an empty one. */
async function readAll(dir: DirectoryEntryLike): Promise<EntryLike[]> {
  const reader = dir.createReader();
  const out: EntryLike[] = [];
  for (;;) {
    const batch = await new Promise<EntryLike[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return out;
    out.push(...batch);
  }
}

/** Walks entries depth-first, collecting files with their relative paths; hidden files (".DS_Store") are skipped. */
export async function collectEntries(entries: EntryLike[]): Promise<DropResult> {
  const result: DropResult = { files: [], problems: [] };
  const walk = async (entry: EntryLike, prefix: string): Promise<void> => {
    if (result.files.length >= MAX_DROPPED_FILES) return;
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.name.startsWith('.')) return;
    if (entry.isFile) {
      try {
        result.files.push({ file: await readFile(entry as FileEntryLike), path });
      } catch (err) {
        result.problems.push({ path, message: `Could not read this file (${message(err)}).` });
      }
    } else if (entry.isDirectory) {
      let children: EntryLike[];
      try {
        children = await readAll(entry as DirectoryEntryLike);
      } catch (err) {
        result.problems.push({ path, message: `Could not list this folder (${message(err)}).` });
        return;
      }
      children.sort((a, b) => a.name.localeCompare(b.name));
      for (const child of children) await walk(child, path);
    }
  };
  for (const entry of entries) await walk(entry, '');
  if (result.files.length >= MAX_DROPPED_FILES)
    result.problems.push({ path: '', message: `Stopped after ${MAX_DROPPED_FILES} files; drop fewer folders at once.` });
  return result;
}

/**
 * Files from a drop. Entries must be taken from the items synchronously, inside the drop handler,
 * before anything is awaited (the browser empties the DataTransfer afterwards): call this directly
 * from the handler. Items without entry support fall back to getAsFile.
 */
export function collectDrop(items: ArrayLike<ItemLike>): Promise<DropResult> {
  const entries: EntryLike[] = [];
  const loose: DroppedFile[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item.kind !== 'file') continue;
    const entry = item.webkitGetAsEntry?.() ?? null;
    if (entry) entries.push(entry);
    else {
      const file = item.getAsFile();
      if (file) loose.push({ file, path: file.name });
    }
  }
  return collectEntries(entries).then((r) => ({ files: [...loose, ...r.files], problems: r.problems }));
}

/** Files from an <input type="file"> (with or without webkitdirectory): the relative path when the browser gives one. */
export function collectPicked(files: ArrayLike<File>): DropResult {
  const out: DroppedFile[] = [];
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    const rel = (file as File & { webkitRelativePath?: string }).webkitRelativePath;
    const path = rel || file.name;
    if (path.split('/').some((part) => part.startsWith('.'))) continue;
    out.push({ file, path });
  }
  return { files: out, problems: [] };
}

export type DroppedKind = 'image' | 'metadata' | 'bundle' | 'other';

const IMAGE_EXT = /\.(tiff?|png|jpe?g)$/i;
const BUNDLE_FILE = /(^|\/)(moa-lens\.json|model\.json|group\d+-shard\d+of\d+\.bin)$/i;

/** What a dropped file is for, from its name. */
export function kindOf(path: string): DroppedKind {
  if (IMAGE_EXT.test(path)) return 'image';
  if (/\.csv$/i.test(path)) return 'metadata';
  if (BUNDLE_FILE.test(path)) return 'bundle';
  return 'other';
}

export interface SortedDrop {
  images: DroppedFile[];
  metadata: DroppedFile[];
  /** Files of a model bundle (moa-lens.json present); empty when none was dropped. */
  bundle: DroppedFile[];
  /** Files that are none of the above, with why they are left out. */
  ignored: DropProblem[];
}

/** Splits dropped files by purpose. Bundle-looking files only count as a bundle when moa-lens.json is among them. */
export function sortDrop(files: DroppedFile[]): SortedDrop {
  const out: SortedDrop = { images: [], metadata: [], bundle: [], ignored: [] };
  const bundleLike: DroppedFile[] = [];
  for (const f of files) {
    const kind = kindOf(f.path);
    if (kind === 'image') out.images.push(f);
    else if (kind === 'metadata') out.metadata.push(f);
    else if (kind === 'bundle') bundleLike.push(f);
    else out.ignored.push({ path: f.path, message: 'Not an image (TIFF, PNG, JPEG), a metadata CSV or a model file; left out.' });
  }
  if (bundleLike.some((f) => /(^|\/)moa-lens\.json$/i.test(f.path))) out.bundle = bundleLike;
  else for (const f of bundleLike) out.ignored.push({ path: f.path, message: 'Looks like part of a model, but no moa-lens.json came with it; left out.' });
  return out;
}

/**
 * What each file holds (size and channels, from its header; no pixels decoded), by path, or the
 * error that says why it cannot be read. A TIFF is first checked by the engine's own size check, so a
 * file the run would refuse is refused here, before it, with the same message; then only its header and
 * the ranges its page directories lie in are read (core probeImageFile), not the pixels. One file at a
 * time; one bad file never stops the rest.
 */
export async function probeDropped(
  files: readonly DroppedFile[],
  onProgress?: (done: number, total: number) => void,
): Promise<Map<string, ImageChannels | Error>> {
  const out = new Map<string, ImageChannels | Error>();
  let done = 0;
  for (const { file, path } of files) {
    const name = path.split('/').pop() ?? path;
    try {
      const readSlice = async (offset: number, length: number) => {
        try {
          return new Uint8Array(await file.slice(offset, offset + length).arrayBuffer());
        } catch (e) {
          throw new Error(`Could not read "${name}" (${message(e)}).`);
        }
      };
      if (/\.tiff?$/i.test(name)) await checkBeforeReading(readSlice, file.size, name, DEFAULT_MAX_DECODE_BYTES);
      out.set(path, await probeImageFile(readSlice, file.size, name));
    } catch (err) {
      const problem = err instanceof Error ? err : new Error(String(err));
      out.set(path, problem.message.includes(name) ? problem : new Error(`Could not read "${name}" (${problem.message}).`));
    }
    onProgress?.(++done, files.length);
  }
  return out;
}
