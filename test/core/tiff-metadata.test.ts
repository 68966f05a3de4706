// What files say about their planes and pixels, read as they say it: multi-file OME-TIFF sets (TiffData
// UUID FileName), several OME images (positions) in one file, Micro-Manager positions, ImageJ stacks
// with extra pages, and the physical pixel size from OME-XML, ImageJ and the TIFF resolution tags.
// Files are written with the project's TIFF writer (training/src/simulate/tiff-writer.ts) and read back.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { decodeTiff, TiffDecodeError, type DecodedImage, type DecodeOptions } from '../../src/core/tiff/index.ts';
import { determineLayout } from '../../src/core/tiff/layout.ts';
import { readTiffStructure } from '../../src/core/tiff/structure.ts';
import { encodeTiffPages, type TiffPlane, type TiffWriteOptions } from '../../training/src/simulate/tiff-writer.ts';
import { REAL_TIFFS_DIR } from '../fixtures/paths.ts';

const W = 12;
const H = 8;

/** A plane whose every pixel tells which plane it is (value*100 + pixel index % 7): copies are caught. */
function plane(value: number): TiffPlane {
  return { width: W, height: H, data: Uint16Array.from({ length: W * H }, (_, i) => value * 100 + (i % 7)) };
}
const idOf = (p: { data: ArrayLike<number> }) => Math.floor(p.data[0] / 100);

interface TiffDataSpec {
  ifd: number;
  c?: number;
  z?: number;
  t?: number;
  planeCount?: number;
  uuid?: string;
  fileName?: string;
}

interface ImageSpec {
  name: string;
  sizeC: number;
  sizeZ?: number;
  sizeT?: number;
  order?: string;
  channels?: string[];
  tiffData: TiffDataSpec[];
  physical?: string;
}

/** OME-XML as Bio-Formats and Micro-Manager write it: OME (UUID) > Image > Pixels > Channel, TiffData (> UUID FileName). */
function omeXml(rootUuid: string | undefined, images: ImageSpec[]): string {
  const body = images
    .map((image, i) => {
      const channels = (image.channels ?? []).map((name, c) => `<Channel ID="Channel:${i}:${c}" Name="${name}" SamplesPerPixel="1"><LightPath/></Channel>`).join('');
      const tiffData = image.tiffData
        .map((td) => {
          const attrs = `FirstC="${td.c ?? 0}" FirstT="${td.t ?? 0}" FirstZ="${td.z ?? 0}" IFD="${td.ifd}" PlaneCount="${td.planeCount ?? 1}"`;
          return td.uuid ? `<TiffData ${attrs}><UUID FileName="${td.fileName}">${td.uuid}</UUID></TiffData>` : `<TiffData ${attrs}/>`;
        })
        .join('');
      return (
        `<Image ID="Image:${i}" Name="${image.name}"><Pixels BigEndian="false" DimensionOrder="${image.order ?? 'XYCZT'}" ID="Pixels:${i}" ` +
        `SizeC="${image.sizeC}" SizeT="${image.sizeT ?? 1}" SizeX="${W}" SizeY="${H}" SizeZ="${image.sizeZ ?? 1}" Type="uint16"${image.physical ?? ''}>` +
        `${channels}${tiffData}</Pixels></Image>`
      );
    })
    .join('');
  const uuid = rootUuid ? ` UUID="${rootUuid}"` : '';
  return `<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"${uuid} Creator="moa-lens test">${body}</OME>`;
}

const decode = (bytes: Uint8Array, name: string, options?: DecodeOptions) => decodeTiff(bytes, name, options);

async function refusal(bytes: Uint8Array, name: string, options?: DecodeOptions): Promise<TiffDecodeError> {
  const error = await decodeTiff(bytes, name, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TiffDecodeError);
  expect((error as TiffDecodeError).message).toContain(`"${name}"`);
  return error as TiffDecodeError;
}

