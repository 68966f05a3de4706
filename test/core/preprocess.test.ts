import { describe, expect, it } from 'vitest';
import { binPlane, DEFAULT_PREPROCESS, preprocessField, preprocessSpecKey, type PixelPlane, type PreprocessSpec } from '../../src/core/preprocess.ts';

const plane = (width: number, height: number, data: PixelPlane['data']): PixelPlane => ({ width, height, data });
const ramp = <T extends PixelPlane['data']>(ctor: { new (n: number): T }, n: number, f: (i: number) => number): T => {
  const a = new ctor(n);
  for (let i = 0; i < n; i++) a[i] = f(i);
  return a;
};

describe('preprocessField', () => {
  const w = 40;
  const h = 30;
  const n = w * h;

  it.each([
    ['uint8', ramp(Uint8Array, n, (i) => i % 256)],
    ['uint16', ramp(Uint16Array, n, (i) => (i * 53) % 65536)],
    ['int16', ramp(Int16Array, n, (i) => (i % 2000) - 1000)],
    ['float32', ramp(Float32Array, n, (i) => Math.sin(i) * 1e-3)],
  ])('maps %s planes into [0, 1] with percentile clipping', (_name, data) => {
    const img = preprocessField([plane(w, h, data), plane(w, h, data), plane(w, h, data)], DEFAULT_PREPROCESS);
    expect([img.height, img.width, img.channels]).toEqual([h, w, 3]);
    let min = Infinity;
    let max = -Infinity;
    for (const v of img.data) {
      expect(Number.isFinite(v)).toBe(true);
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
  });

  it('gives zeros, not NaN, for constant planes and NaN pixels', () => {
    const constant = new Uint16Array(n).fill(1234);
    const withNaN = new Float32Array(n).fill(NaN);
    const img = preprocessField([plane(w, h, constant), plane(w, h, withNaN), plane(w, h, new Float32Array(n))], DEFAULT_PREPROCESS);
    expect(img.data.every((v) => v === 0)).toBe(true);
  });

  it('keeps channel order (HWC) and applies affine and divide normalisation', () => {
    const a = new Uint8Array(n).fill(10);
    const b = new Uint8Array(n).fill(20);
    const c = new Uint8Array(n).fill(255);
    const divide: PreprocessSpec = { ...DEFAULT_PREPROCESS, normalisation: { method: 'divide', by: 255 } };
    const img = preprocessField([plane(w, h, a), plane(w, h, b), plane(w, h, c)], divide);
    expect(Array.from(img.data.subarray(0, 3))).toEqual([10 / 255, 20 / 255, 1].map(Math.fround));
    const affine: PreprocessSpec = { ...DEFAULT_PREPROCESS, normalisation: { method: 'affine', offset: [10, 0, 5], scale: [1, 0.5, 2] } };
    const img2 = preprocessField([plane(w, h, a), plane(w, h, b), plane(w, h, c)], affine);
    expect(Array.from(img2.data.subarray(3, 6))).toEqual([0, 10, 500]);
  });

  it('bins by box average, averaging partial bins at the edges', () => {
    // 3x5 plane, binning 2 -> 2x3
    const data = new Uint16Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    const binned = binPlane(plane(5, 3, data), 2);
    expect(Array.from(binned)).toEqual([(1 + 2 + 6 + 7) / 4, (3 + 4 + 8 + 9) / 4, (5 + 10) / 2, (11 + 12) / 2, (13 + 14) / 2, 15]);
    const img = preprocessField([plane(5, 3, data), plane(5, 3, data), plane(5, 3, data)], { ...DEFAULT_PREPROCESS, binning: 2 });
    expect([img.height, img.width]).toEqual([2, 3]);
  });

  it('refuses mismatched channels and bad specs with a clear message', () => {
    const a = plane(4, 4, new Uint8Array(16));
    const b = plane(4, 5, new Uint8Array(20));
    expect(() => preprocessField([a, b, a], DEFAULT_PREPROCESS)).toThrow(/Tubulin is 4x5 but DNA is 4x4/);
    expect(() => preprocessField([a, a], DEFAULT_PREPROCESS)).toThrow(/Expected 3 channel planes/);
    expect(() => preprocessField([a, a, a], { ...DEFAULT_PREPROCESS, binning: 0 })).toThrow(/binning/);
  });

  it('has a stable key that changes with the spec', () => {
    expect(preprocessSpecKey(DEFAULT_PREPROCESS)).toBe(preprocessSpecKey({ ...DEFAULT_PREPROCESS }));
    expect(preprocessSpecKey(DEFAULT_PREPROCESS)).not.toBe(preprocessSpecKey({ ...DEFAULT_PREPROCESS, binning: 4 }));
  });
});
