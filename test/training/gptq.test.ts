import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import type { CalibrationTiles } from '../../training/src/export/bias-correction.ts';
import { gptqCodes, measureKernelMoments, type KernelInputMoments } from '../../training/src/export/gptq.ts';
import { quantizeModel } from '../../training/src/export/export.ts';
import { Rng } from '../../training/src/util/prng.ts';

await tf.setBackend('cpu');

/** conv 5x5 same -> conv 3x2 valid -> flatten (2,600 inputs: more than one GPTQ block) -> dense -> dense. */
function smallNet(): tfl.LayersModel {
  const input = tfl.input({ shape: [12, 14, 3] });
  let x = tfl.layers.conv2d({ filters: 6, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 1 }), name: 'a' }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: 20, kernelSize: [3, 2], padding: 'valid', activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 2 }), name: 'b' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dense({ units: 24, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 3 }), name: 'd' }).apply(x) as tfl.SymbolicTensor;
  const output = tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }), name: 'e' }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: output });
}

/**
 * Smooth random tiles (neighbouring pixels and channels correlated, as in microscope fields), so that a kernel's
 * input rows are correlated and GPTQ has errors to move.
 */
function smoothTiles(count: number, seed: number): CalibrationTiles {
  const [h, w, c] = [12, 14, 3];
  const x = tf.tidy(() => {
    const noise = tf.randomUniform([count, h + 4, w + 4, 1], 0, 1, 'float32', seed) as tf.Tensor4D;
    const blurred = tf.avgPool(noise, 5, 1, 'valid');
    return tf.concat([blurred, tf.mul(blurred, 0.8), tf.add(tf.mul(blurred, 0.5), 0.2)], 3);
  });
  const values = x.dataSync() as Float32Array;
  x.dispose();
  const size = h * w * c;
  return { shape: [h, w, c], tiles: Array.from({ length: count }, (_, i) => values.slice(i * size, (i + 1) * size)), fields: count };
}

function stack(calibration: CalibrationTiles): tf.Tensor4D {
  const size = calibration.shape.reduce((a, b) => a * b, 1);
  const all = new Float32Array(calibration.tiles.length * size);
  calibration.tiles.forEach((t, i) => all.set(t, i * size));
  return tf.tensor4d(all, [calibration.tiles.length, ...calibration.shape]);
}

/** E[p p'] over every output position of every image, p the layer's input patch (0 in the padding), by brute force. */
function patchMoments(x: tf.Tensor4D, kh: number, kw: number, padding: 'same' | 'valid'): Float64Array {
  const [n, h, w, c] = x.shape;
  const v = x.arraySync();
  const [top, left] = padding === 'same' ? [Math.floor((kh - 1) / 2), Math.floor((kw - 1) / 2)] : [0, 0];
  const [oh, ow] = padding === 'same' ? [h, w] : [h - kh + 1, w - kw + 1];
  const rows = kh * kw * c;
  const out = new Float64Array(rows * rows);
  const patch = new Float64Array(rows);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < oh; y++)
      for (let xx = 0; xx < ow; xx++) {
        patch.fill(0);
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++) {
            const [iy, ix] = [y + ky - top, xx + kx - left];
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) for (let ch = 0; ch < c; ch++) patch[(ky * kw + kx) * c + ch] = v[b][iy][ix][ch];
          }
        for (let i = 0; i < rows; i++) for (let j = 0; j < rows; j++) out[i * rows + j] += patch[i] * patch[j];
      }
  return out.map((s) => s / (n * oh * ow));
}

function expectClose(actual: Float64Array, expected: Float64Array): void {
  expect(actual.length).toBe(expected.length);
  const scale = Math.max(...expected.map(Math.abs));
  for (let i = 0; i < actual.length; i++) expect(Math.abs(actual[i] - expected[i])).toBeLessThan(1e-5 * scale);
}

/** Mean square of (x W) - (x V) over the rows of x ([n, rows]), W and V [rows, channels]. */
function outputError(x: Float32Array, n: number, w: Float32Array, v: Float32Array, channels: number): number {
  const rows = w.length / channels;
  let sum = 0;
  for (let s = 0; s < n; s++)
    for (let c = 0; c < channels; c++) {
      let e = 0;
      for (let i = 0; i < rows; i++) e += x[s * rows + i] * (w[i * channels + c] - v[i * channels + c]);
      sum += e * e;
    }
  return sum / (n * channels);
}

/** Per channel min/max grid (0 included), as quantize.ts makes it. */
function grid(w: Float32Array, channels: number): { scales: number[]; zeroPoints: number[] } {
  const scales: number[] = [];
  const zeroPoints: number[] = [];
  for (let c = 0; c < channels; c++) {
    let [lo, hi] = [0, 0];
    for (let i = c; i < w.length; i += channels) [lo, hi] = [Math.min(lo, w[i]), Math.max(hi, w[i])];
    scales.push((hi - lo) / 255);
    zeroPoints.push(Math.round(-lo / scales[c]));
  }
  return { scales, zeroPoints };
}

const decode = (codes: Uint8Array, channels: number, g: ReturnType<typeof grid>) => Float32Array.from(codes, (q, i) => (q - g.zeroPoints[i % channels]) * g.scales[i % channels]);

