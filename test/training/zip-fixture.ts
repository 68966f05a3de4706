// Test helper: writes zip archives (stored or deflated entries, optionally in Zip64 form) like the BBBC's plate zips,
// and the tiny plates the downloader's tests serve: real BBBC021 file names from the vendored image table.
import { crc32, deflateRawSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseImageTable } from '../../src/core/metadata.ts';
import { encodeTiff16 } from '../../training/src/simulate/tiff-writer.ts';
import { BBBC021_METADATA_DIR } from '../fixtures/paths.ts';

export interface ZipFixtureEntry {
  name: string;
  data: Uint8Array;
  method?: 'store' | 'deflate';
}

export interface BuiltZip {
  bytes: Buffer;
  /** Offset of each entry's (compressed) data in `bytes`, in entry order. */
  dataOffsets: number[];
}

/** A zip of the entries; `zip64` writes the Zip64 extra fields and end records with the 32-bit fields saturated. */
export function buildZip(entries: readonly ZipFixtureEntry[], options: { zip64?: boolean } = {}): BuiltZip {
  const zip64 = options.zip64 ?? false;
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  const dataOffsets: number[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const data = Buffer.from(entry.data);
    const method = entry.method === 'deflate' ? 8 : 0;
    const stored = method === 8 ? deflateRawSync(data) : data;
    const crc = crc32(data) >>> 0;
    const sized = (value: number) => (zip64 ? 0xffffffff : value);
    const localExtra = zip64 ? Buffer.alloc(20) : Buffer.alloc(0);
    if (zip64) {
      localExtra.writeUInt16LE(1, 0);
      localExtra.writeUInt16LE(16, 2);
      localExtra.writeBigUInt64LE(BigInt(data.length), 4);
      localExtra.writeBigUInt64LE(BigInt(stored.length), 12);
    }
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(zip64 ? 45 : 20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(sized(stored.length), 18);
    local.writeUInt32LE(sized(data.length), 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(localExtra.length, 28);
    dataOffsets.push(offset + 30 + name.length + localExtra.length);
    const centralExtra = zip64 ? Buffer.alloc(28) : Buffer.alloc(0);
    if (zip64) {
      centralExtra.writeUInt16LE(1, 0);
      centralExtra.writeUInt16LE(24, 2);
      centralExtra.writeBigUInt64LE(BigInt(data.length), 4);
      centralExtra.writeBigUInt64LE(BigInt(stored.length), 12);
      centralExtra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(zip64 ? 45 : 20, 4);
    central.writeUInt16LE(zip64 ? 45 : 20, 6);
    central.writeUInt16LE(0x800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(sized(stored.length), 20);
    central.writeUInt32LE(sized(data.length), 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(centralExtra.length, 30);
    central.writeUInt32LE(sized(offset), 42);
    const localRecord = Buffer.concat([local, name, localExtra, stored]);
    locals.push(localRecord);
    centrals.push(Buffer.concat([central, name, centralExtra]));
    offset += localRecord.length;
  }
  const directory = Buffer.concat(centrals);
  const tail: Buffer[] = [];
  if (zip64) {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeUInt16LE(45, 12);
    record.writeUInt16LE(45, 14);
    record.writeBigUInt64LE(BigInt(entries.length), 24);
    record.writeBigUInt64LE(BigInt(entries.length), 32);
    record.writeBigUInt64LE(BigInt(directory.length), 40);
    record.writeBigUInt64LE(BigInt(offset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(offset + directory.length), 8);
    locator.writeUInt32LE(1, 16);
    tail.push(record, locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(zip64 ? 0xffff : entries.length, 8);
  end.writeUInt16LE(zip64 ? 0xffff : entries.length, 10);
  end.writeUInt32LE(zip64 ? 0xffffffff : directory.length, 12);
  end.writeUInt32LE(zip64 ? 0xffffffff : offset, 16);
  tail.push(end);
  return { bytes: Buffer.concat([...locals, directory, ...tail]), dataOffsets };
}

/** The vendored image table's file names per plate (Image_Metadata_Plate_DAPI) with the plate's folder. */
export function realPlateFiles(plate: string): { dir: string; files: string[]; fields: number } {
  const table = path.join(BBBC021_METADATA_DIR, 'BBBC021_v1_image.csv');
  const rows = parseImageTable(readFileSync(table, 'utf8'), table).filter((row) => row.plate === plate);
  if (rows.length === 0) throw new Error(`no plate ${plate} in ${table}`);
  const files = rows.flatMap((row) => Object.values(row.files).map((f) => f.fileName));
  return { dir: rows[0].files.DNA.pathName, files, fields: rows.length };
}

/**
 * A plate zip as the BBBC publishes it, in miniature: one folder named after the plate (entry 0) holding a tiny
 * 16-bit TIFF for every file the image table names (entries 1..n, table order, odd entries stored, even ones
 * deflated), plus a macOS resource-fork entry.
 */
export function plateZip(plate: string, options: { size?: number; zip64?: boolean } = {}): BuiltZip & { files: string[] } {
  const { files } = realPlateFiles(plate);
  const size = options.size ?? 6;
  const entries: ZipFixtureEntry[] = [{ name: `${plate}/`, data: new Uint8Array(0) }];
  entries.push(...files.map((name, i) => {
    const data = new Uint16Array(size * size).map((_, p) => (i * 7919 + p * 31) & 0xffff);
    return { name: `${plate}/${name}`, data: encodeTiff16({ width: size, height: size, data }), method: i % 2 ? ('deflate' as const) : ('store' as const) };
  }));
  entries.push({ name: `__MACOSX/${plate}/._${files[0]}`, data: new Uint8Array([0, 5, 22, 7]) });
  return { ...buildZip(entries, options), files };
}
