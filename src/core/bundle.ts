// The model bundle: TF.js layers model (model.json + weight shards) plus moa-lens.json; writer and verifying loader.
import type * as tf from '@tensorflow/tfjs-core';
import {
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  BundleError,
  bundleFileNameProblem,
  fileSizeProblem,
  MAX_METADATA_BYTES,
  MAX_MODEL_JSON_BYTES,
  MAX_SIGNATURE_BYTES,
  MAX_WEIGHT_BYTES,
  METADATA_FILE,
  MissingBundleFile,
  MODEL_FILE,
  parseBundleMetadata,
  SIGNATURE_FILE,
  STANDARD_LABEL_SET,
  type BundleFile,
  type BundleFileEntry,
  type BundleMetadata,
  type ExpectedSize,
  type OpenBundleFile,
} from './bundle-format.ts';
import { decodePerChannelWeights, perChannelProblem, storedBytesPerValue } from './weights-encoding.ts';
import { bundleTrust, signMetadata, type BundleTrust, type SigningKey, type TrustRoots } from './bundle-trust.ts';
import { decodeOodStats, type OodCheck } from './ood.ts';

export { BUNDLE_VERSION, BundleError, METADATA_FILE, MissingBundleFile, MODEL_FILE, SIGNATURE_FILE, type BundleFile, type BundleMetadata, type OpenBundleFile } from './bundle-format.ts';

/** Weight shard size; small enough for per-file caching and progress in the browser. */
export const SHARD_BYTES = 4 * 1024 * 1024;

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();


/** moa-lens.json as a writer takes it: `labelSet` defaults to the BBBC021 MoA set; files, format and version are filled in. */
export type BundleMetadataInput = Omit<BundleMetadata, 'files' | 'format' | 'version' | 'labelSet'> & { labelSet?: BundleMetadata['labelSet'] };

/**
 * Turns saved model artifacts into bundle files: model.json, weight shards, `extraFiles` (the OOD statistics
 * that metadata.ood names) and moa-lens.json with the sha256 and size of every other file, and, given a signing
 * key, moa-lens.sig.json.
 */
export async function writeBundleFiles(
  artifacts: tf.io.ModelArtifacts,
  metadata: BundleMetadataInput,
  signer?: SigningKey,
  extraFiles: ReadonlyMap<string, Uint8Array> = new Map(),
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
  for (const [name, bytes] of extraFiles) {
    if (files.has(name) || name === METADATA_FILE || name === SIGNATURE_FILE) throw new BundleError(`A bundle file cannot be named ${name}: the bundle has one by that name.`);
    files.set(name, bytes);
  }
  return completeBundleFiles(files, metadata, signer);
}

/**
 * Adds moa-lens.json (current format version, with the sha256 and size of each of `files`) and, given a signing key,
 * moa-lens.sig.json to a bundle's other files. Also how an existing bundle's files get a new moa-lens.json (npm run
 * export -- --add-ood) without their bytes changing.
 */
export async function completeBundleFiles(files: Map<string, Uint8Array>, metadata: BundleMetadataInput, signer?: SigningKey): Promise<Map<string, Uint8Array>> {
  const entries: Record<string, BundleFileEntry> = {};
  for (const [name, bytes] of files) entries[name] = { sha256: await sha256Hex(bytes), bytes: bytes.length };
  const full: BundleMetadata = { format: BUNDLE_FORMAT, version: BUNDLE_VERSION, labelSet: STANDARD_LABEL_SET, ...metadata, files: entries };
  const metadataBytes = encoder.encode(JSON.stringify(full, null, 2) + '\n');
  files.set(METADATA_FILE, metadataBytes);
  if (signer) files.set(SIGNATURE_FILE, await signMetadata(metadataBytes, signer));
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
  /** Shipped, signed by a trusted key, or unverified: the caller decides whether an unverified bundle may run. */
  trust: BundleTrust;
  artifacts: tf.io.ModelArtifacts;
  /** The out-of-distribution check, read from the statistics file moa-lens.json names and verified like the weights; absent when the bundle has none. */
  ood?: OodCheck;
  /** Bytes read, all files. */
  bytes: number;
}

export interface LoadBundleOptions {
  /** How messages name the bundle. */
  label?: string;
  /** What counts as shipped or signed (src/core/trust-roots.ts has the build's). */
  trust: TrustRoots;
}

interface LayerConfigJson {
  class_name?: string;
  config?: { batch_input_shape?: (number | null)[]; units?: number; name?: string };
}

