// Downloads the real BBBC021 into the layout `--data` reads: the metadata CSVs at the root and each plate's TIFFs
// where the image table's Image_PathName_* says (Week<N>/Week<N>_<plate>/), one zip per plate from the BBBC.
// A plate is unpacked into a folder beside the data and renamed into place with a marker file only once every
// entry of its zip passed its CRC-32 check, so a plate folder is either complete or absent.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fieldsFromImageTable, parseImageTable, parseMoaTable } from '../../../../src/core/metadata.ts';
import { CHANNELS, isMoaClass } from '../../../../src/core/labels.ts';
import { ConfigError, DataError } from '../../util/cli.ts';
import { IMAGE_TABLE, MOA_TABLE } from '../dataset-index.ts';
import { downloadFile, MissingOnServerError, type DownloadOptions } from './http-download.ts';
import type { TransferProgress } from './progress.ts';
import { readZipEntries, readZipEntry, ZipError } from './zip-reader.ts';

/** The Broad Bioimage Benchmark Collection's folder of BBBC021 (zips `BBBC021_v1_images_<plate>.zip`). */
export const BBBC021_BASE_URL = 'https://data.broadinstitute.org/bbbc/BBBC021/';
/** Written into a plate folder (before it is renamed into place) when every file of its zip was unpacked. */
export const PLATE_MARKER = '.bbbc021-plate.json';
/** Zips, their .part files and plates being unpacked, under --out (the same file system, so renames are atomic). */
export const DOWNLOAD_DIR = '.bbbc021-download';
/** The sha256 of every zip downloaded into this root, in `sha256sum` format (usable as --sha256 elsewhere). */
export const ZIP_CHECKSUMS = 'BBBC021_v1_images.sha256';
/** The size the progress line assumes for a zip before the server has said (they are 0.75-0.85 GB). */
export const ASSUMED_ZIP_BYTES = 0.8e9;

export function zipName(plate: string): string {
  return `BBBC021_v1_images_${plate}.zip`;
}

/** One plate to fetch: where its files go and which of them the selection needs. */
export interface PlatePlan {
  plate: string;
  /** The folder the image table names for the plate's files (`Week1/Week1_22123`), relative to the root. */
  dir: string;
  zip: string;
  /** Fields of the plate in the selection. */
  fields: PlateField[];
}

export interface PlateField {
  id: string;
  /** The DNA, Tubulin and Actin file names (in `dir`). */
  files: [string, string, string];
}

export interface Selection {
  plates?: string[];
  /** Only fields with an MoA label (joined as the trainer joins: compound and numeric concentration); only their files are unpacked. */
  labelledOnly: boolean;
}

/** The plates to fetch, by week and plate, from the metadata CSVs in `metadataDir`. */
export async function planPlates(metadataDir: string, selection: Selection): Promise<PlatePlan[]> {
  const imageFile = path.join(metadataDir, IMAGE_TABLE);
  const moaFile = path.join(metadataDir, MOA_TABLE);
  const rows = parseImageTable(await readText(imageFile), imageFile);
  const { fields } = fieldsFromImageTable(rows, parseMoaTable(await readText(moaFile), moaFile));
  const known = new Set(fields.map((field) => field.plate ?? ''));
  const unknown = (selection.plates ?? []).filter((plate) => !known.has(plate));
  if (unknown.length > 0) throw new ConfigError(`--plates: unknown plate${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (not in ${imageFile}; plates look like ${[...known].slice(0, 2).join(', ')})`);
  const wanted = selection.plates ? new Set(selection.plates) : undefined;
  const plans = new Map<string, PlatePlan>();
  for (const field of fields) {
    const plate = field.plate ?? '';
    if (wanted && !wanted.has(plate)) continue;
    const moa = field.metadata?.moa;
    if (selection.labelledOnly && !(moa && isMoaClass(moa))) continue;
    const paths = CHANNELS.map((channel) => field.channels[channel]?.file.path ?? '');
    const dirs = new Set(paths.map((p) => path.posix.dirname(p)));
    const dir = [...dirs][0];
    if (dirs.size !== 1 || !safeRelativeDir(dir)) throw new DataError(`${imageFile}: field ${field.id} names the folder${dirs.size > 1 ? 's' : ''} ${[...dirs].join(', ')}; a plate's files must share one relative folder (Week<N>/Week<N>_<plate>)`);
    let plan = plans.get(plate);
    if (!plan) plans.set(plate, (plan = { plate, dir, zip: zipName(plate), fields: [] }));
    if (plan.dir !== dir) throw new DataError(`${imageFile}: plate ${plate} has files in ${plan.dir} and in ${dir}; one zip unpacks into one folder`);
    plan.fields.push({ id: field.id, files: paths.map((p) => path.posix.basename(p)) as PlateField['files'] });
  }
  // Week1 ... Week10, then plate number: the order a person reads the progress in.
  const week = (plate: string) => Number(/^Week(\d+)_/.exec(plate)?.[1] ?? 0);
  return [...plans.values()].sort((a, b) => week(a.plate) - week(b.plate) || a.plate.localeCompare(b.plate));
}

