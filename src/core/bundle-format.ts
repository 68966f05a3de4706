// The bundle format: its files, how they are named and sized, and what moa-lens.json may say, checked before any other file is read.
import { MOA_CLASSES } from './labels.ts';
import { checkMcnnInputSize } from './mcnn.ts';
import { INPUT_STATISTICS_PER_CHANNEL, inputStatisticsCount, oodStatsBytes } from './ood.ts';
import { validatePreprocessSpec, type PreprocessSpec } from './preprocess.ts';
import type { TilingSpec } from './tiling.ts';
import { WEIGHT_DTYPES, type WeightDtype } from './weights-encoding.ts';

export const BUNDLE_FORMAT = 'moa-lens-bundle';
/** Version 2 records each file's size beside its sha256 and declares its label set; version 1 bundles are still read. */
export const BUNDLE_VERSION = 2;
export const READABLE_VERSIONS: readonly number[] = [1, 2];
export const METADATA_FILE = 'moa-lens.json';
export const MODEL_FILE = 'model.json';
/** Ed25519 signature over the bytes of moa-lens.json (which records every other file's sha256); optional. */
export const SIGNATURE_FILE = 'moa-lens.sig.json';

/** Most bytes read for a file whose size no record gives: moa-lens.json, a version 1 bundle's model.json, a signature. */
export const MAX_METADATA_BYTES = 1024 * 1024;
export const MAX_MODEL_JSON_BYTES = 16 * 1024 * 1024;
export const MAX_SIGNATURE_BYTES = 4096;
/** Most weight bytes a bundle may hold (the full M-CNN in float32 is 170 MB). */
export const MAX_WEIGHT_BYTES = 2 ** 31;

/** The label set of src/core/labels.ts in its order, or the bundle's own classes. */
export type LabelSet = 'bbbc021-moa' | 'custom';
export const STANDARD_LABEL_SET: LabelSet = 'bbbc021-moa';

/** The OOD method a bundle's `ood` section describes (src/core/ood.ts). */
export const OOD_METHOD = 'mahalanobis-tied-ledoit-wolf';

/**
 * The out-of-distribution check (src/core/ood.ts): per-class means of the training fields' penultimate-layer features
 * and the whitening of their shrunk tied covariance, in `file` (float32 little-endian: the featureSize x featureSize
 * whitening matrix, then one whitened mean per class of `classes`), and the threshold chosen on held-out fields.
 */
export interface OodSection {
  method: typeof OOD_METHOD;
  /** The statistics file, listed in `files` with its sha256 and size. */
  file: string;
  /** Length of the scored vector: the model's penultimate-layer features, then `inputStatistics` input statistics. */
  featureSize: number;
  /** How many of the scored values are statistics of the model's input tiles (src/core/ood.ts tileInputStatistics), after the features. */
  inputStatistics: number;
  /** Class index (into `classes`) of each stored mean. */
  classes: number[];
  /** Scores above it are unlike the training data. */
  threshold: number;
  /** The fraction of held-out fields the threshold was chosen to pass (at least). */
  passFraction: number;
  /** The Ledoit-Wolf shrinkage weight of the covariance. */
  shrinkage: number;
  /** What the statistics and the threshold were computed from. */
  fitOn: { data: string; split: string; trainingFields: number; heldOutFields: number; heldOutPassed: number };
}

/** The pixel size the model was trained for: micrometres per pixel of the field as acquired, and the binning into model pixels. */
export interface ModelPixelSize {
  /** Micrometres per field pixel (before binning). */
  micrometres: number;
  /** Field pixels per model pixel (equals preprocessing.binning). */
  binning: number;
  /** Where the number comes from (stated by the training files, or the dataset's documented acquisition). */
  source: string;
}

/** What moa-lens.json records of a file; version 1 bundles record no size. */
export interface BundleFileEntry {
  sha256: string;
  bytes?: number;
}

