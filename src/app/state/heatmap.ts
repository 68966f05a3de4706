// The per-tile overlay: which part of the field each tile speaks for, its class, colour and confidence.
import type { TileLayout } from '../../engine/index.ts';
import { argmax } from '../../core/aggregate.ts';
import { classColour } from '../../core/moa-colours.ts';

export interface HeatCell {
  tile: number;
  /** Rectangle as fractions of the field (0..1): top, left, height, width. */
  top: number;
  left: number;
  height: number;
  width: number;
  predicted: number;
  label: string;
  confidence: number;
  colour: string;
}

/**
 * Splits an axis among tiles: overlapping tiles share the overlap at its middle, so the cells tile
 * the field exactly once. starts/ends in model pixels; returns n+1 boundaries from 0 to length.
 */
export function axisBoundaries(starts: number[], ends: number[], length: number): number[] {
  const b = [0];
  for (let i = 1; i < starts.length; i++) b.push(Math.min(length, Math.max(b[i - 1], (ends[i - 1] + starts[i]) / 2)));
  b.push(length);
  return b;
}

/** One cell per tile, row-major, coloured by the tile's most probable class. */
export function heatCells(layout: TileLayout, tileProbabilities: Float32Array, classes: readonly string[]): HeatCell[] {
  const k = classes.length;
  if (tileProbabilities.length !== layout.tiles.length * k)
    throw new Error(`Tile probabilities hold ${tileProbabilities.length} values, expected ${layout.tiles.length} tiles x ${k} classes.`);
  const rowTiles = Array.from({ length: layout.rows }, (_, r) => layout.tiles[r * layout.cols]);
  const colTiles = layout.tiles.slice(0, layout.cols);
  const ys = axisBoundaries(rowTiles.map((t) => t.y), rowTiles.map((t) => t.y + t.validHeight), layout.fieldHeight);
  const xs = axisBoundaries(colTiles.map((t) => t.x), colTiles.map((t) => t.x + t.validWidth), layout.fieldWidth);
  return layout.tiles.map((_, i) => {
    const r = Math.floor(i / layout.cols);
    const c = i % layout.cols;
    const p = tileProbabilities.subarray(i * k, (i + 1) * k);
    const predicted = argmax(p);
    return {
      tile: i,
      top: ys[r] / layout.fieldHeight,
      left: xs[c] / layout.fieldWidth,
      height: (ys[r + 1] - ys[r]) / layout.fieldHeight,
      width: (xs[c + 1] - xs[c]) / layout.fieldWidth,
      predicted,
      label: classes[predicted] ?? String(predicted),
      confidence: p[predicted],
      colour: classColour(predicted, classes),
    };
  });
}
