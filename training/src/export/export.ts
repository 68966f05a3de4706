// Export: the browser bundle (quantised weights, preprocessing, provenance, metrics) written into models/<name>/.
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { METADATA_FILE, sha256Hex, writeBundleFiles, type BundleMetadataInput } from '../../../src/core/bundle.ts';
import type { SigningKey } from '../../../src/core/bundle-trust.ts';
import { decodePerChannelWeights } from '../../../src/core/weights-encoding.ts';
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
  const stored = new Uint8Array(artifacts.weightData as ArrayBuffer);
  const decoded = decodePerChannelWeights(artifacts.weightSpecs ?? [], stored);
  const asLoaded = { ...artifacts, weightSpecs: decoded.specs, weightData: decoded.weightData.buffer as ArrayBuffer };
  return { dtype, artifacts, model: await tfl.loadLayersModel({ load: async () => asLoaded }), bytes: stored.byteLength };
}

/** Writes the bundle folder atomically (temp folder + rename) with `extraFiles` (the OOD statistics), signed when given a key; returns the sha256 of its moa-lens.json. */
export async function exportBundle(
  q: QuantizedModel,
  dir: string,
  metadata: Omit<BundleMetadataInput, 'weights'>,
  signer?: SigningKey,
  extraFiles?: ReadonlyMap<string, Uint8Array>,
): Promise<string> {
  const files = await writeBundleFiles(q.artifacts, { ...metadata, weights: { dtype: q.dtype, bytes: q.bytes } }, signer, extraFiles);
  await writeBundleDir(dir, files);
  return sha256Hex(files.get(METADATA_FILE)!);
}
