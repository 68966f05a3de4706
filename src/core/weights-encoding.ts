// How bundle weights are stored, and the decoding the stock TF.js loader cannot do: 8-bit per-output-channel
// kernels (one scale and zero point per output channel). The verifying loader turns them into float32 before
// TF.js sees the artifacts; the stock loader refuses them ("Unsupported quantization type uint8-per-channel").
import type * as tf from '@tensorflow/tfjs-core';

/** The weight dtypes a bundle may record: float32, TF.js's own float16 and per-tensor uint8, and ours. */
export const WEIGHT_DTYPES = ['float32', 'float16', 'uint8', 'uint8-per-channel'] as const;
export type WeightDtype = (typeof WEIGHT_DTYPES)[number];

/** A manifest entry's quantisation when it is per output channel (the kernel's last axis). */
export interface PerChannelQuantization {
  dtype: 'uint8-per-channel';
  /** One per output channel: value = (q - zeroPoint) * scale. */
  scales: number[];
  zeroPoints: number[];
}

type ManifestEntry = tf.io.WeightsManifestEntry;

export function perChannelQuantization(spec: ManifestEntry): PerChannelQuantization | undefined {
  const q = spec.quantization as { dtype?: string } | undefined;
  return q?.dtype === 'uint8-per-channel' ? (q as PerChannelQuantization) : undefined;
}

/** Bytes per value of a stored weight, after quantisation. */
export function storedBytesPerValue(spec: ManifestEntry): number {
  const q = (spec.quantization as { dtype?: string } | undefined)?.dtype;
  if (q === 'uint8' || q === 'uint8-per-channel') return 1;
  if (q === 'uint16' || q === 'float16') return 2;
  return 4;
}

function valueCount(spec: ManifestEntry): number {
  return spec.shape.reduce((a, b) => a * b, 1);
}

/** Why a per-channel entry cannot be decoded (its parameters do not fit its shape), or undefined. */
export function perChannelProblem(spec: ManifestEntry): string | undefined {
  const q = perChannelQuantization(spec);
  if (!q) return undefined;
  const channels = spec.shape.at(-1);
  if (spec.dtype !== 'float32' || spec.shape.length < 2 || channels === undefined) return `weight ${spec.name}: per-channel quantisation needs a float32 kernel of rank 2 or more`;
  const fine = (values: unknown, ok: (v: number) => boolean) => Array.isArray(values) && values.length === channels && values.every((v) => typeof v === 'number' && ok(v));
  if (!fine(q.scales, (v) => v > 0 && Number.isFinite(v))) return `weight ${spec.name}: per-channel quantisation needs ${channels} positive scales`;
  if (!fine(q.zeroPoints, (v) => Number.isInteger(v) && v >= 0 && v <= 255)) return `weight ${spec.name}: per-channel quantisation needs ${channels} zero points in 0..255`;
  return undefined;
}

/**
 * Artifacts whose per-channel entries are decoded to float32 (other entries, float16 and per-tensor uint8, are
 * left to TF.js's loader). `weightData` is the concatenation of every entry's stored bytes in manifest order.
 */
export function decodePerChannelWeights(specs: readonly ManifestEntry[], weightData: Uint8Array): { specs: ManifestEntry[]; weightData: Uint8Array } {
  if (!specs.some((s) => perChannelQuantization(s))) return { specs: [...specs], weightData };
  const parts: Uint8Array[] = [];
  const out: ManifestEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    const n = valueCount(spec);
    const stored = n * storedBytesPerValue(spec);
    const bytes = weightData.subarray(offset, offset + stored);
    offset += stored;
    const q = perChannelQuantization(spec);
    if (!q) {
      parts.push(bytes);
      out.push(spec);
      continue;
    }
    const channels = q.scales.length;
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % channels;
      values[i] = (bytes[i] - q.zeroPoints[c]) * q.scales[c];
    }
    parts.push(new Uint8Array(values.buffer));
    const { quantization: _stored, ...plain } = spec;
    out.push(plain);
  }
  const total = parts.reduce((s, p) => s + p.length, 0);
  const data = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    data.set(p, o);
    o += p.length;
  }
  return { specs: out, weightData: data };
}