function safeRelativeDir(dir: string): boolean {
  return dir !== '.' && dir !== '' && !path.posix.isAbsolute(dir) && !dir.split('/').some((part) => part === '..' || part === '' || part === '.');
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataError(`${file}: ${code === 'ENOENT' ? 'not found' : `cannot be read (${(error as Error).message})`}`, { cause: error });
  }
}

/** Expected sha256 per zip name from a `sha256sum`-format file (`<hex>  <name>` or `<hex> *<name>` per line). */
export async function readChecksums(file: string): Promise<Map<string, string>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`--sha256 ${file}: cannot be read (${(error as Error).message})`, { cause: error });
  }
  const sums = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const match = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line.trim());
    if (!match) throw new ConfigError(`--sha256 ${file} line ${i + 1}: expected "<64 hex digits>  <zip name>", got "${line.slice(0, 80)}"`);
    sums.set(path.basename(match[2].trim()), match[1].toLowerCase());
  });
  return sums;
}

export interface DownloadSettings {
  out: string;
  baseUrl: string;
  /** Only `labelledOnly` matters here (which files of a zip are unpacked); the plans already hold the plates. */
  selection: Pick<Selection, 'labelledOnly'>;
  concurrency: number;
  keepZips: boolean;
  /** Expected sha256 per zip name (--sha256). */
  checksums?: Map<string, string>;
  transfer: Pick<DownloadOptions, 'retries' | 'backoffMs' | 'idleTimeoutMs'>;
  progress: TransferProgress;
  /** Detail lines (--verbose): each request's retries and resumes, what each plate skipped. */
  verbose: boolean;
}

export type PlateStatus =
  /** Its marker says it was unpacked before, and every selected file is there. */
  | 'complete'
  /** Not unpacked by this tool (no marker), but every selected file is there. */
  | 'present'
  | 'downloaded'
  | 'missing'
  | 'failed';

export interface PlateOutcome {
  plate: string;
  status: PlateStatus;
  /** Why it is missing or failed. */
  error?: string;
  zipBytes?: number;
  sha256?: string;
  /** The zip's sha256 was compared with the one --sha256 gave (and matched). */
  sha256Matched?: boolean;
  /** Selected files the zip did not hold. */
  notInZip?: string[];
  /** HTTP requests made and offsets resumed at. */
  attempts?: number;
  resumedAt?: number[];
}

interface PlateMarker {
  plate: string;
  zip: string;
  zipBytes: number;
  sha256: string;
  /** 'labelled': only the labelled fields' files were unpacked; 'all': every file of the zip. */
  scope: 'all' | 'labelled';
  filesUnpacked: number;
  notInZip: string[];
  finishedAt: string;
}

const JUNK = /(^|\/)(__MACOSX\/|\._|\.DS_Store$|Thumbs\.db$)/;

/** Downloads, verifies and unpacks each planned plate (`concurrency` at a time); one plate's failure never stops the others. */
export async function downloadPlates(plans: readonly PlatePlan[], settings: DownloadSettings): Promise<PlateOutcome[]> {
  await mkdir(path.join(settings.out, DOWNLOAD_DIR), { recursive: true });
  const outcomes: PlateOutcome[] = new Array(plans.length);
  let next = 0;
  const worker = async () => {
    while (next < plans.length) {
      const index = next++;
      outcomes[index] = await fetchPlate(plans[index], settings);
    }
  };
  await Promise.all(Array.from({ length: Math.min(settings.concurrency, plans.length) }, worker));
  return outcomes;
}