describe('multi-file OME-TIFF: planes stay in the files the OME-XML names', () => {
  // 2 channels x 4 time points, one plane per file, as Bio-Formats writes a file-per-plane set: every
  // file carries the whole OME-XML with its own UUID on the OME element.
  const C = 2;
  const T = 4;
  const names = Array.from({ length: C * T }, (_, k) => `set_c${k % C}_t${Math.floor(k / C)}.ome.tif`);
  const uuids = names.map((_, k) => `urn:uuid:00000000-0000-4000-8000-00000000000${k}`);
  const image = (): ImageSpec => ({
    name: 'set',
    sizeC: C,
    sizeT: T,
    channels: ['DAPI', 'GFP'],
    tiffData: names.map((fileName, k) => ({ ifd: 0, c: k % C, t: Math.floor(k / C), uuid: uuids[k], fileName })),
  });
  const file = (k: number, rootUuid: string | undefined = uuids[k]) => encodeTiffPages([plane(k)], { description: omeXml(rootUuid, [image()]) });

  test('the first file holds one plane: read as that plane (channel DAPI, t=0), never as copies of itself for the others', async () => {
    const decoded = await decode(file(0), names[0], { allPlanes: true });
    expect(decoded.planes.map(idOf)).toEqual([0]);
    expect(decoded.planes[0].name).toBe('DAPI');
    expect(decoded.stack!.map((p) => [idOf(p), p.c, p.t])).toEqual([[0, 0, 0]]);
    expect(decoded.notes.join(' ')).toMatch(/multi-file OME-TIFF set: it holds 1 of the image's 8 planes; the others are in "set_c1_t0\.ome\.tif", .*"set_c1_t3\.ome\.tif"/);
  });

  test('a later file: its plane at its own time point; asking for a time point stored elsewhere names the files that hold it', async () => {
    const k = 5; // c=1, t=2
    const decoded = await decode(file(k), names[k], { t: 2 });
    expect(decoded.planes.map(idOf)).toEqual([5]);
    expect(decoded.planes[0].name).toBe('GFP');
    expect(decoded.t).toBe(2);
    const e = await refusal(file(k), names[k]);
    expect(e.code).toBe('unsupported');
    expect(e.message).toBe(`"${names[k]}" is one file of a multi-file OME-TIFF set: its OME-XML places the planes at z=0, t=0 in "set_c0_t0.ome.tif", "set_c1_t0.ome.tif", not in this file.`);
  });

  test('without a UUID on the OME element, the TiffData FileName that is this file\'s name says which plane is here', async () => {
    const decoded = await decode(file(1, undefined), names[1]);
    expect(decoded.planes.map(idOf)).toEqual([1]);
    expect(decoded.planes[0].name).toBe('GFP');
  });

  test('an OME element UUID that no TiffData repeats (rewritten by a tool): the FileName that is this file\'s name decides', async () => {
    const decoded = await decode(file(3, 'urn:uuid:rewritten'), names[3], { t: 1 });
    expect(decoded.planes.map(idOf)).toEqual([3]);
  });

  test('a file whose OME-XML places no plane in it is refused, naming the files that hold them', async () => {
    const e = await refusal(file(0, 'urn:uuid:ffffffff-0000-4000-8000-000000000000'), 'renamed.ome.tif');
    expect(e.message).toMatch(/^"renamed\.ome\.tif" is one file of a multi-file OME-TIFF set, but its OME-XML places no plane in this file: they are in "set_c0_t0\.ome\.tif", /);
  });

  test('a file-per-time-point set: both channels of its time point, in channel order', async () => {
    const tdata = [0, 1].flatMap((t) => [0, 1].map((c) => ({ ifd: c, c, t, uuid: `urn:uuid:t${t}`, fileName: `tp${t}.ome.tif` })));
    const bytes = encodeTiffPages([plane(11), plane(12)], { description: omeXml('urn:uuid:t1', [{ name: 'tp', sizeC: 2, sizeT: 2, channels: ['DNA', 'Actin'], tiffData: tdata }]) });
    const decoded = await decode(bytes, 'tp1.ome.tif', { t: 1 });
    expect(decoded.planes.map((p) => [idOf(p), p.name])).toEqual([[11, 'DNA'], [12, 'Actin']]);
  });

  test('a BinaryOnly file (its OME-XML lives in a companion file) is refused, naming the companion', async () => {
    const xml = '<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" UUID="urn:uuid:b"><BinaryOnly MetadataFile="plate.companion.ome" UUID="urn:uuid:m"/></OME>';
    const e = await refusal(encodeTiffPages([plane(1)], { description: xml }), 'part.ome.tif');
    expect(e.message).toMatch(/whose description is in "plate\.companion\.ome"/);
  });
});

describe('several positions in one file are never channels or time points', () => {
  // Micro-Manager multi-position OME-TIFF in one file: one Image per position, 2 channels x 2 time points each.
  const positions = ['Pos0', 'Pos1'];
  const images: ImageSpec[] = positions.map((name, p) => ({ name, sizeC: 2, sizeT: 2, channels: ['DAPI', 'FITC'], tiffData: [{ ifd: p * 4, planeCount: 4 }] }));
  const bytes = encodeTiffPages(
    Array.from({ length: 8 }, (_, k) => plane(k)),
    { description: omeXml('urn:uuid:mm', images) },
  );

  test('refused without a position: the message names the positions and says what to do', async () => {
    const e = await refusal(bytes, 'MMStack_Pos0.ome.tif');
    expect(e.code).toBe('unsupported');
    expect(e.message).toMatch(/holds 2 images \(OME Image elements "Pos0", "Pos1"\), such as the stage positions of a multi-position acquisition/);
    expect(e.message).toMatch(/save each position to its own file/);
  });

  test('a position asked for is read whole: its own pages as its channels and time points, the other position\'s pages listed as skipped', async () => {
    const decoded: DecodedImage = await decode(bytes, 'MMStack_Pos0.ome.tif', { image: 1, allPlanes: true });
    expect(decoded.imageCount).toBe(2);
    expect(decoded.imageName).toBe('Pos1');
    expect(decoded.planes.map((p) => [idOf(p), p.name])).toEqual([[4, 'DAPI'], [5, 'FITC']]);
    expect(decoded.stack!.map((p) => [idOf(p), p.c, p.t])).toEqual([[4, 0, 0], [5, 1, 0], [6, 0, 1], [7, 1, 1]]);
    expect(decoded.skippedPages).toEqual([0, 1, 2, 3].map((page) => ({ page, reason: 'a plane of "Pos0", not of the image read' })));
  });

  test('Micro-Manager per-page metadata with two positions (no OME-XML, an ImageJ description): refused, not read as frames', async () => {
    const mm = [0, 0, 1, 1].map((p, k) => JSON.stringify({ ChannelIndex: k % 2, SliceIndex: 0, FrameIndex: 0, PositionIndex: p, PositionName: `Pos${p}` }));
    const file = encodeTiffPages(
      Array.from({ length: 4 }, (_, k) => plane(k)),
      { description: 'ImageJ=1.54f\nimages=4\nchannels=2\nframes=2\nhyperstack=true\n', microManagerMetadata: mm },
    );
    const e = await refusal(file, 'MMStack.tif');
    expect(e.message).toMatch(/^"MMStack\.tif" is a Micro-Manager stack of 2 stage positions \(4 pages\)/);
    // One position's pages alone are an ordinary ImageJ hyperstack.
    const one = encodeTiffPages([plane(0), plane(1)], { description: 'ImageJ=1.54f\nimages=2\nchannels=2\n', microManagerMetadata: mm.slice(0, 2) });
    expect((await decode(one, 'MMStack_Pos0.tif')).planes.map(idOf)).toEqual([0, 1]);
  });

  test('pages beyond what an ImageJ description declares are listed as skipped, not dropped silently', async () => {
    const file = encodeTiffPages(
      Array.from({ length: 4 }, (_, k) => plane(k)),
      { description: 'ImageJ=1.54f\nimages=2\nchannels=2\nhyperstack=true\n' },
    );
    const decoded = await decode(file, 'ij.tif');
    expect(decoded.planes.map(idOf)).toEqual([0, 1]);
    expect(decoded.skippedPages.map((s) => s.page)).toEqual([2, 3]);
    expect(decoded.skippedPages[0].reason).toMatch(/beyond the 2 planes the ImageJ description declares/);
  });

  test('one OME image with pages no TiffData covers: those pages are listed as skipped', async () => {
    const file = encodeTiffPages([plane(0), plane(1), plane(2)], { description: omeXml('urn:uuid:x', [{ name: 'one', sizeC: 2, tiffData: [{ ifd: 0, planeCount: 2 }] }]) });
    const decoded = await decode(file, 'extra.ome.tif');
    expect(decoded.planes.map(idOf)).toEqual([0, 1]);
    expect(decoded.skippedPages).toEqual([{ page: 2, reason: 'not a plane of any image the OME-XML describes' }]);
  });
});

describe('pixel size in micrometres, where the file states it', () => {
  const one = (options: TiffWriteOptions) => decode(encodeTiffPages([plane(1)], options), 'px.tif');
  const ome = (physical: string) => omeXml('urn:uuid:p', [{ name: 'p', sizeC: 1, tiffData: [{ ifd: 0 }], physical }]);

  test('OME-XML PhysicalSizeX/Y: micrometres by default, nm, mm and the Greek mu converted; not a length: none', async () => {
    expect((await one({ description: ome(' PhysicalSizeX="0.65" PhysicalSizeY="0.7"') })).pixelSize).toEqual({ x: 0.65, y: 0.7, source: 'ome-xml' });
    const nm = (await one({ description: ome(' PhysicalSizeX="650" PhysicalSizeXUnit="nm" PhysicalSizeY="650" PhysicalSizeYUnit="nm"') })).pixelSize!;
    expect([nm.x, nm.y, nm.source]).toEqual([0.65, 0.65, 'ome-xml']);
    const mm = (await one({ description: ome(' PhysicalSizeX="0.00065" PhysicalSizeXUnit="mm" PhysicalSizeY="0.0013" PhysicalSizeYUnit="mm"') })).pixelSize!;
    expect(mm.x).toBeCloseTo(0.65, 12);
    expect(mm.y).toBeCloseTo(1.3, 12);
    expect((await one({ description: ome(' PhysicalSizeX="1.3" PhysicalSizeXUnit="\u03bcm" PhysicalSizeY="1.3" PhysicalSizeYUnit="\u03bcm"') })).pixelSize).toEqual({ x: 1.3, y: 1.3, source: 'ome-xml' });
    expect((await one({ description: ome(' PhysicalSizeX="1" PhysicalSizeXUnit="pixel"') })).pixelSize).toBeUndefined();
    // OME states it: the resolution tags beside it do not count.
    const both = await one({ description: ome(' PhysicalSizeX="0.65" PhysicalSizeY="0.65"'), resolution: { x: 1000, y: 1000, unit: 'centimeter' } });
    expect(both.pixelSize!.source).toBe('ome-xml');
  });

  test('TIFF resolution tags: pixels per centimetre or per inch; unit none and the 72/96 dpi defaults are no pixel size', async () => {
    const cm = (await one({ resolution: { x: 15384.615385, y: 7692.307692, unit: 'centimeter' } })).pixelSize!;
    expect(cm.source).toBe('tiff-resolution');
    expect(cm.x).toBeCloseTo(0.65, 6);
    expect(cm.y).toBeCloseTo(1.3, 6);
    const inch = (await one({ resolution: { x: 39076.923077, y: 39076.923077, unit: 'inch' } })).pixelSize!;
    expect(inch.x).toBeCloseTo(0.65, 6);
    expect((await one({ resolution: { x: 2, y: 2, unit: 'none' } })).pixelSize).toBeUndefined();
    expect((await one({ resolution: { x: 72, y: 72, unit: 'inch' } })).pixelSize).toBeUndefined();
    expect((await one({ resolution: { x: 96, y: 96, unit: 'inch' } })).pixelSize).toBeUndefined();
    expect((await one({})).pixelSize).toBeUndefined();
  });

  test('ImageJ: unit=micron (or \\u00B5m, nm) in the description, the resolution tags in pixels per that unit', async () => {
    const ij = (unit: string, perUnit: number) => one({ description: `ImageJ=1.54f\nimages=1\nunit=${unit}\n`, resolution: { x: perUnit, y: perUnit, unit: 'none' } });
    const micron = (await ij('micron', 1.538462)).pixelSize!;
    expect(micron.source).toBe('imagej');
    expect(micron.x).toBeCloseTo(0.65, 6);
    expect((await ij('\\u00B5m', 1.538462)).pixelSize!.x).toBeCloseTo(0.65, 6);
    expect((await ij('nm', 0.001538462)).pixelSize!.x).toBeCloseTo(0.65, 6);
    expect((await ij('pixel', 1)).pixelSize).toBeUndefined();
  });

  test('the real corpus states no pixel size: 72 dpi (CellProfiler, ImageXpress, codec samples), unit none, an OME file without PhysicalSize', async () => {
    const files = fs.readdirSync(REAL_TIFFS_DIR, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tif'));
    expect(files.length).toBeGreaterThanOrEqual(20);
    for (const f of files) {
      const structure = readTiffStructure(new Uint8Array(fs.readFileSync(path.join(REAL_TIFFS_DIR, f))), f);
      expect({ f, pixelSize: determineLayout(structure.pages, f).pixelSize }).toEqual({ f, pixelSize: undefined });
    }
    for (const f of ['cellprofiler-examples/ExampleHuman/AS_09125_050116030001_D03f00d0.tif', 'ome/4D-series.ome.tif']) {
      const decoded = await decodeTiff(new Uint8Array(fs.readFileSync(path.join(REAL_TIFFS_DIR, f))), path.basename(f));
      expect(decoded.pixelSize).toBeUndefined();
    }
  });
});
