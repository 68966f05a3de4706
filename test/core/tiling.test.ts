import { describe, expect, it } from 'vitest';
import { aggregateTiles, extractTile, tileField } from '../../src/core/tiling.ts';
import { aggregateTreatments, argmax, score, topK } from '../../src/core/aggregate.ts';
import { treatmentKey } from '../../src/core/metadata.ts';

/** Checks every field pixel is covered by at least one tile and no tile leaves the field except as recorded pad. */
function checkCoverage(h: number, w: number, th: number, tw: number, overlap: number) {
  const grid = tileField(h, w, th, tw, overlap);
  const covered = new Uint8Array(h * w);
  for (const t of grid.tiles) {
    expect(t.y).toBeGreaterThanOrEqual(0);
    expect(t.x).toBeGreaterThanOrEqual(0);
    expect(t.y + t.validHeight).toBeLessThanOrEqual(h);
    expect(t.x + t.validWidth).toBeLessThanOrEqual(w);
    expect(t.validHeight + t.padBottom).toBe(th);
    expect(t.validWidth + t.padRight).toBe(tw);
    for (let y = t.y; y < t.y + t.validHeight; y++) for (let x = t.x; x < t.x + t.validWidth; x++) covered[y * w + x] = 1;
  }
  expect(covered.every((v) => v === 1)).toBe(true);
  return grid;
}

describe('tileField', () => {
  it('covers 2160x2560 with 1024x1280 tiles: 3 rows x 2 cols, no padding', () => {
    const g = checkCoverage(2160, 2560, 1024, 1280, 0);
    expect([g.rows, g.cols]).toEqual([3, 2]);
    expect(g.tiles.every((t) => t.padBottom === 0 && t.padRight === 0)).toBe(true);
    expect(g.tiles.at(-1)).toMatchObject({ y: 2160 - 1024, x: 2560 - 1280 });
  });

  it('covers 1000x1000 with 1024x1280 tiles: one tile, padding recorded', () => {
    const g = checkCoverage(1000, 1000, 1024, 1280, 0);
    expect(g.tiles).toEqual([{ index: 0, y: 0, x: 0, validHeight: 1000, validWidth: 1000, padBottom: 24, padRight: 280 }]);
  });

  it('covers 520x696 with 256x320 tiles and a minimum overlap', () => {
    const g = checkCoverage(520, 696, 256, 320, 32);
    expect([g.rows, g.cols]).toEqual([3, 3]);
    const xs = [...new Set(g.tiles.map((t) => t.x))];
    for (let i = 1; i < xs.length; i++) expect(xs[i - 1] + 320 - xs[i]).toBeGreaterThanOrEqual(32);
  });

  it('covers a field exactly the tile size with one tile', () => {
    const g = checkCoverage(1024, 1280, 1024, 1280, 64);
    expect(g.tiles.length).toBe(1);
  });

  it('refuses an overlap as large as the tile', () => {
    expect(() => tileField(2000, 2000, 256, 256, 256)).toThrow(/overlap/);
  });

  it('extracts a tile with zero padding', () => {
    // 3x2 field, 2 channels, tile 4x4
    const image = { height: 3, width: 2, channels: 2, data: Float32Array.from({ length: 12 }, (_, i) => i + 1) };
    const grid = tileField(3, 2, 4, 4);
    const tile = extractTile(image, grid, grid.tiles[0]);
    expect(tile.length).toBe(32);
    expect(Array.from(tile.subarray(0, 8))).toEqual([1, 2, 3, 4, 0, 0, 0, 0]);
    expect(Array.from(tile.subarray(16, 24))).toEqual([9, 10, 11, 12, 0, 0, 0, 0]);
    expect(tile.subarray(24).every((v) => v === 0)).toBe(true);
  });
});

describe('aggregation', () => {
  it('weights tiles by their real (unpadded) area', () => {
    const grid = tileField(100, 150, 100, 100); // tiles at x=0 (full) and x=50 (full): overlap
    expect(grid.tiles.length).toBe(2);
    const p = aggregateTiles([[1, 0], [0, 1]], grid);
    expect(Array.from(p)).toEqual([0.5, 0.5]);
    const padded = tileField(100, 50, 100, 100); // one tile, half padding
    expect(Array.from(aggregateTiles([[0.2, 0.8]], padded))).toEqual([0.2, 0.8].map(Math.fround));
  });

  it('aggregates treatments by mean probability and scores them', () => {
    const fields = [
      { treatment: treatmentKey('taxol', '0.3'), probabilities: [0.6, 0.4], label: 0 },
      { treatment: treatmentKey('taxol', 0.3), probabilities: [0.2, 0.8], label: 0 },
      { treatment: treatmentKey('AZ138', 1), probabilities: [0.1, 0.9], label: 1 },
    ];
    const t = aggregateTreatments(fields);
    expect(t.length).toBe(2);
    expect(t[0]).toMatchObject({ treatment: 'taxol@0.3', fields: 2, predicted: 1, label: 0 });
    expect(t[0].probabilities[0]).toBeCloseTo(0.4);
    const s = score(t, 2);
    expect(s).toMatchObject({ n: 2, correct: 1, accuracy: 0.5, confusion: [[0, 1], [0, 1]] });
    expect(argmax([0.1, 0.7, 0.2])).toBe(1);
    expect(topK([0.1, 0.7, 0.2], 2).map((x) => x.index)).toEqual([1, 2]);
  });
});
