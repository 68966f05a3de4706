// decodeTiff: TIFF bytes -> named channel planes, or a TiffDecodeError saying why not.

import { TiffDecodeError } from '../errors.ts';
import { checkBlocksInside, checkMemoryBudget, checkPageSupported, reservedBytes } from './checks.ts';
import { determineLayout, selectPlanes, type PagePlacement, type StackLayout } from './layout.ts';
import { readPageSamples } from './raster.ts';
import { readTiffStructure, type PageSummary } from './structure.ts';
import type { ChannelPlane, DecodedImage, DecodeOptions, PlaneData, SampleFormat, StackPlane } from './types.ts';

/** Default budget for decoded pixels of one file: 1 GiB. */
export const DEFAULT_MAX_DECODE_BYTES = 2 ** 30;

export const RGB_NAMES = ['Red', 'Green', 'Blue'];


function sampleFormatName(code: number): SampleFormat {
  return code === 2 ? 'int' : code === 3 ? 'float' : 'uint';
}

/**
 * Decodes a TIFF (any page layout, strips or tiles, chunky or planar, the common codecs) into
 * channel planes. Never allocates more than `options.maxBytes` of pixels (checked from the header);
 * every failure is a TiffDecodeError with the file name, a code and a plain-language message.
 */
export async function decodeTiff(input: Uint8Array | ArrayBuffer, fileName: string, options: DecodeOptions = {}): Promise<DecodedImage> {
  try {
    return await decodeChecked(input, fileName, options);
  } catch (error) {
    throw wrapLibraryError(fileName, error);
  }
}

async function decodeChecked(input: Uint8Array | ArrayBuffer, fileName: string, options: DecodeOptions): Promise<DecodedImage> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_DECODE_BYTES;
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  const structure = readTiffStructure(bytes, fileName);
  const layout = determineLayout(structure.pages, fileName, { image: options.image });
  const z = options.z ?? 0;
  const t = options.t ?? 0;
  const selected = selectPlanes(layout, z, t, fileName);
  const wanted = options.allPlanes ? layout.placements : selected;
  const pagesToRead = [...new Set(wanted.map((p) => p.page))].map((i) => structure.pages[i]);
  for (const page of pagesToRead) checkPageSupported(page, fileName);
  checkMemoryBudget(pagesToRead, maxBytes, fileName);
  const reserved = reservedBytes(structure);
  for (const page of pagesToRead) checkBlocksInside(page, reserved, bytes.byteLength, fileName);

  const notes = [...layout.notes];
  const planesByPage = new Map<number, ChannelPlane[]>();
  for (const page of pagesToRead) {
    planesByPage.set(page.index, await readPagePlanes(bytes, page, structure.littleEndian, fileName, notes));
  }
  const first = structure.pages[selected[0].page];
  const namedPlanes = (placement: PagePlacement): ChannelPlane[] =>
    (planesByPage.get(placement.page) ?? []).map((plane, s, all) => ({
      ...plane,
      name: channelName(layout, placement.c, s, all.length) ?? plane.name,
    }));
  const planes = selected.flatMap(namedPlanes);
  const stack: StackPlane[] | undefined = options.allPlanes
    ? layout.placements.flatMap((placement) =>
        namedPlanes(placement).map((plane, s, all) => ({ ...plane, c: placement.c * all.length + s, z: placement.z, t: placement.t, page: placement.page })),
      )
    : undefined;
  return {
    fileName,
    width: first.width,
    height: first.height,
    planes,
    pageCount: structure.pages.length,
    sizeC: planes.length,
    sizeZ: layout.sizeZ,
    sizeT: layout.sizeT,
    z,
    t,
    layoutSource: layout.source === 'samples' && first.samplesPerPixel === 1 ? 'samples' : layout.source,
    stack,
    skippedPages: layout.skippedPages,
    notes,
    pixelSize: layout.pixelSize,
    imageCount: layout.imageCount,
    image: layout.image,
    imageName: layout.imageName,
  };
}

/** The name of sample `sample` (of `samples`) of page-channel `pageChannel`, where the file states one. */
export function channelName(layout: StackLayout, pageChannel: number, sample: number, samples: number): string | undefined {
  if (samples === 1) return layout.channelNames[pageChannel];
  if (layout.channelNames.length === 1 && layout.pageChannels === 1) return undefined; // one name for an RGB channel: keep colour names
  return layout.channelNames[pageChannel * samples + sample];
}

async function readPagePlanes(file: Uint8Array, page: PageSummary, littleEndian: boolean, fileName: string, notes: string[]): Promise<ChannelPlane[]> {
  const bits = page.bitsPerSample[0];
  const format = page.sampleFormat[0];
  const arrays = await readPageSamples(file, page, littleEndian, fileName, page.jpegTables);
  const base = { width: page.width, height: page.height, bitsPerSample: bits, sampleFormat: sampleFormatName(format) };
  if (page.photometric === 3) {
    notes.push(`Page ${page.index} is a palette (indexed colour) image; it was expanded to red, green and blue planes.`);
    return expandPalette(page.colorMap ?? [], arrays[0], base);
  }
  if (page.photometric === 0 && format !== 3) {
    notes.push(`Page ${page.index} stores dark as high values (WhiteIsZero); values were inverted.`);
    const max = 2 ** bits - 1;
    for (const a of arrays) for (let i = 0; i < a.length; i++) a[i] = max - a[i];
  }
  return arrays.map((data, s) => ({ ...base, data, name: page.photometric === 2 && s < 3 ? RGB_NAMES[s] : undefined }));
}

/** Palette image -> three 16-bit planes holding the colour map's red, green and blue for each index. */
function expandPalette(colorMap: number[], index: PlaneData, base: Omit<ChannelPlane, 'data'>): ChannelPlane[] {
  const entries = 2 ** base.bitsPerSample;
  return RGB_NAMES.map((name, channel) => {
    const out = new Uint16Array(index.length);
    for (let i = 0; i < index.length; i++) out[i] = colorMap[channel * entries + index[i]];
    return { ...base, name, bitsPerSample: 16, sampleFormat: 'uint' as const, data: out };
  });
}

function wrapLibraryError(fileName: string, error: unknown): TiffDecodeError {
  if (error instanceof TiffDecodeError) return error;
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  if (/Unknown compression|not supported|Unsupported/i.test(detail)) {
    return new TiffDecodeError(fileName, 'unsupported', `"${fileName}" is a TIFF of a kind this app cannot read.`, detail);
  }
  return new TiffDecodeError(
    fileName,
    'corrupt',
    `"${fileName}" is a damaged TIFF file: its image data could not be decoded. Try exporting the image again.`,
    detail,
  );
}
