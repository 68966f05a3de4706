// Bad input: empty, not a TIFF, truncated, unsupported, absurd sizes, cycles -> typed errors, quickly.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { decodeTiff, TiffDecodeError, type TiffErrorCode } from '../../src/core/tiff/index.ts';
import { REAL_TIFFS_DIR } from '../fixtures/paths.ts';

const realRoot = REAL_TIFFS_DIR;

interface TiffSpec {
  width: number;
  height: number;
  bitsPerSample?: number;
  samplesPerPixel?: number;
  sampleFormat?: number;
  compression?: number;
  /** Pixel bytes written as the single strip (default: zeros of the right size, capped at 4 KiB). */
  pixels?: Uint8Array;
  stripOffset?: number;
  stripByteCount?: number;
  /** Offset of the next page directory (0 = none; 8 = back to this one, a cycle). */
  nextIfd?: number;
}

/** Minimal little-endian baseline TIFF: header, one page directory, one strip. */
function buildTiff(spec: TiffSpec): Uint8Array {
  const bps = spec.bitsPerSample ?? 8;
  const spp = spec.samplesPerPixel ?? 1;
  const natural = Math.min(4096, Math.ceil((spec.width * spec.height * spp * bps) / 8));
  const pixels = spec.pixels ?? new Uint8Array(natural);
  const tags: [number, number, number][] = [
    [256, 4, spec.width],
    [257, 4, spec.height],
    [258, 3, bps],
    [259, 3, spec.compression ?? 1],
    [262, 3, 1],
    [273, 4, 0], // patched below
    [277, 3, spp],
    [278, 4, spec.height],
    [279, 4, spec.stripByteCount ?? pixels.length],
    [339, 3, spec.sampleFormat ?? 1],
  ];
  const ifdSize = 2 + tags.length * 12 + 4;
  const dataOffset = 8 + ifdSize;
  const out = new Uint8Array(dataOffset + pixels.length);
  const view = new DataView(out.buffer);
  out.set([0x49, 0x49], 0);
  view.setUint16(2, 42, true);
  view.setUint32(4, 8, true);
  view.setUint16(8, tags.length, true);
  tags.forEach(([tag, type, value], i) => {
    const at = 10 + i * 12;
    view.setUint16(at, tag, true);
    view.setUint16(at + 2, type, true);
    view.setUint32(at + 4, 1, true);
    if (type === 3) view.setUint16(at + 8, value, true);
    else view.setUint32(at + 8, tag === 273 ? spec.stripOffset ?? dataOffset : value, true);
  });
  view.setUint32(10 + tags.length * 12, spec.nextIfd ?? 0, true);
  out.set(pixels, dataOffset);
  return out;
}

/** Rewrites tag `tag` of the first page of a classic TIFF in place (`edit` gets the entry's position). */
function patchTag(bytes: Uint8Array, tag: number, edit: (view: DataView, entryAt: number, littleEndian: boolean) => void): void {
  const le = bytes[0] === 0x49;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ifd = view.getUint32(4, le);
  for (let i = 0; i < view.getUint16(ifd, le); i++) {
    const at = ifd + 2 + i * 12;
    if (view.getUint16(at, le) === tag) return edit(view, at, le);
  }
  throw new Error(`tag ${tag} not in the file`);
}

async function expectError(bytes: Uint8Array, code: TiffErrorCode, name = 'sample.tif'): Promise<TiffDecodeError> {
  const error = await decodeTiff(bytes, name).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TiffDecodeError);
  const typed = error as TiffDecodeError;
  expect(typed.code).toBe(code);
  expect(typed.fileName).toBe(name);
  expect(typed.message).toContain(name);
  return typed;
}

