// Test fixtures written from scratch: tiny M-CNN bundles, synthetic 3-channel fields, uncompressed 16-bit TIFF bytes.
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { writeBundleFiles } from '../../../src/core/bundle.ts';
import type { SigningKey } from '../../../src/core/bundle-trust.ts';
import { CHANNELS, MOA_CLASSES } from '../../../src/core/labels.ts';
import { buildMcnn } from '../../../src/core/mcnn.ts';
import type { PreprocessSpec } from '../../../src/core/preprocess.ts';

/**
 * A Zstandard frame (RFC 8878) holding `bytes` in stored (raw) blocks: valid Zstandard that any decoder reads,
 * written without a compressor. Single segment, 4-byte content size, no checksum, blocks of at most 128 KiB.
 */
export function zstdStoredFrame(bytes: Uint8Array): Uint8Array {
  const BLOCK = 128 * 1024;
  const blocks = Math.max(1, Math.ceil(bytes.length / BLOCK));
  const out = new Uint8Array(4 + 1 + 4 + blocks * 3 + bytes.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0xfd2fb528, true);
  out[4] = 0xa0; // frame content size in 4 bytes, single segment
  view.setUint32(5, bytes.length, true);
  let at = 9;
  for (let b = 0; b < blocks; b++) {
    const chunk = bytes.subarray(b * BLOCK, Math.min(bytes.length, (b + 1) * BLOCK));
    const header = (chunk.length << 3) | (0 << 1) | (b === blocks - 1 ? 1 : 0); // block type 0: raw
    out.set([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff], at);
    out.set(chunk, at + 3);
    at += 3 + chunk.length;
  }
  return out;
}

/** Little-endian baseline TIFF: one 16-bit grey plane in one strip, uncompressed or Zstandard (compression 50000, stored blocks). */
export function encodeTiffU16(width: number, height: number, data: Uint16Array, compression: 'none' | 'zstd' = 'none'): Uint8Array {
  const raw = new Uint8Array(width * height * 2);
  const rawView = new DataView(raw.buffer);
  for (let i = 0; i < data.length; i++) rawView.setUint16(2 * i, data[i], true);
  const strip = compression === 'zstd' ? zstdStoredFrame(raw) : raw;
  const tags: [number, number, number, number][] = [
    // tag, type (3 SHORT, 4 LONG), count, value
    [256, 4, 1, width],
    [257, 4, 1, height],
    [258, 3, 1, 16],
    [259, 3, 1, compression === 'zstd' ? 50000 : 1],
    [262, 3, 1, 1],
    [273, 4, 1, 0], // strip offset, patched below
    [277, 3, 1, 1],
    [278, 4, 1, height],
    [279, 4, 1, strip.length],
    [339, 3, 1, 1],
  ];
  const ifdOffset = 8;
  const ifdBytes = 2 + tags.length * 12 + 4;
  const pixelOffset = ifdOffset + ifdBytes;
  tags[5][3] = pixelOffset;
  const out = new Uint8Array(pixelOffset + strip.length);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  view.setUint32(4, ifdOffset, true);
  view.setUint16(ifdOffset, tags.length, true);
  tags.forEach(([tag, type, count, value], i) => {
    const o = ifdOffset + 2 + i * 12;
    view.setUint16(o, tag, true);
    view.setUint16(o + 2, type, true);
    view.setUint32(o + 4, count, true);
    if (type === 3) view.setUint16(o + 8, value, true);
    else view.setUint32(o + 8, value, true);
  });
  view.setUint32(ifdOffset + 2 + tags.length * 12, 0, true);
  out.set(strip, pixelOffset);
  return out;
}

/**
 * A field of three Zstandard TIFFs, 40x24, `<stem>_w1.tif`, `_w2.tif` and `_w4.tif` (DNA, Tubulin, Actin): w1 and w2
 * written here from distinct synthetic planes (stored Zstandard blocks), w4 a copy of `libtiffZstd` (really compressed).
 * Three distinct images: the engine refuses one image standing for two channels. Returns the three paths.
 */
