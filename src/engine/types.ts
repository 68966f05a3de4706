// Public types of the inference engine: what the app passes in and what comes back.
import type { Adaptation } from '../core/adapted-bundle.ts';
import type { BundleMetadata } from '../core/bundle-format.ts';
import type { BundleTrust, TrustedKey } from '../core/bundle-trust.ts';
import type { DisplayPlane } from '../core/display.ts';
import type { FieldStage } from '../core/errors.ts';
import type { ChannelName } from '../core/labels.ts';
import type { PixelPlane, PreprocessSpec } from '../core/preprocess.ts';
import type { OodResult } from '../core/ood.ts';

import type { AutoChoice, BackendProbe } from './backend-choice.ts';

export type { AutoChoice, BackendProbe, BundleTrust, DisplayPlane, FieldStage, OodResult, TrustedKey };

/**
 * Which TF.js backend to use. 'auto': the faster of WebGPU and WASM for the loaded model on this device, measured
 * (a warm-up tile on each) when a bundle loads and remembered per model and device; 'cpu' only when asked.
 */
export type BackendChoice = 'auto' | 'webgpu' | 'wasm' | 'cpu';

export interface EngineOptions {
  backend?: BackendChoice;
  /** WASM threads; default navigator.hardwareConcurrency (not the backend's default of half). */
  threads?: number;
  /**
   * URL of the engine's worker script. Default: the worker Vite bundles from ./worker.ts.
   * Only tests and unusual hosting need this.
   */
  workerUrl?: string | URL;
  /** Base URL the 'default' bundle (models/index.json) and bundle URLs resolve against. Default: the app's base (Vite BASE_URL). */
  baseUrl?: string;
  /** Signing keys trusted besides the build's own (models/trusted-keys.json), e.g. a deployment's or a test's. */
  trustedKeys?: TrustedKey[];
}

/** The WASM binary that actually runs. */
export type WasmBinary = 'threaded-simd' | 'simd' | 'plain';

/** What the engine runs on, as measured after initialisation (not as requested). */
export interface BackendInfo {
  /** The backend in use. */
  name: 'webgpu' | 'wasm' | 'cpu';
  requested: BackendChoice;
  /** For WASM: which binary was loaded. */
  wasmBinary?: WasmBinary;
  /** Threads that run kernels: WASM pool size (getThreadsCount), 1 for cpu, 0 for WebGPU (GPU). */
  threads: number;
  /** self.crossOriginIsolated inside the worker (needed for WASM threads). */
  crossOriginIsolated: boolean;
  /** navigator.hardwareConcurrency as the browser reported it (before the engine's workaround). */
  hardwareConcurrency: number;
  /** For WebGPU: adapter description (vendor / architecture / device) when available. */
  adapter?: string;
  /** For WebGPU: maxStorageBufferBindingSize of the device, bytes; batches are sized below it. */
  maxBindingBytes?: number;
  /** Why a faster backend was not used (no WebGPU adapter, no isolation, ...). */
  fallbackReasons: string[];
  tfjsVersion: string;
  /**
   * For 'auto', once a bundle is loaded: each candidate's measured ms per tile, the winner and why, and whether
   * this start probed or used the choice remembered for this model and device. Absent before a bundle loads
   * (the engine then runs on WASM) and for a forced backend.
   */
  auto?: AutoChoice;
}

/**
 * Where a bundle comes from:
 * - 'default': the bundle named by `models/index.json` under the app's base URL;
 * - File[]: the files of a dropped or picked folder (matched by base name);
 * - { url }: a same-origin folder URL holding moa-lens.json, model.json and the shards.
 */
export type BundleSource = 'default' | File[] | { url: string };

/** One file of a bundle made in the tab (an adapted model). */
export interface BundleFileBytes {
  name: string;
  bytes: Uint8Array;
}

/** A loaded, verified bundle, as the app sees it. */
export interface LoadedBundle {
  name: string;
  /** sha256 of moa-lens.json: names the exact model (for exports). */
  hash: string;
  /** Shipped (pinned in models/index.json), signed by a trusted key, or unverified: the app runs an unverified bundle only when the user says so. */
  trust: BundleTrust;
  classes: string[];
  /** Model input in model pixels. */
  input: { height: number; width: number; channels: number };
  preprocessing: PreprocessSpec;
  trained: boolean;
  /** Bytes read and verified. */
  bytes: number;
  /** Full metadata (moa-lens.json). */
  metadata: BundleMetadata;
  /** Tiles per predict call the engine chose for this bundle and backend. */
  batchSize: number;
  /** Milliseconds spent reading, verifying, building and warming up the model ('auto': the probe included). */
  loadMs: number;
  /** loadMs in two parts: fetching, hashing and decoding the files; building the model and its first (warm-up) pass ('auto': the probe). */
  loadPhases: { readAndVerifyMs: number; buildAndWarmUpMs: number };
  /** The backend this bundle runs on (with 'auto', decided for this bundle: see BackendInfo.auto). */
  backend: BackendInfo;
}