export interface BundleMetadata {
  format: typeof BUNDLE_FORMAT;
  /** The format version the bundle was written in (1 or 2). */
  version: number;
  name: string;
  createdAt: string;
  /** 'bbbc021-moa': `classes` is MOA_CLASSES in order; 'custom': the bundle's own list. Version 1 bundles are 'bbbc021-moa'. */
  labelSet: LabelSet;
  /** Output classes in the model's output order. */
  classes: string[];
  /** Model input: height x width x channels (model pixels). */
  input: { height: number; width: number; channels: number };
  preprocessing: PreprocessSpec;
  tiling: TilingSpec;
  architecture: { name: 'M-CNN'; widthMultiplier: number; parameters: number };
  /** How the weights are stored: float32, quantised as TF.js does (float16, per-tensor uint8), or 8-bit per output channel (src/core/weights-encoding.ts). */
  weights: { dtype: WeightDtype; bytes: number };
  /** Where the weights came from: data, recipe, metrics. `trained: false` marks a placeholder. */
  provenance: { trained: boolean; summary: string; [key: string]: unknown };
  /** The out-of-distribution check; absent in bundles exported before it existed (the app then says it has none). */
  ood?: OodSection;
  /** The pixel size the model was trained for; absent in older bundles. */
  pixelSize?: ModelPixelSize;
  /** sha256 (hex) and size of model.json, of every weight shard and of the OOD statistics file (version 1: the sha256 alone). */
  files: Record<string, BundleFileEntry>;
}

export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

/** What a bundle source throws when a file is not there, or when what came back is not the file; the message says why. */
export class MissingBundleFile extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'MissingBundleFile';
  }
}

/** One file of a bundle as a source (folder, server, dropped files, memory) offers it. */
export interface BundleFile {
  /** Its size in bytes, when the source knows it without reading the file. */
  size?: number;
  /** Its bytes; a file longer than maxBytes comes back cut to maxBytes + 1 bytes (it is never read whole). */
  read(maxBytes: number): Promise<Uint8Array>;
  /** Lets go of a file that will not be read. */
  discard?(): void;
}

/** Opens a bundle file by its plain name (the loader checks names first); throws MissingBundleFile when it is not there. */
export type OpenBundleFile = (name: string) => Promise<BundleFile>;

/** The size a file must have: exactly `bytes` (recorded), or at most `bytes` (a limit), and where that number comes from. */
export interface ExpectedSize {
  bytes: number;
  exact: boolean;
  from: string;
}

const PLAIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$/;

/**
 * The one rule for bundle file names, wherever a bundle is read: a plain name of the bundle's own folder
 * (letters, digits, '.', '_', '-'; no separator, no '..', no absolute path, no hidden file).
 */
export function bundleFileNameProblem(name: string): string | undefined {
  if (typeof name !== 'string' || !PLAIN_NAME.test(name) || name.includes('..'))
    return `"${String(name)}" is not a plain file name inside the bundle folder (no "/", "\\", ".." or absolute paths)`;
  return undefined;
}

/** Why a file of `size` bytes (or of more than expected.bytes, when `cut`) is not the file the bundle records; undefined when it fits. */
export function fileSizeProblem(name: string, size: number, expected: ExpectedSize, cut = false): string | undefined {
  if (expected.exact && size === expected.bytes && !cut) return undefined;
  if (!expected.exact && size <= expected.bytes) return undefined;
  const has = cut ? `more than ${expected.bytes} bytes` : `${size} bytes`;
  return expected.exact
    ? `${name} is missing or not the bundle's file: it has ${has} where ${expected.from} records ${expected.bytes}`
    : `${name} is too large: it has ${has}, more than the ${expected.bytes} ${expected.from} allows`;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Parses moa-lens.json and checks what it means: format and version, file names, hashes and sizes,
 * the label set, the preprocessing values, an input size M-CNN can take, tiling and architecture.
 * Version 1 bundles come back with files as { sha256 } and labelSet 'bbbc021-moa'.
 */
export function parseBundleMetadata(bytes: Uint8Array, label: string): BundleMetadata {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new BundleError(`${label}: ${METADATA_FILE} is not valid JSON.`);
  }
  if (!isObject(raw) || raw.format !== BUNDLE_FORMAT) throw new BundleError(`${label}: ${METADATA_FILE} is not a MoA Lens bundle (format "${String(isObject(raw) ? raw.format : raw)}").`);
  if (!READABLE_VERSIONS.includes(raw.version as number))
    throw new BundleError(`${label}: bundle format version ${String(raw.version)} is not supported; this app reads versions ${READABLE_VERSIONS.join(' and ')}.`);
  try {
    const files = parseFiles(raw.files, raw.version as number);
    const labelSet = raw.version === 1 ? STANDARD_LABEL_SET : raw.labelSet;
    const metadata = { ...raw, labelSet, files } as unknown as BundleMetadata;
    checkMeaning(metadata);
    return metadata;
  } catch (e) {
    throw new BundleError(`${label}: ${METADATA_FILE}: ${(e as Error).message}`);
  }
}

