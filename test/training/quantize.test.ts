import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { quantizeArtifacts, toHalf } from '../../training/src/export/quantize.ts';
import { buildMcnn } from '../../src/core/mcnn.ts';

await tf.setBackend('cpu');

describe('quantisation', () => {
  it('encodes float16 like the IEEE standard', () => {
    // Reference bit patterns of IEEE 754 binary16.
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(-2)).toBe(0xc000);
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(1e6)).toBe(0x7c00);
    expect(toHalf(5.960464477539063e-8)).toBe(0x0001);
    expect(toHalf(0.333251953125)).toBe(0x3555);
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });

  it.each(['float16', 'uint8'] as const)('%s artifacts load with the stock TF.js loader and agree with float32', async (dtype) => {
    const model = buildMcnn({ height: 64, width: 64, widthMultiplier: 0.25, seed: 2 });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save({ save: async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }) });
    const q = quantizeArtifacts(artifacts!, dtype);
    const bytes = (q.weightData as ArrayBuffer).byteLength;
    const params = model.countParams();
    expect(bytes).toBe(dtype === 'float16' ? params * 2 : params);
    const loaded = await tfl.loadLayersModel({ load: async () => q });
    const w0 = model.getWeights()[0].dataSync();
    const w1 = loaded.getWeights()[0].dataSync();
    let maxErr = 0;
    let maxAbs = 0;
    for (let i = 0; i < w0.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(w0[i] - w1[i]));
      maxAbs = Math.max(maxAbs, Math.abs(w0[i]));
    }
    expect(maxErr).toBeLessThan(dtype === 'float16' ? maxAbs * 1e-3 : (2 * maxAbs) / 255);
    expect(maxErr).toBeGreaterThan(0);
    const x = tf.randomUniform([8, 64, 64, 3], 0, 1, 'float32', 3);
    const a = (model.predict(x) as tf.Tensor).dataSync();
    const b = (loaded.predict(x) as tf.Tensor).dataSync();
    const probDiff = Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));
    expect(probDiff).toBeLessThan(dtype === 'float16' ? 1e-3 : 2e-2);
  });
});
