// Refuses pages this app cannot decode, and pages that would not fit the memory budget, before decoding;
// after decoding, finds planes that hold no image (every pixel the same value).

import { TiffDecodeError } from '../errors.ts';
import type { PageSummary } from './structure.ts';

/** TIFF compression codes this decoder reads (geotiff's codecs). */
export const SUPPORTED_COMPRESSIONS: Record<number, string> = {
  1: 'uncompressed',
  5: 'LZW',
  7: 'JPEG',
  8: 'Deflate',
  32773: 'PackBits',
  32946: 'Deflate (old code)',
  50000: 'Zstandard',
};

const KNOWN_UNSUPPORTED: Record<number, string> = {
  2: 'CCITT fax', 3: 'CCITT fax 3', 4: 'CCITT fax 4', 6: 'old-style JPEG', 34712: 'JPEG 2000', 33003: 'JPEG 2000 (Aperio)',
  33005: 'JPEG 2000 (Aperio)', 34925: 'LZMA', 34887: 'LERC', 50001: 'WebP', 50002: 'JPEG XL', 52546: 'JPEG XL',
};

/** Bytes one decoded sample takes in memory (geotiff widens half floats to 32 bits, 64-bit floats stay 64). */
export function bytesPerDecodedSample(bits: number): number {
  if (bits <= 8) return 1;
  if (bits <= 16) return 2;
  if (bits <= 32) return 4;
  return 8;
}

function unsupported(fileName: string, what: string): TiffDecodeError {
  return new TiffDecodeError(
    fileName,
    'unsupported',
    `"${fileName}" is a TIFF of a kind this app cannot read (${what}). Save it as an uncompressed, LZW, Deflate or Zstandard TIFF and try again.`,
    what,
  );
}

/** Throws TiffDecodeError unless the page's sample layout and compression can be decoded. */
export function checkPageSupported(page: PageSummary, fileName: string): void {
  const counts = [page.width, page.height, page.samplesPerPixel, page.blockWidth, page.blockHeight, ...page.bitsPerSample];
  if (counts.some((n) => !Number.isSafeInteger(n))) {
    throw new TiffDecodeError(fileName, 'corrupt', `"${fileName}" is a damaged TIFF file: its image size or layout fields are not whole numbers.`);
  }
  if (page.width <= 0 || page.height <= 0) {
    throw new TiffDecodeError(fileName, 'corrupt', `"${fileName}" is a damaged TIFF file: it declares an image of ${page.width} x ${page.height} pixels.`);
  }
  if (page.samplesPerPixel < 1 || page.samplesPerPixel > 64) {
    throw new TiffDecodeError(fileName, 'corrupt', `"${fileName}" is a damaged TIFF file: it declares ${page.samplesPerPixel} samples per pixel.`);
  }
  if (!(page.compression in SUPPORTED_COMPRESSIONS)) {
    const known = KNOWN_UNSUPPORTED[page.compression];
    throw unsupported(fileName, known ? `${known} compression` : `compression code ${page.compression}`);
  }
  const bits = page.bitsPerSample[0];
  const format = page.sampleFormat[0];
  if (page.bitsPerSample.some((b) => b !== bits) || page.sampleFormat.some((f) => f !== format)) {
    throw unsupported(fileName, 'samples of different bit depths or types in one pixel');
  }
  if (page.planarConfiguration !== 1 && page.planarConfiguration !== 2) {
    throw new TiffDecodeError(fileName, 'corrupt', `"${fileName}" is a damaged TIFF file: unknown sample arrangement ${page.planarConfiguration}.`);
  }
  if (format === 1 || format === 4) {
    if (bits < 1 || bits > 32 || bits === 24) throw unsupported(fileName, `${bits}-bit unsigned samples`);
    if (bits % 8 !== 0 && page.predictor !== 1) throw unsupported(fileName, `${bits}-bit samples with a predictor`);
  } else if (format === 2) {
    if (bits !== 8 && bits !== 16 && bits !== 32) throw unsupported(fileName, `${bits}-bit signed samples`);
  } else if (format === 3) {
    if (bits !== 16 && bits !== 32 && bits !== 64) throw unsupported(fileName, `${bits}-bit floating-point samples`);
  } else {
    throw unsupported(fileName, `sample format ${format}`);
  }
  if (page.compression === 7 && bits !== 8) throw unsupported(fileName, `${bits}-bit JPEG`);
  if (page.predictor !== 1 && page.predictor !== 2 && page.predictor !== 3) throw unsupported(fileName, `predictor ${page.predictor}`);
  if (page.photometric === 3 && (page.colorMap?.length ?? 0) < 3 * 2 ** page.bitsPerSample[0]) {
    throw new TiffDecodeError(fileName, 'corrupt', `"${fileName}" is a damaged TIFF file: a palette image without its colour table.`);
  }
  if (![0, 1, 2, 3, 5, 6].includes(page.photometric)) throw unsupported(fileName, `photometric interpretation ${page.photometric}`);
}

