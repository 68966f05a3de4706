// An adapted model: the base bundle's network with its last layer replaced by a head fitted on frozen profiles
// (logistic-head.ts), written as a new bundle in the same format (writeBundleFiles), its provenance naming the base
// bundle's sha256 and the label file. Used by the engine's worker for "Adapt to this plate".
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { writeBundleFiles } from './bundle.ts';
import type { BundleMetadata } from './bundle-format.ts';
import { MOA_CLASSES } from './labels.ts';
import type { LinearHead } from './logistic-head.ts';
import { encodeOodStats, type OodCheck } from './ood.ts';

/** What the adapted bundle records of the labels it was fitted on. */
export interface AdaptationLabels {
  /** The annotation file's name, or a description of marks made in the app. */
  source: string;
  /** sha256 of the label table as used (CSV text). */
  sha256: string;
  fields: number;
  compounds: number;
}

export interface Adaptation {
  name: string;
  createdAt: string;
  classes: string[];
  head: LinearHead;
  labels: AdaptationLabels;
  /** Accuracy on compounds left out (logistic-head.ts leaveCompoundsOut), shown before the head was accepted. */
  validation: { fields: number; treatments: number; compounds: number; folds: number };
}

/** The base model with `head` as its last layer (sharing every other layer's weights with `model`). */
export function modelWithHead(model: tfl.LayersModel, head: LinearHead): tfl.LayersModel {
  const last = model.layers[model.layers.length - 1];
  const features = last.input;
  if (Array.isArray(features)) throw new Error(`The model's last layer "${last.name}" takes ${features.length} inputs; one feature tensor is expected.`);
  const width = features.shape[features.shape.length - 1];
  if (width !== head.inputs) throw new Error(`The head reads ${head.inputs} features; the model's last layer reads ${width}.`);
  const dense = tfl.layers.dense({ units: head.classes, activation: 'softmax', name: last.name });
  const outputs = dense.apply(features) as tfl.SymbolicTensor;
  const adapted = tfl.model({ inputs: model.inputs, outputs, name: model.name });
  const kernel = tf.tensor2d(head.kernel, [head.inputs, head.classes]);
  const bias = tf.tensor1d(head.bias);
  dense.setWeights([kernel, bias]);
  kernel.dispose();
  bias.dispose();
  return adapted;
}

/**
 * The adapted bundle's files (float32 weights). The base's out-of-distribution check and pixel size are kept: the
 * network below the head is the same, so are its features and what counts as unlike its training data. The check's
 * class means keep the base's class indices (its score is the minimum over them, whichever class each is), so it is
 * carried while those indices name classes of the adapted list (always, when the classes are the base's).
 */
export async function adaptedBundleFiles(model: tfl.LayersModel, base: { metadata: BundleMetadata; hash: string; ood?: OodCheck }, a: Adaptation): Promise<Map<string, Uint8Array>> {
  if (a.classes.length !== a.head.classes) throw new Error(`The head has ${a.head.classes} outputs for ${a.classes.length} classes.`);
  const adapted = modelWithHead(model, a.head);
  let artifacts: tf.io.ModelArtifacts | undefined;
  await adapted.save({ save: async (saved) => ((artifacts = saved), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }) });
  const bytes = artifacts?.weightData ? (Array.isArray(artifacts.weightData) ? artifacts.weightData.reduce((n, b) => n + b.byteLength, 0) : artifacts.weightData.byteLength) : 0;
  const standard = a.classes.length === MOA_CLASSES.length && a.classes.every((c, i) => c === MOA_CLASSES[i]);
  const m = base.metadata;
  const ood = m.ood && base.ood && m.ood.classes.every((c) => c < a.classes.length) ? m.ood : undefined;
  const oodNote = ood
    ? "the base bundle's check, kept: the network below the head is unchanged"
    : m.ood
      ? `the base bundle's check was not kept: its ${m.ood.classes.length} class means do not fit ${a.classes.length} classes`
      : 'the base bundle has none';
  return writeBundleFiles(artifacts!, {
    name: a.name,
    createdAt: a.createdAt,
    labelSet: standard ? 'bbbc021-moa' : 'custom',
    classes: [...a.classes],
    input: m.input,
    preprocessing: m.preprocessing,
    tiling: m.tiling,
    architecture: { ...m.architecture, parameters: adapted.countParams() },
    weights: { dtype: 'float32', bytes },
    ...(ood ? { ood } : {}),
    ...(m.pixelSize ? { pixelSize: m.pixelSize } : {}),
    provenance: {
      trained: true,
      summary: `${m.name} with a new head (multinomial logistic regression, L2) fitted in the browser on frozen profiles of ${a.labels.fields} fields of ${a.labels.compounds} compounds (${a.labels.source}).`,
      adaptedFrom: { name: m.name, sha256: base.hash },
      labels: a.labels,
      head: 'multinomial logistic regression with L2 on the penultimate layer (frozen)',
      compoundsLeftOut: a.validation,
      outOfDistributionCheck: oodNote,
    },
  }, undefined, ood ? new Map([[ood.file, encodeOodStats(base.ood!)]]) : new Map());
}
