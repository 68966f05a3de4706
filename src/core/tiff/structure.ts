// Walks a TIFF's header and page (IFD) chain with bounds checks, before any pixel decoding.
//
// geotiff trusts the file: a cyclic page chain makes it loop forever and a tag claiming billions of
// values makes it allocate them. This walker reads only what it needs, refuses anything that points
// outside the file, and gives the decoder the facts it must check against the memory budget.

import { TiffDecodeError } from '../errors.ts';

export interface PageSummary {
  index: number;
  width: number;
  height: number;
  samplesPerPixel: number;
  bitsPerSample: number[];
  /** TIFF SampleFormat per sample: 1 uint, 2 int, 3 float (default 1). */
  sampleFormat: number[];
  compression: number;
  photometric: number;
  planarConfiguration: number;
  predictor: number;
  newSubfileType: number;
  tiled: boolean;
  blockWidth: number;
  blockHeight: number;
  blockOffsets: number[];
  blockByteCounts: number[];
  description?: string;
  pageName?: string;
  /** ColorMap (palette) values: all reds, then greens, then blues. */
  colorMap?: number[];
  jpegTables?: Uint8Array;
  /** XResolution / YResolution (pixels per ResolutionUnit), when stated. */
  xResolution?: number;
  yResolution?: number;
  /** ResolutionUnit: 1 none, 2 inch (the TIFF default), 3 centimetre. */
  resolutionUnit: number;
  /** Micro-Manager's per-page metadata (tag 51123): the position index it states, if any. */
  microManagerPosition?: number;
  /** Bytes of the page directory itself (entry count, entries, next-page link), [start, end). */
  directory: [number, number];
}

export interface TiffStructure {
  littleEndian: boolean;
  bigTiff: boolean;
  /** Bytes of the file header (8, or 16 for BigTIFF): no strip or tile may start inside it. */
  headerBytes: number;
  pages: PageSummary[];
}

const TYPE_SIZES: Record<number, number> = {
  1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8,
};

/** Most pages walked before the file is refused (a real stack of this size would not fit memory anyway). */
const MAX_PAGES = 100_000;

interface RawEntry {
  type: number;
  count: number;
  valueOffset: number;
}

/**
 * Parts of a file at their offsets, and the file's length: what a probe has read of a file so far (its header,
 * then the ranges the page directories need), instead of the whole file.
 */
export interface FileParts {
  length: number;
  parts: { offset: number; bytes: Uint8Array }[];
}

/** The walk needs bytes of the file that are not among its FileParts: read them (or more) and walk again. */
export class MissingBytes extends Error {
  constructor(
    readonly offset: number,
    readonly length: number,
  ) {
    super(`bytes ${offset}+${length} not read`);
    this.name = 'MissingBytes';
  }
}

class Reader {
  private readonly views: { offset: number; end: number; bytes: Uint8Array; view: DataView }[];
  constructor(
    file: FileParts,
    readonly littleEndian: boolean,
    readonly bigTiff: boolean,
    readonly fileName: string,
  ) {
    this.length = file.length;
    this.views = file.parts.map(({ offset, bytes }) => ({ offset, end: offset + bytes.byteLength, bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) }));
  }
  /** The file's length in bytes (all of it, whatever was read). */
  readonly length: number;
  /** The view holding bytes [at, at + n) of the file, and where they start in it; MissingBytes when no part holds them all. */
  locate(at: number, n: number): { view: DataView; bytes: Uint8Array; base: number } {
    for (const v of this.views) if (at >= v.offset && at + n <= v.end) return { view: v.view, bytes: v.bytes, base: at - v.offset };
    if (this.views.some((v) => v.offset === 0 && v.end >= this.length)) throw corrupt(this.fileName, `bytes ${at}+${n} beyond ${this.length}`);
    throw new MissingBytes(at, n);
  }
  range(at: number, n: number): Uint8Array {
    const { bytes, base } = this.locate(at, n);
    return bytes.subarray(base, base + n);
  }
  u16(at: number): number {
    const { view, base } = this.locate(at, 2);
    return view.getUint16(base, this.littleEndian);
  }
  u32(at: number): number {
    const { view, base } = this.locate(at, 4);
    return view.getUint32(base, this.littleEndian);
  }
  u64(at: number): number {
    const { view, base } = this.locate(at, 8);
    const v = view.getBigUint64(base, this.littleEndian);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(this.fileName, `64-bit value ${v} at ${at}`);
    return Number(v);
  }
  offsetAt(at: number): number {
    return this.bigTiff ? this.u64(at) : this.u32(at);
  }
}

function corrupt(fileName: string, detail: string): TiffDecodeError {
  return new TiffDecodeError(
    fileName,
    'corrupt',
    `"${fileName}" is a damaged TIFF file: its internal layout points to places that do not exist. Try exporting the image again.`,
    detail,
  );
}

