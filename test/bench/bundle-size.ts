// Bundle size of the full 1024x1280 M-CNN per weight encoding (goal: <= 45 MB for the 8-bit bundles).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { writeBundleFiles } from '../../src/core/bundle.ts';
import { CHANNELS, MOA_CLASSES } from '../../src/core/labels.ts';
import { buildMcnn } from '../../src/core/mcnn.ts';
import { quantizeArtifacts, type WeightDtype } from '../../training/src/export/quantize.ts';

export async function benchBundleSize(): Promise<{ dtype: WeightDtype; megabytes: number }[]> {
  await tf.setBackend('cpu');
  const model = buildMcnn({ height: 1024, width: 1280, seed: 1 });
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save({ save: async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }) });
  const rows: { dtype: WeightDtype; megabytes: number }[] = [];
  for (const dtype of ['float32', 'float16', 'uint8', 'uint8-per-channel'] as const) {
    const q = quantizeArtifacts(artifacts!, dtype);
    const files = await writeBundleFiles(q, {
      name: `size-${dtype}`,
      createdAt: new Date(0).toISOString(),
      classes: [...MOA_CLASSES],
      input: { height: 1024, width: 1280, channels: 3 },
      preprocessing: { version: 1, channels: [...CHANNELS], binning: 1, normalisation: { method: 'percentile', low: 0.1, high: 99.9 } },
      tiling: { minOverlap: 0 },
      architecture: { name: 'M-CNN', widthMultiplier: 1, parameters: model.countParams() },
      weights: { dtype, bytes: (q.weightData as ArrayBuffer).byteLength },
      provenance: { trained: false, summary: 'size benchmark' },
    });
    const bytes = [...files.values()].reduce((s, f) => s + f.byteLength, 0);
    rows.push({ dtype, megabytes: bytes / 1e6 });
    console.log(`  M-CNN 1024x1280 (${model.countParams().toLocaleString('en')} parameters), ${dtype.padEnd(17)} bundle: ${(bytes / 1e6).toFixed(1)} MB in ${files.size} files${dtype.startsWith('uint8') ? ` (goal <= 45 MB: ${bytes / 1e6 <= 45 ? 'met' : 'NOT met'})` : ''}`);
  }
  model.dispose();
  return rows;
}
