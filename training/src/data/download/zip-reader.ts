// A small zip reader for the BBBC021 plate archives: the central directory (Zip64 included), stored and
// deflated entries, each entry's size and CRC-32 checked. Reads through a file handle, one entry at a time.

import type { FileHandle } from 'node:fs/promises';
import { crc32, inflateRawSync } from 'node:zlib';

/** A zip that cannot be read or whose contents do not match their recorded size or CRC-32. */
export class ZipError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ZipError';
  }
}

export interface ZipEntry {
  /** The entry's path inside the archive, '/' separated ("Week1_22123/Week1_150607_B02_s1_w1...tif"). */
  name: string;
  isDirectory: boolean;
  /** 0 stored, 8 deflate. */
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const ZIP64_EXTRA_ID = 0x0001;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;

async function readAt(handle: FileHandle, position: number, length: number, label: string): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new ZipError(`${label}: truncated (wanted ${length} bytes at offset ${position}, the file ends at ${position + done})`);
    done += bytesRead;
  }
  return buffer;
}

function uint64(buffer: Buffer, at: number, label: string): number {
  const value = buffer.readBigUInt64LE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(`${label}: a Zip64 size or offset (${value}) is too large`);
  return Number(value);
}

/** The central directory's entries, in archive order. `label` names the zip in errors. */
export async function readZipEntries(handle: FileHandle, label: string): Promise<ZipEntry[]> {
  const fileSize = (await handle.stat()).size;
  if (fileSize < EOCD_SIZE) throw new ZipError(`${label}: not a zip (${fileSize} bytes)`);
  const tailLength = Math.min(fileSize, EOCD_SIZE + MAX_COMMENT);
  const tail = await readAt(handle, fileSize - tailLength, tailLength, label);
  let eocd = -1;
  for (let at = tailLength - EOCD_SIZE; at >= 0; at--) {
    if (tail.readUInt32LE(at) === EOCD_SIGNATURE && at + EOCD_SIZE + tail.readUInt16LE(at + 20) === tailLength) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) throw new ZipError(`${label}: not a zip, or truncated (no end-of-central-directory record)`);
  let entryCount = tail.readUInt16LE(eocd + 10);
  let directorySize = tail.readUInt32LE(eocd + 12);
  let directoryOffset = tail.readUInt32LE(eocd + 16);
  const eocdPosition = fileSize - tailLength + eocd;
  if (entryCount === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    if (eocdPosition < 20) throw new ZipError(`${label}: Zip64 markers without a Zip64 locator`);
    const locator = await readAt(handle, eocdPosition - 20, 20, label);
    if (locator.readUInt32LE(0) !== ZIP64_LOCATOR_SIGNATURE) throw new ZipError(`${label}: Zip64 markers without a Zip64 locator`);
    const record = await readAt(handle, uint64(locator, 8, label), 56, label);
    if (record.readUInt32LE(0) !== ZIP64_EOCD_SIGNATURE) throw new ZipError(`${label}: the Zip64 end-of-central-directory record is missing`);
    entryCount = uint64(record, 32, label);
    directorySize = uint64(record, 40, label);
    directoryOffset = uint64(record, 48, label);
  }
  if (directoryOffset + directorySize > fileSize) throw new ZipError(`${label}: truncated (the central directory ends at ${directoryOffset + directorySize}, the file at ${fileSize})`);
  const directory = await readAt(handle, directoryOffset, directorySize, label);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let index = 0; index < entryCount; index++) {
    if (at + 46 > directory.length || directory.readUInt32LE(at) !== CENTRAL_SIGNATURE) throw new ZipError(`${label}: central directory entry ${index + 1} of ${entryCount} is damaged`);
    const flags = directory.readUInt16LE(at + 8);
    const method = directory.readUInt16LE(at + 10);
    const crc = directory.readUInt32LE(at + 16);
    let compressedSize = directory.readUInt32LE(at + 20);
    let size = directory.readUInt32LE(at + 24);
    const nameLength = directory.readUInt16LE(at + 28);
    const extraLength = directory.readUInt16LE(at + 30);
    const commentLength = directory.readUInt16LE(at + 32);
    let localHeaderOffset = directory.readUInt32LE(at + 42);
    const nameEnd = at + 46 + nameLength;
    if (nameEnd + extraLength + commentLength > directory.length) throw new ZipError(`${label}: central directory entry ${index + 1} of ${entryCount} is damaged`);
    const name = directory.toString(flags & 0x800 ? 'utf8' : 'latin1', at + 46, nameEnd).replace(/\\/g, '/');
    // Zip64 extra field: the 8-byte values of whichever 32-bit fields are saturated, in this order.
    for (let extra = nameEnd; extra + 4 <= nameEnd + extraLength; ) {
      const id = directory.readUInt16LE(extra);
      const length = directory.readUInt16LE(extra + 2);
      if (id === ZIP64_EXTRA_ID) {
        let value = extra + 4;
        const next = () => {
          if (value + 8 > extra + 4 + length) throw new ZipError(`${label}: ${name}: Zip64 extra field too short`);
          const v = uint64(directory, value, label);
          value += 8;
          return v;
        };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
      }
      extra += 4 + length;
    }
    if (flags & 0x1) throw new ZipError(`${label}: ${name} is encrypted`);
    entries.push({ name, isDirectory: name.endsWith('/'), method, crc32: crc, compressedSize, size, localHeaderOffset });
    at = nameEnd + extraLength + commentLength;
  }
  return entries;
}

/** The entry's bytes, inflated when deflated; a ZipError when its size or CRC-32 differs from the directory's. */
export async function readZipEntry(handle: FileHandle, entry: ZipEntry, label: string): Promise<Buffer> {
  const where = `${label}: ${entry.name}`;
  const header = await readAt(handle, entry.localHeaderOffset, 30, label);
  if (header.readUInt32LE(0) !== LOCAL_SIGNATURE) throw new ZipError(`${where}: no local header at offset ${entry.localHeaderOffset}`);
  const dataOffset = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  const stored = await readAt(handle, dataOffset, entry.compressedSize, label);
  let data: Buffer;
  if (entry.method === METHOD_STORED) data = stored;
  else if (entry.method === METHOD_DEFLATE) {
    try {
      data = inflateRawSync(stored);
    } catch (error) {
      throw new ZipError(`${where}: the deflated data is damaged (${(error as Error).message})`, { cause: error });
    }
  } else throw new ZipError(`${where}: compression method ${entry.method} is not supported (only stored and deflate)`);
  if (data.length !== entry.size) throw new ZipError(`${where}: ${data.length} bytes, the directory says ${entry.size}`);
  const actual = crc32(data) >>> 0;
  if (actual !== entry.crc32) throw new ZipError(`${where}: CRC-32 mismatch (${hex(actual)}, the directory says ${hex(entry.crc32)})`);
  return data;
}

function hex(value: number): string {
  return value.toString(16).padStart(8, '0');
}
