// probeImage: the channels of a file from its header, on real files (the vendored corpus) and on files
// written to disk here (greyscale, palette, RGB and RGBA TIFFs; PNGs); one sample is one channel.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { PROBE_HEAD_BYTES, probeImage, probeImageFile } from '../../src/core/image-probe.ts';
import { decodeTiff } from '../../src/core/tiff/index.ts';
import { encodeTiffPages, encodeTiffPlanar } from '../../training/src/simulate/tiff-writer.ts';
import { encodePng, encodeTiff8, GREEN_PALETTE, GREY_PALETTE, ramp } from '../fixtures/image-files.ts';
import { REAL_TIFFS_DIR } from '../fixtures/paths.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moa-probe-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Writes the bytes to disk and reads them back, as the app reads a dropped file. */
function onDisk(name: string, bytes: Uint8Array): Uint8Array {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return new Uint8Array(fs.readFileSync(file));
}

const W = 12;
const H = 8;
const plane = (seed: number) => ({ width: W, height: H, data: Uint16Array.from({ length: W * H }, (_, i) => (i * seed) % 4096) });

describe('TIFF files written to disk', () => {
  test('a 16-bit greyscale single-stain file is one channel', async () => {
    const bytes = onDisk('fly_tissue.tif', encodeTiffPages([plane(3)]));
    expect(probeImage(bytes, 'fly_tissue.tif')).toEqual({ format: 'tiff', width: W, height: H, channelNames: [undefined] });
    expect((await decodeTiff(bytes, 'fly_tissue.tif')).planes).toHaveLength(1);
  });

  test('a palette TIFF is one channel whether its palette is grey or one colour (the decoder expands it to three planes)', async () => {
    for (const [name, palette] of [['grey_lut.tif', GREY_PALETTE], ['green_lut.tif', GREEN_PALETTE]] as const) {
      const bytes = onDisk(name, encodeTiff8({ width: W, height: H, pixels: ramp(W * H), samplesPerPixel: 1, photometric: 3, palette: [...palette] }));
      expect(probeImage(bytes, name).channelNames).toEqual([undefined]);
      const decoded = await decodeTiff(bytes, name);
      expect(decoded.planes).toHaveLength(3); // the decoder's colour expansion: not three stains
      expect(decoded.planes[1].data[5]).toBe(palette[ramp(W * H)[5]][1]);
    }
  });

  test('an RGBA composite (4 samples per pixel) is four channels: Red, Green, Blue, Alpha', async () => {
    const bytes = onDisk('composite.tif', encodeTiff8({ width: W, height: H, pixels: ramp(W * H * 4, 3), samplesPerPixel: 4, photometric: 2, extraSamples: 2 }));
    expect(probeImage(bytes, 'composite.tif').channelNames).toEqual(['Red', 'Green', 'Blue', 'Alpha']);
    expect((await decodeTiff(bytes, 'composite.tif')).planes).toHaveLength(4);
  });

  test('pages and planar samples count as channels, page names kept', async () => {
    const pages = onDisk('pages.tif', encodeTiffPages([plane(1), plane(2), plane(5)], { pageNames: ['Hoechst', 'Tubulin', 'Phalloidin'] }));
    expect(probeImage(pages, 'pages.tif').channelNames).toEqual(['Hoechst', 'Tubulin', 'Phalloidin']);
    const planar = onDisk('planar.tif', encodeTiffPlanar([plane(1), plane(2), plane(5), plane(7), plane(11)]));
    expect(probeImage(planar, 'planar.tif').channelNames).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect((await decodeTiff(planar, 'planar.tif')).planes).toHaveLength(5);
  });

  test('a damaged TIFF is an error naming the file', () => {
    const bytes = onDisk('cut.tif', encodeTiffPages([plane(1)]).slice(0, 6));
    expect(() => probeImage(bytes, 'cut.tif')).toThrow(/cut\.tif/);
  });
});

describe('the real corpus: the probe agrees with the decoder on every file', () => {
  const files = ['codecs', 'ome', 'cellprofiler-examples/ExampleHuman'].flatMap((folder) =>
    fs.readdirSync(path.join(REAL_TIFFS_DIR, folder)).filter((n) => /\.tiff?$/.test(n)).map((n) => `${folder}/${n}`),
  );
  test.each(files)('%s', async (file) => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(REAL_TIFFS_DIR, file)));
    const probe = probeImage(bytes, path.basename(file));
    const decoded = await decodeTiff(bytes, path.basename(file)).catch(() => undefined);
    if (!decoded) return; // files the decoder refuses are another test's business
    expect([probe.width, probe.height]).toEqual([decoded.width, decoded.height]);
    if (/palette/.test(file)) expect(probe.channelNames).toHaveLength(1);
    else expect(probe.channelNames).toHaveLength(decoded.planes.length);
  });
});

/** A file read through ReadSlice, as the app reads a dropped Blob, counting the calls and the bytes asked for. */
function countingReader(bytes: Uint8Array) {
  const reads: [number, number][] = [];
  const read = async (offset: number, length: number) => {
    reads.push([offset, length]);
    return bytes.slice(offset, offset + length);
  };
  return { read, reads, bytesRead: () => reads.reduce((n, [, length]) => n + length, 0) };
}