describe('GPTQ rounding of 8-bit kernels', () => {
  it("measures each kernel's input second moments, tile by tile from a stream: every patch of a convolution (padding included), a dense layer's inputs in diagonal blocks", async () => {
    const model = smallNet();
    // 12x14 tiles have 168 output positions, fewer than the 256 sampled per tile: every one is taken.
    const calibration = smoothTiles(6, 21);
    const moments = await measureKernelMoments(model, { shape: calibration.shape, tiles: (async function* () { yield* calibration.tiles; })() });
    const x = stack(calibration);
    const inputOf = (name: string) => tfl.model({ inputs: model.inputs, outputs: model.getLayer(name).input as tfl.SymbolicTensor }).predict(x) as tf.Tensor;
    const a = moments.get('a/kernel')!;
    expect([a.rows, a.blocks.length, a.samples]).toEqual([75, 1, 6 * 12 * 14]);
    expectClose(a.blocks[0], patchMoments(x, 5, 5, 'same'));
    const b = moments.get('b/kernel')!;
    expect([b.rows, b.samples]).toEqual([36, 6 * 10 * 13]);
    expectClose(b.blocks[0], patchMoments(inputOf('b') as tf.Tensor4D, 3, 2, 'valid'));
    // The dense layer reads 10 x 13 x 20 = 2,600 values: blocks of 1,024, 1,024 and 552 rows, each E[x x'] of its rows.
    const d = moments.get('d/kernel')!;
    expect([d.rows, d.blockRows, d.blocks.map((blk) => Math.sqrt(blk.length))]).toEqual([2600, 1024, [1024, 1024, 552]]);
    const dx = inputOf('d').arraySync() as number[][];
    const last = d.blocks[2];
    for (const [i, j] of [[0, 0], [3, 17], [551, 200]]) {
      const expected = dx.reduce((s, row) => s + row[2048 + i] * row[2048 + j], 0) / dx.length;
      expect(last[i * 552 + j]).toBeCloseTo(expected, 5);
    }
    expect(moments.get('e/kernel')!.rows).toBe(24);
  });

  it('rounds to the nearest code when the inputs are uncorrelated, and takes back the error of correlated ones', () => {
    const rng = new Rng(5);
    const [rows, channels, n] = [48, 6, 400];
    const w = Float32Array.from({ length: rows * channels }, () => rng.normal());
    const g = grid(w, channels);
    const nearest = Uint8Array.from(w, (v, i) => Math.max(0, Math.min(255, Math.round(v / g.scales[i % channels]) + g.zeroPoints[i % channels])));
    const diagonal: KernelInputMoments = { rows, blockRows: rows, blocks: [Float64Array.from({ length: rows * rows }, (_, k) => (k % (rows + 1) === 0 ? 1 + (k % 7) : 0))], samples: 1 };
    expect(Array.from(gptqCodes(w, channels, diagonal, g.scales, g.zeroPoints))).toEqual(Array.from(nearest));

    // Inputs that share a few common factors: E[x x'] far from diagonal.
    const inputs = (count: number) => {
      const x = new Float32Array(count * rows);
      for (let s = 0; s < count; s++) {
        const f = [rng.normal(), rng.normal(), rng.normal()];
        for (let i = 0; i < rows; i++) x[s * rows + i] = f[i % 3] + 0.6 * f[(i + 1) % 3] + 0.1 * rng.normal();
      }
      return x;
    };
    const train = inputs(n);
    const h = new Float64Array(rows * rows);
    for (let s = 0; s < n; s++) for (let i = 0; i < rows; i++) for (let j = 0; j < rows; j++) h[i * rows + j] += (train[s * rows + i] * train[s * rows + j]) / n;
    const codes = gptqCodes(w, channels, { rows, blockRows: rows, blocks: [h], samples: n }, g.scales, g.zeroPoints);
    // The same grid, every code in range; on fresh inputs the output error is far below nearest rounding's.
    expect(codes.every((q) => q >= 0 && q <= 255)).toBe(true);
    const fresh = inputs(400);
    const errNearest = outputError(fresh, 400, w, decode(nearest, channels, g), channels);
    const errGptq = outputError(fresh, 400, w, decode(codes, channels, g), channels);
    expect(errGptq).toBeLessThan(errNearest / 4);
  });

  it("an export's 8-bit model, with GPTQ and bias correction, is closer to float32 on fresh inputs than nearest rounding", async () => {
    const model = smallNet();
    const plain = await quantizeModel(model, 'uint8-per-channel');
    const calibrated = await quantizeModel(model, 'uint8-per-channel', smoothTiles(48, 22));
    const fresh = stack(smoothTiles(64, 23));
    const error = (m: tfl.LayersModel) => tf.tidy(() => tf.mean(tf.square(tf.sub(m.predict(fresh) as tf.Tensor, model.predict(fresh) as tf.Tensor))).dataSync()[0]);
    expect(error(calibrated.model)).toBeLessThan(error(plain.model) / 2);
    // The same format and size: one byte per kernel weight on the same per-channel grid.
    expect(calibrated.bytes).toBe(plain.bytes);
    const specs = (q: typeof plain) => q.artifacts.weightSpecs!.map((s) => JSON.stringify(s));
    expect(specs(calibrated)).toEqual(specs(plain));
  });
});
