// Decides which TIFF page holds which channel, focal plane (z) and time point (t), from what the
// file declares: OME-XML, an ImageJ hyperstack description, or else pages of one size as channels.

import type { LayoutSource } from './types.ts';
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
}

interface OmePixels {
  dimensionOrder: string;
  sizeC: number;
  sizeZ: number;
  sizeT: number;
  channels: { name?: string; samplesPerPixel?: number }[];
  tiffData: { ifd?: number; firstC: number; firstZ: number; firstT: number; planeCount?: number }[];
  imageCount: number;
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

/** Reads the first image's Pixels element of an OME-XML block (no DOM: a tolerant scan of tags). */
export function parseOmeXml(xml: string): OmePixels | undefined {
  if (!/<(\w+:)?OME[\s>]/.test(xml)) return undefined;
  const start = xml.search(/<(\w+:)?Pixels[\s>]/);
  if (start < 0) return undefined;
  const endMatch = /<\/(\w+:)?Pixels>/.exec(xml.slice(start));
  const block = endMatch ? xml.slice(start, start + endMatch.index) : xml.slice(start);
  const pixelsTag = /^<[^>]*>/.exec(block)?.[0] ?? '';
  const p = attributes(pixelsTag);
  const channels = [...block.matchAll(/<(?:\w+:)?Channel\b([^>]*)>/g)].map((m) => {
    const a = attributes(m[1]);
    return { name: a.Name, samplesPerPixel: intAttr(a, 'SamplesPerPixel') };
  });
  const tiffData = [...block.matchAll(/<(?:\w+:)?TiffData\b([^>]*)>/g)].map((m) => {
    const a = attributes(m[1]);
    return {
      ifd: intAttr(a, 'IFD'),
      firstC: intAttr(a, 'FirstC') ?? 0,
      firstZ: intAttr(a, 'FirstZ') ?? 0,
      firstT: intAttr(a, 'FirstT') ?? 0,
      planeCount: intAttr(a, 'PlaneCount'),
    };
  });
  const imageCount = [...xml.matchAll(/<(?:\w+:)?Image[\s>]/g)].length;
  return {
    dimensionOrder: /^XY[ZCT]{3}$/.test(p.DimensionOrder ?? '') ? p.DimensionOrder : 'XYCZT',
    sizeC: Math.max(1, intAttr(p, 'SizeC') ?? 1),
    sizeZ: Math.max(1, intAttr(p, 'SizeZ') ?? 1),
    sizeT: Math.max(1, intAttr(p, 'SizeT') ?? 1),
    channels,
    tiffData,
    imageCount,
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

/** Chooses the page layout of a file from its pages' tags and descriptions. */
export function determineLayout(pages: PageSummary[]): StackLayout {
  const first = pages[0];
  const skippedPages: { page: number; reason: string }[] = [];
  const notes: string[] = [];
  const ome = first.description ? parseOmeXml(first.description) : undefined;
  if (ome) {
    const spp = first.samplesPerPixel;
    const pageChannels = spp > 1 && ome.sizeC % spp === 0 ? ome.sizeC / spp : ome.sizeC;
    const size = { C: pageChannels, Z: ome.sizeZ, T: ome.sizeT };
    const total = pageChannels * ome.sizeZ * ome.sizeT;
    const pageOfPlane = new Map<number, number>();
    if (ome.tiffData.length === 0) {
      for (let i = 0; i < total; i++) pageOfPlane.set(i, i);
    } else {
      for (const td of ome.tiffData) {
        const startPlane = planeIndex(td.firstC, td.firstZ, td.firstT, ome.dimensionOrder, size);
        const count = td.planeCount ?? (td.ifd !== undefined ? 1 : total);
        for (let k = 0; k < count && startPlane + k < total; k++) pageOfPlane.set(startPlane + k, (td.ifd ?? 0) + k);
      }
    }
    const placements: PagePlacement[] = [];
    for (const [plane, page] of pageOfPlane) {
      if (page >= pages.length) continue; // stored in another file of a multi-file OME set
      placements.push({ page, ...planePosition(plane, ome.dimensionOrder, size) });
    }
    if (ome.imageCount > 1) notes.push(`The OME-TIFF holds ${ome.imageCount} images; only the first is read.`);
    const names =
      spp > 1 && ome.channels.length === 1 ? [ome.channels[0].name] : ome.channels.slice(0, pageChannels).map((ch) => ch.name);
    return { source: 'ome-xml', pageChannels, sizeZ: ome.sizeZ, sizeT: ome.sizeT, placements, channelNames: names, skippedPages, notes };
  }
  const ij = first.description ? parseImageJDescription(first.description) : undefined;
  if (ij && ij.channels * ij.slices * ij.frames > 1) {
    const placements: PagePlacement[] = [];
    const total = Math.min(pages.length, ij.channels * ij.slices * ij.frames);
    for (let i = 0; i < total; i++) {
      placements.push({ page: i, c: i % ij.channels, z: Math.floor(i / ij.channels) % ij.slices, t: Math.floor(i / (ij.channels * ij.slices)) });
    }
    return { source: 'imagej', pageChannels: ij.channels, sizeZ: ij.slices, sizeT: ij.frames, placements, channelNames: [], skippedPages, notes };
  }
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
  return { source, pageChannels: placements.length, sizeZ: 1, sizeT: 1, placements, channelNames, skippedPages, notes };
}
