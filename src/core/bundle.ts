// The model bundle: TF.js layers model (model.json + weight shards) plus moa-lens.json; writer and verifying loader.
import type * as tf from '@tensorflow/tfjs-core';
import { validatePreprocessSpec, type PreprocessSpec } from './preprocess.ts';
import type { TilingSpec } from './tiling.ts';

export const BUNDLE_FORMAT = 'moa-lens-bundle';
export const BUNDLE_VERSION = 1;
export const METADATA_FILE = 'moa-lens.json';
export const MODEL_FILE = 'model.json';
/** Weight shard size; small enough for per-file caching and progress in the browser. */
export const SHARD_BYTES = 4 * 1024 * 1024;

export interface BundleMetadata {
  format: typeof BUNDLE_FORMAT;
  version: number;
  name: string;
  createdAt: string;
  /** Output classes in the model's output order. */
  classes: string[];
  /** Model input: height x width x channels (model pixels). */
  input: { height: number; width: number; channels: number };
  preprocessing: PreprocessSpec;
  tiling: TilingSpec;
  architecture: { name: 'M-CNN'; widthMultiplier: number; parameters: number };
  /** How the weights are stored: float32, or quantised in the TF.js manifest. */
  weights: { dtype: 'float32' | 'float16' | 'uint8'; bytes: number };
  /** Where the weights came from: data, recipe, metrics. `trained: false` marks a placeholder. */
  provenance: { trained: boolean; summary: string; [key: string]: unknown };
  /** sha256 (hex) of model.json and of every weight shard. */
  files: Record<string, string>;
}

export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes per value of a stored weight, after quantisation. */
function storedBytesPerValue(spec: tf.io.WeightsManifestEntry): number {
  const q = spec.quantization?.dtype;
  if (q === 'uint8') return 1;
  if (q === 'uint16' || q === 'float16') return 2;
  return 4;
}

/**
 * Turns saved model artifacts into bundle files: model.json, weight shards and moa-lens.json with the
 * hash of every other file. `metadata` is everything but `files` and `format`/`version`.
 */
export async function writeBundleFiles(
  artifacts: tf.io.ModelArtifacts,
  metadata: Omit<BundleMetadata, 'files' | 'format' | 'version'>,
): Promise<Map<string, Uint8Array>> {
  if (!artifacts.modelTopology || !artifacts.weightSpecs || !artifacts.weightData) throw new BundleError('Model artifacts lack topology or weights.');
  const weights = concatWeightData(artifacts.weightData);
  const files = new Map<string, Uint8Array>();
  const paths: string[] = [];
  const shards = Math.max(1, Math.ceil(weights.length / SHARD_BYTES));
  for (let i = 0; i < shards; i++) {
    const name = `group1-shard${i + 1}of${shards}.bin`;
    paths.push(name);
    files.set(name, weights.subarray(i * SHARD_BYTES, Math.min(weights.length, (i + 1) * SHARD_BYTES)));
  }
  const modelJson = {
    format: 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: 'moa-lens',
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths, weights: artifacts.weightSpecs }],
  };
  files.set(MODEL_FILE, encoder.encode(JSON.stringify(modelJson)));
  const hashes: Record<string, string> = {};
  for (const [name, bytes] of files) hashes[name] = await sha256Hex(bytes);
  const full: BundleMetadata = { format: BUNDLE_FORMAT, version: BUNDLE_VERSION, ...metadata, files: hashes };
  files.set(METADATA_FILE, encoder.encode(JSON.stringify(full, null, 2) + '\n'));
  return files;
}

function concatWeightData(data: tf.io.WeightData): Uint8Array {
  const buffers = Array.isArray(data) ? data : [data];
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), o);
    o += b.byteLength;
  }
  return out;
}

/** A verified bundle, ready to load with tf.loadLayersModel(bundleIOHandler(bundle)). */
export interface VerifiedBundle {
  metadata: BundleMetadata;
  /** sha256 of moa-lens.json: names the exact model (it records every other file's hash). */
  hash: string;
  artifacts: tf.io.ModelArtifacts;
  /** Bytes read, all files. */
  bytes: number;
}

export type ReadBundleFile = (name: string) => Promise<Uint8Array>;

interface LayerConfigJson {
  class_name?: string;
  config?: { batch_input_shape?: (number | null)[]; units?: number; name?: string };
}

/**
 * Reads and verifies a bundle: format and version, the sha256 of every file, the weight manifest
 * against the shard sizes, and the model's input shape and output classes against the metadata.
 * Refuses with a BundleError that says what is wrong.
 */
