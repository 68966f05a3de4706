// The engine's field reader on real files given as Blobs, as the worker gets them: blank planes warn
// (and the warning reaches the result row), files above the decode limit are refused from their size or
// header before they are read whole.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { applyResult, pendingRow } from '../../src/app/state/results.ts';
import { FieldError } from '../../src/core/errors.ts';
import { readField } from '../../src/engine/field-reader.ts';
import type { FieldSuccess } from '../../src/engine/index.ts';
import { encodeTiff16, encodeTiffPages } from '../../training/src/simulate/tiff-writer.ts';
import { encodeTiff8, GREY_PALETTE, ramp } from '../fixtures/image-files.ts';
import { REAL_TIFFS_DIR } from '../fixtures/paths.ts';

const CHANNELS = ['DNA', 'Tubulin', 'Actin'] as const;
const human = (d: number) => path.join(REAL_TIFFS_DIR, `cellprofiler-examples/ExampleHuman/AS_09125_050116030001_D03f00d${d}.tif`);
const blobOf = (file: string) => new Blob([new Uint8Array(fs.readFileSync(file))]);
/** A Blob of bytes written by the project's TIFF writer. */
const blob = (bytes: Uint8Array) => new Blob([new Uint8Array(bytes)]);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moa-field-reader-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function readError(promise: Promise<unknown>): Promise<FieldError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FieldError);
  return error as FieldError;
}

describe('blank planes', () => {
  test('a real field reads without warnings', async () => {
    const field = await readField({ id: 'D03', channels: { DNA: blobOf(human(0)), Tubulin: blobOf(human(1)), Actin: blobOf(human(2)) } }, CHANNELS);
    expect(field.planes.map((p) => p.width)).toEqual([512, 512, 512]);
    expect(field.warnings).toEqual([]);
  });

  test('an all-zero and a constant channel file each warn, naming the file and the channel; the field still reads', async () => {
    const zeros = encodeTiff16({ width: 64, height: 48, data: new Uint16Array(64 * 48) });
    const flat = encodeTiff16({ width: 64, height: 48, data: new Uint16Array(64 * 48).fill(1234) });
    const field = await readField(
      { id: 'F1', channels: { DNA: blobOf(human(0)), Tubulin: blob(zeros), Actin: blob(flat) }, names: { Tubulin: 'F1_w2.tif', Actin: 'F1_w4.tif' } },
      CHANNELS,
    );
    expect(field.planes).toHaveLength(3);
    expect(field.warnings).toHaveLength(2);
    expect(field.warnings[0]).toMatch(/"F1_w2\.tif", used as Tubulin, is blank \(every pixel is 0\)/);
    expect(field.warnings[1]).toMatch(/"F1_w4\.tif", used as Actin, is blank \(every pixel has the value 1234\)/);
    // The warning is carried to the row the results table draws.
    const result = { id: 'F1', ok: true, notes: field.notes, warnings: field.warnings } as unknown as FieldSuccess;
    const row = applyResult(pendingRow({ id: 'F1', plate: 'P', well: 'A01', site: 1, files: ['F1_w2.tif'] }, ['a']), result);
    expect(row.warnings).toEqual(field.warnings);
  });

  test('one multi-page file: the blank page is named by its channel number', async () => {
    const noisy = Uint16Array.from({ length: 32 * 32 }, (_, i) => (i * 7919) % 4096);
    const file = encodeTiffPages([
      { width: 32, height: 32, data: noisy },
      { width: 32, height: 32, data: new Uint16Array(32 * 32) },
      { width: 32, height: 32, data: Uint16Array.from(noisy, (v) => 4095 - v) },
    ]);
    const field = await readField({ id: 'M', file: blob(file), name: 'stack.tif' }, CHANNELS);
    expect(field.warnings).toEqual([expect.stringMatching(/^channel 2 of "stack\.tif", used as Tubulin, is blank \(every pixel is 0\)/)]);
  });
});

