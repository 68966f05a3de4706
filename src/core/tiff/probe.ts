// Checks a file before it is read whole: its size against the decode limit, and, for a TIFF, the first
// page's declared size, from a few bytes read at the header and the first page directory. A 3 GB file
// or a header claiming 100,000 x 100,000 pixels is refused with the size and the limit, before the
// browser is asked for gigabytes it cannot give (it then reports "permission problems").

import { TiffDecodeError } from '../errors.ts';
import { bytesPerDecodedSample, tooLargeToDecode } from './checks.ts';

/** Reads `length` bytes at `offset` of the file (fewer at its end). */
export type ReadSlice = (offset: number, length: number) => Promise<Uint8Array>;

/** Most page-directory entries read by the probe (real first pages have a few dozen). */
const MAX_PROBED_ENTRIES = 4096;

/** A byte count for people: "3.40 GB", "812 MB", "1.07 GB (1 GiB)" for a power of two. */
export function formatFileSize(bytes: number): string {
  const units: [number, string][] = [[1e9, 'GB'], [1e6, 'MB'], [1e3, 'kB']];
  const [scale, unit] = units.find(([s]) => bytes >= s) ?? [1, 'bytes'];
  const text = scale === 1 ? `${bytes} bytes` : `${(bytes / scale).toPrecision(3)} ${unit}`;
  const binary = Number.isInteger(Math.log2(bytes)) && bytes >= 2 ** 20 ? ` (${bytes >= 2 ** 30 ? `${bytes / 2 ** 30} GiB` : `${bytes / 2 ** 20} MiB`})` : '';
  return text + binary;
}

/**
 * Throws TiffDecodeError `too-large` when a file of `fileSize` bytes is above `maxBytes`, or when it is a
 * TIFF whose first page would decode to more than `maxBytes`; reads only the header and that page's
 * directory through `read`. Anything else (not a TIFF, a damaged header) is left to the full decode.
 */
export async function checkBeforeReading(read: ReadSlice, fileSize: number, fileName: string, maxBytes: number): Promise<void> {
  if (fileSize > maxBytes) {
    throw new TiffDecodeError(
      fileName,
      'too-large',
      `"${fileName}" is ${formatFileSize(fileSize)}, larger than the ${formatFileSize(maxBytes)} this app reads from one file (its decode limit). ` +
        'Save one field (one position, z plane and time point) per file, or crop the image, and try again.',
      `file size ${fileSize} bytes, limit ${maxBytes}`,
    );
  }
  const head = await read(0, 16);
  if (head.length < 8) return;
  const order = String.fromCharCode(head[0], head[1]);
  if (order !== 'II' && order !== 'MM') return;
  const le = order === 'II';
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const version = view(head).getUint16(2, le);
  if (version !== 42 && version !== 43) return;
  const big = version === 43;
  if (big && head.length < 16) return;
  const offsetSize = big ? 8 : 4;
  const readOffset = (v: DataView, at: number) => (big ? Number(v.getBigUint64(at, le)) : v.getUint32(at, le));
  const ifd = readOffset(view(head), big ? 8 : 4);
  const countBytes = big ? 8 : 2;
  if (ifd < 8 || ifd + countBytes > fileSize) return;
  const countView = view(await read(ifd, countBytes));
  if (countView.byteLength < countBytes) return;
  const count = big ? Number(countView.getBigUint64(0, le)) : countView.getUint16(0, le);
  const entrySize = big ? 20 : 12;
  if (count === 0 || count > MAX_PROBED_ENTRIES) return;
  const entries = view(await read(ifd + countBytes, count * entrySize));
  if (entries.byteLength < count * entrySize) return;
  const values = new Map<number, number[]>();
  for (let i = 0; i < count; i++) {
    const at = i * entrySize;
    const tag = entries.getUint16(at, le);
    if (tag !== 256 && tag !== 257 && tag !== 258 && tag !== 277) continue;
    const type = entries.getUint16(at + 2, le);
    const n = big ? Number(entries.getBigUint64(at + 4, le)) : entries.getUint32(at + 4, le);
    const size = type === 3 ? 2 : type === 4 ? 4 : type === 16 ? 8 : 0;
    if (size === 0 || n < 1 || n > 64) continue;
    const valueAt = at + 4 + offsetSize;
    const inline = n * size <= offsetSize;
    const source = inline ? new DataView(entries.buffer, entries.byteOffset + valueAt, n * size) : view(await read(readOffset(entries, valueAt), n * size));
    if (source.byteLength < n * size) continue;
    values.set(
      tag,
      Array.from({ length: n }, (_, k) => (size === 2 ? source.getUint16(k * 2, le) : size === 4 ? source.getUint32(k * 4, le) : Number(source.getBigUint64(k * 8, le)))),
    );
  }
  const width = values.get(256)?.[0];
  const height = values.get(257)?.[0];
  if (width === undefined || height === undefined) return;
  const samples = values.get(277)?.[0] ?? 1;
  const bits = Math.max(...(values.get(258) ?? [1]));
  const bytes = width * height * samples * bytesPerDecodedSample(bits);
  if (bytes > maxBytes) throw tooLargeToDecode(fileName, width, height, 1, bytes, maxBytes);
}
