// Finish: evaluate the trained model on the held-out fields, quantise, check agreement, export the bundle and its report.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { SigningKey } from '../../../src/core/bundle-trust.ts';
import { MOA_CLASSES } from '../../../src/core/labels.ts';
import { SIMULATED_DATA_MARKER } from '../../../src/core/provenance.ts';
import { evaluate, reportedField } from '../eval/evaluate.ts';
import { confusionSvg, reportHtml } from '../eval/report.ts';
import { analyseProfiles, mapSvg } from '../../../src/core/profile-map.ts';
import type { TrainConfig } from '../train/config.ts';
import { runFieldModel, type TrainingData } from '../train/data.ts';
import type { HistoryPoint } from '../train/loop.ts';
import { formatPercent } from '../util/format.ts';
import { spreadPick } from '../util/spread-pick.ts';
import { loadCalibrationTiles, streamCalibrationTiles } from './bias-correction.ts';
import { exportBundle, quantizeModel, type QuantizedModel } from './export.ts';
import { modelPixelSize, OOD_FILE, oodForBundle } from './ood-stats.ts';

/** Training fields whose layer means set the 8-bit bias correction (1024x1280 tiles: 15.7 MB each in memory). */
const BIAS_CORRECTION_FIELDS = 128;
/** Training fields streamed through the float32 model for GPTQ's input moments (one at a time: memory does not grow with them). */
const GPTQ_FIELDS = 1024;

export interface HeldOutMetrics {
  split: string;
  heldOutFields: number;
  fieldAccuracy: number;
  heldOutTreatments: number;
  treatmentAccuracy: number;
  quantizedFieldAccuracy: number;
  quantizedTreatmentAccuracy: number;
  /** Fraction of held-out fields whose top-1 class is the same before and after quantisation. */
  quantizationAgreement: number;
}

export interface FinishInput {
  model: tfl.LayersModel;
  data: TrainingData;
  config: TrainConfig;
  history: HistoryPoint[];
  steps: number;
  /** Training time, when this process trained the weights (an export from a checkpoint does not know it). */
  seconds?: number;
  worldSize: number;
  /** The command line that reproduces these weights. */
  command: string;
  /** Signs the bundle (moa-lens.sig.json) when given. */
  signer?: SigningKey;
  log: (line: string) => void;
}

/**
 * The model quantised as the run asks. 8-bit per channel: the kernels' codes chosen by GPTQ against what each layer
 * reads over the training fields, then each layer's float32 bias set so its mean output over training fields is the
 * float32 layer's (the tiles are let go when this returns).
 */
async function quantizeForExport({ model, data, config, log }: FinishInput, fieldModel: ReturnType<typeof runFieldModel>): Promise<{ q: QuantizedModel; biasCorrectionFields?: number; gptqFields?: number }> {
  if (config.quantize !== 'uint8-per-channel') return { q: await quantizeModel(model, config.quantize) };
  const calibration = await loadCalibrationTiles(data.samples, spreadPick(data.split.train, BIAS_CORRECTION_FIELDS), fieldModel, data.cache);
  let gptqFields = 0;
  const momentTiles = { shape: calibration.shape, tiles: streamCalibrationTiles(data.samples, spreadPick(data.split.train, GPTQ_FIELDS), fieldModel, data.cache, () => gptqFields++) };
  const q = await quantizeModel(model, config.quantize, calibration, momentTiles);
  log(`8-bit kernels: GPTQ rounding against each layer's input over ${gptqFields} training fields; bias correction: each layer's mean output over ${calibration.fields} training fields kept as in float32`);
  return { q, biasCorrectionFields: calibration.fields, gptqFields };
}

