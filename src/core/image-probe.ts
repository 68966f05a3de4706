// What an image file holds, from its header alone (no pixels decoded): its size and its channels,
// one per sample or page, named where the file names them. The app asks this before a run so that a
// field is planned from real channels. One sample is one channel: a greyscale file is one channel, and
// so is a palette (indexed) image, whatever its colour table (ImageJ's grey or green LUT of one stain);
// an RGBA composite is four.

import { TiffDecodeError } from './errors.ts';
import { channelName, RGB_NAMES } from './tiff/decode.ts';
import { determineLayout } from './tiff/layout.ts';
import type { ReadSlice } from './tiff/probe.ts';
import { MissingBytes, readTiffStructure, type FileParts } from './tiff/structure.ts';

export type ProbedFormat = 'tiff' | 'png' | 'jpeg';

export interface ImageChannels {
  format: ProbedFormat;
  width: number;
  height: number;
  /** One entry per channel, in the decoder's plane order, its name where known (a palette image: one channel, plane 0). */
  channelNames: (string | undefined)[];
}

/** The extra (fourth) sample of an RGB image. */
export const ALPHA = 'Alpha';

export function sniffFormat(bytes: Uint8Array): ProbedFormat | undefined {
  const b = bytes;
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && (b[2] === 42 || b[2] === 43) && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && (b[3] === 42 || b[3] === 43))))
    return 'tiff';
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  return undefined;
}

function probeTiff(bytes: Uint8Array | FileParts, fileName: string): ImageChannels {
  const structure = readTiffStructure(bytes, fileName);
  const layout = determineLayout(structure.pages, fileName);
  const selected = layout.placements.filter((p) => p.z === 0 && p.t === 0).sort((a, b) => a.c - b.c);
  if (selected.length === 0)
    throw new TiffDecodeError(fileName, 'unsupported', `"${fileName}" does not contain the image data its description announces (it may be one part of a multi-file OME-TIFF set).`);
  const first = structure.pages[selected[0].page];
  const channelNames = selected.flatMap((placement) => {
    const page = structure.pages[placement.page];
    if (page.photometric === 3) return [channelName(layout, placement.c, 0, 1)];
    const samples = page.samplesPerPixel;
    return Array.from({ length: samples }, (_, s) => {
      const stated = channelName(layout, placement.c, s, samples);
      if (stated !== undefined || page.photometric !== 2) return stated;
      return s < 3 ? RGB_NAMES[s] : s === 3 ? ALPHA : undefined;
    });
  });
  return { format: 'tiff', width: first.width, height: first.height, channelNames };
}

function bad(fileName: string, kind: string, detail: string): Error {
  return new Error(`"${fileName}" is a damaged ${kind} file: ${detail}.`);
}

function probePng(bytes: Uint8Array, fileName: string): ImageChannels {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 33 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') throw bad(fileName, 'PNG', 'its header (IHDR) is missing');
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const colourType = bytes[25];
  const rgb = [...RGB_NAMES];
  // 0 grey, 2 RGB, 3 palette (one sample), 4 grey + alpha, 6 RGBA.
  const byType: Record<number, (string | undefined)[]> = { 0: [undefined], 2: rgb, 3: [undefined], 4: [undefined, ALPHA], 6: [...rgb, ALPHA] };
  const channelNames = byType[colourType];
  if (!channelNames) throw bad(fileName, 'PNG', `colour type ${colourType} does not exist`);
  return { format: 'png', width, height, channelNames };
}

function probeJpeg(bytes: Uint8Array, fileName: string): ImageChannels {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 2; at + 4 <= bytes.length; ) {
    if (bytes[at] !== 0xff) throw bad(fileName, 'JPEG', `no marker at byte ${at}`);
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++;
      continue;
    }
    const length = view.getUint16(at + 2);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (at + 10 > bytes.length) break;
      const components = bytes[at + 9];
      const channelNames = components === 1 ? [undefined] : [...RGB_NAMES];
      return { format: 'jpeg', width: view.getUint16(at + 7), height: view.getUint16(at + 5), channelNames };
    }
    if (marker === 0xda || marker === 0xd9) break;
    at += 2 + length;
  }
  throw bad(fileName, 'JPEG', 'no frame header (SOF) before the image data');
}

/**
 * Size and channels of a TIFF, PNG or JPEG from its bytes (for a TIFF, the whole file: its page chain
 * may end anywhere). Throws an error naming the file when it is none of these or its header is damaged.
 */
export function probeImage(bytes: Uint8Array, fileName: string): ImageChannels {
  const format = sniffFormat(bytes);
  if (format === 'tiff') return probeTiff(bytes, fileName);
  if (format === 'png') return probePng(bytes, fileName);
  if (format === 'jpeg') return probeJpeg(bytes, fileName);
  if (bytes.length === 0) throw new Error(`"${fileName}" is empty (0 bytes). The file may not have been copied completely.`);
  throw new Error(`"${fileName}" is not a TIFF, PNG or JPEG image (its first bytes say otherwise).`);
}

/** Bytes read first: the header, and for most TIFFs written directory-first every page directory too. */
export const PROBE_HEAD_BYTES = 64 * 1024;
/** Bytes read at a time for a page directory (and its values) beyond the head. */
const PROBE_RANGE_BYTES = 16 * 1024;
/** Bytes of a JPEG read to find its frame header (after EXIF data and thumbnails). */
const JPEG_HEAD_BYTES = 1 << 20;
/** Ranges read beyond the head before the probe reads the rest of the file whole (a stack of thousands of pages). */
const MAX_PROBE_RANGES = 256;

/**
 * probeImage on a file read in parts through `read`, not whole: the first PROBE_HEAD_BYTES, then for a TIFF
 * the ranges its page directories and their values lie in (libtiff writes them after the pixels), and the
 * whole file only when its pages need more than MAX_PROBE_RANGES ranges. The same answer and the same
 * errors as probeImage on the whole file.
 */
export async function probeImageFile(read: ReadSlice, size: number, fileName: string): Promise<ImageChannels> {
  const head = await read(0, Math.min(size, PROBE_HEAD_BYTES));
  const format = sniffFormat(head);
  if (format === 'jpeg' && head.length < size) return probeImage(await read(0, Math.min(size, JPEG_HEAD_BYTES)), fileName);
  if (format !== 'tiff' || head.length >= size) return probeImage(head, fileName);
  const file: FileParts = { length: size, parts: [{ offset: 0, bytes: head }] };
  for (let ranges = 0; ranges < MAX_PROBE_RANGES; ranges++) {
    try {
      return probeTiff(file, fileName);
    } catch (e) {
      if (!(e instanceof MissingBytes)) throw e;
      const length = Math.min(size - e.offset, Math.max(e.length, PROBE_RANGE_BYTES));
      const bytes = await read(e.offset, length);
      if (bytes.length < e.length) throw new Error(`"${fileName}" could not be read: ${bytes.length} of ${e.length} bytes at ${e.offset} came back.`);
      file.parts.push({ offset: e.offset, bytes });
    }
  }
  return probeImage(await read(0, size), fileName);
}
