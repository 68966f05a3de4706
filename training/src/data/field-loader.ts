// Loads one field through the core: read the three channel files, decode (core TIFF decoder), preprocess (core spec).

import { readFile } from 'node:fs/promises';
import { decodeTiff } from '../../../src/core/tiff/index.ts';
import { preprocessField, type ModelImage, type PixelPlane, type PreprocessSpec } from '../../../src/core/preprocess.ts';
import { CHANNELS } from '../../../src/core/labels.ts';
import { DataError } from '../util/cli.ts';
import type { Sample } from './dataset-index.ts';

/**
 * A field that could not be loaded: which file and why (missing, truncated, not a TIFF, wrong size...). Loaders
 * skip such a field and report it; one that escapes is bad data (exit 3).
 */
export class FieldLoadError extends DataError {
  constructor(
    readonly fieldId: string,
    readonly file: string,
    readonly reason: string,
  ) {
    super(`Field ${fieldId}: ${file}: ${reason}`);
    this.name = 'FieldLoadError';
  }
}

/** Decoded raw planes of a field in spec.channels order (first plane of each file). */
export async function loadFieldPlanes(sample: Sample, channels: readonly string[] = CHANNELS): Promise<PixelPlane[]> {
  const planes: PixelPlane[] = [];
  for (const channel of channels) {
    const index = (CHANNELS as readonly string[]).indexOf(channel);
    if (index < 0) throw new FieldLoadError(sample.id, '', `unknown channel "${channel}"`);
    const file = sample.files[index];
    let bytes: Uint8Array;
    try {
      // A plain Uint8Array view, not a Node Buffer: Buffer.slice() shares memory where Uint8Array.slice() copies,
      // and the core decoder's compressed-strip path expects copying slices.
      const buffer = await readFile(file);
      bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (error) {
      throw new FieldLoadError(sample.id, file, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message);
    }
    try {
      const decoded = await decodeTiff(bytes, file);
      const plane = decoded.planes[0];
      if (!plane) throw new Error('no image plane');
      planes.push({ width: plane.width, height: plane.height, data: plane.data });
    } catch (error) {
      throw new FieldLoadError(sample.id, file, (error as Error).message);
    }
  }
  return planes;
}

/**
 * The first field of `samples` whose files load, with its raw planes: what sizes the dataset and its
 * preprocessing. Fields that fail with a FieldLoadError before it are passed to `onSkip` (to be reported and not
 * retried); when none loads, a DataError says how many were tried.
 */
export async function firstReadableField(samples: readonly Sample[], onSkip: (index: number, error: FieldLoadError) => void, channels: readonly string[] = CHANNELS): Promise<{ index: number; planes: PixelPlane[] }> {
  let last: FieldLoadError | undefined;
  for (let index = 0; index < samples.length; index++) {
    try {
      return { index, planes: await loadFieldPlanes(samples[index], channels) };
    } catch (error) {
      if (!(error instanceof FieldLoadError)) throw error;
      last = error;
      onSkip(index, error);
    }
  }
  throw new DataError(`none of the ${samples.length} labelled fields could be read${last ? `; the last: ${last.message}` : ''}`);
}

/** The model input of a field: decode + core preprocessing. Throws FieldLoadError naming the file at fault. */
export async function loadFieldImage(sample: Sample, spec: PreprocessSpec): Promise<ModelImage> {
  const planes = await loadFieldPlanes(sample, spec.channels);
  try {
    return preprocessField(planes, spec);
  } catch (error) {
    throw new FieldLoadError(sample.id, sample.files[0], (error as Error).message);
  }
}
