// The physical size of a pixel, in micrometres, where a file states it: OME-XML PhysicalSizeX/Y (with
// their units), an ImageJ description's `unit=` with the resolution tags, or the TIFF resolution tags
// in inches or centimetres.

import type { PageSummary } from './structure.ts';
import type { PixelSize } from './types.ts';

/** Micrometres in one unit, for the length units OME, ImageJ and TIFF files use. */
const MICROMETRES_PER_UNIT: Record<string, number> = {
  m: 1e6,
  dm: 1e5,
  cm: 1e4,
  centimeter: 1e4,
  mm: 1e3,
  'µm': 1, // U+00B5 micro sign
  'μm': 1, // U+03BC Greek mu
  um: 1,
  micron: 1,
  microns: 1,
  micrometer: 1,
  nm: 1e-3,
  pm: 1e-6,
  'Å': 1e-4,
  in: 25_400,
  inch: 25_400,
};

/** Resolutions image editors and libraries write by default (dots per inch): they say nothing about the sample. */
const DEFAULT_DPI = new Set([72, 96]);

/** Micrometres per `unit`, or undefined for a unit that is not a length (pixel, reference frame) or unknown. */
export function micrometresPer(unit: string): number | undefined {
  const unescaped = unit.trim().replace(/\\u([0-9a-fA-F]{4})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return MICROMETRES_PER_UNIT[unescaped] ?? MICROMETRES_PER_UNIT[unescaped.toLowerCase()];
}

const positive = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v) && v > 0;

/** OME Pixels PhysicalSizeX/Y with PhysicalSizeXUnit/YUnit (default µm, as the OME schema says). */
export function omePixelSize(x?: string, y?: string, xUnit?: string, yUnit?: string): PixelSize | undefined {
  const sizeX = x === undefined ? undefined : Number(x) * (micrometresPer(xUnit ?? 'µm') ?? NaN);
  const sizeY = y === undefined ? undefined : Number(y) * (micrometresPer(yUnit ?? 'µm') ?? NaN);
  if (!positive(sizeX)) return undefined;
  return { x: sizeX, y: positive(sizeY) ? sizeY : sizeX, source: 'ome-xml' };
}

/** ImageJ: `unit=` in the description; XResolution/YResolution are pixels per that unit. */
export function imageJPixelSize(description: string, page: PageSummary): PixelSize | undefined {
  const unit = /^unit=(.+)$/m.exec(description)?.[1];
  const perUnit = unit === undefined ? undefined : micrometresPer(unit);
  if (perUnit === undefined || !positive(page.xResolution)) return undefined;
  const x = perUnit / page.xResolution;
  return { x, y: positive(page.yResolution) ? perUnit / page.yResolution : x, source: 'imagej' };
}

/**
 * TIFF XResolution/YResolution in pixels per inch (ResolutionUnit 2, the default) or per centimetre (3).
 * 72 and 96 pixels per inch are the defaults of image editors and libraries, not a pixel size: ignored.
 */
export function tiffResolutionPixelSize(page: PageSummary): PixelSize | undefined {
  const perUnit = page.resolutionUnit === 2 ? 25_400 : page.resolutionUnit === 3 ? 10_000 : undefined;
  if (perUnit === undefined || !positive(page.xResolution)) return undefined;
  if (page.resolutionUnit === 2 && DEFAULT_DPI.has(page.xResolution) && (page.yResolution ?? page.xResolution) === page.xResolution) return undefined;
  const x = perUnit / page.xResolution;
  return { x, y: positive(page.yResolution) ? perUnit / page.yResolution : x, source: 'tiff-resolution' };
}
