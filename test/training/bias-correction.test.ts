import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { correctBiases, KernelInputProbe, type CalibrationTiles } from '../../training/src/export/bias-correction.ts';
import { quantizeModel } from '../../training/src/export/export.ts';
import { measureKernelMoments } from '../../training/src/export/gptq.ts';
import { quantizeArtifacts } from '../../training/src/export/quantize.ts';
import { decodePerChannelWeights } from '../../src/core/weights-encoding.ts';

await tf.setBackend('cpu');

/** conv 5x5 same -> conv 3x3 valid -> conv 1x1 -> flatten -> dense -> dense (linear: its mean output is what we compare). */
function smallNet(): tfl.LayersModel {
  const input = tfl.input({ shape: [9, 11, 3] });
  let x = tfl.layers.conv2d({ filters: 6, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 1 }), biasInitializer: 'zeros', name: 'a' }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: 5, kernelSize: [3, 2], padding: 'valid', activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 2 }), name: 'b' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 3 }), name: 'c' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dense({ units: 32, activation: 'relu', kernelInitializer: tfl.initializers.heNormal({ seed: 4 }), name: 'd' }).apply(x) as tfl.SymbolicTensor;
  const output = tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 5 }), name: 'e' }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: output });
}

/** By brute force: for every tap and input channel, the input under it averaged over images and output positions (0 in the padding). */
function tapMeans(x: tf.Tensor4D, kh: number, kw: number, padding: 'same' | 'valid'): Float64Array {
  const [n, h, w, c] = x.shape;
  const v = x.arraySync();
  const [top, left] = padding === 'same' ? [Math.floor((kh - 1) / 2), Math.floor((kw - 1) / 2)] : [0, 0];
  const [oh, ow] = padding === 'same' ? [h, w] : [h - kh + 1, w - kw + 1];
  const out = new Float64Array(kh * kw * c);
  for (let ky = 0; ky < kh; ky++)
    for (let kx = 0; kx < kw; kx++)
      for (let ch = 0; ch < c; ch++) {
        let sum = 0;
        for (let b = 0; b < n; b++)
          for (let y = 0; y < oh; y++)
            for (let xx = 0; xx < ow; xx++) {
              const iy = y + ky - top;
              const ix = xx + kx - left;
              if (iy >= 0 && iy < h && ix >= 0 && ix < w) sum += v[b][iy][ix][ch];
            }
        out[(ky * kw + kx) * c + ch] = sum / (n * oh * ow);
      }
  return out;
}

/** `count` random tiles of the small net's input, as the export holds them. */
function calibration(count: number, seed: number): CalibrationTiles {
  const values = tf.randomUniform([count, 9, 11, 3], 0, 1, 'float32', seed).dataSync() as Float32Array;
  const size = 9 * 11 * 3;
  return { shape: [9, 11, 3], tiles: Array.from({ length: count }, (_, i) => values.slice(i * size, (i + 1) * size)), fields: count };
}

/** Each output's mean, over `x`, of the model's pre-softmax output minus the float model's, in absolute value. */
function meanShifts(model: tfl.LayersModel, reference: tfl.LayersModel, x: tf.Tensor): number[] {
  return Array.from(tf.mean(tf.sub(model.predict(x) as tf.Tensor, reference.predict(x) as tf.Tensor), 0).dataSync(), Math.abs);
}

