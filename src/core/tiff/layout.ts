// Decides which TIFF page holds which channel, focal plane (z) and time point (t), from what the
// file declares: OME-XML, an ImageJ hyperstack description, or else pages of one size as channels.
// A plane is never given a place the file does not state: planes an OME-XML puts in other files of a
// multi-file set stay there (named in the error or note), several images (positions) in one file are
// refused unless one is asked for, and pages no layout covers are listed as skipped.

import { TiffDecodeError } from '../errors.ts';
import { imageJPixelSize, omePixelSize, tiffResolutionPixelSize } from './pixel-size.ts';
import type { LayoutSource, PixelSize } from './types.ts';
import type { PageSummary } from './structure.ts';

/** One page's place in the c/z/t stack. `c` counts page-channels (each page may hold several samples). */
export interface PagePlacement {
  page: number;
  c: number;
  z: number;
  t: number;
}

export interface StackLayout {
  source: LayoutSource;
  /** Channels per z/t counted in pages (samples of one page are expanded later). */
  pageChannels: number;
  sizeZ: number;
  sizeT: number;
  placements: PagePlacement[];
  /** Channel names by page-channel index, where the file states them. */
  channelNames: (string | undefined)[];
  skippedPages: { page: number; reason: string }[];
  notes: string[];
  /** Planes of the chosen image that the OME-XML places in other files of a multi-file set. */
  elsewhere: { c: number; z: number; t: number; fileName: string }[];
  /** Images (OME Image elements: positions, series) the file describes, and which one the layout is of. */
  imageCount: number;
  image: number;
  imageName?: string;
  /** Micrometres per pixel, where the file states it. */
  pixelSize?: PixelSize;
}

export interface LayoutOptions {
  /** Which OME image (position, series) to lay out; required when several have planes in this file. */
  image?: number;
}

/** One TiffData element: planes stored at IFD `ifd` onwards of the file its UUID names (this file when none). */
interface OmeTiffData {
  ifd?: number;
  firstC: number;
  firstZ: number;
  firstT: number;
  planeCount?: number;
  /** The UUID element's text (urn:uuid:...) and FileName attribute, for planes in another file of a multi-file set. */
  uuid?: string;
  fileName?: string;
}

/** One OME Image (a position, a series): its Pixels element. */
export interface OmeImage {
  name?: string;
  dimensionOrder: string;
  sizeX?: number;
  sizeY?: number;
  sizeC: number;
  sizeZ: number;
  sizeT: number;
  channels: { name?: string; samplesPerPixel?: number }[];
  tiffData: OmeTiffData[];
  pixelSize?: PixelSize;
}

export interface OmeMetadata {
  /** This file's UUID (the OME element's UUID attribute), which TiffData UUIDs of its own planes repeat. */
  uuid?: string;
  images: OmeImage[];
  /** A BinaryOnly element: the OME-XML describing this file's planes is in another file. */
  binaryOnlyMetadataFile?: string;
}

function attributes(tagText: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tagText.matchAll(/([A-Za-z_][\w:.-]*)\s*=\s*("([^"]*)"|'([^']*)')/g)) {
    out[m[1].replace(/^\w+:/, '')] = decodeXmlEntities(m[3] ?? m[4] ?? '');
  }
  return out;
}

function decodeXmlEntities(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d) % 0x110000))
    .replace(/&amp;/g, '&');
}

