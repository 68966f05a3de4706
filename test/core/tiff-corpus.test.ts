// Decodes every real file in test/fixtures/real-tiffs and the synthetic fixtures, against reference values
// computed independently in Python.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { decodeTiff, type ChannelPlane, type DecodedImage } from '../../src/core/tiff/index.ts';
import { REAL_TIFFS_DIR } from '../fixtures/paths.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const realRoot = REAL_TIFFS_DIR;
const fixtureRoot = path.resolve(repoRoot, 'test/fixtures/tiff');

function mean(plane: ChannelPlane): number {
  let sum = 0;
  for (let i = 0; i < plane.data.length; i++) sum += plane.data[i];
  return sum / plane.data.length;
}

async function decodeFile(root: string, rel: string, allPlanes = false): Promise<DecodedImage> {
  return decodeTiff(new Uint8Array(fs.readFileSync(path.join(root, rel))), path.basename(rel), { allPlanes });
}

interface Expected {
  width: number;
  height: number;
  bitsPerSample: number;
  sampleFormat: 'uint' | 'int' | 'float';
  means: number[];
  pages?: number;
  /** Allowed absolute error on means (default 1e-6 relative to the mean). */
  tolerance?: number;
  zMeans?: number[][];
}

// Reference values: /usr/bin/python3 with tifffile 2023.2.3 + numpy, page.asarray() then per-sample
// np.mean in float64. Files tifffile cannot decompress without imagecodecs (LZW, JPEG, Zstd) were first
// re-written uncompressed with libtiff's `tiffcp -c none` and then read by tifffile. The 12/14-bit files
// were unpacked from those uncompressed strips with np.unpackbits (MSB first, rows padded to bytes).
// Palette: colormap[channel][index] averaged (expanded to 16-bit RGB, as the decoder does).
// JPEG: libjpeg (through tiffcp) and geotiff's JPEG decoder round the IDCT differently: tolerance 0.1.
const REAL: [string, Expected][] = [
  ['cellprofiler-examples/ExampleHuman/AS_09125_050116030001_D03f00d0.tif', { width: 512, height: 512, bitsPerSample: 8, sampleFormat: 'uint', means: [17.29446029663086] }],
  ['cellprofiler-examples/ExampleHuman/AS_09125_050116030001_D03f00d1.tif', { width: 512, height: 512, bitsPerSample: 8, sampleFormat: 'uint', means: [10.552726745605469] }],
  ['cellprofiler-examples/ExampleHuman/AS_09125_050116030001_D03f00d2.tif', { width: 512, height: 512, bitsPerSample: 8, sampleFormat: 'uint', means: [28.358097076416016] }],
  ['cellprofiler-examples/ExampleIlluminationCorrection/--W00001--P00001--Z00000--T00000--cherry.tif', { width: 1344, height: 1024, bitsPerSample: 16, sampleFormat: 'uint', means: [33325.3637332008] }],
  ['cellprofiler-examples/ExampleStraightenWorms/101210OranePlt1_C16_w1_[9AA4D9EA-18E4-4354-8C7D-0202029A8048].tif', { width: 696, height: 520, bitsPerSample: 16, sampleFormat: 'uint', means: [492.42103779840846] }],
  ['cellprofiler-examples/ExampleStraightenWorms/101210OranePlt1_C16_w2_[EFB0F53A-F40F-46D8-A61A-51C2BE61E460].tif', { width: 696, height: 520, bitsPerSample: 16, sampleFormat: 'uint', means: [205.28783156498673] }],
  ['cellprofiler-examples/ExampleStraightenWorms/101210OranePlt1_C16_w3_[E3E9B145-D9B7-49E1-8159-496F065708F7].tif', { width: 696, height: 520, bitsPerSample: 16, sampleFormat: 'uint', means: [122.44706012378427] }],
  ['codecs/shapes_deflate.tif', { width: 128, height: 72, bitsPerSample: 8, sampleFormat: 'uint', means: [212.85774739583334, 220.21354166666666, 207.33561197916666] }],
  ['codecs/shapes_hyper.tif', { width: 128, height: 72, bitsPerSample: 32, sampleFormat: 'float', means: [0.8347362669742829, 0.8635825188640006, 0.813080833180417, 0.10000000149011612, 0.20000000298023224, 0.30000001192092896, 0.5] }],
  ['codecs/shapes_jpg.tif', { width: 128, height: 72, bitsPerSample: 8, sampleFormat: 'uint', means: [212.84602864583334, 220.20041232638889, 207.32367621527777], tolerance: 0.1 }],
  ['codecs/shapes_lzw.tif', { width: 128, height: 72, bitsPerSample: 8, sampleFormat: 'uint', means: [212.85774739583334, 220.21354166666666, 207.33561197916666] }],
  ['codecs/shapes_lzw_12bps.tif', { width: 128, height: 72, bitsPerSample: 12, sampleFormat: 'uint', means: [3417.9500868055557, 3536.105902777778, 3329.2941623263887] }],
  ['codecs/shapes_lzw_14bps.tif', { width: 128, height: 72, bitsPerSample: 14, sampleFormat: 'uint', means: [13675.167751736111, 14147.765842013889, 13320.301323784723] }],
  ['codecs/shapes_lzw_palette.tif', { width: 128, height: 72, bitsPerSample: 16, sampleFormat: 'uint', means: [54554.20627170139, 56368.864149305555, 53106.422526041664] }],
  ['codecs/shapes_lzw_planar.tif', { width: 128, height: 72, bitsPerSample: 8, sampleFormat: 'uint', means: [212.85774739583334, 220.21354166666666, 207.33561197916666] }],
  ['codecs/shapes_lzw_predictor3.tif', { width: 128, height: 72, bitsPerSample: 32, sampleFormat: 'float', means: [0.8347362669742829, 0.8635825188640006, 0.813080833180417] }],
  ['codecs/shapes_lzw_tiled.tif', { width: 128, height: 72, bitsPerSample: 8, sampleFormat: 'uint', means: [212.85774739583334, 220.21354166666666, 207.33561197916666] }],
  ['codecs/shapes_lzw_tiled_planar.tif', { width: 128, height: 72, bitsPerSample: 8, sampleFormat: 'uint', means: [212.85774739583334, 220.21354166666666, 207.33561197916666] }],
  ['codecs/shapes_multi_size.tif', { width: 128, height: 72, bitsPerSample: 8, sampleFormat: 'uint', pages: 2, means: [212.85774739583334, 220.21354166666666, 207.33561197916666] }],
  ['codecs/shapes_uncompressed.tif', { width: 128, height: 72, bitsPerSample: 8, sampleFormat: 'uint', means: [212.85774739583334, 220.21354166666666, 207.33561197916666] }],
  ['codecs/shapes_uncompressed_half.tif', { width: 64, height: 36, bitsPerSample: 8, sampleFormat: 'uint', means: [212.20095486111111, 219.66145833333334, 206.78298611111111] }],
  ['codecs/shapes_zstd.tif', { width: 128, height: 72, bitsPerSample: 8, sampleFormat: 'uint', means: [212.85774739583334, 220.21354166666666, 207.33561197916666] }],
  ['ome/4D-series.ome.tif', { width: 439, height: 167, bitsPerSample: 8, sampleFormat: 'int', pages: 35, means: [47.34356798930612] }],
];

