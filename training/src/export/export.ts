// Export: the browser bundle (quantised weights, preprocessing, provenance, metrics) written into models/<name>/.
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { METADATA_FILE, sha256Hex, writeBundleFiles, type BundleMetadataInput } from '../../../src/core/bundle.ts';
import type { SigningKey } from '../../../src/core/bundle-trust.ts';
import { decodePerChannelWeights } from '../../../src/core/weights-encoding.ts';
import { writeBundleDir } from '../bundle-fs.ts';
import { correctBiases, type CalibrationTiles } from './bias-correction.ts';
import { measureKernelMoments, type TileStream } from './gptq.ts';
import { quantizeArtifacts, type WeightDtype } from './quantize.ts';

export interface QuantizedModel {
  dtype: WeightDtype;
  artifacts: tf.io.ModelArtifacts;
  /** The model as the browser will load it (dequantised weights), for agreement checks. */
  model: tfl.LayersModel;
  bytes: number;
}

async function floatArtifacts(model: tfl.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save({ save: async (a) => ((saved = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }) });
  return saved!;
}

/** Artifacts with the named float32 weights (unquantised entries, such as per-channel bundles' biases) replaced. */
function withFloat32Weights(artifacts: tf.io.ModelArtifacts, replaced: ReadonlyMap<string, Float32Array>): tf.io.ModelArtifacts {
  const bytes = new Uint8Array((artifacts.weightData as ArrayBuffer).slice(0));
  let offset = 0;
  for (const spec of artifacts.weightSpecs ?? []) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const dtype: string = spec.quantization?.dtype ?? spec.dtype;
    const size = n * (dtype === 'float16' ? 2 : dtype === 'uint8' || dtype === 'uint8-per-channel' ? 1 : 4);
    const value = replaced.get(spec.name);
    if (value) {
      if (dtype !== 'float32' || value.length !== n) throw new Error(`cannot replace weight ${spec.name} (${dtype}, ${n} values) with ${value.length} float32 values`);
      bytes.set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength), offset);
    }
    offset += size;
  }
  return { ...artifacts, weightData: bytes.buffer };
}

async function asLoaded(artifacts: tf.io.ModelArtifacts): Promise<tfl.LayersModel> {
  const decoded = decodePerChannelWeights(artifacts.weightSpecs ?? [], new Uint8Array(artifacts.weightData as ArrayBuffer));
  return tfl.loadLayersModel({ load: async () => ({ ...artifacts, weightSpecs: decoded.specs, weightData: decoded.weightData.buffer as ArrayBuffer }) });
}

/**
 * `model` quantised to `dtype`. With `calibration` (uint8-per-channel only: its biases stay float32), the kernels'
 * codes are chosen by GPTQ against what each layer reads over `momentTiles` (default: the calibration tiles; gptq.ts),
 * then each layer's bias is set so its mean output over the calibration tiles is the float32 layer's (bias-correction.ts).
 */
export async function quantizeModel(model: tfl.LayersModel, dtype: WeightDtype, calibration?: CalibrationTiles, momentTiles: TileStream | undefined = calibration): Promise<QuantizedModel> {
  if (calibration && dtype !== 'uint8-per-channel') throw new Error(`bias correction needs float32 biases: uint8-per-channel weights, not ${dtype}`);
  const saved = await floatArtifacts(model);
  let artifacts = quantizeArtifacts(saved, dtype, calibration && momentTiles && (await measureKernelMoments(model, momentTiles)));
  let quantized = await asLoaded(artifacts);
  if (calibration) {
    const biases = correctBiases(model, quantized, calibration);
    quantized.dispose();
    artifacts = withFloat32Weights(artifacts, biases);
    quantized = await asLoaded(artifacts);
  }
  return { dtype, artifacts, model: quantized, bytes: (artifacts.weightData as ArrayBuffer).byteLength };
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
