// Baseline TIFF encoder for 16-bit grayscale planes: one page, several pages, or one planar multi-sample page.

import { deflateSync } from 'node:zlib';

export type TiffCompression = 'none' | 'deflate';

export interface TiffPlane {
  width: number;
  height: number;
  data: Uint16Array;
}

export interface TiffWriteOptions {
  /** 'none' (Compression=1) or 'deflate' (Compression=8, Adobe Deflate). Default 'none'. */
  compression?: TiffCompression;
  /** Rows per strip (default: as many rows as fit in 64 KiB, at least 1). */
  rowsPerStrip?: number;
  /** Horizontal differencing (Predictor=2) before Deflate. Default false. */
  predictor?: boolean;
  /** PageName (tag 285) per page, e.g. channel names; readers use them to assign channels. */
  pageNames?: string[];
  /** ImageDescription (tag 270) of the first page: OME-XML, an ImageJ description. */
  description?: string;
  /** XResolution / YResolution (pixels per unit) and ResolutionUnit of every page. */
  resolution?: { x: number; y: number; unit: 'none' | 'inch' | 'centimeter' };
  /** Micro-Manager's per-page metadata (tag 51123, JSON text), one per page. */
  microManagerMetadata?: string[];
}

const TYPE_ASCII = 2;
const TYPE_SHORT = 3;
const TYPE_LONG = 4;
const TYPE_RATIONAL = 5;

/** A positive number as a TIFF RATIONAL (numerator, denominator), both 32-bit, the denominator as large as fits. */
function rational(value: number): number[] {
  const denominator = Math.max(1, Math.min(2 ** 32 - 1, Math.floor((2 ** 32 - 1) / value)));
  return [Math.round(value * denominator), denominator];
}

interface Entry {
  tag: number;
  type: number;
  /** The values; a RATIONAL's as numerator, denominator pairs. */
  values: number[];
}

/** Encodes one 16-bit grayscale image (BBBC021's per-channel files). */
export function encodeTiff16(plane: TiffPlane, options: TiffWriteOptions = {}): Uint8Array {
  return encodeTiffPages([plane], options);
}

/** Encodes 16-bit grayscale planes as consecutive pages (IFDs) of one file. */
export function encodeTiffPages(planes: TiffPlane[], options: TiffWriteOptions = {}): Uint8Array {
  if (planes.length === 0) throw new Error('encodeTiffPages: no planes');
  return assemble(planes.map((p) => [p]), options);
}

/** Encodes planes of equal size as one page with SamplesPerPixel = planes.length and PlanarConfiguration = 2. */
export function encodeTiffPlanar(planes: TiffPlane[], options: TiffWriteOptions = {}): Uint8Array {
  if (planes.length === 0) throw new Error('encodeTiffPlanar: no planes');
  const { width, height } = planes[0];
  for (const p of planes) {
    if (p.width !== width || p.height !== height) throw new Error(`encodeTiffPlanar: planes differ in size (${p.width}x${p.height} vs ${width}x${height})`);
  }
  return assemble([planes], options);
}