// Synthetic fixtures from test/fixtures/tiff/generate.py: the means are numpy's, of the arrays it wrote
// (the script prints them). f16 is stored as half floats; f64 is delivered as float32, hence the tolerance.
const FIXTURES: [string, Expected][] = [
  ['gray_u16.tif', { width: 40, height: 24, bitsPerSample: 16, sampleFormat: 'uint', means: [2133.851041666667] }],
  ['gray_u16_bigendian.tif', { width: 40, height: 24, bitsPerSample: 16, sampleFormat: 'uint', means: [2133.851041666667] }],
  ['gray_u16_bigtiff.tif', { width: 40, height: 24, bitsPerSample: 16, sampleFormat: 'uint', means: [2133.851041666667] }],
  ['gray_u16_tiled_deflate8.tif', { width: 40, height: 24, bitsPerSample: 16, sampleFormat: 'uint', means: [2133.851041666667] }],
  ['gray_u16_lzw_pred2.tif', { width: 40, height: 24, bitsPerSample: 16, sampleFormat: 'uint', means: [2133.851041666667] }],
  ['gray_u16_zip_pred2.tif', { width: 40, height: 24, bitsPerSample: 16, sampleFormat: 'uint', means: [2133.851041666667] }],
  ['gray_u16_zstd.tif', { width: 40, height: 24, bitsPerSample: 16, sampleFormat: 'uint', means: [2133.851041666667] }],
  ['gray_u16_packbits.tif', { width: 40, height: 24, bitsPerSample: 16, sampleFormat: 'uint', means: [2133.851041666667] }],
  ['gray_u16_bigendian_lzw_pred2.tif', { width: 40, height: 24, bitsPerSample: 16, sampleFormat: 'uint', means: [2133.851041666667] }],
  ['gray_i16.tif', { width: 40, height: 24, bitsPerSample: 16, sampleFormat: 'int', means: [2.705208333333333] }],
  ['gray_u32.tif', { width: 40, height: 24, bitsPerSample: 32, sampleFormat: 'uint', means: [2199405500.859375] }],
  ['gray_i32.tif', { width: 40, height: 24, bitsPerSample: 32, sampleFormat: 'int', means: [-10467411.686458332] }],
  ['gray_f32.tif', { width: 40, height: 24, bitsPerSample: 32, sampleFormat: 'float', means: [99.47047832409541] }],
  ['gray_f16.tif', { width: 40, height: 24, bitsPerSample: 16, sampleFormat: 'float', means: [0.9885543823242188] }],
  ['gray_f64.tif', { width: 40, height: 24, bitsPerSample: 64, sampleFormat: 'float', means: [-4.813607500801619], tolerance: 1e-5 }],
  ['gray_u8_whiteiszero.tif', { width: 40, height: 24, bitsPerSample: 8, sampleFormat: 'uint', means: [125.89895833333334] }],
  ['ome_3ch_2z.ome.tif', { width: 40, height: 24, bitsPerSample: 16, sampleFormat: 'uint', pages: 6, means: [32589.726041666665, 31983.51875, 32923.792708333334], zMeans: [[32589.726041666665, 31983.51875, 32923.792708333334], [32770.97604166667, 32352.230208333334, 32105.867708333335]] }],
  ['imagej_3ch_2z.tif', { width: 40, height: 24, bitsPerSample: 8, sampleFormat: 'uint', pages: 6, means: [125.43020833333334, 127.82604166666667, 125.353125], zMeans: [[125.43020833333334, 127.82604166666667, 125.353125], [122.17916666666666, 127.59583333333333, 127.196875]] }],
  ['pages_3ch.tif', { width: 40, height: 24, bitsPerSample: 16, sampleFormat: 'uint', pages: 3, means: [33446.14166666667, 33192.71041666667, 32779.53958333333] }],
  ['planar_4samples_tiled.tif', { width: 40, height: 24, bitsPerSample: 16, sampleFormat: 'uint', means: [33902.177083333336, 33105.73333333333, 32676.110416666666, 32097.4875] }],
];

