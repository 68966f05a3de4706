// Tiling: cover a preprocessed field with model-sized tiles, and fold tile predictions into a field prediction.
import type { ModelImage } from './preprocess.ts';

/** How fields are tiled at inference; stored in every bundle. */
export interface TilingSpec {
  /** Minimum overlap between neighbouring tiles, in model pixels, when a field is larger than the input. */
  minOverlap: number;
}

/** The trainer's tiling: what it evaluates with and records in the bundles it exports. */
export const DEFAULT_TILING: TilingSpec = { minOverlap: 0 };

/** One tile: where it sits in the field and how much of it is padding. */
export interface Tile {
  index: number;
  /** Top-left corner in field pixels (model resolution). */
  y: number;
  x: number;
  /** Pixels of the field inside the tile; the rest (bottom/right) is zero padding. */
  validHeight: number;
  validWidth: number;
  padBottom: number;
  padRight: number;
}

export interface TileGrid {
  fieldHeight: number;
  fieldWidth: number;
  tileHeight: number;
  tileWidth: number;
  rows: number;
  cols: number;
  tiles: Tile[];
}

/** Starts of n tiles of length t along length l, spread evenly, the last flush with the end. */
function tileStarts(l: number, t: number, minOverlap: number): number[] {
  if (l <= t) return [0];
  const stride = t - minOverlap;
  if (stride <= 0) throw new Error(`Tile overlap ${minOverlap} must be smaller than the tile size ${t}.`);
  const n = Math.ceil((l - t) / stride) + 1;
  return Array.from({ length: n }, (_, i) => Math.round((i * (l - t)) / (n - 1)));
}

/**
 * Covers a field with tiles of the model's input size. Tiles overlap by at least `minOverlap`
 * pixels (spread evenly so the last tile ends at the field edge); a field smaller than a tile along
 * an axis gets one tile there, padded with zeros at the bottom/right, and the pad is recorded.
 */
export function tileField(fieldHeight: number, fieldWidth: number, tileHeight: number, tileWidth: number, minOverlap = DEFAULT_TILING.minOverlap): TileGrid {
  if (!(fieldHeight > 0 && fieldWidth > 0)) throw new Error(`Cannot tile an empty ${fieldHeight}x${fieldWidth} field.`);
  const ys = tileStarts(fieldHeight, tileHeight, minOverlap);
  const xs = tileStarts(fieldWidth, tileWidth, minOverlap);
  const tiles: Tile[] = [];
  for (const y of ys) {
    for (const x of xs) {
      const validHeight = Math.min(tileHeight, fieldHeight - y);
      const validWidth = Math.min(tileWidth, fieldWidth - x);
      tiles.push({ index: tiles.length, y, x, validHeight, validWidth, padBottom: tileHeight - validHeight, padRight: tileWidth - validWidth });
    }
  }
  return { fieldHeight, fieldWidth, tileHeight, tileWidth, rows: ys.length, cols: xs.length, tiles };
}

/** Copies one tile (HWC) out of a preprocessed field into `out` (allocated if absent), zero-padded. */
export function extractTile(image: ModelImage, grid: TileGrid, tile: Tile, out?: Float32Array): Float32Array {
  const c = image.channels;
  const size = grid.tileHeight * grid.tileWidth * c;
  const dst = out ?? new Float32Array(size);
  if (dst.length !== size) throw new Error(`Tile buffer holds ${dst.length} values, expected ${size}.`);
  if (tile.padBottom || tile.padRight) dst.fill(0);
  const rowLen = tile.validWidth * c;
  for (let r = 0; r < tile.validHeight; r++) {
    const src = ((tile.y + r) * image.width + tile.x) * c;
    dst.set(image.data.subarray(src, src + rowLen), r * grid.tileWidth * c);
  }
  return dst;
}

/**
 * Field values from tile values (class probabilities, or features): the mean of the tiles' rows, each tile
 * weighted by the fraction of it that is real field (not padding). Averaging probabilities (rather than
 * voting) keeps the confidence information and is the same rule used per treatment; the weight stops a
 * mostly-padded edge tile from counting as much as a full one.
 */
export function aggregateTiles(tileRows: ArrayLike<number>[], grid: TileGrid): Float32Array {
  if (tileRows.length !== grid.tiles.length)
    throw new Error(`Got ${tileRows.length} tile predictions for ${grid.tiles.length} tiles.`);
  const k = tileRows[0].length;
  const out = new Float32Array(k);
  let total = 0;
  grid.tiles.forEach((tile, i) => {
    const weight = (tile.validHeight * tile.validWidth) / (grid.tileHeight * grid.tileWidth);
    total += weight;
    const row = tileRows[i];
    for (let j = 0; j < k; j++) out[j] += weight * row[j];
  });
  for (let j = 0; j < k; j++) out[j] /= total;
  return out;
}
