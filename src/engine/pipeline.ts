// One field in the worker: read and decode it (field-reader), run the core field pipeline with the loaded model, report a FieldResult.
import type { BundleMetadata } from '../core/bundle.ts';
import { argmax, topK } from '../core/aggregate.ts';
import { displayPlanes } from '../core/display.ts';
import { FieldError } from '../core/errors.ts';
import { paddingWarning, pixelSizeWarning } from '../core/field-checks.ts';
import { checkOod, oodVector, type OodCheck } from '../core/ood.ts';
import { predictField, type PredictBatch, type TimedFieldPrediction } from '../core/field-pipeline.ts';
import type { ChannelName } from '../core/labels.ts';
import { readField, type DecodedField } from './field-reader.ts';
import type { FieldDisplay, FieldInput, FieldResult, FieldSuccess } from './types.ts';

/** The loaded bundle as the worker runs it: its metadata, its model as a PredictBatch, and tiles per call. */
export interface PipelineModel {
  metadata: BundleMetadata;
  predictBatch: PredictBatch;
  batchSize: number;
  /** The bundle's out-of-distribution check, when it has one. */
  ood?: OodCheck;
}

function cancelled(): DOMException {
  return new DOMException('Classification was cancelled.', 'AbortError');
}

function success(field: FieldInput, pm: PipelineModel, decoded: DecodedField, prediction: TimedFieldPrediction): FieldSuccess {
  const { metadata } = pm;
  const { probabilities, features, tileProbabilities, grid } = prediction;
  const predicted = argmax(probabilities);
  const { height: sourceHeight, width: sourceWidth } = decoded.planes[0];
  const checks = [pixelSizeWarning(decoded.pixelSizes, metadata.pixelSize), paddingWarning(grid, sourceHeight, sourceWidth, metadata.preprocessing.binning)];
  return {
    id: field.id,
    ok: true,
    probabilities,
    predicted,
    predictedLabel: metadata.classes[predicted],
    confidence: probabilities[predicted],
    top3: topK(probabilities, 3).map(({ index, probability }) => ({ index, probability, label: metadata.classes[index] })),
    tileProbabilities,
    features,
    ood: pm.ood ? checkOod(pm.ood, oodVector(features, prediction.inputStatistics)) : undefined,
    tiles: {
      fieldHeight: grid.fieldHeight,
      fieldWidth: grid.fieldWidth,
      sourceHeight: decoded.planes[0].height,
      sourceWidth: decoded.planes[0].width,
      binning: metadata.preprocessing.binning,
      tileHeight: grid.tileHeight,
      tileWidth: grid.tileWidth,
      rows: grid.rows,
      cols: grid.cols,
      tiles: grid.tiles.map(({ y, x, validHeight, validWidth }) => ({ y, x, validHeight, validWidth })),
    },
    timings: { readMs: decoded.readMs, decodeMs: decoded.decodeMs, preprocessMs: prediction.preprocessMs, inferMs: prediction.inferMs },
    notes: decoded.notes,
    warnings: [...decoded.warnings, ...checks.filter((w) => w !== undefined)],
  };
}

/** Classifies one field; failures come back as a FieldFailure naming the stage and the file; a cancel rejects with an AbortError. */
export async function classifyField(pm: PipelineModel, field: FieldInput, shouldStop: () => boolean = () => false): Promise<FieldResult> {
  const { metadata } = pm;
  // Checked before every tile batch: a cancel stops the field at its next batch.
  const predictBatch: PredictBatch = (tiles, count) => {
    if (shouldStop()) throw cancelled();
    return pm.predictBatch(tiles, count);
  };
  try {
    const decoded = await readField(field, metadata.preprocessing.channels);
    const prediction = await predictField(decoded.planes, metadata, predictBatch, pm.batchSize);
    return success(field, pm, decoded, prediction);
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    if (!(e instanceof FieldError)) return { id: field.id, ok: false, stage: 'infer', message: `Field ${field.id}: ${(e as Error).message}` };
    // Read and decode errors name the file; the pipeline's name the field here.
    const message = e.stage === 'read' || e.stage === 'decode' ? e.message : `Field ${field.id}: ${e.message}`;
    return { id: field.id, ok: false, stage: e.stage, message };
  }
}

/** Reads and decodes a field as classifyField does, and box-averages its planes for display. */
export async function displayField(field: FieldInput, channels: readonly ChannelName[], maxSide?: number): Promise<FieldDisplay> {
  const decoded = await readField(field, channels);
  const display = displayPlanes(decoded.planes, maxSide);
  return {
    id: field.id,
    channels: [...channels],
    planes: display.planes,
    binning: display.binning,
    sourceHeight: decoded.planes[0].height,
    sourceWidth: decoded.planes[0].width,
    notes: decoded.notes,
    warnings: decoded.warnings,
  };
}
