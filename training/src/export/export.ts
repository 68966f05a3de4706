// Export: the browser bundle (quantised weights, preprocessing, provenance, metrics) written into models/<name>/.
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { writeBundleFiles, type BundleMetadata } from '../../../src/core/bundle.ts';
import { writeBundleDir } from '../bundle-fs.ts';
import { quantizeArtifacts, type WeightDtype } from './quantize.ts';

export interface QuantizedModel {
  dtype: WeightDtype;
  artifacts: tf.io.ModelArtifacts;
  /** The model as the browser will load it (dequantised weights), for agreement checks. */
  model: tfl.LayersModel;
  bytes: number;
}

export async function quantizeModel(model: tfl.LayersModel, dtype: WeightDtype): Promise<QuantizedModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save({ save: async (a) => ((saved = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }) });
  const artifacts = quantizeArtifacts(saved!, dtype);
  return { dtype, artifacts, model: await tfl.loadLayersModel({ load: async () => artifacts }), bytes: (artifacts.weightData as ArrayBuffer).byteLength };
}

/** Writes the bundle folder atomically (temp folder + rename). */
export async function exportBundle(q: QuantizedModel, dir: string, metadata: Omit<BundleMetadata, 'files' | 'format' | 'version' | 'weights'>): Promise<void> {
  const files = await writeBundleFiles(q.artifacts, { ...metadata, weights: { dtype: q.dtype, bytes: q.bytes } });
  await writeBundleDir(dir, files);
}
