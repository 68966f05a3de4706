// Index of a BBBC021-layout root: labelled fields from the metadata CSVs (core parser and join), with file checks.

import { stat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fieldsFromImageTable, parseImageTable, parseMoaTable } from '../../../src/core/metadata.ts';
import { CHANNELS, classIndex, isMoaClass, type MoaClass } from '../../../src/core/labels.ts';
import { DataError } from '../util/cli.ts';

export const IMAGE_TABLE = 'BBBC021_v1_image.csv';
export const MOA_TABLE = 'BBBC021_v1_moa.csv';

/** One labelled field of view: what the trainer iterates over. */
export interface Sample {
  /** `Week1/Week1_22123/G10_s1` style id from the core grouping (unique per field). */
  id: string;
  plate: string;
  /** Batch: the week the plate was imaged (`Week1`). */
  week: string;
  well: string;
  site: number | undefined;
  compound: string;
  concentration: number;
  moa: MoaClass;
  /** Index into MOA_CLASSES. */
  label: number;
  /** Absolute paths of the DNA, Tubulin and Actin files (CHANNELS order). */
  files: [string, string, string];
}

/** A file that could not be used, and why. */
export interface SkippedFile {
  fieldId: string;
  file: string;
  reason: string;
}

export interface DatasetIndex {
  root: string;
  samples: Sample[];
  /** Image-table rows without an MoA label (not trained on). */
  unlabelledFields: number;
  /** Fields left out at indexing because a channel file is missing. */
  skipped: SkippedFile[];
}

export interface IndexOptions {
  /** Check that each channel file exists (one stat per file). Default true. */
  checkFiles?: boolean;
}

/** Reads the CSVs at `root`, joins labels, and lists the labelled fields whose files are present. */
export async function loadDatasetIndex(root: string, options: IndexOptions = {}): Promise<DatasetIndex> {
  // Full paths, so that a MetadataError (missing column, bad row) names the file the user must fix.
  const imageFile = path.join(root, IMAGE_TABLE);
  const moaFile = path.join(root, MOA_TABLE);
  const { fields } = fieldsFromImageTable(parseImageTable(await readTable(imageFile), imageFile), parseMoaTable(await readTable(moaFile), moaFile));
  const samples: Sample[] = [];
  const skipped: SkippedFile[] = [];
  let unlabelled = 0;
  for (const field of fields) {
    const moa = field.metadata?.moa;
    if (!moa || !isMoaClass(moa)) {
      unlabelled++;
      continue;
    }
    const files = CHANNELS.map((ch) => path.join(root, field.channels[ch]?.file.path ?? field.channels[ch]?.file.name ?? '')) as Sample['files'];
    samples.push({
      id: field.id,
      plate: field.plate ?? '',
      week: (field.plate ?? '').split('_')[0],
      well: field.well ?? '',
      site: field.site,
      compound: field.metadata?.compound ?? '',
      concentration: field.metadata?.concentration ?? 0,
      moa,
      label: classIndex(moa),
      files,
    });
  }
  if (options.checkFiles === false) return { root, samples, unlabelledFields: unlabelled, skipped };
  const present: Sample[] = [];
  for (const sample of samples) {
    const missing = await firstMissing(sample.files);
    if (missing) skipped.push({ fieldId: sample.id, file: missing, reason: 'file not found' });
    else present.push(sample);
  }
  return { root, samples: present, unlabelledFields: unlabelled, skipped };
}

async function readTable(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataError(`${file}: ${code === 'ENOENT' ? 'not found' : `cannot be read (${(error as Error).message})`}`, { cause: error });
  }
}

async function firstMissing(files: readonly string[]): Promise<string | undefined> {
  for (const file of files) {
    try {
      const s = await stat(file);
      if (!s.isFile()) return file;
    } catch {
      return file;
    }
  }
  return undefined;
}

/** Counts of samples per class name, in MOA_CLASSES order (classes without samples included as 0). */
export function classCounts(samples: readonly Sample[], classCount = 13): number[] {
  const counts = new Array(classCount).fill(0);
  for (const s of samples) counts[s.label]++;
  return counts;
}