function checkAgainst(decoded: DecodedImage, expected: Expected): void {
  expect(decoded.width).toBe(expected.width);
  expect(decoded.height).toBe(expected.height);
  expect(decoded.pageCount).toBe(expected.pages ?? 1);
  expect(decoded.planes.length).toBe(expected.means.length);
  decoded.planes.forEach((plane, i) => {
    expect(plane.width).toBe(expected.width);
    expect(plane.height).toBe(expected.height);
    expect(plane.data.length).toBe(expected.width * expected.height);
    expect(plane.bitsPerSample).toBe(expected.bitsPerSample);
    expect(plane.sampleFormat).toBe(expected.sampleFormat);
    const tolerance = expected.tolerance ?? Math.max(1e-9, Math.abs(expected.means[i]) * 1e-9);
    expect(Math.abs(mean(plane) - expected.means[i])).toBeLessThanOrEqual(tolerance);
  });
}

describe('real TIFF corpus (test/fixtures/real-tiffs)', () => {
  test('the table covers every .tif file there', () => {
    const onDisk = (fs.readdirSync(realRoot, { recursive: true }) as string[]).filter((f) => f.endsWith('.tif')).sort();
    expect(REAL.map(([f]) => f).sort()).toEqual(onDisk);
  });

  test.each(REAL)('%s', async (rel, expected) => {
    checkAgainst(await decodeFile(realRoot, rel), expected);
  });

  test('OME 4D series: 35 pages placed as z (5) x t (7) by DimensionOrder XYZCT, every page mean', async () => {
    // Per-page means: tifffile, [page.asarray().astype(float64).mean() for page in pages].
    const pageMeans = [
      47.34356798930612, 47.340553517111566, 47.33902582079577, 47.3390667412328, 47.33827561278355, 47.340089752158555,
      47.33707527996399, 47.33554758364819, 47.33558850408522, 47.33479737563597, 47.338302893074896, 47.33528842088033,
      47.33376072456454, 47.33380164500157, 47.333010516552314, 47.33837109380328, 47.33535662160872, 47.33382892529292,
      47.33386984572995, 47.3330787172807, 47.337429923751586, 47.33441545155702, 47.332887755241224, 47.332928675678254,
      47.332137547229, 47.334811015781646, 47.33179654358709, 47.33026884727129, 47.33030976770832, 47.32951863925907,
      47.341126403229985, 47.33811193103542, 47.33658423471962, 47.33662515515666, 47.3358340267074,
    ];
    const decoded = await decodeFile(realRoot, 'ome/4D-series.ome.tif', true);
    expect(decoded.layoutSource).toBe('ome-xml');
    expect([decoded.sizeC, decoded.sizeZ, decoded.sizeT]).toEqual([1, 5, 7]);
    expect(decoded.stack).toHaveLength(35);
    for (const plane of decoded.stack ?? []) {
      expect(plane.page).toBe(plane.t * 5 + plane.z);
      expect(mean(plane)).toBeCloseTo(pageMeans[plane.page], 9);
    }
    const atZ2T3 = await decodeTiff(new Uint8Array(fs.readFileSync(path.join(realRoot, 'ome/4D-series.ome.tif'))), '4D-series.ome.tif', { z: 2, t: 3 });
    expect(mean(atZ2T3.planes[0])).toBeCloseTo(pageMeans[17], 9);
  });

  test('RGB samples are named, the smaller second page of shapes_multi_size is set aside', async () => {
    const decoded = await decodeFile(realRoot, 'codecs/shapes_multi_size.tif');
    expect(decoded.planes.map((p) => p.name)).toEqual(['Red', 'Green', 'Blue']);
    expect(decoded.skippedPages.map((s) => s.page)).toEqual([1]);
  });

  test('palette image is expanded to RGB with a note', async () => {
    const decoded = await decodeFile(realRoot, 'codecs/shapes_lzw_palette.tif');
    expect(decoded.planes.map((p) => p.name)).toEqual(['Red', 'Green', 'Blue']);
    expect(decoded.notes.join(' ')).toMatch(/palette/);
  });
});

