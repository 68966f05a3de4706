// Display planes: box-averaged to the screen size with one factor for all channels, 8- and 16-bit kept, new buffers.
import { describe, expect, it } from 'vitest';
import { DISPLAY_MAX_SIDE, displayBinning, displayPlanes } from '../../src/core/display.ts';

describe('displayPlanes', () => {
  it('keeps a BBBC021 field (1280x1024) at full resolution, 16-bit, in new buffers', () => {
    const data = Uint16Array.from({ length: 1024 * 1280 }, (_, i) => i % 65_536);
    const { planes, binning } = displayPlanes([{ height: 1024, width: 1280, data }]);
    expect(DISPLAY_MAX_SIDE).toBe(1280);
    expect(binning).toBe(1);
    expect(planes[0]).toMatchObject({ height: 1024, width: 1280 });
    expect(planes[0].data).toBeInstanceOf(Uint16Array);
    expect(planes[0].data.every((v, i) => v === data[i])).toBe(true);
    expect(planes[0].data.buffer).not.toBe(data.buffer);
  });

  it('box-averages larger fields by one whole factor, rounding 8- and 16-bit values, averaging partial edge bins', () => {
    expect(displayBinning(2160, 2560)).toBe(2);
    expect(displayBinning(5, 3, 2)).toBe(3);
    const u8 = { height: 3, width: 5, data: Uint8Array.from([0, 1, 2, 3, 4, 10, 11, 12, 13, 14, 20, 21, 22, 23, 24]) };
    const f32 = { height: 3, width: 5, data: Float32Array.from(u8.data, (v) => v / 4) };
    const { planes, binning } = displayPlanes([u8, f32], 3);
    expect(binning).toBe(2);
    expect(planes[0]).toMatchObject({ height: 2, width: 3 });
    // Bins: [0,1,10,11] -> 5.5 -> 6, [2,3,12,13] -> 7.5 -> 8, [4,14] -> 9, [20,21] -> 20.5 -> 21, [22,23] -> 22.5 -> 23, [24] -> 24.
    expect(planes[0].data).toEqual(Uint8Array.from([6, 8, 9, 21, 23, 24]));
    expect(planes[1].data).toBeInstanceOf(Float32Array);
    expect(Array.from(planes[1].data)).toEqual([5.5, 7.5, 9, 20.5, 22.5, 24].map((v) => v / 4));
  });

  it('turns other pixel types into float32', () => {
    const { planes } = displayPlanes([{ height: 1, width: 2, data: Int16Array.from([-5, 7]) }]);
    expect(planes[0].data).toEqual(Float32Array.from([-5, 7]));
  });
});
