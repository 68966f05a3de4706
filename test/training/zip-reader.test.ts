// The downloader's zip reader on zips written to disk: stored, deflated and Zip64 entries, and damaged archives.
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readZipEntries, readZipEntry, ZipError } from '../../training/src/data/download/zip-reader.ts';
import { buildZip, type ZipFixtureEntry } from './zip-fixture.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'moa-zip-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const text = (s: string) => new TextEncoder().encode(s);
const ENTRIES: ZipFixtureEntry[] = [
  { name: 'Week1_22123/', data: new Uint8Array(0) },
  { name: 'Week1_22123/a.tif', data: text('stored bytes '.repeat(50)), method: 'store' },
  { name: 'Week1_22123/b.tif', data: text('deflated bytes '.repeat(500)), method: 'deflate' },
  { name: 'Week1_22123/empty.tif', data: new Uint8Array(0), method: 'deflate' },
];

/** Writes `bytes` to a file and reads every entry back through the reader. */
async function readAll(name: string, bytes: Uint8Array): Promise<{ name: string; isDirectory: boolean; data: string }[]> {
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  const handle = await open(file, 'r');
  try {
    const entries = await readZipEntries(handle, name);
    const out = [];
    for (const entry of entries) out.push({ name: entry.name, isDirectory: entry.isDirectory, data: (await readZipEntry(handle, entry, name)).toString('latin1') });
    return out;
  } finally {
    await handle.close();
  }
}

const expected = ENTRIES.map((e) => ({ name: e.name, isDirectory: e.name.endsWith('/'), data: Buffer.from(e.data).toString('latin1') }));

describe('zip reader', () => {
  it('uses the standard CRC-32 (the check value of "123456789" is cbf43926)', () => {
    expect((crc32('123456789') >>> 0).toString(16)).toBe('cbf43926');
  });

  it('reads stored, deflated, empty and directory entries', async () => {
    expect(await readAll('plain.zip', buildZip(ENTRIES).bytes)).toEqual(expected);
  });

  it('reads the Zip64 form (sizes and offsets in the extra field, Zip64 end records)', async () => {
    expect(await readAll('zip64.zip', buildZip(ENTRIES, { zip64: true }).bytes)).toEqual(expected);
  });

  it('finds the end record behind an archive comment', async () => {
    const { bytes } = buildZip(ENTRIES);
    const comment = Buffer.from('a comment with PK\x05\x06 inside');
    const withComment = Buffer.concat([bytes, comment]);
    withComment.writeUInt16LE(comment.length, bytes.length - 2);
    expect(await readAll('comment.zip', withComment)).toEqual(expected);
  });

  it('names the entry whose stored bytes no longer match its CRC-32', async () => {
    const { bytes, dataOffsets } = buildZip(ENTRIES);
    bytes[dataOffsets[1] + 3] ^= 0x01;
    await expect(readAll('crc.zip', bytes)).rejects.toThrow(/crc\.zip: Week1_22123\/a\.tif: CRC-32 mismatch/);
  });

  it('names the entry whose deflated bytes are damaged', async () => {
    const { bytes, dataOffsets } = buildZip(ENTRIES);
    for (let i = 0; i < 8; i++) bytes[dataOffsets[2] + i] = 0xff;
    await expect(readAll('inflate.zip', bytes)).rejects.toThrow(/Week1_22123\/b\.tif: (the deflated data is damaged|CRC-32 mismatch|\d+ bytes, the directory says)/);
  });

  it('says a truncated download is not a zip', async () => {
    const { bytes } = buildZip(ENTRIES);
    const error = await readAll('cut.zip', bytes.subarray(0, bytes.length - 40)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ZipError);
    expect((error as Error).message).toMatch(/cut\.zip: not a zip, or truncated/);
  });

  it('refuses a compression method it does not implement, by name', async () => {
    const { bytes } = buildZip(ENTRIES);
    const directoryOffset = bytes.readUInt32LE(bytes.length - 22 + 16);
    const second = directoryOffset + 46 + ENTRIES[0].name.length; // the central record of entry 1
    bytes.writeUInt16LE(12, second + 10); // bzip2
    await expect(readAll('method.zip', bytes)).rejects.toThrow(/a\.tif: compression method 12 is not supported/);
  });
});
