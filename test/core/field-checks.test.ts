// Field checks: a stated pixel size more than 25% off the model's, and a tile that is more than half padding.
import { describe, expect, it } from 'vitest';
import { paddedFraction, paddingWarning, pixelSizeWarning } from '../../src/core/field-checks.ts';
import { tileField } from '../../src/core/tiling.ts';

const model = { micrometres: 0.32, binning: 4, source: 'test' };

describe('pixel size', () => {
  it('warns when a file states a pixel size more than 25% off the model, either way, naming the file and the factor', () => {
    expect(pixelSizeWarning([{ file: 'a.ome.tif', x: 0.65, y: 0.65, source: 'ome-xml' }], model)).toMatch(
      /^a\.ome\.tif states a pixel size of 0\.65 µm \(ome-xml\); the model was trained on 0\.32 µm pixels: its pixels are 2\.03x larger/,
    );
    expect(pixelSizeWarning([{ file: 'b.tif', x: 0.08, y: 0.08, source: 'tiff-resolution' }], model)).toMatch(/4x smaller.*not rescaled/);
    expect(pixelSizeWarning([{ file: 'c.tif', x: 0.32, y: 0.5, source: 'imagej' }], model)).toMatch(/0\.32 x 0\.5 µm/);
    expect(pixelSizeWarning([{ file: 'd.tif', x: 1, y: 1, source: 'ome-xml' }, { file: 'e.tif', x: 1, y: 1, source: 'ome-xml' }], model)).toMatch(/^d\.tif \(and 1 more file\)/);
  });

  it('says nothing within 25%, when no file states a size, or when the bundle records none', () => {
    expect(pixelSizeWarning([{ file: 'a.tif', x: 0.39, y: 0.25, source: 'ome-xml' }], model)).toBeUndefined();
    expect(pixelSizeWarning([], model)).toBeUndefined();
    expect(pixelSizeWarning([{ file: 'a.tif', x: 5, y: 5, source: 'ome-xml' }], undefined)).toBeUndefined();
  });
});

describe('padding', () => {
  it('warns when more than half of a tile is padding: a field 4x smaller than the model expects', () => {
    // Model input 256x320 at binning 4 expects 1024x1280 fields; a 256x320 field bins to 64x80 (1/16 of the tile).
    const grid = tileField(64, 80, 256, 320);
    expect(paddedFraction(grid)).toBeCloseTo(1 - 1 / 16, 6);
    expect(paddingWarning(grid, 256, 320, 4)).toBe(
      'The field is 256x320 pixels; the model reads 1024x1280-pixel tiles (binning 4), so 94% of its tile is padding: the prediction rests on a small part of what the model expects.',
    );
  });

  it('says nothing for a field that fills its tiles or leaves at most half of one padded', () => {
    expect(paddingWarning(tileField(256, 320, 256, 320), 1024, 1280, 4)).toBeUndefined();
    expect(paddingWarning(tileField(300, 700, 256, 320), 1200, 2800, 4)).toBeUndefined(); // several tiles, flush with the edges
    expect(paddingWarning(tileField(128, 320, 256, 320), 512, 1280, 4)).toBeUndefined(); // exactly half
    expect(paddingWarning(tileField(127, 320, 256, 320), 508, 1280, 4)).toMatch(/50% of its tile is padding/);
  });
});