export async function loadBundle(read: ReadBundleFile, label = 'model bundle'): Promise<VerifiedBundle> {
  const metaBytes = await readOrFail(read, METADATA_FILE, label);
  let metadata: BundleMetadata;
  try {
    metadata = JSON.parse(decoder.decode(metaBytes)) as BundleMetadata;
  } catch {
    throw new BundleError(`${label}: ${METADATA_FILE} is not valid JSON.`);
  }
  if (metadata.format !== BUNDLE_FORMAT) throw new BundleError(`${label}: ${METADATA_FILE} is not a MoA Lens bundle (format "${String(metadata.format)}").`);
  if (metadata.version !== BUNDLE_VERSION)
    throw new BundleError(`${label}: bundle format version ${String(metadata.version)} is not supported; this app reads version ${BUNDLE_VERSION}.`);
  if (!metadata.files || typeof metadata.files !== 'object' || !(MODEL_FILE in metadata.files))
    throw new BundleError(`${label}: ${METADATA_FILE} lists no file hashes.`);
  try {
    validatePreprocessSpec(metadata.preprocessing);
  } catch (e) {
    throw new BundleError(`${label}: ${(e as Error).message}`);
  }

  const contents = new Map<string, Uint8Array>();
  let bytes = metaBytes.length;
  for (const [name, expected] of Object.entries(metadata.files)) {
    const data = await readOrFail(read, name, label);
    const actual = await sha256Hex(data);
    if (actual !== expected)
      throw new BundleError(`${label}: ${name} does not match the sha256 recorded in ${METADATA_FILE}; the bundle is damaged or was modified.`);
    contents.set(name, data);
    bytes += data.length;
  }

  const modelJson = JSON.parse(decoder.decode(contents.get(MODEL_FILE))) as tf.io.ModelJSON;
  const manifest = modelJson.weightsManifest ?? [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  const shards: Uint8Array[] = [];
  for (const group of manifest) {
    for (const p of group.paths) {
      const shard = contents.get(p);
      if (!shard) throw new BundleError(`${label}: weight file ${p} is named in ${MODEL_FILE} but has no hash in ${METADATA_FILE}.`);
      shards.push(shard);
    }
    specs.push(...group.weights);
  }
  const expectedBytes = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * storedBytesPerValue(s), 0);
  const weightBytes = shards.reduce((n, s) => n + s.length, 0);
  if (expectedBytes !== weightBytes)
    throw new BundleError(`${label}: the weight files hold ${weightBytes} bytes but the manifest's shapes need ${expectedBytes}.`);

  checkTopology(modelJson.modelTopology, metadata, label);
  const weightData = concatWeightData(shards.map((s) => s.slice().buffer));
  return {
    metadata,
    hash: await sha256Hex(metaBytes),
    bytes,
    artifacts: {
      modelTopology: modelJson.modelTopology,
      weightSpecs: specs,
      weightData: weightData.buffer as ArrayBuffer,
      format: modelJson.format,
      generatedBy: modelJson.generatedBy,
      convertedBy: modelJson.convertedBy,
    },
  };
}

function checkTopology(topology: unknown, metadata: BundleMetadata, label: string): void {
  const layers = ((topology as { config?: { layers?: LayerConfigJson[] } })?.config?.layers ?? []) as LayerConfigJson[];
  const inputLayer = layers.find((l) => l.class_name === 'InputLayer');
  const shape = inputLayer?.config?.batch_input_shape;
  const { height, width, channels } = metadata.input;
  if (!shape || shape[1] !== height || shape[2] !== width || shape[3] !== channels)
    throw new BundleError(`${label}: the model takes input ${JSON.stringify(shape?.slice(1))} but ${METADATA_FILE} says ${height}x${width}x${channels}.`);
  const last = layers.at(-1);
  if (last?.config?.units !== metadata.classes.length)
    throw new BundleError(`${label}: the model has ${String(last?.config?.units)} outputs but ${METADATA_FILE} names ${metadata.classes.length} classes.`);
  if (metadata.preprocessing.channels.length !== channels)
    throw new BundleError(`${label}: the preprocessing names ${metadata.preprocessing.channels.length} channels but the model takes ${channels}.`);
}

async function readOrFail(read: ReadBundleFile, name: string, label: string): Promise<Uint8Array> {
  try {
    return await read(name);
  } catch (e) {
    throw new BundleError(`${label}: cannot read ${name} (${(e as Error).message}).`);
  }
}

/** A TF.js IOHandler over a verified bundle, for tf.loadLayersModel. */
export function bundleIOHandler(bundle: VerifiedBundle): tf.io.IOHandler {
  return { load: async () => bundle.artifacts };
}