function intAttr(a: Record<string, string>, key: string): number | undefined {
  if (a[key] === undefined) return undefined;
  const n = Number(a[key]);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** Reads every Image of an OME-XML block with its Pixels, Channels and TiffData (no DOM: a tolerant scan of tags). */
export function parseOmeXml(xml: string): OmeMetadata | undefined {
  const root = /<(?:\w+:)?OME\b([^>]*)>/.exec(xml);
  if (!root) return undefined;
  const uuid = attributes(root[1]).UUID;
  const binaryOnly = /<(?:\w+:)?BinaryOnly\b([^>]*)>/.exec(xml);
  const images: OmeImage[] = [];
  for (const image of xml.matchAll(/<(?:\w+:)?Image\b([^>]*)>([\s\S]*?)<\/(?:\w+:)?Image>/g)) {
    const pixels = parseOmePixels(image[2], attributes(image[1]).Name);
    if (pixels) images.push(pixels);
  }
  if (images.length === 0 && !binaryOnly) return undefined;
  return { uuid, images, binaryOnlyMetadataFile: binaryOnly ? attributes(binaryOnly[1]).MetadataFile ?? '' : undefined };
}

function parseOmePixels(imageBody: string, name: string | undefined): OmeImage | undefined {
  const start = imageBody.search(/<(\w+:)?Pixels[\s>]/);
  if (start < 0) return undefined;
  const endMatch = /<\/(\w+:)?Pixels>/.exec(imageBody.slice(start));
  const block = endMatch ? imageBody.slice(start, start + endMatch.index) : imageBody.slice(start);
  const pixelsTag = /^<[^>]*>/.exec(block)?.[0] ?? '';
  const p = attributes(pixelsTag);
  const channels = [...block.matchAll(/<(?:\w+:)?Channel\b([^>]*)>/g)].map((m) => {
    const a = attributes(m[1]);
    return { name: a.Name, samplesPerPixel: intAttr(a, 'SamplesPerPixel') };
  });
  const tiffData = [...block.matchAll(/<(?:\w+:)?TiffData\b([^>]*?)(?:\/>|>([\s\S]*?)<\/(?:\w+:)?TiffData>)/g)].map((m) => {
    const a = attributes(m[1]);
    const uuidElement = m[2] === undefined ? null : /<(?:\w+:)?UUID\b([^>]*)>([^<]*)</.exec(m[2]);
    return {
      ifd: intAttr(a, 'IFD'),
      firstC: intAttr(a, 'FirstC') ?? 0,
      firstZ: intAttr(a, 'FirstZ') ?? 0,
      firstT: intAttr(a, 'FirstT') ?? 0,
      planeCount: intAttr(a, 'PlaneCount'),
      uuid: uuidElement ? uuidElement[2].trim() : undefined,
      fileName: uuidElement ? attributes(uuidElement[1]).FileName : undefined,
    };
  });
  return {
    name,
    dimensionOrder: /^XY[ZCT]{3}$/.test(p.DimensionOrder ?? '') ? p.DimensionOrder : 'XYCZT',
    sizeX: intAttr(p, 'SizeX'),
    sizeY: intAttr(p, 'SizeY'),
    sizeC: Math.max(1, intAttr(p, 'SizeC') ?? 1),
    sizeZ: Math.max(1, intAttr(p, 'SizeZ') ?? 1),
    sizeT: Math.max(1, intAttr(p, 'SizeT') ?? 1),
    channels,
    tiffData,
    pixelSize: omePixelSize(p.PhysicalSizeX, p.PhysicalSizeY, p.PhysicalSizeXUnit, p.PhysicalSizeYUnit),
  };
}

/** Reads `channels=`, `slices=`, `frames=` from an ImageJ description (stored order: c fastest, then z, then t). */
export function parseImageJDescription(text: string): { channels: number; slices: number; frames: number } | undefined {
  if (!text.startsWith('ImageJ=')) return undefined;
  const value = (key: string): number => {
    const m = new RegExp(`^${key}=(\\d+)`, 'm').exec(text);
    return m ? Math.max(1, Number(m[1])) : 1;
  };
  return { channels: value('channels'), slices: value('slices'), frames: value('frames') };
}

/** Position (c, z, t) of plane number `i` for an OME DimensionOrder such as XYZCT (Z varies fastest). */
function planePosition(i: number, order: string, size: { C: number; Z: number; T: number }): { c: number; z: number; t: number } {
  const pos = { C: 0, Z: 0, T: 0 };
  let rest = i;
  for (const dim of order.slice(2) as Iterable<'C' | 'Z' | 'T'>) {
    pos[dim] = rest % size[dim];
    rest = Math.floor(rest / size[dim]);
  }
  return { c: pos.C, z: pos.Z, t: pos.T };
}

function planeIndex(c: number, z: number, t: number, order: string, size: { C: number; Z: number; T: number }): number {
  const pos = { C: c, Z: z, T: t };
  let index = 0;
  let stride = 1;
  for (const dim of order.slice(2) as Iterable<'C' | 'Z' | 'T'>) {
    index += pos[dim] * stride;
    stride *= size[dim];
  }
  return index;
}

function sameKind(a: PageSummary, b: PageSummary): boolean {
  return (
    a.width === b.width &&
    a.height === b.height &&
    a.samplesPerPixel === b.samplesPerPixel &&
    a.bitsPerSample.join() === b.bitsPerSample.join() &&
    a.sampleFormat.join() === b.sampleFormat.join()
  );
}

const baseName = (path: string) => path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
const quoted = (names: Iterable<string>) => [...names].map((n) => `"${n}"`).join(', ');
const imageLabel = (image: OmeImage | undefined, index: number) => (image?.name ? `"${image.name}"` : `image ${index + 1}`);

/**
 * Chooses the page layout of a file from its pages' tags and descriptions. Throws TiffDecodeError when
 * the file describes planes it cannot place without guessing: several OME images (positions) and no
 * `options.image`, an OME-XML that puts none of its planes in this file, several Micro-Manager positions.
 */
export function determineLayout(pages: PageSummary[], fileName = 'the file', options: LayoutOptions = {}): StackLayout {
  const first = pages[0];
  const ome = first.description ? parseOmeXml(first.description) : undefined;
  if (ome) return omeLayout(ome, pages, fileName, options);
  checkMicroManagerPositions(pages, fileName);
  const skippedPages: { page: number; reason: string }[] = [];
  const notes: string[] = [];
  const single = { elsewhere: [], imageCount: 1, image: 0 };
  const ij = first.description ? parseImageJDescription(first.description) : undefined;
  if (ij && ij.channels * ij.slices * ij.frames > 1) {
    const placements: PagePlacement[] = [];
    const declared = ij.channels * ij.slices * ij.frames;
    const total = Math.min(pages.length, declared);
    for (let i = 0; i < total; i++) {
      placements.push({ page: i, c: i % ij.channels, z: Math.floor(i / ij.channels) % ij.slices, t: Math.floor(i / (ij.channels * ij.slices)) });
    }
    for (let i = declared; i < pages.length; i++) {
      skippedPages.push({ page: i, reason: `beyond the ${declared} planes the ImageJ description declares (${ij.channels} channels x ${ij.slices} slices x ${ij.frames} frames)` });
    }
    const pixelSize = imageJPixelSize(first.description!, first) ?? tiffResolutionPixelSize(first);
    return { source: 'imagej', pageChannels: ij.channels, sizeZ: ij.slices, sizeT: ij.frames, placements, channelNames: [], skippedPages, notes, ...single, pixelSize };
  }
  const pixelSize = (first.description ? imageJPixelSize(first.description, first) : undefined) ?? tiffResolutionPixelSize(first);
  // Nothing declared: pages of the first page's size and kind are channels; other pages are set aside.
  const placements: PagePlacement[] = [];
  const channelNames: (string | undefined)[] = [];
  for (const page of pages) {
    if (page.index > 0 && (page.newSubfileType & 1) === 1) {
      skippedPages.push({ page: page.index, reason: 'reduced-resolution copy (thumbnail or pyramid level)' });
    } else if (!sameKind(page, first)) {
      skippedPages.push({ page: page.index, reason: `differs from the first page (${page.width}x${page.height}, ${page.samplesPerPixel} samples)` });
    } else {
      channelNames.push(page.pageName);
      placements.push({ page: page.index, c: placements.length, z: 0, t: 0 });
    }
  }
  const source = placements.length > 1 ? 'pages-as-channels' : 'samples';
  return { source, pageChannels: placements.length, sizeZ: 1, sizeT: 1, placements, channelNames, skippedPages, notes, ...single, pixelSize };
}

/** Micro-Manager stacks state each page's position (tag 51123); pages of several positions are not channels or time points. */
function checkMicroManagerPositions(pages: PageSummary[], fileName: string): void {
  const positions = new Set(pages.map((p) => p.microManagerPosition).filter((p) => p !== undefined));
  if (positions.size > 1) {
    throw new TiffDecodeError(
      fileName,
      'unsupported',
      `"${fileName}" is a Micro-Manager stack of ${positions.size} stage positions (${pages.length} pages). This app reads one field per file and does not split a file into positions: ` +
        'save each position to its own file (Micro-Manager: "separate image files" per position) and drop those.',
      `positions ${[...positions].sort((a, b) => a - b).join(', ')}`,
    );
  }
}

/** The planes of one OME image: where each lies in this file, and which lie in other files of the set. */
function placeOmeImage(image: OmeImage, spp: number, pageCount: number, firstPage: number, isOwn: (td: OmeTiffData) => boolean) {
  const pageChannels = spp > 1 && image.sizeC % spp === 0 ? image.sizeC / spp : image.sizeC;
  const size = { C: pageChannels, Z: image.sizeZ, T: image.sizeT };
  const total = pageChannels * image.sizeZ * image.sizeT;
  const placements: PagePlacement[] = [];
  const elsewhere: StackLayout['elsewhere'] = [];
  if (image.tiffData.length === 0) {
    for (let i = 0; i < total && firstPage + i < pageCount; i++) placements.push({ page: firstPage + i, ...planePosition(i, image.dimensionOrder, size) });
  }
  for (const td of image.tiffData) {
    const startPlane = planeIndex(td.firstC, td.firstZ, td.firstT, image.dimensionOrder, size);
    const count = td.planeCount ?? (td.ifd !== undefined ? 1 : total);
    const own = isOwn(td);
    for (let k = 0; k < count && startPlane + k < total; k++) {
      const position = planePosition(startPlane + k, image.dimensionOrder, size);
      const page = (td.ifd ?? 0) + k;
      if (!own) elsewhere.push({ ...position, fileName: td.fileName ?? td.uuid ?? 'another file' });
      else if (page < pageCount) placements.push({ page, ...position });
    }
  }
  return { pageChannels, placements, elsewhere, planes: total };
}

function omeLayout(ome: OmeMetadata, pages: PageSummary[], fileName: string, options: LayoutOptions): StackLayout {
  if (ome.images.length === 0) {
    throw new TiffDecodeError(
      fileName,
      'unsupported',
      `"${fileName}" is one file of a multi-file OME-TIFF set whose description is in ${ome.binaryOnlyMetadataFile ? `"${ome.binaryOnlyMetadataFile}"` : 'another file'}; ` +
        'without it the planes of this file cannot be told apart. Save the set as one OME-TIFF, or one file per channel, and try again.',
    );
  }
  const first = pages[0];
  // A TiffData is this file's when it names no file, or names this file's UUID; when no TiffData names
  // that UUID (none on the OME element, or a tool rewrote it), when its FileName is this file's name.
  const byUuid = ome.uuid !== undefined && ome.images.some((image) => image.tiffData.some((td) => td.uuid === ome.uuid));
  const isOwn = (td: OmeTiffData) =>
    td.uuid === undefined || (byUuid ? td.uuid === ome.uuid : td.fileName !== undefined && baseName(td.fileName) === baseName(fileName));
  let nextPage = 0;
  const placed = ome.images.map((image) => {
    const p = placeOmeImage(image, first.samplesPerPixel, pages.length, nextPage, isOwn);
    nextPage += p.planes;
    return p;
  });
  const here = placed.flatMap((p, i) => (p.placements.length > 0 ? [i] : []));
  const otherFiles = new Set(placed.flatMap((p) => p.elsewhere.map((e) => e.fileName)));
  let chosen: number;
  if (options.image !== undefined) {
    if (!(options.image >= 0 && options.image < ome.images.length)) {
      throw new TiffDecodeError(fileName, 'unsupported', `"${fileName}" describes ${ome.images.length} image(s); image ${options.image + 1} does not exist.`);
    }
    chosen = options.image;
  } else if (here.length === 0) {
    throw new TiffDecodeError(
      fileName,
      'unsupported',
      otherFiles.size > 0
        ? `"${fileName}" is one file of a multi-file OME-TIFF set, but its OME-XML places no plane in this file: they are in ${quoted(otherFiles)}.`
        : `"${fileName}" does not contain the image data its description announces.`,
    );
  } else if (here.length > 1) {
    const names = here.slice(0, 6).map((i) => imageLabel(ome.images[i], i));
    throw new TiffDecodeError(
      fileName,
      'unsupported',
      `"${fileName}" holds ${here.length} images (OME Image elements ${names.join(', ')}${here.length > 6 ? ', ...' : ''}), such as the stage positions of a multi-position acquisition. ` +
        'This app reads one field per file and does not split a file into positions: save each position to its own file (Micro-Manager: one file per position; ' +
        'Fiji: Bio-Formats Exporter, one series per file) and drop those.',
    );
  } else chosen = here[0];
  const image = ome.images[chosen];
  const { pageChannels, placements, elsewhere } = placed[chosen];
  const used = new Set(placements.map((p) => p.page));
  const pageImage = new Map<number, number>();
  placed.forEach((p, i) => p.placements.forEach((pl) => pageImage.has(pl.page) || pageImage.set(pl.page, i)));
  const skippedPages = pages
    .filter((page) => !used.has(page.index))
    .map((page) => {
      const other = pageImage.get(page.index);
      return { page: page.index, reason: other === undefined ? 'not a plane of any image the OME-XML describes' : `a plane of ${imageLabel(ome.images[other], other)}, not of the image read` };
    });
  const notes: string[] = [];
  if (elsewhere.length > 0) {
    notes.push(`This file is one of a multi-file OME-TIFF set: it holds ${placements.length} of the image's ${placed[chosen].planes} planes; the others are in ${quoted(new Set(elsewhere.map((e) => e.fileName)))}.`);
  }
  const spp = first.samplesPerPixel;
  const names = spp > 1 && image.channels.length === 1 ? [image.channels[0].name] : image.channels.slice(0, pageChannels).map((ch) => ch.name);
  return {
    source: 'ome-xml',
    pageChannels,
    sizeZ: image.sizeZ,
    sizeT: image.sizeT,
    placements,
    channelNames: names,
    skippedPages,
    notes,
    elsewhere,
    imageCount: ome.images.length,
    image: chosen,
    imageName: image.name,
    pixelSize: image.pixelSize ?? tiffResolutionPixelSize(first),
  };
}

/**
 * The placements of the channels at focal plane `z` and time point `t`, in channel order. Throws
 * TiffDecodeError when they do not exist, or are all stored in other files of a multi-file set (named).
 */
export function selectPlanes(layout: StackLayout, z: number, t: number, fileName: string): PagePlacement[] {
  if (z >= layout.sizeZ || t >= layout.sizeT || z < 0 || t < 0) {
    throw new TiffDecodeError(fileName, 'unsupported', `"${fileName}" has ${layout.sizeZ} focal planes and ${layout.sizeT} time points; plane z=${z}, t=${t} does not exist.`);
  }
  const selected = layout.placements.filter((p) => p.z === z && p.t === t).sort((a, b) => a.c - b.c);
  if (selected.length > 0) return selected;
  const there = new Set(layout.elsewhere.filter((e) => e.z === z && e.t === t).map((e) => e.fileName));
  throw new TiffDecodeError(
    fileName,
    'unsupported',
    there.size > 0
      ? `"${fileName}" is one file of a multi-file OME-TIFF set: its OME-XML places the planes at z=${z}, t=${t} in ${quoted(there)}, not in this file.`
      : `"${fileName}" does not contain the image data its description announces (it may be one part of a multi-file OME-TIFF set).`,
  );
}