function parseFiles(files: unknown, version: number): Record<string, BundleFileEntry> {
  if (!isObject(files) || !(MODEL_FILE in files)) throw new Error(`it lists no ${MODEL_FILE} among its files.`);
  const out: Record<string, BundleFileEntry> = {};
  for (const [name, entry] of Object.entries(files)) {
    const problem = bundleFileNameProblem(name);
    if (problem) throw new Error(`${problem}.`);
    if (name === METADATA_FILE || name === SIGNATURE_FILE) throw new Error(`it lists ${name} among the files it records.`);
    const sha256 = version === 1 ? entry : isObject(entry) ? entry.sha256 : undefined;
    if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) throw new Error(`the sha256 of ${name} is not 64 hex digits.`);
    if (version === 1) {
      out[name] = { sha256 };
      continue;
    }
    const size = (entry as Record<string, unknown>).bytes;
    if (!isCount(size)) throw new Error(`the size of ${name} is not a whole number of bytes.`);
    out[name] = { sha256, bytes: size };
  }
  return out;
}

function checkMeaning(m: BundleMetadata): void {
  if (typeof m.name !== 'string' || !m.name) throw new Error('it names no model.');
  checkClasses(m.labelSet, m.classes);
  const input = isObject(m.input) ? m.input : {};
  const { height, width, channels } = input as BundleMetadata['input'];
  if (!isObject(m.architecture) || m.architecture.name !== 'M-CNN') throw new Error(`the architecture is not M-CNN.`);
  checkMcnnInputSize(height, width);
  validatePreprocessSpec(m.preprocessing);
  if (channels !== m.preprocessing.channels.length) throw new Error(`the input has ${String(channels)} channels but the preprocessing names ${m.preprocessing.channels.length}.`);
  const overlap = isObject(m.tiling) ? m.tiling.minOverlap : undefined;
  if (!isCount(overlap) || overlap >= Math.min(height, width)) throw new Error(`tiling.minOverlap must be a whole number of pixels below the input size, got ${String(overlap)}.`);
  const { widthMultiplier, parameters } = m.architecture;
  if (!(typeof widthMultiplier === 'number' && widthMultiplier > 0 && Number.isFinite(widthMultiplier))) throw new Error(`the width multiplier must be positive, got ${String(widthMultiplier)}.`);
  if (!isCount(parameters) || parameters === 0) throw new Error(`the parameter count must be a positive integer, got ${String(parameters)}.`);
  if (!isObject(m.weights) || !(WEIGHT_DTYPES as readonly unknown[]).includes(m.weights.dtype) || !isCount(m.weights.bytes)) throw new Error(`weights must give a dtype (${WEIGHT_DTYPES.join(', ')}) and a byte count.`);
  if (!isObject(m.provenance) || typeof m.provenance.trained !== 'boolean' || typeof m.provenance.summary !== 'string') throw new Error('provenance must say whether the model is trained and give a summary.');
  if (m.ood !== undefined) checkOod(m);
  if (m.pixelSize !== undefined) checkPixelSize(m);
}

const isPositive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

