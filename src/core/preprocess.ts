// The preprocessing contract: raw channel planes -> the model's float input, driven by a serialisable spec.
import { CHANNELS, type ChannelName } from './labels.ts';

export type PixelArray =
  | Uint8Array
  | Uint8ClampedArray
  | Uint16Array
  | Uint32Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** One channel of a field, as decoded: row-major pixels. */
export interface PixelPlane {
  width: number;
  height: number;
  data: PixelArray;
}

/**
 * How pixels become model input. Stored in every model bundle; the trainer and the app both call
 * preprocessField with it, so they cannot drift.
 */
export interface PreprocessSpec {
  version: 1;
  /** Model input channel order. */
  channels: ChannelName[];
  /** Field pixels per model pixel along each axis (box average); 1 keeps full resolution. */
  binning: number;
  normalisation: Normalisation;
}

export type Normalisation =
  /** Per image and channel: clip to the [low, high] percentiles and scale to [0, 1] (16-bit aware). */
  | { method: 'percentile'; low: number; high: number }
  /** Dataset statistics: (x - offset[c]) * scale[c]. */
  | { method: 'affine'; offset: number[]; scale: number[] }
  /** The 2018 pipeline: x / by (8-bit images divided by 255). */
  | { method: 'divide'; by: number };

export const DEFAULT_PREPROCESS: PreprocessSpec = {
  version: 1,
  channels: [...CHANNELS],
  binning: 1,
  normalisation: { method: 'percentile', low: 0.1, high: 99.9 },
};

/** A preprocessed field: height x width x channels, channel-last (HWC). */
export interface ModelImage {
  height: number;
  width: number;
  channels: number;
  data: Float32Array;
  /**
   * Per channel, the 0.1 and 99.9 percentiles of the binned plane before normalisation (2 values a channel): what the
   * camera recorded, which per-image normalisation hides (read by the OOD check, src/core/ood.ts).
   */
  sourceRange?: Float32Array;
}

/** Percentiles are estimated from at most this many regularly spaced pixels of a plane. */
export const PERCENTILE_SAMPLE = 65_536;

/** Refuses a spec whose values are out of range (from a bundle's moa-lens.json, so anything may be there). */
export function validatePreprocessSpec(spec: PreprocessSpec): void {
  if (typeof spec !== 'object' || spec === null) throw new Error('Preprocessing spec is missing.');
  if (spec.version !== 1) throw new Error(`Unsupported preprocessing spec version ${String(spec.version)} (this build reads version 1).`);
  if (!Array.isArray(spec.channels) || spec.channels.length === 0) throw new Error('Preprocessing spec names no channels.');
  for (const c of spec.channels) if (!(CHANNELS as readonly string[]).includes(c)) throw new Error(`Preprocessing channel "${String(c)}" is not one of ${CHANNELS.join(', ')}.`);
  if (new Set(spec.channels).size !== spec.channels.length) throw new Error(`Preprocessing names a channel twice: ${spec.channels.join(', ')}.`);
  if (!Number.isInteger(spec.binning) || spec.binning < 1) throw new Error(`Preprocessing binning must be a positive integer, got ${spec.binning}.`);
  const n = spec.normalisation;
  const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (typeof n !== 'object' || n === null) throw new Error('Preprocessing spec has no normalisation.');
  if (n.method === 'percentile') {
    if (!(finite(n.low) && finite(n.high) && n.low >= 0 && n.high <= 100 && n.low < n.high)) throw new Error(`Percentiles must satisfy 0 <= low < high <= 100, got ${n.low}, ${n.high}.`);
  } else if (n.method === 'affine') {
    if (!Array.isArray(n.offset) || !Array.isArray(n.scale) || n.offset.length !== spec.channels.length || n.scale.length !== spec.channels.length)
      throw new Error('Affine normalisation needs one offset and one scale per channel.');
    if (!n.offset.every(finite) || !n.scale.every((v) => finite(v) && v !== 0)) throw new Error('Affine normalisation needs finite offsets and finite, non-zero scales.');
  } else if (n.method === 'divide') {
    if (!(finite(n.by) && n.by > 0)) throw new Error('Divide normalisation needs a positive divisor.');
  } else {
    throw new Error(`Unknown normalisation method "${(n as { method: string }).method}".`);
  }
}

