// Assembles a page's strips or tiles into one plane per sample: geotiff decompresses each block,
// the copying, byte order, bit unpacking (1-31 bits), half floats and 64-bit floats are handled here.
//
// LZW uses the bounded decoder of lzw.ts. Own assembly because geotiff's readRasters places every chunky sample after the first at the wrong
// byte for 12/14-bit data, and fetches each block's offset tag lazily (seconds for a 35-page OME file).

import { getDecoder } from 'geotiff';
import { TiffDecodeError } from '../errors.ts';
import { BoundedLzwDecoder } from './lzw.ts';
import type { PageSummary } from './structure.ts';
import type { PlaneData } from './types.ts';

function allocate(bits: number, format: number, length: number): PlaneData {
  if (format === 3) return new Float32Array(length);
  if (format === 2) return bits === 8 ? new Int8Array(length) : bits === 16 ? new Int16Array(length) : new Int32Array(length);
  return bits <= 8 ? new Uint8Array(length) : bits <= 16 ? new Uint16Array(length) : new Uint32Array(length);
}

/** IEEE 754 half (binary16) bits to a number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

type SampleReader = (view: DataView, byteOffset: number, littleEndian: boolean) => number;

function readerFor(bits: number, format: number): SampleReader {
  if (format === 3) {
    if (bits === 16) return (v, o, le) => halfToFloat(v.getUint16(o, le));
    if (bits === 32) return (v, o, le) => v.getFloat32(o, le);
    return (v, o, le) => v.getFloat64(o, le);
  }
  if (format === 2) {
    if (bits === 8) return (v, o) => v.getInt8(o);
    if (bits === 16) return (v, o, le) => v.getInt16(o, le);
    return (v, o, le) => v.getInt32(o, le);
  }
  if (bits === 8) return (v, o) => v.getUint8(o);
  if (bits === 16) return (v, o, le) => v.getUint16(o, le);
  return (v, o, le) => v.getUint32(o, le);
}

/** Reads an unsigned `bits`-wide sample starting at `bitOffset` (most significant bit first, as TIFF stores it). */
function readPackedSample(bytes: Uint8Array, bitOffset: number, bits: number): number {
  let value = 0;
  let remaining = bits;
  let position = bitOffset;
  while (remaining > 0) {
    const byte = bytes[position >> 3];
    const used = position & 7;
    const take = Math.min(8 - used, remaining);
    const chunk = (byte >> (8 - used - take)) & ((1 << take) - 1);
    value = value * 2 ** take + chunk;
    remaining -= take;
    position += take;
  }
  return value;
}

/** Zstandard frames begin with the magic number 0xFD2FB528; the WASM decoder returns zeros, not an error, for anything else. */
function checkZstdFrame(block: Uint8Array, fileName: string, index: number): void {
  if (block.length < 4 || block[0] !== 0x28 || block[1] !== 0xb5 || block[2] !== 0x2f || block[3] !== 0xfd) {
    throw new TiffDecodeError(
      fileName,
      'corrupt',
      `"${fileName}" is a damaged TIFF file: it says its image data is Zstandard-compressed (compression 50000), but block ${index} is not Zstandard data.`,
      `block ${index} starts with ${Array.from(block.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')}`,
    );
  }
}

/**
 * Decodes every strip or tile of `page` from `file` into one plane per sample (width * height, row-major).
 * `jpegTables` is the page's JPEGTables tag, if any.
 */
export async function readPageSamples(file: Uint8Array, page: PageSummary, littleEndian: boolean, fileName: string, jpegTables?: Uint8Array): Promise<PlaneData[]> {
  const { width, height, samplesPerPixel: spp, blockWidth, blockHeight, planarConfiguration } = page;
  const bits = page.bitsPerSample[0];
  const format = page.sampleFormat[0];
  const separate = planarConfiguration === 2;
  const perPixel = separate ? 1 : spp;
  const rowBytes = Math.ceil((blockWidth * perPixel * bits) / 8);
  // geotiff undoes predictor 2 in the machine's (little-endian) byte order; for big-endian 16/32-bit
  // data the differences are summed here instead, on the decoded values (typed arrays wrap like the encoder).
  const ownHorizontalPredictor = page.predictor === 2 && !littleEndian && bits > 8 && bits % 8 === 0;
  const parameters = {
    tileWidth: blockWidth,
    tileHeight: blockHeight,
    planarConfiguration,
    bitsPerSample: page.bitsPerSample,
    predictor: ownHorizontalPredictor ? 1 : page.predictor,
    ...(jpegTables ? { JPEGTables: jpegTables } : {}),
  } as Parameters<typeof getDecoder>[1];
  const decoder = page.compression === 5 ? new BoundedLzwDecoder(parameters, rowBytes * blockHeight) : await getDecoder(page.compression, parameters);
  const planes = Array.from({ length: spp }, () => allocate(bits, format, width * height));
  const across = Math.ceil(width / blockWidth);
  const down = Math.ceil(height / blockHeight);
  const byteAligned = bits % 8 === 0;
  const sampleBytes = bits / 8;
  const read = byteAligned ? readerFor(bits, format) : undefined;
  for (let sampleBlock = 0; sampleBlock < (separate ? spp : 1); sampleBlock++) {
    for (let by = 0; by < down; by++) {
      for (let bx = 0; bx < across; bx++) {
        const index = sampleBlock * across * down + by * across + bx;
        const rows = page.tiled ? blockHeight : Math.min(blockHeight, height - by * blockHeight);
        const offset = page.blockOffsets[index];
        const count = page.blockByteCounts[index];
        if (count === 0) continue; // an empty block reads as zeros (sparse files)
        // A copy with its own ArrayBuffer: `.slice()` of a Node Buffer is a view into a shared pool.
        const compressed = new Uint8Array(file.subarray(offset, offset + count)).buffer;
        if (page.compression === 50000) checkZstdFrame(new Uint8Array(compressed), fileName, index);
        const decoded = new Uint8Array(await decoder.decode(compressed));
        const usedRows = Math.min(rows, height - by * blockHeight);
        const cols = Math.min(blockWidth, width - bx * blockWidth);
        if (decoded.byteLength < (usedRows - 1) * rowBytes + Math.ceil((cols * perPixel * bits) / 8)) {
          throw new TiffDecodeError(
            fileName,
            'corrupt',
            `"${fileName}" is a damaged TIFF file: part of its image data is missing or cannot be decompressed.`,
            `block ${index} decoded to ${decoded.byteLength} bytes, ${usedRows} rows of ${rowBytes} needed`,
          );
        }
        const view = new DataView(decoded.buffer, decoded.byteOffset, decoded.byteLength);
        for (let y = 0; y < usedRows; y++) {
          const outRow = (by * blockHeight + y) * width + bx * blockWidth;
          for (let x = 0; x < cols; x++) {
            for (let s = 0; s < perPixel; s++) {
              const target = planes[separate ? sampleBlock : s];
              const sampleIndex = x * perPixel + s;
              const value = read
                ? read(view, y * rowBytes + sampleIndex * sampleBytes, littleEndian)
                : readPackedSample(decoded, y * rowBytes * 8 + sampleIndex * bits, bits);
              target[outRow + x] = ownHorizontalPredictor && x > 0 ? value + target[outRow + x - 1] : value;
            }
          }
        }
      }
    }
  }
  return planes;
}