async function fetchPlate(plan: PlatePlan, settings: DownloadSettings): Promise<PlateOutcome> {
  const { progress } = settings;
  const scope = settings.selection.labelledOnly ? 'labelled' : 'all';
  const plateDir = path.join(settings.out, plan.dir);
  const marker = await readMarker(path.join(plateDir, PLATE_MARKER));
  const absent = await absentFiles(plateDir, plan);
  if (absent.length === 0 && (marker === undefined || marker.scope === 'all' || scope === 'labelled')) {
    progress.setState(plan.plate, 'done');
    progress.setSize(plan.plate, 0);
    if (settings.verbose) progress.log(`${plan.plate}: ${marker ? 'already complete' : 'all files present (not unpacked by this tool)'}, skipped`);
    return { plate: plan.plate, status: marker ? 'complete' : 'present', zipBytes: marker?.zipBytes, sha256: marker?.sha256 };
  }
  if (marker === undefined && (await exists(plateDir))) {
    progress.setState(plan.plate, 'failed');
    return { plate: plan.plate, status: 'failed', error: `${plateDir} exists, lacks ${absent.length} of its files and was not written by this downloader (no ${PLATE_MARKER}): move it away and rerun` };
  }
  const zip = path.join(settings.out, DOWNLOAD_DIR, plan.zip);
  const url = new URL(plan.zip, settings.baseUrl).toString();
  let attempts = 0;
  let resumedAt: number[] = [];
  try {
    if (await exists(zip)) {
      if (settings.verbose) progress.log(`${plan.plate}: ${zip} is already here (an earlier run), checking it`);
      progress.setSize(plan.plate, (await stat(zip)).size);
      progress.setPresent(plan.plate, (await stat(zip)).size);
    } else {
      progress.setState(plan.plate, 'downloading');
      const result = await downloadFile(url, zip, {
        ...settings.transfer,
        onSize: (bytes) => progress.setSize(plan.plate, bytes),
        onResume: (bytes) => {
          progress.setPresent(plan.plate, bytes);
          if (bytes > 0 && settings.verbose) progress.log(`${plan.plate}: resuming at byte ${bytes}`);
        },
        onBytes: (bytes) => progress.addReceived(plan.plate, bytes),
        onRetry: (message, delayMs) => progress.log(`${plan.plate}: ${message}; retrying in ${delayMs < 1000 ? `${Math.round(delayMs)} ms` : `${(delayMs / 1000).toFixed(1)} s`}`),
      });
      attempts = result.attempts;
      resumedAt = result.resumedAt;
    }
    progress.setState(plan.plate, 'unpacking');
    const zipBytes = (await stat(zip)).size;
    const sha256 = await sha256Of(zip);
    const expected = settings.checksums?.get(plan.zip);
    if (expected !== undefined && expected !== sha256) {
      await rm(zip, { force: true });
      throw new ZipError(`${plan.zip}: sha256 ${sha256}, expected ${expected} (--sha256)`);
    }
    const notInZip = await unpackPlate(plan, zip, plateDir, { plate: plan.plate, zip: plan.zip, zipBytes, sha256, scope }, settings);
    if (!settings.keepZips) await rm(zip, { force: true });
    progress.setState(plan.plate, 'done');
    progress.log(`${plan.plate}: unpacked into ${plan.dir}${notInZip.length ? ` (${notInZip.length} selected files not in the zip)` : ''}`);
    return { plate: plan.plate, status: 'downloaded', zipBytes, sha256, sha256Matched: expected !== undefined, notInZip, attempts, resumedAt };
  } catch (error) {
    progress.setState(plan.plate, 'failed');
    if (error instanceof MissingOnServerError) {
      progress.log(`${plan.plate}: missing, ${error.message}`);
      return { plate: plan.plate, status: 'missing', error: error.message };
    }
    if (error instanceof ZipError) {
      await rm(zip, { force: true });
      const message = `${error.message}; the zip was deleted, a rerun downloads it again`;
      progress.log(`${plan.plate}: damaged, ${message}`);
      return { plate: plan.plate, status: 'failed', error: message };
    }
    const message = error instanceof Error ? error.message : String(error);
    progress.log(`${plan.plate}: failed, ${message}`);
    return { plate: plan.plate, status: 'failed', error: message, attempts, resumedAt };
  }
}

/**
 * Checks every entry of the zip (size, CRC-32), writes the wanted ones by file name into a temporary folder beside
 * the data (whatever folders the zip holds them in), adds the marker, and renames the folder to `plateDir`.
 * Returns the selected file names the zip lacked.
 */
