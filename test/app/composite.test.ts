import { describe, expect, it } from 'vitest';
import { compositeRGBA, defaultDisplays, planeStats, type ChannelDisplay } from '../../src/app/state/composite.ts';
import { axisBoundaries, heatCells } from '../../src/app/state/heatmap.ts';
import { MOA_COLOURS } from '../../src/core/moa-colours.ts';
import { tileField } from '../../src/core/tiling.ts';
import type { TileLayout } from '../../src/engine/types.ts';

describe('compositeRGBA', () => {
  const plane = (vals: number[]) => ({ width: vals.length, height: 1, data: Uint16Array.from(vals) });
  const d = (colour: [number, number, number], low: number, high: number, visible = true): ChannelDisplay => ({ name: 'c', colour, low, high, visible });

  it('maps [low, high] to the channel colour, clips, adds channels and saturates', () => {
    const out = compositeRGBA([plane([0, 100, 200, 400]), plane([0, 0, 1000, 1000])], [d([255, 0, 0], 100, 300), d([255, 255, 0], 0, 1000)]);
    expect(Array.from(out.subarray(0, 4))).toEqual([0, 0, 0, 255]);
    expect(Array.from(out.subarray(4, 8))).toEqual([0, 0, 0, 255]);
    expect(Array.from(out.subarray(8, 12))).toEqual([255, 255, 0, 255]); // 127.5 red + 255 red saturates
    expect(Array.from(out.subarray(12, 16))).toEqual([255, 255, 0, 255]);
  });

  it('leaves hidden channels out and rejects planes of different sizes', () => {
    const out = compositeRGBA([plane([500]), plane([500])], [d([0, 0, 255], 0, 1000), d([255, 0, 0], 0, 1000, false)]);
    expect(Array.from(out)).toEqual([0, 0, 128, 255]);
    expect(() => compositeRGBA([plane([1, 2]), plane([1])], [d([1, 1, 1], 0, 1), d([1, 1, 1], 0, 1)])).toThrow(/differ in size/);
  });

  it('starts with percentile contrast and conventional colours', () => {
    const data = Uint16Array.from({ length: 1000 }, (_, i) => i);
    const s = planeStats(data, 1, 99);
    expect(s.min).toBe(0);
    expect(s.max).toBe(999);
    expect(s.low).toBeCloseTo(10, 0);
    expect(s.high).toBeCloseTo(989, 0);
    const [dna] = defaultDisplays([{ width: 1000, height: 1, data }], ['DNA']);
    expect(dna.colour).toEqual([64, 128, 255]);
    expect(dna.high).toBeGreaterThan(dna.low);
  });
});

describe('heatmap cells', () => {
  it('splits overlaps at their middle so cells cover the field once', () => {
    expect(axisBoundaries([0, 60], [100, 160], 160)).toEqual([0, 80, 160]);
    expect(axisBoundaries([0], [50], 50)).toEqual([0, 50]);
  });

  it('gives each tile its class, confidence and colour, cells summing to the whole field', () => {
    const grid = tileField(300, 250, 128, 160, 16);
    const layout: TileLayout = { ...grid, sourceHeight: 1200, sourceWidth: 1000, binning: 4 };
    const k = 13;
    const probs = new Float32Array(grid.tiles.length * k);
    grid.tiles.forEach((_, i) => (probs[i * k + (i % k)] = 0.8));
    const cells = heatCells(layout, probs, [...Array(k)].map((_, i) => (i === 12 ? 'DMSO' : `c${i}`)));
    expect(cells).toHaveLength(grid.rows * grid.cols);
    const area = cells.reduce((s, c) => s + c.height * c.width, 0);
    expect(area).toBeCloseTo(1, 9);
    expect(cells[1]).toMatchObject({ predicted: 1, confidence: expect.closeTo(0.8, 6) });
    expect(cells[0].top).toBe(0);
    expect(cells[cells.length - 1].top + cells[cells.length - 1].height).toBeCloseTo(1, 9);
    expect(() => heatCells(layout, new Float32Array(3), ['a'])).toThrow(/expected/);
    const dmso = cells.find((c) => c.predicted === 12);
    if (dmso) expect(dmso.colour).toBe(MOA_COLOURS[12]);
  });
});