describe('bad input gives a typed error', () => {
  test('the builder itself makes a valid TIFF (so the cases below test one fault each)', async () => {
    const pixels = Uint8Array.from({ length: 12 }, (_, i) => i * 10);
    const decoded = await decodeTiff(buildTiff({ width: 4, height: 3, pixels }), 'ok.tif');
    expect(Array.from(decoded.planes[0].data)).toEqual(Array.from(pixels));
  });

  test('zero-byte file', async () => {
    const e = await expectError(new Uint8Array(0), 'empty-file');
    expect(e.message).toMatch(/empty/);
  });

  test('not a TIFF: text, PNG, a 3-byte file', async () => {
    await expectError(new TextEncoder().encode('plate,well\nA01,1\n'), 'not-tiff');
    const png = await expectError(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]), 'not-tiff');
    expect(png.message).toMatch(/PNG/);
    await expectError(Uint8Array.from([0x49, 0x49, 0x2a]), 'not-tiff');
  });

  test('truncated real files: header only, half of the strips', async () => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(realRoot, 'cellprofiler-examples/ExampleStraightenWorms/101210OranePlt1_C16_w1_[9AA4D9EA-18E4-4354-8C7D-0202029A8048].tif')));
    // its page directory sits at the end of the file, so cutting the file loses the directory
    await expectError(bytes.subarray(0, 16), 'truncated');
    await expectError(bytes.subarray(0, bytes.length >> 1), 'truncated');
    const strip = buildTiff({ width: 64, height: 64 });
    await expectError(strip.subarray(0, strip.length - 100), 'truncated');
  });

  test('absurd dimensions (100,000 x 100,000 x 16-bit) are refused from the header, at once', async () => {
    const started = performance.now();
    const e = await expectError(buildTiff({ width: 100_000, height: 100_000, bitsPerSample: 16, pixels: new Uint8Array(16) }), 'too-large');
    expect(performance.now() - started).toBeLessThan(500);
    expect(e.message).toMatch(/too large/);
  });

  test('a budget is an option: the 1344 x 1024 16-bit real file needs more than 1 MiB', async () => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(realRoot, 'cellprofiler-examples/ExampleIlluminationCorrection/--W00001--P00001--Z00000--T00000--cherry.tif')));
    await expect(decodeTiff(bytes, 'cherry.tif', { maxBytes: 2 ** 20 })).rejects.toMatchObject({ code: 'too-large' });
  });

  test('unsupported kinds: JPEG 2000, LZMA, 24-bit float, 12-bit signed, unknown compression', async () => {
    expect((await expectError(buildTiff({ width: 8, height: 8, compression: 34712 }), 'unsupported')).message).toMatch(/JPEG 2000/);
    await expectError(buildTiff({ width: 8, height: 8, compression: 34925 }), 'unsupported');
    await expectError(buildTiff({ width: 8, height: 8, bitsPerSample: 24, sampleFormat: 3 }), 'unsupported');
    await expectError(buildTiff({ width: 8, height: 8, bitsPerSample: 12, sampleFormat: 2 }), 'unsupported');
    await expectError(buildTiff({ width: 8, height: 8, compression: 4242 }), 'unsupported');
  });

  test('zero width, strip outside the file, damaged compressed data', async () => {
    await expectError(buildTiff({ width: 0, height: 8 }), 'corrupt');
    await expectError(buildTiff({ width: 8, height: 8, stripOffset: 1_000_000 }), 'truncated');
    await expectError(buildTiff({ width: 8, height: 8, compression: 8, pixels: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }), 'corrupt');
  });

  test('Zstandard (50000) claimed for data that is not Zstandard: an error, not a plane of zeros (real file, tag patched)', async () => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(realRoot, 'codecs/shapes_uncompressed.tif')));
    patchTag(bytes, 259, (view, at, le) => view.setUint16(at + 8, 50000, le));
    const e = await expectError(bytes, 'corrupt', 'shapes_50000.tif');
    expect(e.message).toMatch(/Zstandard/);
    await expectError(buildTiff({ width: 8, height: 8, compression: 50005 }), 'unsupported');
  });

  test('zeroed StripOffsets (real file) point into the header: an error, not the header decoded as pixels', async () => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(realRoot, 'cellprofiler-examples/ExampleHuman/AS_09125_050116030001_D03f00d0.tif')));
    patchTag(bytes, 273, (view, at, le) => {
      const count = view.getUint32(at + 4, le);
      const type = view.getUint16(at + 2, le);
      const size = type === 3 ? 2 : 4;
      if (count * size <= 4) view.setUint32(at + 8, 0, le);
      else for (let k = 0, o = view.getUint32(at + 8, le); k < count; k++) size === 2 ? view.setUint16(o + 2 * k, 0, le) : view.setUint32(o + 4 * k, 0, le);
    });
    const e = await expectError(bytes, 'corrupt', 'zeroed.tif');
    expect(e.message).toMatch(/header/);
  });

  test('a strip that points at the page directory, or past the end of the file, is an error', async () => {
    const e = await expectError(buildTiff({ width: 8, height: 8, stripOffset: 8 }), 'corrupt');
    expect(e.message).toMatch(/page directory/);
    await expectError(buildTiff({ width: 8, height: 8, stripOffset: 2 ** 31 }), 'truncated');
  });

  test('a page chain that loops back to itself neither hangs nor fails', async () => {
    const decoded = await decodeTiff(buildTiff({ width: 4, height: 4, nextIfd: 8 }), 'loop.tif');
    expect(decoded.pageCount).toBe(1);
  });
});