describe('files above the decode limit are refused before they are read', () => {
  test('a 3.4 GB file (sparse, on disk, opened as a Blob): its size and the limit, not a read failure', async () => {
    const file = path.join(tmp, 'huge.tif');
    fs.writeFileSync(file, fs.readFileSync(human(2))); // a real TIFF header and first page...
    fs.truncateSync(file, 3_400_000_000); // ...in a 3.4 GB file (sparse: no disk used)
    const huge = await fs.openAsBlob(file);
    expect(huge.size).toBe(3_400_000_000);
    const e = await readError(readField({ id: 'H', channels: { DNA: huge, Tubulin: huge, Actin: huge }, names: { DNA: 'huge.tif' } }, CHANNELS));
    expect(e.stage).toBe('read');
    expect(e.message).toBe(
      '"huge.tif" is 3.40 GB, larger than the 1.07 GB (1 GiB) this app reads from one file (its decode limit). ' +
        'Save one field (one position, z plane and time point) per file, or crop the image, and try again.',
    );
  });

  test('a small file whose header claims 100,000 x 100,000 16-bit pixels: refused from the header, the file is never read whole', async () => {
    const bytes = encodeTiff16({ width: 16, height: 16, data: new Uint16Array(256) });
    setFirstPageTag(bytes, 256, 100_000);
    setFirstPageTag(bytes, 257, 100_000);
    class WholeReadCounting extends Blob {
      wholeReads = 0;
      override arrayBuffer(): Promise<ArrayBuffer> {
        this.wholeReads++;
        return super.arrayBuffer();
      }
    }
    const counting = new WholeReadCounting([new Uint8Array(bytes)]);
    const e = await readError(readField({ id: 'C', file: counting, name: 'claims.tif' }, CHANNELS));
    expect(e.message).toMatch(/^"claims\.tif" is too large to open here: 100000 x 100000 pixels would need about 19074 MiB, more than the 1024 MiB allowed\.$/);
    expect(counting.wholeReads).toBe(0);
  });

  test('a real file whose page directory sits at its end (IFD after the pixels) is probed and read as usual', async () => {
    const folder = path.join(REAL_TIFFS_DIR, 'cellprofiler-examples/ExampleStraightenWorms');
    const [w1, w2, w3] = fs.readdirSync(folder).sort().map((n) => blobOf(path.join(folder, n)));
    const field = await readField({ id: 'W', channels: { DNA: w1, Tubulin: w2, Actin: w3 } }, CHANNELS);
    expect(field.planes[0]).toMatchObject({ width: 696, height: 520 });
  });
});

/** Sets a LONG or SHORT tag of the first page of a little-endian classic TIFF (inline value). */
function setFirstPageTag(bytes: Uint8Array, tag: number, value: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ifd = view.getUint32(4, true);
  for (let i = 0; i < view.getUint16(ifd, true); i++) {
    const at = ifd + 2 + i * 12;
    if (view.getUint16(at, true) !== tag) continue;
    if (view.getUint16(at + 2, true) === 3) view.setUint16(at + 8, value, true);
    else view.setUint32(at + 8, value, true);
    return;
  }
  throw new Error(`tag ${tag} not found`);
}

describe('one sample is one channel', () => {
  test('a palette TIFF (its grey palette expanded to three planes) given as a three-channel file is refused, naming the planes', async () => {
    const palette = encodeTiff8({ width: 16, height: 8, pixels: ramp(128), samplesPerPixel: 1, photometric: 3, palette: GREY_PALETTE });
    fs.writeFileSync(path.join(tmp, 'grey_lut.tif'), palette);
    const error = await readError(readField({ id: 'lut', file: blobOf(path.join(tmp, 'grey_lut.tif')), name: 'grey_lut.tif', channelOrder: [0, 1, 2] }, CHANNELS));
    expect(error.message).toMatch(/channel 1 of "grey_lut\.tif" \(as DNA\) and channel 2 of "grey_lut\.tif" \(as Tubulin\) are the same image: one stain cannot stand for two channels/);
  });

  test('one greyscale picture saved as two channel files (w1 and w2) is refused, naming both files; the real third channel is no help', async () => {
    const picture = fs.readFileSync(human(0));
    for (const w of ['w1', 'w2']) fs.writeFileSync(path.join(tmp, `D03_s1_${w}.tif`), picture);
    const file = (name: string) => new File([new Uint8Array(fs.readFileSync(path.join(tmp, name)))], name);
    const copied = { DNA: file('D03_s1_w1.tif'), Tubulin: file('D03_s1_w2.tif'), Actin: blobOf(human(2)) };
    const error = await readError(readField({ id: 'copied', channels: copied }, CHANNELS));
    expect(error.stage).toBe('decode');
    expect(error.message).toMatch(/^"D03_s1_w1\.tif" \(as DNA\) and "D03_s1_w2\.tif" \(as Tubulin\) are the same image: one stain cannot stand for two channels/);
    // The same picture as DNA and Actin, named by the field's names: refused too.
    const named = await readError(readField({ id: 'named', channels: { DNA: blobOf(human(0)), Tubulin: blobOf(human(1)), Actin: blobOf(human(0)) }, names: { DNA: 'a_d0.tif', Tubulin: 'a_d1.tif', Actin: 'b_d0.tif' } }, CHANNELS));
    expect(named.message).toMatch(/"a_d0\.tif" \(as DNA\) and "b_d0\.tif" \(as Actin\) are the same image/);
  });
});