/** Builds the file: 8-byte header, then per page its strips followed by its IFD. */
function assemble(pages: TiffPlane[][], options: TiffWriteOptions): Uint8Array {
  const compression = options.compression ?? 'none';
  const chunks: Uint8Array[] = [];
  let size = 8;
  const push = (bytes: Uint8Array) => {
    chunks.push(bytes);
    size += bytes.length;
    if (size % 2) {
      chunks.push(new Uint8Array(1));
      size += 1;
    }
  };
  const header = new Uint8Array(8);
  const hv = new DataView(header.buffer);
  header[0] = 0x49; // 'I': little-endian
  header[1] = 0x49;
  hv.setUint16(2, 42, true);
  chunks.push(header);
  const ifdOffsetPatches: { chunk: Uint8Array; at: number }[] = [{ chunk: header, at: 4 }];

  for (const [pageIndex, samples] of pages.entries()) {
    const { width, height } = samples[0];
    for (const s of samples) {
      if (s.data.length !== s.width * s.height) throw new Error(`TIFF plane has ${s.data.length} values, expected ${s.width * s.height}`);
      if (!(s.width > 0 && s.height > 0)) throw new Error(`TIFF plane size must be positive, got ${s.width}x${s.height}`);
    }
    const rowsPerStrip = Math.max(1, Math.min(height, options.rowsPerStrip ?? Math.floor(65536 / (width * 2))));
    const offsets: number[] = [];
    const counts: number[] = [];
    for (const s of samples) {
      for (let row = 0; row < height; row += rowsPerStrip) {
        const rows = Math.min(rowsPerStrip, height - row);
        let strip = stripBytes(s.data, width, row, rows, options.predictor === true && compression === 'deflate');
        if (compression === 'deflate') strip = new Uint8Array(deflateSync(strip));
        offsets.push(size);
        counts.push(strip.length);
        push(strip);
      }
    }
    const spp = samples.length;
    const entries: Entry[] = [
      { tag: 256, type: TYPE_LONG, values: [width] },
      { tag: 257, type: TYPE_LONG, values: [height] },
      { tag: 258, type: TYPE_SHORT, values: new Array(spp).fill(16) },
      { tag: 259, type: TYPE_SHORT, values: [compression === 'deflate' ? 8 : 1] },
      { tag: 262, type: TYPE_SHORT, values: [1] }, // BlackIsZero
      { tag: 273, type: TYPE_LONG, values: offsets },
      { tag: 277, type: TYPE_SHORT, values: [spp] },
      { tag: 278, type: TYPE_LONG, values: [rowsPerStrip] },
      { tag: 279, type: TYPE_LONG, values: counts },
      { tag: 284, type: TYPE_SHORT, values: [spp > 1 ? 2 : 1] },
    ];
    const ascii = (text: string) => [...Buffer.from(text, 'utf8'), 0];
    const pageName = options.pageNames?.[pageIndex];
    if (pageName !== undefined) entries.push({ tag: 285, type: TYPE_ASCII, values: [...Buffer.from(pageName, 'latin1'), 0] });
    if (pageIndex === 0 && options.description !== undefined) entries.push({ tag: 270, type: TYPE_ASCII, values: ascii(options.description) });
    if (options.resolution) {
      const { x, y, unit } = options.resolution;
      entries.push({ tag: 282, type: TYPE_RATIONAL, values: rational(x) }, { tag: 283, type: TYPE_RATIONAL, values: rational(y) });
      entries.push({ tag: 296, type: TYPE_SHORT, values: [unit === 'none' ? 1 : unit === 'inch' ? 2 : 3] });
    }
    const microManager = options.microManagerMetadata?.[pageIndex];
    if (microManager !== undefined) entries.push({ tag: 51123, type: TYPE_ASCII, values: ascii(microManager) });
    if (options.predictor && compression === 'deflate') entries.push({ tag: 317, type: TYPE_SHORT, values: [2] });
    if (spp > 1) entries.push({ tag: 338, type: TYPE_SHORT, values: new Array(spp - 1).fill(0) });
    entries.push({ tag: 339, type: TYPE_SHORT, values: new Array(spp).fill(1) });
    entries.sort((a, b) => a.tag - b.tag);

    // Point the previous IFD (or the header) at this one.
    const ifdOffset = size;
    const last = ifdOffsetPatches[ifdOffsetPatches.length - 1];
    new DataView(last.chunk.buffer, last.chunk.byteOffset).setUint32(last.at, ifdOffset, true);
    const ifdSize = 2 + entries.length * 12 + 4;
    const ifd = new Uint8Array(ifdSize);
    const iv = new DataView(ifd.buffer);
    iv.setUint16(0, entries.length, true);
    const overflow: Uint8Array[] = [];
    let overflowOffset = ifdOffset + ifdSize;
    entries.forEach((entry, i) => {
      const at = 2 + i * 12;
      // Bytes per stored number (a RATIONAL is two LONGs, counted as one value).
      const width = entry.type === TYPE_ASCII ? 1 : entry.type === TYPE_SHORT ? 2 : 4;
      iv.setUint16(at, entry.tag, true);
      iv.setUint16(at + 2, entry.type, true);
      iv.setUint32(at + 4, entry.type === TYPE_RATIONAL ? entry.values.length / 2 : entry.values.length, true);
      const bytes = entry.values.length * width;
      const target = bytes <= 4 ? iv : null;
      if (target) {
        entry.values.forEach((v, k) => (width === 1 ? iv.setUint8(at + 8 + k, v) : width === 2 ? iv.setUint16(at + 8 + 2 * k, v, true) : iv.setUint32(at + 8, v, true)));
      } else {
        const block = new Uint8Array(bytes + (bytes % 2));
        const bv = new DataView(block.buffer);
        entry.values.forEach((v, k) => (width === 1 ? bv.setUint8(k, v) : width === 2 ? bv.setUint16(2 * k, v, true) : bv.setUint32(4 * k, v, true)));
        iv.setUint32(at + 8, overflowOffset, true);
        overflowOffset += block.length;
        overflow.push(block);
      }
    });
    ifdOffsetPatches.push({ chunk: ifd, at: ifdSize - 4 });
    push(ifd);
    for (const block of overflow) push(block);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** Little-endian bytes of rows [row, row + rows), optionally horizontally differenced (Predictor 2). */
function stripBytes(data: Uint16Array, width: number, row: number, rows: number, predictor: boolean): Uint8Array {
  const out = new Uint8Array(rows * width * 2);
  const view = new DataView(out.buffer);
  for (let r = 0; r < rows; r++) {
    const base = (row + r) * width;
    for (let x = 0; x < width; x++) {
      const v = predictor && x > 0 ? (data[base + x] - data[base + x - 1]) & 0xffff : data[base + x];
      view.setUint16((r * width + x) * 2, v, true);
    }
  }
  return out;
}