describe('synthetic fixtures (test/fixtures/tiff, generate.py)', () => {
  test.each(FIXTURES)('%s', async (rel, expected) => {
    const decoded = await decodeFile(fixtureRoot, rel, Boolean(expected.zMeans));
    checkAgainst(decoded, expected);
    if (expected.zMeans) {
      expect(decoded.sizeZ).toBe(expected.zMeans.length);
      for (const plane of decoded.stack ?? []) {
        expect(Math.abs(mean(plane) - expected.zMeans[plane.z][plane.c])).toBeLessThan(1e-9);
      }
    }
  });

  test('OME channel names are read; page layout sources are reported', async () => {
    const ome = await decodeFile(fixtureRoot, 'ome_3ch_2z.ome.tif');
    expect(ome.planes.map((p) => p.name)).toEqual(['Hoechst 33342', 'Tubulin', 'Phalloidin']);
    expect(ome.layoutSource).toBe('ome-xml');
    expect((await decodeFile(fixtureRoot, 'imagej_3ch_2z.tif')).layoutSource).toBe('imagej');
    expect((await decodeFile(fixtureRoot, 'pages_3ch.tif')).layoutSource).toBe('pages-as-channels');
    expect((await decodeFile(fixtureRoot, 'gray_u16.tif')).layoutSource).toBe('samples');
  });
});

describe('bytes handed over as a Node Buffer', () => {
  // fs.readFileSync returns a Buffer whose slices are views into a shared pool; compressed blocks must still be read alone.
  for (const name of ['gray_u16_tiled_deflate8.tif', 'gray_u16_zip_pred2.tif', 'gray_u16_lzw_pred2.tif']) {
    test(`${name} decodes the same from a Buffer as from a plain Uint8Array`, async () => {
      const buffer = fs.readFileSync(path.join(fixtureRoot, name));
      const fromBuffer = await decodeTiff(buffer, name);
      const fromCopy = await decodeTiff(new Uint8Array(buffer), name);
      expect(fromBuffer.planes.length).toBe(fromCopy.planes.length);
      fromCopy.planes.forEach((plane, i) => expect(Array.from(fromBuffer.planes[i].data)).toEqual(Array.from(plane.data)));
      expect(mean(fromBuffer.planes[0])).toBeGreaterThan(0);
    });
  }
});