/**
 * Reads and verifies a bundle. Before a file is read: its name is a plain name of the bundle folder and
 * its size fits what the bundle records (version 1 bundles: the weights manifest and fixed limits), so
 * nothing outside the folder and nothing larger than recorded is read. Then: moa-lens.json's meaning
 * (parseBundleMetadata), the sha256 of every file, the weights manifest against the shards, the
 * model's input shape and outputs against the metadata, and the bundle's trust.
 * Refuses with a BundleError that says what is wrong and names the file.
 */
export async function loadBundle(open: OpenBundleFile, options: LoadBundleOptions): Promise<VerifiedBundle> {
  const label = options.label ?? 'model bundle';
  const read = (name: string, expected: ExpectedSize) => readChecked(open, name, expected, label);
  const metaBytes = await read(METADATA_FILE, { bytes: MAX_METADATA_BYTES, exact: false, from: 'the loader' });
  const metadata = parseBundleMetadata(metaBytes, label);
  const hash = await sha256Hex(metaBytes);
  const trust = await bundleTrust(hash, metaBytes, () => readSignature(open), options.trust);
  const recorded = (name: string, limit: number, from: string): ExpectedSize => {
    const bytes = metadata.files[name].bytes;
    return bytes === undefined ? { bytes: limit, exact: false, from } : { bytes, exact: true, from: METADATA_FILE };
  };
  const readHashed = async (name: string, expected: ExpectedSize) => {
    const data = await read(name, expected);
    if ((await sha256Hex(data)) !== metadata.files[name].sha256)
      throw new BundleError(`${label}: ${name} does not match the sha256 recorded in ${METADATA_FILE}; the bundle is damaged or was modified.`);
    return data;
  };

  const modelBytes = await readHashed(MODEL_FILE, recorded(MODEL_FILE, MAX_MODEL_JSON_BYTES, 'the loader'));
  let modelJson: tf.io.ModelJSON;
  try {
    modelJson = JSON.parse(decoder.decode(modelBytes)) as tf.io.ModelJSON;
  } catch {
    throw new BundleError(`${label}: ${MODEL_FILE} is not valid JSON.`);
  }
  const { paths, specs, weightBytes } = readManifest(modelJson, metadata, label);
  const shards: Uint8Array[] = [];
  let left = weightBytes;
  for (const p of paths) {
    const shard = await readHashed(p, recorded(p, left, `${MODEL_FILE}'s weights manifest`));
    shards.push(shard);
    left -= shard.length;
  }
  if (left !== 0) throw new BundleError(`${label}: the weight files hold ${weightBytes - left} bytes but the manifest's shapes need ${weightBytes}.`);

  checkTopology(modelJson.modelTopology, metadata, label);
  const ood = metadata.ood ? await readOod(metadata.ood, (name) => readHashed(name, recorded(name, 0, METADATA_FILE)), label) : undefined;
  const decoded = decodePerChannelWeights(specs, concatWeightData(shards.map((s) => s.slice().buffer)));
  return {
    metadata,
    hash,
    trust,
    ood: ood?.check,
    bytes: metaBytes.length + modelBytes.length + weightBytes + (ood?.bytes ?? 0),
    artifacts: {
      modelTopology: modelJson.modelTopology,
      weightSpecs: decoded.specs,
      weightData: decoded.weightData.buffer as ArrayBuffer,
      format: modelJson.format,
      generatedBy: modelJson.generatedBy,
      convertedBy: modelJson.convertedBy,
    },
  };
}

/** The OOD statistics file, read like a weight shard (size, then sha256), and decoded against its section. */
async function readOod(section: NonNullable<BundleMetadata['ood']>, readHashed: (name: string) => Promise<Uint8Array>, label: string): Promise<{ check: OodCheck; bytes: number }> {
  const data = await readHashed(section.file);
  try {
    return { check: { ...decodeOodStats(data, section.featureSize, section.classes), threshold: section.threshold }, bytes: data.length };
  } catch (e) {
    throw new BundleError(`${label}: ${section.file}: ${(e as Error).message}`);
  }
}