describe('probeImageFile: the header and the page directories, not the whole file', () => {
  const corpus = ['cellprofiler-examples/ExampleHuman', 'cellprofiler-examples/ExampleIlluminationCorrection', 'cellprofiler-examples/ExampleStraightenWorms', 'codecs', 'ome'].flatMap((folder) =>
    fs.readdirSync(path.join(REAL_TIFFS_DIR, folder)).filter((n) => /\.tiff?$/.test(n)).map((n) => `${folder}/${n}`),
  );

  test.each(corpus)('%s: the same answer as probeImage on the whole file', async (file) => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(REAL_TIFFS_DIR, file)));
    const name = path.basename(file);
    const whole = (() => {
      try {
        return probeImage(bytes, name);
      } catch (e) {
        return (e as Error).message;
      }
    })();
    const { read, bytesRead } = countingReader(bytes);
    const parts = await probeImageFile(read, bytes.length, name).catch((e: Error) => e.message);
    expect(parts).toEqual(whole);
    expect(bytesRead()).toBeLessThanOrEqual(Math.max(bytes.length, PROBE_HEAD_BYTES));
  });

  test('a real ImageXpress file whose page directory follows its 724 kB of pixels: the first 64 KiB and one range at the end', async () => {
    const folder = path.join(REAL_TIFFS_DIR, 'cellprofiler-examples/ExampleStraightenWorms');
    const name = fs.readdirSync(folder).sort()[0];
    const bytes = new Uint8Array(fs.readFileSync(path.join(folder, name)));
    const { read, reads, bytesRead } = countingReader(bytes);
    expect(await probeImageFile(read, bytes.length, name)).toEqual({ format: 'tiff', width: 696, height: 520, channelNames: [undefined] });
    expect(reads[0]).toEqual([0, PROBE_HEAD_BYTES]);
    expect(reads.length).toBeGreaterThan(1);
    expect(reads.slice(1).every(([offset]) => offset > 700_000)).toBe(true);
    expect(bytesRead()).toBeLessThan(100_000); // of 725,978
  });

  test('a real 35-page OME-TIFF (2.6 MB, a directory before each page): a fraction of it', async () => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(REAL_TIFFS_DIR, 'ome/4D-series.ome.tif')));
    const { read, bytesRead } = countingReader(bytes);
    expect(await probeImageFile(read, bytes.length, '4D-series.ome.tif')).toEqual(probeImage(bytes, '4D-series.ome.tif'));
    expect(bytesRead()).toBeLessThan(bytes.length / 2);
  });

  test('a damaged file gets the whole-file error: a page directory beyond the end, a file shorter than its header', async () => {
    const human = new Uint8Array(fs.readFileSync(path.join(REAL_TIFFS_DIR, 'cellprofiler-examples/ExampleHuman/AS_09125_050116030001_D03f00d0.tif')));
    const cut = human.slice(0, 100_000); // its directory was at 232,890 of 233,336 bytes
    const { read } = countingReader(cut);
    const error = await probeImageFile(read, cut.length, 'cut.tif').catch((e: Error) => e.message);
    expect(error).toMatch(/^"cut\.tif" is incomplete/);
    expect(error).toBe((() => { try { probeImage(cut, 'cut.tif'); return 'no error'; } catch (e) { return (e as Error).message; } })());
    const tiny = countingReader(Uint8Array.from([0x49, 0x49, 42, 0]));
    await expect(probeImageFile(tiny.read, 4, 'tiny.tif')).rejects.toThrow(/"tiny\.tif"/);
  });
});

describe('PNG and JPEG', () => {
  test('PNG: greyscale and palette are one channel, RGB three, RGBA four', () => {
    expect(probeImage(onDisk('g.png', encodePng(W, H, 0, ramp(W * H))), 'g.png')).toEqual({ format: 'png', width: W, height: H, channelNames: [undefined] });
    expect(probeImage(onDisk('p.png', encodePng(W, H, 3, ramp(W * H), GREY_PALETTE.map((c) => [c[0] >> 8, c[1] >> 8, c[2] >> 8]))), 'p.png').channelNames).toEqual([undefined]);
    expect(probeImage(onDisk('rgb.png', encodePng(W, H, 2, ramp(W * H * 3))), 'rgb.png').channelNames).toEqual(['Red', 'Green', 'Blue']);
    expect(probeImage(onDisk('rgba.png', encodePng(W, H, 6, ramp(W * H * 4))), 'rgba.png').channelNames).toEqual(['Red', 'Green', 'Blue', 'Alpha']);
  });

  test('JPEG: the frame header says one component (greyscale) or three', () => {
    // SOI, an APP0 segment, then a baseline frame header (SOF0): precision 8, height, width, components.
    const jpeg = (components: number) =>
      Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0xff, 0xc0, 0, 8 + 3 * components, 8, 0, H, 0, W, components, ...Array(3 * components).fill(1), 0xff, 0xd9]);
    expect(probeImage(jpeg(1), 'g.jpg')).toEqual({ format: 'jpeg', width: W, height: H, channelNames: [undefined] });
    expect(probeImage(jpeg(3), 'c.jpg').channelNames).toEqual(['Red', 'Green', 'Blue']);
  });

  test('not an image: an error naming the file', () => {
    expect(() => probeImage(new TextEncoder().encode('plate,well\n'), 'notes.tif')).toThrow(/"notes\.tif" is not a TIFF, PNG or JPEG/);
  });
});
