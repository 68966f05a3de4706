// Warnings about a field that the model may not be able to read as it was trained to: a pixel size unlike the one the
// bundle records, and a field so much smaller than a tile that most of what the model sees is padding.
import type { ModelPixelSize } from './bundle-format.ts';
import type { TileGrid } from './tiling.ts';

/** A pixel size a file states, in micrometres per pixel (OME PhysicalSizeX/Y, ImageJ, TIFF resolution tags). */
export interface StatedPixelSize {
  /** The file that states it. */
  file: string;
  x: number;
  y: number;
  source: string;
}

/** Relative difference beyond which a stated pixel size is warned about. */
export const PIXEL_SIZE_TOLERANCE = 0.25;

/** Fraction of a tile that may be padding before the field is warned about. */
export const MAX_PADDED_FRACTION = 0.5;

const round = (v: number) => Number(v.toPrecision(3));

/**
 * A warning when a file states a pixel size that differs from the model's by more than PIXEL_SIZE_TOLERANCE
 * (either axis, relative to the model's); undefined when none is stated, the bundle records none, or they agree.
 * Fields are not rescaled: the model sees the pixels as they are, and the row says by how much they differ.
 */
export function pixelSizeWarning(stated: readonly StatedPixelSize[], model: ModelPixelSize | undefined): string | undefined {
  if (!model) return undefined;
  const off = stated.filter((s) => [s.x, s.y].some((v) => Math.abs(v - model.micrometres) / model.micrometres > PIXEL_SIZE_TOLERANCE));
  if (off.length === 0) return undefined;
  const first = off[0];
  const size = first.x === first.y ? `${round(first.x)} µm` : `${round(first.x)} x ${round(first.y)} µm`;
  const ratio = Math.max(first.x, first.y) / model.micrometres;
  const scale = ratio >= 1 ? `${round(ratio)}x larger` : `${round(1 / ratio)}x smaller`;
  const others = off.length > 1 ? ` (and ${off.length - 1} more file${off.length > 2 ? 's' : ''})` : '';
  return (
    `${first.file}${others} states a pixel size of ${size} (${first.source}); the model was trained on ${round(model.micrometres)} µm pixels: ` +
    `its pixels are ${scale}, so cells appear at a scale the model never saw. The field is classified as it is, not rescaled.`
  );
}

/** The largest fraction of any tile that is padding. */
export function paddedFraction(grid: TileGrid): number {
  const area = grid.tileHeight * grid.tileWidth;
  return Math.max(0, ...grid.tiles.map((t) => 1 - (t.validHeight * t.validWidth) / area));
}

/** A warning when more than MAX_PADDED_FRACTION of a tile is zero padding (the field is smaller than the model's input). */
export function paddingWarning(grid: TileGrid, sourceHeight: number, sourceWidth: number, binning: number): string | undefined {
  const padded = paddedFraction(grid);
  if (padded <= MAX_PADDED_FRACTION) return undefined;
  const needs = `${grid.tileHeight * binning}x${grid.tileWidth * binning}`;
  return (
    `The field is ${sourceHeight}x${sourceWidth} pixels; the model reads ${needs}-pixel tiles (binning ${binning}), so ${Math.round(padded * 100)}% ` +
    `of its tile is padding: the prediction rests on a small part of what the model expects.`
  );
}
