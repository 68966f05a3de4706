// Writes the untrained placeholder bundle (random weights, clearly labelled) so the app runs before a model is trained.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildMcnn } from '../../src/core/mcnn.ts';
import { MOA_CLASSES, CHANNELS } from '../../src/core/labels.ts';
import { writeBundleFiles } from '../../src/core/bundle.ts';
import { writeBundleDir } from './bundle-fs.ts';

const out = process.argv[2] ?? 'models/untrained-placeholder';
await tf.setBackend('cpu');
const input = { height: 256, width: 320, channels: 3 };
const widthMultiplier = 0.25;
const model = buildMcnn({ ...input, widthMultiplier, classes: MOA_CLASSES.length, seed: 1 });
let artifacts: tf.io.ModelArtifacts | undefined;
await model.save({ save: async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }) });
const files = await writeBundleFiles(artifacts!, {
  name: 'untrained-placeholder',
  createdAt: new Date().toISOString(),
  classes: [...MOA_CLASSES],
  input,
  preprocessing: { version: 1, channels: [...CHANNELS], binning: 4, normalisation: { method: 'percentile', low: 0.1, high: 99.9 } },
  tiling: { minOverlap: 0 },
  architecture: { name: 'M-CNN', widthMultiplier, parameters: model.countParams() },
  weights: { dtype: 'float32', bytes: model.countParams() * 4 },
  provenance: { trained: false, summary: 'UNTRAINED PLACEHOLDER: random weights (seed 1). Its predictions mean nothing.' },
});
await writeBundleDir(out, files);
console.log(`wrote ${out}: ${model.countParams()} parameters`);