function checkOod(m: BundleMetadata): void {
  const ood = m.ood as unknown;
  if (!isObject(ood)) throw new Error('ood must be an object.');
  if (ood.method !== OOD_METHOD) throw new Error(`ood.method must be "${OOD_METHOD}", got ${JSON.stringify(ood.method)}.`);
  if (m.version < 2) throw new Error('an ood section needs format version 2 (its file must be listed with its size).');
  const file = ood.file as string;
  const problem = bundleFileNameProblem(file);
  if (problem) throw new Error(`ood.file: ${problem}.`);
  if (file === MODEL_FILE || !(file in m.files)) throw new Error(`ood.file ${file} is not among the files moa-lens.json lists.`);
  const d = ood.featureSize;
  if (!isCount(d) || d === 0 || d > 4096) throw new Error(`ood.featureSize must be a whole number from 1 to 4096, got ${String(d)}.`);
  const statistics = inputStatisticsCount(m.input.channels);
  if (ood.inputStatistics !== statistics) throw new Error(`ood.inputStatistics must be ${statistics} (${INPUT_STATISTICS_PER_CHANNEL} per input channel and the padding), got ${String(ood.inputStatistics)}.`);
  if ((ood.inputStatistics as number) >= d) throw new Error('ood.featureSize must count the model features beside the input statistics.');
  const classes = ood.classes;
  if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => isCount(c) && c < m.classes.length) || new Set(classes).size !== classes.length)
    throw new Error(`ood.classes must list distinct class indices below ${m.classes.length}.`);
  if (!isPositive(ood.threshold)) throw new Error(`ood.threshold must be a positive number, got ${String(ood.threshold)}.`);
  if (!isPositive(ood.passFraction) || (ood.passFraction as number) > 1) throw new Error(`ood.passFraction must be in (0, 1], got ${String(ood.passFraction)}.`);
  if (typeof ood.shrinkage !== 'number' || !(ood.shrinkage >= 0 && ood.shrinkage <= 1)) throw new Error(`ood.shrinkage must be in [0, 1], got ${String(ood.shrinkage)}.`);
  const fitOn = ood.fitOn;
  if (!isObject(fitOn) || typeof fitOn.data !== 'string' || typeof fitOn.split !== 'string' || !isCount(fitOn.trainingFields) || !isCount(fitOn.heldOutFields) || !isCount(fitOn.heldOutPassed))
    throw new Error('ood.fitOn must name the data and split and count the training and held-out fields.');
  const bytes = oodStatsBytes(d, classes.length);
  if (m.files[file].bytes !== bytes) throw new Error(`ood.file ${file} must hold ${bytes} bytes for ${d} features and ${classes.length} class means; moa-lens.json records ${String(m.files[file].bytes)}.`);
}

function checkPixelSize(m: BundleMetadata): void {
  const p = m.pixelSize as unknown;
  if (!isObject(p) || !isPositive(p.micrometres) || (p.micrometres as number) > 1000) throw new Error('pixelSize.micrometres must be a positive number of micrometres per field pixel.');
  if (p.binning !== m.preprocessing.binning) throw new Error(`pixelSize.binning (${String(p.binning)}) must equal preprocessing.binning (${m.preprocessing.binning}).`);
  if (typeof p.source !== 'string' || !p.source) throw new Error('pixelSize.source must say where the pixel size comes from.');
}

function checkClasses(labelSet: unknown, classes: unknown): void {
  if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => typeof c === 'string' && c.length > 0)) throw new Error('classes must be a list of names.');
  if (labelSet === 'custom') {
    if (new Set(classes).size !== classes.length) throw new Error('the custom label set names a class twice.');
    return;
  }
  if (labelSet !== STANDARD_LABEL_SET) throw new Error(`labelSet must be "${STANDARD_LABEL_SET}" or "custom", got ${JSON.stringify(labelSet)}.`);
  if (classes.length !== MOA_CLASSES.length) throw new Error(`it names ${classes.length} classes; the BBBC021 MoA label set has ${MOA_CLASSES.length} (or declare labelSet "custom").`);
  const at = MOA_CLASSES.findIndex((c, i) => classes[i] !== c);
  if (at >= 0)
    throw new Error(
      `class ${at} is ${JSON.stringify(classes[at])} where the BBBC021 MoA label set (src/core/labels.ts) has "${MOA_CLASSES[at]}"; the classes must be that set in its order, or the bundle must declare labelSet "custom".`,
    );
}