describe('8-bit bias correction', () => {
  it('measures the mean input under every kernel tap, padding included, as a brute-force sum does', () => {
    const model = smallNet();
    const probe = new KernelInputProbe(model);
    const batches = [tf.randomUniform([2, 9, 11, 3], 0, 1, 'float32', 7), tf.randomUniform([3, 9, 11, 3], 0, 2, 'float32', 8)] as tf.Tensor4D[];
    for (const b of batches) probe.add(b);
    const means = probe.means();
    const all = tf.concat(batches) as tf.Tensor4D;
    const layerInput = (name: string) => tfl.model({ inputs: model.inputs, outputs: model.getLayer(name).input as tfl.SymbolicTensor }).predict(all) as tf.Tensor;
    const close = (a: Float64Array, b: Float64Array) => {
      expect(a.length).toBe(b.length);
      for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 4);
    };
    close(means.get('a')!, tapMeans(all, 5, 5, 'same'));
    close(means.get('b')!, tapMeans(layerInput('b') as tf.Tensor4D, 3, 2, 'valid'));
    close(means.get('c')!, tapMeans(layerInput('c') as tf.Tensor4D, 1, 1, 'valid'));
    close(means.get('d')!, Float64Array.from(tf.mean(layerInput('d'), 0).dataSync()));
    // Edge taps of the 5x5 'same' kernel read padding part of the time: their means are below the centre tap's.
    const a = means.get('a')!;
    expect(a[0]).toBeLessThan(a[(2 * 5 + 2) * 3] * 0.8);
  });

  it("sets each 8-bit layer's bias so its mean output is the float32 layer's, leaving the kernels' codes as they were", async () => {
    const model = smallNet();
    const tiles = calibration(64, 11);
    // Nearest-rounded kernels, twice: one left as it is, one whose biases are corrected.
    const plain = await quantizeModel(model, 'uint8-per-channel');
    const corrected = await quantizeModel(model, 'uint8-per-channel');
    correctBiases(model, corrected.model, tiles);
    // Fresh inputs from the same distribution.
    const x = tf.randomUniform([256, 9, 11, 3], 0, 1, 'float32', 12);
    const sum = (v: number[]) => v.reduce((s, a) => s + a, 0);
    const before = sum(meanShifts(plain.model, model, x));
    const after = sum(meanShifts(corrected.model, model, x));
    expect(before).toBeGreaterThan(1e-3);
    expect(after).toBeLessThan(before / 3);
    // The first layer's mean output before its ReLU, which reads the same input in both models: its shift is gone.
    const preActivation = (m: tfl.LayersModel) => {
      const [kernel, bias] = m.getLayer('a').getWeights();
      return tf.mean(tf.add(tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, 1, 'same'), bias), [0, 1, 2]).dataSync();
    };
    const [plainA, correctedA, floatA] = [plain.model, corrected.model, model].map(preActivation);
    const shiftA = (a: Float32Array | Int32Array | Uint8Array) => sum(Array.from(a, (v, i) => Math.abs(v - floatA[i])));
    expect(shiftA(correctedA)).toBeLessThan(shiftA(plainA) / 4);
    // Only biases moved: the kernels' 8-bit codes are the same.
    const [pw, cw] = [plain.model.getWeights(), corrected.model.getWeights()];
    let biasesMoved = 0;
    pw.forEach((w, i) => {
      if (w.shape.length > 1) expect(Array.from(cw[i].dataSync())).toEqual(Array.from(w.dataSync()));
      else if (Array.from(w.dataSync()).some((v, k) => v !== cw[i].dataSync()[k])) biasesMoved++;
    });
    expect(biasesMoved).toBe(5);
  });

  it("an export with calibration ships GPTQ's kernel codes and the biases corrected behind them", async () => {
    const model = smallNet();
    const tiles = calibration(64, 11);
    const exported = await quantizeModel(model, 'uint8-per-channel', tiles);
    // By hand: GPTQ's codes on the same tiles, loaded, then bias correction on that model.
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save({ save: async (a) => ((saved = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }) });
    const gptq = quantizeArtifacts(saved!, 'uint8-per-channel', await measureKernelMoments(model, tiles));
    const decoded = decodePerChannelWeights(gptq.weightSpecs!, new Uint8Array(gptq.weightData as ArrayBuffer));
    const byHand = await tfl.loadLayersModel({ load: async () => ({ ...gptq, weightSpecs: decoded.specs, weightData: decoded.weightData.buffer as ArrayBuffer }) });
    const biases = correctBiases(model, byHand, tiles);
    expect(biases.size).toBe(5);
    const [exportedWeights, byHandWeights] = [exported.model.getWeights(), byHand.getWeights()];
    exportedWeights.forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(Array.from(byHandWeights[i].dataSync())));
    expect(exported.bytes).toBe((gptq.weightData as ArrayBuffer).byteLength);
  });

  it('refuses to correct biases that are themselves quantised, and a layer without a bias', async () => {
    await expect(quantizeModel(smallNet(), 'uint8', calibration(2, 13))).rejects.toThrow(/bias correction needs float32 biases: uint8-per-channel weights, not uint8/);
    const input = tfl.input({ shape: [9, 11, 3] });
    const flat = tfl.layers.flatten().apply(input) as tfl.SymbolicTensor;
    const noBias = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2, useBias: false, name: 'nb' }).apply(flat) as tfl.SymbolicTensor });
    await expect(quantizeModel(noBias, 'uint8-per-channel', calibration(2, 14))).rejects.toThrow(/layer nb has no bias to correct/);
  });
});