/** The weights manifest, checked against moa-lens.json before any shard is read: plain names, every file accounted for, sizes that add up. */
function readManifest(modelJson: tf.io.ModelJSON, metadata: BundleMetadata, label: string) {
  const paths: string[] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  for (const group of Array.isArray(modelJson.weightsManifest) ? modelJson.weightsManifest : []) {
    paths.push(...(Array.isArray(group?.paths) ? group.paths : []));
    specs.push(...(Array.isArray(group?.weights) ? group.weights : []));
  }
  for (const p of paths) {
    const problem = bundleFileNameProblem(p);
    if (problem) throw new BundleError(`${label}: ${MODEL_FILE} names a weight file ${problem}.`);
    if (!(p in metadata.files)) throw new BundleError(`${label}: weight file ${p} is named in ${MODEL_FILE} but has no hash in ${METADATA_FILE}.`);
  }
  if (new Set(paths).size !== paths.length) throw new BundleError(`${label}: ${MODEL_FILE} names a weight file twice.`);
  if (metadata.ood && paths.includes(metadata.ood.file)) throw new BundleError(`${label}: ${metadata.ood.file} is named both as a weight file and as the OOD statistics.`);
  const unused = Object.keys(metadata.files).filter((name) => name !== MODEL_FILE && name !== metadata.ood?.file && !paths.includes(name));
  if (unused.length) throw new BundleError(`${label}: ${METADATA_FILE} lists ${unused.join(', ')}, which ${MODEL_FILE} does not use.`);
  let weightBytes = 0;
  for (const s of specs) {
    const problem = perChannelProblem(s);
    if (problem) throw new BundleError(`${label}: ${MODEL_FILE}: ${problem}.`);
    const values = Array.isArray(s?.shape) && s.shape.every((d) => Number.isSafeInteger(d) && d >= 0) ? s.shape.reduce((a, b) => a * b, 1) : NaN;
    weightBytes += values * storedBytesPerValue(s);
  }
  if (!(weightBytes <= MAX_WEIGHT_BYTES)) throw new BundleError(`${label}: the weights manifest in ${MODEL_FILE} needs ${weightBytes} bytes; a bundle may hold at most ${MAX_WEIGHT_BYTES}.`);
  if (weightBytes !== metadata.weights.bytes) throw new BundleError(`${label}: ${METADATA_FILE} says the weights take ${metadata.weights.bytes} bytes but the manifest's shapes need ${weightBytes}.`);
  const recorded = paths.reduce((n, p) => n + (metadata.files[p].bytes ?? 0), 0);
  if (metadata.version > 1 && recorded !== weightBytes)
    throw new BundleError(`${label}: the weight files hold ${recorded} bytes by ${METADATA_FILE} but the manifest's shapes need ${weightBytes}.`);
  return { paths, specs, weightBytes };
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
  const features = layers.at(-2)?.config?.units;
  if (metadata.ood && features !== undefined && features !== metadata.ood.featureSize - metadata.ood.inputStatistics)
    throw new BundleError(`${label}: the OOD statistics take ${metadata.ood.featureSize - metadata.ood.inputStatistics} features but the model's last layer reads ${features}.`);
}

/** Opens, size-checks (before reading when the source knows the size), reads with a bound, and size-checks again. */
async function readChecked(open: OpenBundleFile, name: string, expected: ExpectedSize, label: string): Promise<Uint8Array> {
  let file: BundleFile;
  let data: Uint8Array;
  try {
    file = await open(name);
  } catch (e) {
    if (e instanceof MissingBundleFile) throw new BundleError(`${label}: ${name} is missing: ${e.message}.`);
    throw new BundleError(`${label}: cannot read ${name} (${(e as Error).message}).`);
  }
  const before = file.size === undefined ? undefined : fileSizeProblem(name, file.size, expected);
  if (before) {
    file.discard?.();
    throw new BundleError(`${label}: ${before}.`);
  }
  try {
    data = await file.read(expected.bytes);
  } catch (e) {
    throw new BundleError(`${label}: cannot read ${name} (${(e as Error).message}).`);
  }
  const after = fileSizeProblem(name, data.length, expected, data.length > expected.bytes);
  if (after) throw new BundleError(`${label}: ${after}.`);
  return data;
}

/** The signature file's bytes, or undefined when the bundle has none (or it cannot be read: then the bundle is simply not signed). */
async function readSignature(open: OpenBundleFile): Promise<Uint8Array | undefined> {
  try {
    return await readChecked(open, SIGNATURE_FILE, { bytes: MAX_SIGNATURE_BYTES, exact: false, from: 'the loader' }, '');
  } catch {
    return undefined;
  }
}

/** A bundle held in memory (file name -> bytes), as a source for loadBundle. */
export function bundleInMemory(files: ReadonlyMap<string, Uint8Array>): OpenBundleFile {
  return async (name) => {
    const bytes = files.get(name);
    if (!bytes) throw new MissingBundleFile('not among the bundle files');
    return { size: bytes.length, read: async (max) => bytes.subarray(0, max + 1) };
  };
}

/** A TF.js IOHandler over a verified bundle, for tf.loadLayersModel. */
export function bundleIOHandler(bundle: VerifiedBundle): tf.io.IOHandler {
  return { load: async () => bundle.artifacts };
}