export async function writeZstdField(dir: string, stem: string, libtiffZstd: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const [dna, tubulin] = syntheticField(11, 24, 40);
  const paths = ['w1', 'w2', 'w4'].map((w) => path.join(dir, `${stem}_${w}.tif`));
  await writeFile(paths[0], encodeTiffU16(40, 24, dna, 'zstd'));
  await writeFile(paths[1], encodeTiffU16(40, 24, tubulin, 'zstd'));
  await copyFile(libtiffZstd, paths[2]);
  return paths;
}

/** Small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Three 16-bit planes (DNA, Tubulin, Actin) with bright blobs of seed-dependent size and count over noise. */
export function syntheticField(seed: number, height: number, width: number): Uint16Array[] {
  const rand = prng(seed * 7919 + 13);
  const planes = [0, 1, 2].map(() => new Uint16Array(height * width));
  const blobs = 3 + Math.floor(rand() * 8);
  const centres = Array.from({ length: blobs }, () => ({ y: rand() * height, x: rand() * width, r: 2 + rand() * (height / 6) }));
  for (let c = 0; c < 3; c++) {
    const gain = 800 + 3000 * rand();
    const spread = 1 + c * 0.6;
    const plane = planes[c];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let v = 200 + 60 * rand();
        for (const b of centres) {
          const d2 = ((y - b.y) ** 2 + (x - b.x) ** 2) / (b.r * spread) ** 2;
          if (d2 < 9) v += gain * Math.exp(-d2);
        }
        plane[y * width + x] = Math.min(65535, Math.round(v));
      }
    }
  }
  return planes;
}

export interface FieldFiles {
  id: string;
  /** File names per channel, in CHANNELS order. */
  names: string[];
}

/** Writes `count` fields as BBBC021-like TIFF triples into `dir`; returns their names. */
export async function writeFieldTiffs(dir: string, count: number, height: number, width: number, firstSeed = 1): Promise<FieldFiles[]> {
  await mkdir(dir, { recursive: true });
  const fields: FieldFiles[] = [];
  for (let i = 0; i < count; i++) {
    const seed = firstSeed + i;
    const planes = syntheticField(seed, height, width);
    const id = `B${String(2 + (i % 10)).padStart(2, '0')}_s${1 + Math.floor(i / 10)}`;
    const names = ['w1', 'w2', 'w4'].map((w) => `${id}_${w}_seed${seed}.tif`);
    await Promise.all(names.map((n, c) => writeFile(path.join(dir, n), encodeTiffU16(width, height, planes[c]))));
    fields.push({ id, names });
  }
  return fields;
}

export interface TinyBundleOptions {
  height: number;
  width: number;
  widthMultiplier?: number;
  binning?: number;
  seed?: number;
  name?: string;
  minOverlap?: number;
  /** Signs the bundle (moa-lens.sig.json) as the export does. */
  signer?: SigningKey;
}

/** Builds a small seeded M-CNN and returns the bundle files (needs a TF.js backend set). */
export async function tinyBundleFiles(options: TinyBundleOptions): Promise<Map<string, Uint8Array>> {
  const { height, width, widthMultiplier = 0.25, binning = 1, seed = 7, name = 'tiny-test', minOverlap = 0, signer } = options;
  const model = buildMcnn({ height, width, widthMultiplier, classes: MOA_CLASSES.length, seed });
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save({
    save: async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  });
  const parameters = model.countParams();
  model.dispose();
  const preprocessing: PreprocessSpec = { version: 1, channels: [...CHANNELS], binning, normalisation: { method: 'percentile', low: 0.1, high: 99.9 } };
  return writeBundleFiles(artifacts!, {
    name,
    createdAt: new Date(0).toISOString(),
    classes: [...MOA_CLASSES],
    input: { height, width, channels: 3 },
    preprocessing,
    tiling: { minOverlap },
    architecture: { name: 'M-CNN', widthMultiplier, parameters },
    weights: { dtype: 'float32', bytes: parameters * 4 },
    provenance: { trained: false, summary: 'test bundle: random seeded weights' },
  }, signer);
}

export async function writeFilesTo(dir: string, files: Map<string, Uint8Array>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, bytes] of files) await writeFile(path.join(dir, name), bytes);
}