export async function evaluateAndExport(f: FinishInput): Promise<HeldOutMetrics> {
  const { model, data, config } = f;
  // Evaluated exactly as the exported bundle will be run: the same input, preprocessing and tiling.
  const fieldModel = runFieldModel(config, data);
  const evaluation = await evaluate(model, data.samples, data.split.test, fieldModel, MOA_CLASSES.length, data.cache);
  const { q, biasCorrectionFields, gptqFields } = await quantizeForExport(f, fieldModel);
  const qEval = q.dtype === 'float32' ? evaluation : await evaluate(q.model, data.samples, data.split.test, fieldModel, MOA_CLASSES.length, data.cache);
  // The OOD check from the model as it ships: class statistics of the training fields, the threshold on the held-out ones.
  const trainingEval = await evaluate(q.model, data.samples, data.split.train, fieldModel, MOA_CLASSES.length, data.cache);
  const ood = oodForBundle(trainingEval.fields, qEval.fields, { data: config.data, split: data.split.name });
  f.log(ood.summary);
  const agreement = evaluation.fields.filter((field, i) => qEval.fields[i].predicted === field.predicted).length / Math.max(1, evaluation.fields.length);
  const metrics: HeldOutMetrics = {
    split: data.split.name,
    heldOutFields: evaluation.fieldScores.n,
    fieldAccuracy: evaluation.fieldScores.accuracy,
    heldOutTreatments: evaluation.treatmentScores.n,
    treatmentAccuracy: evaluation.treatmentScores.accuracy,
    quantizedFieldAccuracy: qEval.fieldScores.accuracy,
    quantizedTreatmentAccuracy: qEval.treatmentScores.accuracy,
    quantizationAgreement: agreement,
  };
  f.log(`held out (${data.split.name}): field accuracy ${formatPercent(metrics.fieldAccuracy)} of ${metrics.heldOutFields}, treatment accuracy ${formatPercent(metrics.treatmentAccuracy)} of ${metrics.heldOutTreatments}; ${q.dtype} top-1 agreement ${formatPercent(agreement, 2)} (${q.dtype} field accuracy ${formatPercent(metrics.quantizedFieldAccuracy)}, treatment ${formatPercent(metrics.quantizedTreatmentAccuracy)})`);
  const simulated = existsSync(path.join(config.data, SIMULATED_DATA_MARKER));
  const provenance = {
    trained: true,
    summary: `M-CNN trained by MoA Lens on ${simulated ? 'SIMULATED fields (never a real cell) in ' : ''}${config.data} (${data.split.name}), ${f.steps} steps.`,
    data: config.data,
    simulated,
    command: f.command,
    worldSize: f.worldSize,
    steps: f.steps,
    epochs: config.epochs,
    ...(f.seconds !== undefined && { seconds: Math.round(f.seconds) }),
    machine: `${os.cpus()[0]?.model ?? 'unknown'} x ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    recipe: { ...config, data: undefined, out: undefined },
    metrics,
    ...(biasCorrectionFields !== undefined && { biasCorrection: { trainingFields: biasCorrectionFields } }),
    ...(gptqFields !== undefined && { gptq: { trainingFields: gptqFields } }),
    heldOutConfusion: { field: evaluation.fieldScores.confusion, treatment: evaluation.treatmentScores.confusion },
  };
  const hash = await exportBundle(q, config.out, {
    name: config.name,
    createdAt: new Date().toISOString(),
    classes: [...MOA_CLASSES],
    ...fieldModel,
    architecture: { name: 'M-CNN', widthMultiplier: config.widthMultiplier, parameters: model.countParams() },
    provenance,
    ood: ood.section,
    pixelSize: modelPixelSize(data.spec.binning),
  }, f.signer, new Map([[OOD_FILE, ood.bytes]]));
  // The confusion matrices as pictures beside the bundle's files, for its model card (not part of the verified bundle).
  await writeFile(path.join(config.out, 'confusion-fields.svg'), confusionSvg(evaluation.fieldScores, MOA_CLASSES, `held-out fields (${data.split.name})`));
  await writeFile(path.join(config.out, 'confusion-treatments.svg'), confusionSvg(evaluation.treatmentScores, MOA_CLASSES, `held-out treatments (${data.split.name})`));
  // The held-out treatments' profiles (the penultimate layer, DMSO-normalised) as a map, as the app's Map view draws it.
  const calls = new Map(evaluation.treatments.map((t) => [t.treatment, { predicted: t.predicted, confidence: t.probabilities[t.predicted] }]));
  const profiles = analyseProfiles(
    evaluation.fields.map((field) => ({ id: field.id, plate: data.samples[field.sample].plate, compound: data.samples[field.sample].compound, concentration: data.samples[field.sample].concentration, features: field.features, label: field.label })),
    (key) => calls.get(key),
  );
  const map = mapSvg(profiles, { classes: MOA_CLASSES, colourBy: 'truth', title: `held-out treatment profiles (${data.split.name}); NSC 1-NN ${formatPercent(profiles.nsc.accuracy)}` });
  await writeFile(path.join(config.out, 'map-treatments.svg'), map);
  const reportBase = `${config.out}.report`;
  await writeFile(`${reportBase}.json`, JSON.stringify({ metrics, provenance, history: f.history, fields: evaluation.fields.map(reportedField), treatments: evaluation.treatments.map((t) => ({ ...t, probabilities: Array.from(t.probabilities) })) }, null, 1));
  await writeFile(
    `${reportBase}.html`,
    reportHtml({ title: `MoA Lens training report: ${config.name}`, classes: MOA_CLASSES, fieldScores: evaluation.fieldScores, treatmentScores: evaluation.treatmentScores, history: f.history, facts: { split: data.split.name, steps: f.steps, 'field accuracy': metrics.fieldAccuracy, 'treatment accuracy': metrics.treatmentAccuracy, 'quantisation agreement': agreement, 'NSC 1-NN accuracy (held-out profiles)': profiles.nsc.accuracy }, pictures: [{ title: 'Held-out treatments: profile map', svg: map }] }),
  );
  f.log(`exported ${config.out} (${q.dtype}, ${(q.bytes / 1e6).toFixed(2)} MB of weights; moa-lens.json sha256 ${hash}, ${f.signer ? `signed by key ${f.signer.publicKey}` : 'unsigned'}); report ${reportBase}.html`);
  q.model.dispose();
  return metrics;
}