function truncated(fileName: string, detail: string): TiffDecodeError {
  return new TiffDecodeError(
    fileName,
    'truncated',
    `"${fileName}" is incomplete: the file ends before all of its image data. It may not have finished copying or downloading.`,
    detail,
  );
}

function readEntryValues(r: Reader, e: RawEntry): number[] {
  const size = TYPE_SIZES[e.type];
  const out: number[] = new Array(e.count);
  const { view, base } = r.locate(e.valueOffset, size * e.count);
  const le = r.littleEndian;
  for (let i = 0; i < e.count; i++) {
    const at = base + i * size;
    switch (e.type) {
      case 1: case 7: out[i] = view.getUint8(at); break;
      case 6: out[i] = view.getInt8(at); break;
      case 3: out[i] = view.getUint16(at, le); break;
      case 8: out[i] = view.getInt16(at, le); break;
      case 4: case 13: out[i] = view.getUint32(at, le); break;
      case 9: out[i] = view.getInt32(at, le); break;
      case 16: case 18: out[i] = r.u64(e.valueOffset + i * size); break;
      case 17: out[i] = Number(view.getBigInt64(at, le)); break;
      case 5: { const d = view.getUint32(at + 4, le); out[i] = d === 0 ? 0 : view.getUint32(at, le) / d; break; }
      case 10: { const d = view.getInt32(at + 4, le); out[i] = d === 0 ? 0 : view.getInt32(at, le) / d; break; }
      case 11: out[i] = view.getFloat32(at, le); break;
      case 12: out[i] = view.getFloat64(at, le); break;
      default: out[i] = 0;
    }
  }
  return out;
}

function readAscii(r: Reader, e: RawEntry): string {
  const value = r.range(e.valueOffset, e.count);
  const zero = value.indexOf(0);
  return new TextDecoder('utf-8', { fatal: false }).decode(zero >= 0 ? value.subarray(0, zero) : value);
}

/**
 * Reads the header and every page's key tags; throws TiffDecodeError on anything out of bounds. From parts of
 * the file (FileParts), MissingBytes says which bytes the walk needs that were not read.
 */
export function readTiffStructure(file: Uint8Array | FileParts, fileName: string): TiffStructure {
  const parts = file instanceof Uint8Array ? { length: file.byteLength, parts: [{ offset: 0, bytes: file }] } : file;
  const bytes = parts.parts.find((p) => p.offset === 0)?.bytes ?? new Uint8Array(0);
  if (parts.length === 0) {
    throw new TiffDecodeError(fileName, 'empty-file', `"${fileName}" is empty (0 bytes). The file may not have been copied completely.`);
  }
  if (parts.length < 8) throw notTiff(fileName, bytes);
  if (bytes.byteLength < Math.min(16, parts.length)) throw new MissingBytes(0, Math.min(16, parts.length));
  const order = String.fromCharCode(bytes[0], bytes[1]);
  if (order !== 'II' && order !== 'MM') throw notTiff(fileName, bytes);
  const littleEndian = order === 'II';
  const probe = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = probe.getUint16(2, littleEndian);
  if (version !== 42 && version !== 43) throw notTiff(fileName, bytes);
  const bigTiff = version === 43;
  if (bigTiff && parts.length < 16) throw truncated(fileName, 'BigTIFF header shorter than 16 bytes');
  const r = new Reader(parts, littleEndian, bigTiff, fileName);
  let offset = bigTiff ? r.u64(8) : r.u32(4);
  const pages: PageSummary[] = [];
  const seen = new Set<number>();
  while (offset !== 0) {
    if (seen.has(offset)) break; // a page chain that loops back: keep the pages read so far
    if (pages.length >= MAX_PAGES) {
      throw new TiffDecodeError(fileName, 'unsupported', `"${fileName}" has more than ${MAX_PAGES} pages, more than this app can open.`);
    }
    seen.add(offset);
    const headSize = bigTiff ? 8 : 2;
    if (offset + headSize > r.length) {
      if (pages.length > 0) break; // a broken link after good pages: use what is there
      throw (offset < 2 ** 32 && offset > r.length ? truncated : corrupt)(fileName, `first page at ${offset}, file has ${r.length} bytes`);
    }
    const entryCount = bigTiff ? r.u64(offset) : r.u16(offset);
    const entrySize = bigTiff ? 20 : 12;
    const entriesStart = offset + headSize;
    const nextAt = entriesStart + entryCount * entrySize;
    if (nextAt + (bigTiff ? 8 : 4) > r.length) {
      if (pages.length > 0) break;
      throw truncated(fileName, `page directory at ${offset} with ${entryCount} entries runs past the end`);
    }
    const entries = new Map<number, RawEntry>();
    for (let i = 0; i < entryCount; i++) {
      const at = entriesStart + i * entrySize;
      const tag = r.u16(at);
      const type = r.u16(at + 2);
      const count = bigTiff ? r.u64(at + 4) : r.u32(at + 4);
      const size = TYPE_SIZES[type];
      if (size === undefined) continue; // unknown field type: readers skip such entries
      const bytesNeeded = size * count;
      const inlineCapacity = bigTiff ? 8 : 4;
      const valueField = at + (bigTiff ? 12 : 8);
      const valueOffset = bytesNeeded <= inlineCapacity ? valueField : r.offsetAt(valueField);
      if (valueOffset + bytesNeeded > r.length) {
        if (IMAGE_TAGS.has(tag)) throw (valueOffset > r.length ? corrupt : truncated)(fileName, `tag ${tag} values at ${valueOffset}+${bytesNeeded} beyond ${r.length}`);
        continue; // a damaged tag nobody needs for pixels
      }
      entries.set(tag, { type, count, valueOffset });
    }
    pages.push(summarisePage(r, pages.length, entries, [offset, nextAt + (bigTiff ? 8 : 4)]));
    offset = r.offsetAt(nextAt);
  }
  if (pages.length === 0) throw corrupt(fileName, 'no page directory');
  return { littleEndian, bigTiff, headerBytes: bigTiff ? 16 : 8, pages };
}