/** A stable text key of a spec, for cache invalidation and bundle comparison. */
export function preprocessSpecKey(spec: PreprocessSpec): string {
  const n = spec.normalisation;
  const norm =
    n.method === 'percentile' ? `percentile:${n.low}:${n.high}` : n.method === 'affine' ? `affine:${n.offset.join(',')}:${n.scale.join(',')}` : `divide:${n.by}`;
  return `v${spec.version}|${spec.channels.join(',')}|bin${spec.binning}|${norm}`;
}

/** Output size of a field of height x width after binning (partial bins at the edges are averaged). */
export function binnedSize(height: number, width: number, binning: number): { height: number; width: number } {
  return { height: Math.ceil(height / binning), width: Math.ceil(width / binning) };
}

/** Box-averages a plane by `binning` into a new Float32Array (a copy even when binning is 1). */
export function binPlane(plane: PixelPlane, binning: number): Float32Array {
  const { width, height, data } = plane;
  if (data.length < width * height) throw new Error(`Plane data holds ${data.length} pixels, expected ${width * height}.`);
  if (binning === 1) return Float32Array.from(data.subarray(0, width * height) as ArrayLike<number>);
  const out = binnedSize(height, width, binning);
  const sum = new Float64Array(out.height * out.width);
  const count = new Uint32Array(out.height * out.width);
  for (let y = 0; y < height; y++) {
    const oy = ((y / binning) | 0) * out.width;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const o = oy + ((x / binning) | 0);
      sum[o] += data[row + x];
      count[o]++;
    }
  }
  const result = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++) result[i] = sum[i] / count[i];
  return result;
}

/** The value at percentile p (0..100) of finite values, estimated on a regular sample; linear interpolation. */
export function percentiles(values: Float32Array, ps: number[]): number[] {
  const step = Math.max(1, Math.floor(values.length / PERCENTILE_SAMPLE));
  const sample = new Float32Array(Math.ceil(values.length / step));
  let n = 0;
  for (let i = 0; i < values.length; i += step) {
    const v = values[i];
    if (Number.isFinite(v)) sample[n++] = v;
  }
  const sorted = sample.subarray(0, n).sort();
  return ps.map((p) => {
    if (n === 0) return 0;
    const pos = (p / 100) * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(n - 1, lo + 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  });
}

/**
 * Maps the planes of one field (in spec.channels order) to the model's float input.
 * Non-finite pixels become 0; a constant plane becomes all zeros, never NaN.
 */
export function preprocessField(planes: readonly PixelPlane[], spec: PreprocessSpec): ModelImage {
  validatePreprocessSpec(spec);
  const c = spec.channels.length;
  if (planes.length !== c) throw new Error(`Expected ${c} channel planes (${spec.channels.join(', ')}), got ${planes.length}.`);
  const { width, height } = planes[0];
  planes.forEach((p, i) => {
    if (p.width !== width || p.height !== height)
      throw new Error(`Channel ${spec.channels[i]} is ${p.width}x${p.height} but ${spec.channels[0]} is ${width}x${height}; all channels of a field must have one size.`);
  });
  const size = binnedSize(height, width, spec.binning);
  const pixels = size.height * size.width;
  const out = new Float32Array(pixels * c);
  const n = spec.normalisation;
  const sourceRange = new Float32Array(2 * c);
  planes.forEach((plane, ch) => {
    const binned = binPlane(plane, spec.binning);
    sourceRange.set(percentiles(binned, [0.1, 99.9]), 2 * ch);
    let offset: number;
    let scale: number;
    let clip = false;
    if (n.method === 'percentile') {
      const [lo, hi] = percentiles(binned, [n.low, n.high]);
      offset = lo;
      scale = hi > lo ? 1 / (hi - lo) : 0;
      clip = true;
    } else if (n.method === 'affine') {
      offset = n.offset[ch];
      scale = n.scale[ch];
    } else {
      offset = 0;
      scale = 1 / n.by;
    }
    for (let i = 0, o = ch; i < pixels; i++, o += c) {
      let v = (binned[i] - offset) * scale;
      if (!Number.isFinite(v)) v = 0;
      if (clip) v = v < 0 ? 0 : v > 1 ? 1 : v;
      out[o] = v;
    }
  });
  return { height: size.height, width: size.width, channels: c, data: out, sourceRange };
}
