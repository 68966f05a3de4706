// On-disk cache of preprocessed fields, keyed by the preprocessing spec; entries invalidated when a source file's size or mtime changes.

import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { preprocessSpecKey, type ModelImage, type PreprocessSpec } from '../../../src/core/preprocess.ts';
import type { Sample } from './dataset-index.ts';

const MAGIC = 0x43464c4d; // 'MLFC'
const VERSION = 2; // 2: the source range (src/core/preprocess.ts ModelImage.sourceRange) after the pixels
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Float32 HWC arrays, one file per field, under `<dir>/<hash of spec key>/`. A changed spec uses another
 * folder; a changed source (size or mtime of any channel file) fails the entry's fingerprint and is
 * recomputed. Full-resolution entries are 15.7 MB each (1024 x 1280 x 3 x 4 bytes); binning 4 makes them 1 MB.
 */
export class FieldCache {
  readonly dir: string;

  constructor(root: string, readonly spec: PreprocessSpec) {
    this.dir = path.join(root, sha(preprocessSpecKey(spec)).slice(0, 16));
  }

  /** Source fingerprint: field id plus size and mtime of each channel file. */
  async fingerprint(sample: Sample): Promise<string> {
    const parts = [sample.id];
    for (const file of sample.files) {
      const s = await stat(file);
      parts.push(`${s.size}:${Math.round(s.mtimeMs)}`);
    }
    return parts.join('|');
  }

  private entryPath(sample: Sample): string {
    return path.join(this.dir, `${sha(sample.id).slice(0, 24)}.f32`);
  }

  /** The cached image if present and its fingerprint matches, else undefined. */
  async get(sample: Sample, fingerprint: string): Promise<ModelImage | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.entryPath(sample));
    } catch {
      return undefined;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < 24 || view.getUint32(0, true) !== MAGIC || view.getUint32(4, true) !== VERSION) return undefined;
    const height = view.getUint32(8, true);
    const width = view.getUint32(12, true);
    const channels = view.getUint32(16, true);
    const keyLength = view.getUint32(20, true);
    const stored = bytes.subarray(24, 24 + keyLength).toString('utf8');
    const dataOffset = align4(24 + keyLength);
    const count = height * width * channels;
    if (stored !== fingerprint || bytes.byteLength !== dataOffset + (count + 2 * channels) * 4) return undefined;
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(dataOffset, dataOffset + count * 4));
    const sourceRange = new Float32Array(2 * channels);
    new Uint8Array(sourceRange.buffer).set(bytes.subarray(dataOffset + count * 4, dataOffset + (count + 2 * channels) * 4));
    return { height, width, channels, data, sourceRange };
  }

  /** Stores an image atomically (write to a temporary name, then rename). */
  async put(sample: Sample, fingerprint: string, image: ModelImage): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const key = Buffer.from(fingerprint, 'utf8');
    const dataOffset = align4(24 + key.length);
    const range = image.sourceRange ?? new Float32Array(2 * image.channels).fill(NaN);
    const out = Buffer.alloc(dataOffset + image.data.byteLength + range.byteLength);
    out.writeUInt32LE(MAGIC, 0);
    out.writeUInt32LE(VERSION, 4);
    out.writeUInt32LE(image.height, 8);
    out.writeUInt32LE(image.width, 12);
    out.writeUInt32LE(image.channels, 16);
    out.writeUInt32LE(key.length, 20);
    key.copy(out, 24);
    Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength).copy(out, dataOffset);
    Buffer.from(range.buffer, range.byteOffset, range.byteLength).copy(out, dataOffset + image.data.byteLength);
    const target = this.entryPath(sample);
    const temporary = `${target}.${process.pid}.tmp`;
    await writeFile(temporary, out);
    await rename(temporary, target);
    const specFile = path.join(this.dir, 'spec.json');
    await writeFile(specFile, JSON.stringify(this.spec, null, 2)).catch(() => undefined);
  }
}

const align4 = (n: number) => (n + 3) & ~3;