/** Bytes of an image file: a File/Blob (cheap to post, read in the worker) or an ArrayBuffer (copied). */
export type ImageBytes = Blob | ArrayBuffer;

/**
 * One field of view to classify: one file per channel, one multi-channel file (multi-page or
 * multi-sample TIFF, or PNG/JPEG whose R,G,B are mapped by `channelOrder`), or raw planes.
 */
export type FieldInput =
  | {
      id: string;
      /** One single-channel image per channel name (TIFF; PNG/JPEG use their first channel). */
      channels: Record<ChannelName, ImageBytes>;
      /** File names per channel, for messages and format sniffing; defaults to the File's name. */
      names?: Partial<Record<ChannelName, string>>;
    }
  | {
      id: string;
      /** One file holding all channels (multi-page / multi-sample TIFF, PNG or JPEG RGB). */
      file: ImageBytes;
      name?: string;
      /**
       * For each model channel (bundle's channel order), the index of the file's channel that holds it.
       * Default [0, 1, 2].
       */
      channelOrder?: number[];
    }
  | {
      id: string;
      /** Already decoded planes, in the bundle's channel order. */
      planes: PixelPlane[];
    };

export interface ClassProbability {
  index: number;
  label: string;
  probability: number;
}

/** Tile layout of a field in model pixels (after binning), for heatmaps. */
export interface TileLayout {
  /** Field size after binning (model pixels) and as decoded (field pixels). */
  fieldHeight: number;
  fieldWidth: number;
  sourceHeight: number;
  sourceWidth: number;
  /** Field pixels per model pixel. */
  binning: number;
  tileHeight: number;
  tileWidth: number;
  rows: number;
  cols: number;
  /** Per tile, row-major over the grid: top-left corner and real (unpadded) extent, model pixels. */
  tiles: { y: number; x: number; validHeight: number; validWidth: number }[];
}

export interface FieldTimings {
  readMs: number;
  decodeMs: number;
  preprocessMs: number;
  inferMs: number;
}

export interface FieldSuccess {
  id: string;
  ok: true;
  /** Field probabilities, one per bundle class (area-weighted mean of the tiles). */
  probabilities: Float32Array;
  predicted: number;
  predictedLabel: string;
  confidence: number;
  top3: ClassProbability[];
  /** Per-tile probabilities: tiles.length rows of classes.length values, row-major. */
  tileProbabilities: Float32Array;
  /** The field's profile: the model's penultimate-layer features (M-CNN: 512 x width multiplier), from the same forward pass. */
  features: Float32Array;
  /**
   * The out-of-distribution check on `features` (src/core/ood.ts): the score, the bundle's threshold, and whether the
   * field is unlike the training data (then its mechanism is not to be trusted); absent when the bundle has no OOD check.
   */
  ood?: OodResult;
  tiles: TileLayout;
  timings: FieldTimings;
  /** Decoder notes worth showing (palette expanded, pages skipped...). */
  notes: string[];
  /** What makes this prediction doubtful without stopping it (a blank channel), each naming the file. */
  warnings: string[];
}

export interface FieldFailure {
  id: string;
  ok: false;
  stage: FieldStage;
  /** Plain-language reason, naming the file. */
  message: string;
}

export type FieldResult = FieldSuccess | FieldFailure;

export interface ClassifyProgress {
  total: number;
  done: number;
  failed: number;
  /** Fields per second since the start (including failures). */
  fieldsPerSecond: number;
  /** Seconds left at the current rate; null before the first field is done. */
  etaSeconds: number | null;
  elapsedMs: number;
}

export interface ClassifyOptions {
  onProgress?: (progress: ClassifyProgress) => void;
  /** Called once per field, in input order, as soon as it is done (stream results into the UI). */
  onResult?: (result: FieldResult) => void;
  /** Abort: the returned promise rejects with an AbortError; results already delivered stay valid. */
  signal?: AbortSignal;
  /**
   * Keep results in the returned array (default true). Set false for huge plates when
   * onResult stores what it needs; the promise then resolves with an empty array.
   */
  collect?: boolean;
}