/** Tags whose damage makes pixels unreadable (others are skipped when out of bounds). */
const IMAGE_TAGS = new Set([256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 320, 322, 323, 324, 325, 339, 347]);

function notTiff(fileName: string, bytes: Uint8Array): TiffDecodeError {
  const kind = sniffFormat(bytes);
  return new TiffDecodeError(
    fileName,
    'not-tiff',
    kind
      ? `"${fileName}" is a ${kind} file, not a TIFF. Please provide the original TIFF images from the microscope.`
      : `"${fileName}" is not a TIFF image (its first bytes are not a TIFF header).`,
  );
}

function sniffFormat(b: Uint8Array): string | undefined {
  const starts = (...sig: number[]) => sig.every((v, i) => b[i] === v);
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'PNG';
  if (starts(0xff, 0xd8, 0xff)) return 'JPEG';
  if (starts(0x50, 0x4b, 0x03, 0x04)) return 'ZIP';
  if (starts(0x25, 0x50, 0x44, 0x46)) return 'PDF';
  if (starts(0x47, 0x49, 0x46, 0x38)) return 'GIF';
  if (starts(0x42, 0x4d)) return 'BMP';
  return undefined;
}

function summarisePage(r: Reader, index: number, entries: Map<number, RawEntry>, directory: [number, number]): PageSummary {
  const nums = (tag: number): number[] | undefined => {
    const e = entries.get(tag);
    return e ? readEntryValues(r, e) : undefined;
  };
  const one = (tag: number, fallback: number): number => nums(tag)?.[0] ?? fallback;
  const text = (tag: number): string | undefined => {
    const e = entries.get(tag);
    return e && e.type === 2 ? readAscii(r, e) : undefined;
  };
  const samplesPerPixel = one(277, 1);
  const bps = nums(258) ?? [1];
  const fmt = nums(339) ?? [1];
  const tiled = entries.has(324) || entries.has(322);
  const width = one(256, 0);
  const height = one(257, 0);
  return {
    index,
    width,
    height,
    samplesPerPixel,
    bitsPerSample: Array.from({ length: samplesPerPixel }, (_, i) => bps[i] ?? bps[0]),
    sampleFormat: Array.from({ length: samplesPerPixel }, (_, i) => fmt[i] ?? fmt[0]),
    compression: one(259, 1),
    photometric: one(262, samplesPerPixel >= 3 ? 2 : 1),
    planarConfiguration: one(284, 1),
    predictor: one(317, 1),
    newSubfileType: one(254, 0),
    tiled,
    blockWidth: tiled ? one(322, 0) : width,
    blockHeight: tiled ? one(323, 0) : Math.min(one(278, height), height),
    blockOffsets: nums(tiled ? 324 : 273) ?? [],
    blockByteCounts: nums(tiled ? 325 : 279) ?? [],
    description: text(270),
    pageName: text(285),
    colorMap: nums(320),
    jpegTables: entries.has(347) ? r.range(entries.get(347)!.valueOffset, entries.get(347)!.count).slice() : undefined,
    xResolution: nums(282)?.[0],
    yResolution: nums(283)?.[0],
    resolutionUnit: one(296, 2),
    microManagerPosition: microManagerPosition(text(51123)),
    directory,
  };
}

/** The position index in Micro-Manager's per-page JSON ("PositionIndex": 1), without parsing the rest. */
function microManagerPosition(json: string | undefined): number | undefined {
  const m = json === undefined ? null : /"PositionIndex"\s*:\s*(\d+)/.exec(json);
  return m ? Number(m[1]) : undefined;
}
