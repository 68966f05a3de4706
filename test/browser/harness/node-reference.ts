// Node reference classifier: core TIFF decoding and the core field pipeline on the cpu backend, one tile per predict call: the parity oracle.
import * as tfl from '@tensorflow/tfjs-layers';
import { bundleIOHandler, type VerifiedBundle } from '../../../src/core/bundle.ts';
import { predictField, type FieldPrediction, type PredictBatch } from '../../../src/core/field-pipeline.ts';
import { layersPredictBatch } from '../../../src/core/layers-predict.ts';
import { decodeTiff } from '../../../src/core/tiff/index.ts';

export interface ReferenceModel {
  bundle: VerifiedBundle;
  predictBatch: PredictBatch;
}

export async function loadReference(bundle: VerifiedBundle): Promise<ReferenceModel> {
  const model = await tfl.loadLayersModel(bundleIOHandler(bundle));
  return { bundle, predictBatch: layersPredictBatch(model, bundle.metadata.input) };
}

/** The prediction for three TIFF files (DNA, Tubulin, Actin). */
export async function referencePrediction(ref: ReferenceModel, tiffs: Uint8Array[]): Promise<FieldPrediction> {
  const planes = [];
  for (const [i, bytes] of tiffs.entries()) planes.push((await decodeTiff(bytes, `channel${i}.tif`)).planes[0]);
  return predictField(planes, ref.bundle.metadata, ref.predictBatch, 1);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