/** Decoded bytes the page needs, counting its pixels and one decoded strip or tile. */
export function pageDecodeBytes(page: PageSummary): number {
  const sampleBytes = bytesPerDecodedSample(page.bitsPerSample[0]);
  const pixels = page.width * page.height * page.samplesPerPixel * sampleBytes;
  const block = Math.max(1, page.blockWidth) * Math.max(1, page.blockHeight) * page.samplesPerPixel * sampleBytes;
  const palette = page.photometric === 3 ? page.width * page.height * 3 * 2 : 0;
  return pixels + block + palette;
}

/** Throws `too-large` when the pages together would need more than `maxBytes` of decoded pixels. */
export function checkMemoryBudget(pages: PageSummary[], maxBytes: number, fileName: string): void {
  const total = pages.reduce((sum, p) => sum + pageDecodeBytes(p), 0);
  if (total > maxBytes) throw tooLargeToDecode(fileName, pages[0].width, pages[0].height, pages.length, total, maxBytes);
}

/** The `too-large` error for `planes` planes of width x height needing `bytes` of decoded pixels. */
export function tooLargeToDecode(fileName: string, width: number, height: number, planes: number, bytes: number, maxBytes: number): TiffDecodeError {
  return new TiffDecodeError(
    fileName,
    'too-large',
    `"${fileName}" is too large to open here: ${width} x ${height} pixels` +
      (planes > 1 ? ` in ${planes} planes` : '') +
      ` would need about ${Math.ceil(bytes / 2 ** 20)} MiB, more than the ${Math.floor(maxBytes / 2 ** 20)} MiB allowed.`,
    `needs ${bytes} bytes, budget ${maxBytes}`,
  );
}

/** Where no strip or tile may lie: the file header and every page directory. */
export interface ReservedBytes {
  headerBytes: number;
  /** Page directories [start, end), sorted by start (they never overlap one another). */
  directories: [number, number][];
}

/** The reserved parts of a file, from its structure. */
export function reservedBytes(structure: { headerBytes: number; pages: PageSummary[] }): ReservedBytes {
  return { headerBytes: structure.headerBytes, directories: structure.pages.map((p) => p.directory).sort((a, b) => a[0] - b[0]) };
}

/** The page directory overlapping [start, end), if any (binary search over the sorted directories). */
function directoryOverlapping(reserved: ReservedBytes, start: number, end: number): [number, number] | undefined {
  const dirs = reserved.directories;
  let lo = 0;
  let hi = dirs.length - 1;
  let last = -1; // the last directory starting before `end`
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (dirs[mid][0] < end) {
      last = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return last >= 0 && dirs[last][1] > start ? dirs[last] : undefined;
}

/**
 * Throws unless every strip or tile the page needs lies inside the file, after the header and outside
 * every page directory (a zeroed StripOffsets tag would otherwise decode the header as pixels).
 */
export function checkBlocksInside(page: PageSummary, reserved: ReservedBytes, fileLength: number, fileName: string): void {
  if (page.blockWidth <= 0 || page.blockHeight <= 0) {
    throw new TiffDecodeError(fileName, 'corrupt', `"${fileName}" is a damaged TIFF file: its strips or tiles have no size.`);
  }
  const across = Math.ceil(page.width / page.blockWidth);
  const down = Math.ceil(page.height / page.blockHeight);
  const needed = across * down * (page.planarConfiguration === 2 ? page.samplesPerPixel : 1);
  if (page.blockOffsets.length < needed || page.blockByteCounts.length < needed) {
    throw new TiffDecodeError(
      fileName,
      'corrupt',
      `"${fileName}" is a damaged TIFF file: it lists ${page.blockOffsets.length} pieces of image data where ${needed} are needed.`,
    );
  }
  const pieces = page.tiled ? 'tile' : 'strip';
  for (let i = 0; i < needed; i++) {
    const start = page.blockOffsets[i];
    const count = page.blockByteCounts[i];
    if (count === 0) continue; // an empty block reads as zeros (sparse files)
    const end = start + count;
    if (start < reserved.headerBytes) {
      throw new TiffDecodeError(
        fileName,
        'corrupt',
        `"${fileName}" is a damaged TIFF file: ${pieces} ${i} of page ${page.index} points at byte ${start}, inside the file header, not at image data.`,
        `block ${i} at ${start}+${count}, header ${reserved.headerBytes} bytes`,
      );
    }
    if (end > fileLength) {
      throw new TiffDecodeError(
        fileName,
        'truncated',
        `"${fileName}" is incomplete: the file ends before all of its image data. It may not have finished copying or downloading.`,
        `block ${i} ends at ${end}, file has ${fileLength} bytes`,
      );
    }
    const directory = directoryOverlapping(reserved, start, end);
    if (directory) {
      throw new TiffDecodeError(
        fileName,
        'corrupt',
        `"${fileName}" is a damaged TIFF file: ${pieces} ${i} of page ${page.index} overlaps a page directory (bytes ${directory[0]}-${directory[1]}), not image data.`,
        `block ${i} at ${start}+${count}`,
      );
    }
  }
}

/** The value every pixel of a plane holds, or undefined when the plane holds an image (two values differ, or it is empty). */
export function uniformValue(data: ArrayLike<number>): number | undefined {
  if (data.length === 0) return undefined;
  const first = data[0];
  for (let i = 1; i < data.length; i++) if (data[i] !== first) return undefined;
  return first;
}