async function unpackPlate(plan: PlatePlan, zip: string, plateDir: string, record: Omit<PlateMarker, 'filesUnpacked' | 'notInZip' | 'finishedAt'>, settings: DownloadSettings): Promise<string[]> {
  const staging = path.join(settings.out, DOWNLOAD_DIR, `${plan.plate}.unpacking`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  const selected = new Set(plan.fields.flatMap((field) => field.files));
  const written = new Set<string>();
  const handle = await open(zip, 'r');
  try {
    for (const entry of await readZipEntries(handle, plan.zip)) {
      if (entry.isDirectory || JUNK.test(entry.name)) continue;
      const data = await readZipEntry(handle, entry, plan.zip); // every entry's CRC is checked, written or not
      const name = path.posix.basename(entry.name);
      if (record.scope === 'labelled' && !selected.has(name)) continue;
      if (written.has(name)) throw new ZipError(`${plan.zip}: two entries are named ${name}`);
      written.add(name);
      await writeFile(path.join(staging, name), data);
    }
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  } finally {
    await handle.close();
  }
  const notInZip = [...selected].filter((name) => !written.has(name));
  const marker: PlateMarker = { ...record, filesUnpacked: written.size, notInZip, finishedAt: new Date().toISOString() };
  await writeFile(path.join(staging, PLATE_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
  await mkdir(path.dirname(plateDir), { recursive: true });
  // A folder already there (an earlier, narrower run, or files deleted since) is swapped out, never merged into.
  const previous = `${staging}.previous`;
  await rm(previous, { recursive: true, force: true }); // left by a run killed between the two renames
  const replacing = await exists(plateDir);
  if (replacing) await rename(plateDir, previous);
  await rename(staging, plateDir);
  if (replacing) await rm(previous, { recursive: true, force: true });
  return notInZip;
}

async function readMarker(file: string): Promise<PlateMarker | undefined> {
  try {
    const marker = JSON.parse(await readFile(file, 'utf8')) as PlateMarker;
    return marker.scope === 'all' || marker.scope === 'labelled' ? marker : undefined;
  } catch {
    return undefined;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

async function absentFiles(dir: string, plan: PlatePlan): Promise<string[]> {
  const absent: string[] = [];
  for (const field of plan.fields) {
    for (const name of field.files) if (!(await isFile(path.join(dir, name)))) absent.push(name);
  }
  return absent;
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

function sha256Of(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Copies the metadata CSVs to the root; a copy already there that differs is kept (a lab's own edit) and reported. */
export async function placeMetadata(metadataDir: string, out: string): Promise<string[]> {
  const notes: string[] = [];
  for (const table of [IMAGE_TABLE, MOA_TABLE]) {
    const source = path.join(metadataDir, table);
    const target = path.join(out, table);
    if (await exists(target)) {
      const [a, b] = await Promise.all([readFile(source), readFile(target)]);
      if (!a.equals(b)) notes.push(`${target} differs from ${source}; kept as it is`);
      continue;
    }
    await copyFile(source, `${target}.tmp`);
    await rename(`${target}.tmp`, target);
  }
  return notes;
}

/** Adds the sha256 of each zip downloaded now to `<out>/BBBC021_v1_images.sha256`, keeping earlier lines. */
export async function recordChecksums(out: string, outcomes: readonly PlateOutcome[]): Promise<void> {
  const file = path.join(out, ZIP_CHECKSUMS);
  const sums = (await exists(file)) ? await readChecksums(file) : new Map<string, string>();
  let changed = false;
  for (const outcome of outcomes) {
    if (outcome.status === 'downloaded' && outcome.sha256) {
      changed ||= sums.get(zipName(outcome.plate)) !== outcome.sha256;
      sums.set(zipName(outcome.plate), outcome.sha256);
    }
  }
  if (!changed) return;
  const lines = [...sums].sort(([a], [b]) => a.localeCompare(b)).map(([name, sum]) => `${sum}  ${name}`);
  await writeFile(`${file}.tmp`, `${lines.join('\n')}\n`);
  await rename(`${file}.tmp`, file);
}

export interface FieldCheck {
  /** Selected fields (image-table rows) and those with all three files present. */
  fields: number;
  present: number;
  /** Per plate with missing fields: how many, and the first few missing files (relative to the root). */
  missing: { plate: string; fields: number; examples: string[] }[];
}

/** The final check: every selected field of the image table has its three files under the root. */
export async function checkFields(out: string, plans: readonly PlatePlan[]): Promise<FieldCheck> {
  const check: FieldCheck = { fields: 0, present: 0, missing: [] };
  for (const plan of plans) {
    let missingFields = 0;
    const examples: string[] = [];
    for (const field of plan.fields) {
      check.fields++;
      let complete = true;
      for (const name of field.files) {
        if (await isFile(path.join(out, plan.dir, name))) continue;
        complete = false;
        if (examples.length < 3) examples.push(`${plan.dir}/${name}`);
      }
      if (complete) check.present++;
      else missingFields++;
    }
    if (missingFields > 0) check.missing.push({ plate: plan.plate, fields: missingFields, examples });
  }
  return check;
}
