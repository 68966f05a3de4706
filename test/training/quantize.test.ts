import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { quantizeArtifacts, toHalf } from '../../training/src/export/quantize.ts';
import { quantizeModel } from '../../training/src/export/export.ts';
import { bundleInMemory, bundleIOHandler, loadBundle, writeBundleFiles, type BundleMetadataInput } from '../../src/core/bundle.ts';
import { NO_TRUST } from '../../src/core/bundle-trust.ts';
import { CHANNELS, MOA_CLASSES } from '../../src/core/labels.ts';
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

  describe('8-bit per output channel', () => {
    /** A small M-CNN whose kernels' output channels differ in scale by up to 100x (as trained kernels do). */
    async function skewedArtifacts(): Promise<{ model: tfl.LayersModel; artifacts: tf.io.ModelArtifacts }> {
      const model = buildMcnn({ height: 64, width: 64, widthMultiplier: 0.25, seed: 5 });
      model.setWeights(
        model.getWeights().map((w) => {
          if (w.shape.length < 2) return w;
          const channels = w.shape[w.shape.length - 1];
          return tf.tidy(() => tf.mul(w, tf.add(tf.square(tf.linspace(0.01, 1, channels)), 0.01)));
        }),
      );
      let artifacts: tf.io.ModelArtifacts | undefined;
      await model.save({ save: async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }) });
      return { model, artifacts: artifacts! };
    }

    /** moa-lens.json of a 64x64 x0.25 test bundle with per-channel weights. */
    function perChannelMetadata(name: string, parameters: number, q: tf.io.ModelArtifacts): BundleMetadataInput {
      return {
        name,
        createdAt: new Date(0).toISOString(),
        classes: [...MOA_CLASSES],
        input: { height: 64, width: 64, channels: 3 },
        preprocessing: { version: 1, channels: [...CHANNELS], binning: 1, normalisation: { method: 'percentile', low: 0.1, high: 99.9 } },
        tiling: { minOverlap: 0 },
        architecture: { name: 'M-CNN', widthMultiplier: 0.25, parameters },
        weights: { dtype: 'uint8-per-channel', bytes: (q.weightData as ArrayBuffer).byteLength },
        provenance: { trained: false, summary: 'test' },
      };
    }

    function maxErrorPerChannel(reference: tf.Tensor, decoded: tf.Tensor): number {
      // Worst error relative to its own output channel's largest weight.
      const channels = reference.shape[reference.shape.length - 1];
      return tf.tidy(() => {
        const a = tf.reshape(reference, [-1, channels]);
        const b = tf.reshape(decoded, [-1, channels]);
        const relative = tf.div(tf.max(tf.abs(tf.sub(a, b)), 0), tf.add(tf.max(tf.abs(a), 0), 1e-12));
        return tf.max(relative).dataSync()[0];
      });
    }

    it('stores one byte per kernel weight, float32 biases, and the verifying loader decodes every channel to within half a step', async () => {
      const { model, artifacts } = await skewedArtifacts();
      const q = quantizeArtifacts(artifacts, 'uint8-per-channel');
      const biases = model.getWeights().filter((w) => w.shape.length === 1).reduce((n, w) => n + w.size, 0);
      expect((q.weightData as ArrayBuffer).byteLength).toBe(model.countParams() - biases + 4 * biases);
      const files = await writeBundleFiles(q, perChannelMetadata('per-channel', model.countParams(), q));
      const bundle = await loadBundle(bundleInMemory(files), { label: 'b', trust: NO_TRUST });
      const loaded = await tfl.loadLayersModel(bundleIOHandler(bundle));
      const perTensor = await tfl.loadLayersModel({ load: async () => quantizeArtifacts(artifacts, 'uint8') });
      const [w0, w1, w2] = [model.getWeights(), loaded.getWeights(), perTensor.getWeights()];
      for (let i = 0; i < w0.length; i++) {
        if (w0[i].shape.length === 1) {
          expect(Array.from(w1[i].dataSync())).toEqual(Array.from(w0[i].dataSync()));
          continue;
        }
        // Half a step of 255 over the channel's range (which holds 0): at most 1/255 of its largest |weight|.
        expect(maxErrorPerChannel(w0[i], w1[i])).toBeLessThanOrEqual(1 / 255 + 1e-6);
        // Per tensor, the small channels lose most of their precision.
        expect(maxErrorPerChannel(w0[i], w2[i])).toBeGreaterThan(10 / 255);
      }
      const x = tf.randomUniform([4, 64, 64, 3], 0, 1, 'float32', 6);
      const a = (model.predict(x) as tf.Tensor).dataSync();
      const b = (loaded.predict(x) as tf.Tensor).dataSync();
      expect(Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])))).toBeLessThan(2e-2);
      // The export's agreement check runs on the model as the loader decodes it.
      const exported = await quantizeModel(model, 'uint8-per-channel');
      expect(Array.from((exported.model.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from(b));
    });

    it('is refused by the stock TF.js loader, and a manifest whose parameters do not fit the kernel is refused by ours', async () => {
      const { artifacts } = await skewedArtifacts();
      const q = quantizeArtifacts(artifacts, 'uint8-per-channel');
      await expect(tfl.loadLayersModel({ load: async () => q })).rejects.toThrow(/uint8-per-channel/);
      const files = await writeBundleFiles(
        { ...q, weightSpecs: q.weightSpecs!.map((s, i) => (i === 0 ? { ...s, quantization: { ...(s.quantization as object), scales: [1] } as unknown as typeof s.quantization } : s)) },
        perChannelMetadata('bad', 1, q),
      );
      await expect(loadBundle(bundleInMemory(files), { label: 'b', trust: NO_TRUST })).rejects.toThrow(/weight c1_conv1\/kernel: per-channel quantisation needs 4 positive scales/);
    });
  });
});