/** A field as the field view draws it, decoded in the engine's worker (the page never decodes images). */
export interface FieldDisplay {
  id: string;
  /** Channel names of `planes`: the loaded bundle's channel order (DNA, Tubulin, Actin without a bundle). */
  channels: ChannelName[];
  /** One plane per channel, box-averaged so the longest side is at most `maxSide`; 8- and 16-bit values kept. */
  planes: DisplayPlane[];
  /** Field pixels per display pixel. */
  binning: number;
  /** Size as decoded (field pixels). */
  sourceHeight: number;
  sourceWidth: number;
  /** Decoder notes worth showing. */
  notes: string[];
  /** What makes the field doubtful (a blank channel), as in FieldSuccess. */
  warnings: string[];
}

export interface DisplayOptions {
  /** Longest side of the display planes in pixels (default 1280: a BBBC021 field at full resolution). */
  maxSide?: number;
}

/** A same-origin file the engine fetches (WASM binaries, bundle files), with its sha256 where the bundle records one. */
export interface OfflineFile {
  /** Absolute URL. */
  url: string;
  sha256?: string;
}

/**
 * A bundle models/index.json lists, as its moa-lens.json describes it (checked as the loader checks it, its trust
 * from its sha256 and signature; the weights are not read): load it with `{ url }`. `ok: false`: why it cannot be used.
 */
export type ShippedModel =
  | {
      ok: true;
      /** The name models/index.json gives it (its folder under models/). */
      name: string;
      /** Its folder, absolute: loadBundle({ url }) loads it. */
      url: string;
      /** models/index.json names it the default. */
      isDefault: boolean;
      /** The name its moa-lens.json gives (what LoadedBundle.name says once loaded). */
      bundleName: string;
      /** sha256 of its moa-lens.json (LoadedBundle.hash once loaded). */
      hash: string;
      trust: BundleTrust;
      input: { height: number; width: number; channels: number };
      /** Field pixels per model pixel. */
      binning: number;
      /** Bytes to download: the sizes moa-lens.json records for its files; a version 1 bundle records none, then its weights' bytes. */
      downloadBytes: number;
      /** False for a version 1 bundle: downloadBytes counts its weights only. */
      sizeRecorded: boolean;
      /** It carries an out-of-distribution check. */
      oodCheck: boolean;
      classes: number;
    }
  | { ok: false; name: string; url: string; isDefault: boolean; problem: string };

/** Memory as the backend reports it (tf.memory()) plus the worker's JS heap where the browser exposes it. */
export interface EngineMemory {
  numTensors: number;
  numBytes: number;
  /** WASM heap size (bytes) or GPU bytes in use, when reported. */
  backendBytes?: number;
  jsHeapBytes?: number;
}

export interface Engine {
  /** What runs now: updated by loadBundle ('auto' decides per model). */
  readonly backendInfo: BackendInfo;
  /** Reads, verifies (names, sizes, sha256, version, metadata, shapes) and builds a bundle, with its trust; rejects with a BundleError message. */
  loadBundle(source: BundleSource): Promise<LoadedBundle>;
  /** Classifies fields with the loaded bundle, one at a time in the worker (memory does not grow with their number). */
  classify(fields: FieldInput[], options?: ClassifyOptions): Promise<FieldResult[]>;
  /**
   * Reads and decodes a field in the worker, as classify does, and returns planes to draw. Runs beside a
   * classification in progress; rejects with an error named FieldError that names the file.
   */
  displayField(field: FieldInput, options?: DisplayOptions): Promise<FieldDisplay>;
  /**
   * Every file the engine fetches to run `source` (default: the bundle models/index.json names), for a
   * service worker to keep offline: the WASM binaries and, for a bundle served from a folder, its files.
   */
  offlineFiles(source?: BundleSource): Promise<OfflineFile[]>;
  memory(): Promise<EngineMemory>;
  /** The bundles models/index.json lists (the default first), each from its moa-lens.json alone; one that cannot be read says why. */
  listShippedModels(): Promise<ShippedModel[]>;
  /**
   * The loaded bundle's network with its last layer replaced by `adaptation.head`, as the files of a new bundle
   * (same format; provenance names the loaded bundle's sha256 and the labels). Rejects with NoBundleError when none is loaded.
   */
  adaptBundle(adaptation: Adaptation): Promise<BundleFileBytes[]>;
  /** Terminates the worker and frees everything. */
  dispose(): void;
}

/** Error names the engine rejects with. */
export type EngineErrorName = 'BundleError' | 'AbortError' | 'EngineError' | 'NoBundleError';
