// Display planes: a field's channels box-averaged down to a size a screen shows, 8- and 16-bit values kept as such.
import { binnedSize, binPlane, type PixelPlane } from './preprocess.ts';

/** Longest side, in pixels, of the planes the field view draws (a BBBC021 field, 1280x1024, is shown as is). */
export const DISPLAY_MAX_SIDE = 1280;

/** A plane for display: 8-bit and 16-bit images stay 8-bit and 16-bit, every other pixel type becomes float32. */
export interface DisplayPlane extends PixelPlane {
  data: Uint8Array | Uint16Array | Float32Array;
}

/** Field pixels per display pixel: the smallest whole factor that brings the longest side to maxSide or less. */
export function displayBinning(height: number, width: number, maxSide = DISPLAY_MAX_SIDE): number {
  if (!(maxSide >= 1)) throw new Error(`The display size must be at least 1 pixel, got ${maxSide}.`);
  return Math.max(1, Math.ceil(Math.max(height, width) / maxSide));
}

function displayData(plane: PixelPlane, binning: number): DisplayPlane['data'] {
  const values = binPlane(plane, binning);
  const source = plane.data;
  const Narrow = source instanceof Uint8Array || source instanceof Uint8ClampedArray ? Uint8Array : source instanceof Uint16Array ? Uint16Array : null;
  if (!Narrow) return values;
  const out = new Narrow(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.round(values[i]);
  return out;
}

/**
 * The field's planes box-averaged by one common factor (partial bins at the edges averaged, as in
 * preprocessing), so the longest side is at most maxSide. Always new buffers (they can be transferred).
 */
export function displayPlanes(planes: readonly PixelPlane[], maxSide = DISPLAY_MAX_SIDE): { planes: DisplayPlane[]; binning: number } {
  const binning = Math.max(1, ...planes.map((p) => displayBinning(p.height, p.width, maxSide)));
  return {
    binning,
    planes: planes.map((plane) => ({ ...binnedSize(plane.height, plane.width, binning), data: displayData(plane, binning) })),
  };
}
