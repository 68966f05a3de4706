// Weight quantisation for download: float16 or 8-bit per-tensor affine, in the stock TF.js weights manifest, or
// 8-bit per output channel (kernels; biases stay float32), which the verifying loader decodes (src/core/weights-encoding.ts).
import type * as tf from '@tensorflow/tfjs-core';
import type { PerChannelQuantization, WeightDtype } from '../../../src/core/weights-encoding.ts';
import { gptqCodes, type KernelInputMoments, type KernelMoments } from './gptq.ts';

export type { WeightDtype } from '../../../src/core/weights-encoding.ts';

/**
 * The affine 8-bit code of the values in [lo, hi] widened to hold 0 (so 0 is exact: biases start at zero, ReLU nets
 * care about exact zeros): value = (q - zeroPoint) * scale.
 */
function affineUint8(lo: number, hi: number): { scale: number; zeroPoint: number } {
  const min = Math.min(lo, 0);
  const max = Math.max(hi, 0);
  const scale = max > min ? (max - min) / 255 : 1;
  return { scale, zeroPoint: Math.round(-min / scale) };
}

function encodeUint8(value: number, scale: number, zeroPoint: number): number {
  return Math.max(0, Math.min(255, Math.round(value / scale) + zeroPoint));
}

/**
 * A kernel (rank >= 2) as 8-bit codes with one scale and zero point per output channel (the last axis): each
 * weight's nearest code, or with `moments` (what the kernel reads) the codes GPTQ chooses on the same grid (gptq.ts).
 */
function quantizePerChannel(w: Float32Array, channels: number, moments?: KernelInputMoments): { codes: Uint8Array; quantization: PerChannelQuantization } {
  const lo = new Float64Array(channels).fill(Infinity);
  const hi = new Float64Array(channels).fill(-Infinity);
  for (let i = 0; i < w.length; i++) {
    const c = i % channels;
    if (w[i] < lo[c]) lo[c] = w[i];
    if (w[i] > hi[c]) hi[c] = w[i];
  }
  const params = Array.from({ length: channels }, (_, c) => affineUint8(lo[c], hi[c]));
  const scales = params.map((p) => p.scale);
  const zeroPoints = params.map((p) => p.zeroPoint);
  if (moments) return { codes: gptqCodes(w, channels, moments, scales, zeroPoints), quantization: { dtype: 'uint8-per-channel', scales, zeroPoints } };
  const codes = new Uint8Array(w.length);
  for (let i = 0; i < w.length; i++) codes[i] = encodeUint8(w[i], scales[i % channels], zeroPoints[i % channels]);
  return { codes, quantization: { dtype: 'uint8-per-channel', scales, zeroPoints } };
}

/** IEEE 754 half from a float32, round to nearest even (overflow -> inf, tiny -> subnormal/zero). */
export function toHalf(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  e = half >>> 10;
  return sign | half;
}

/**
 * Re-encodes float32 model artifacts with quantised weights. uint8: per tensor, q = round((w - min) / scale),
 * dequantised by TF.js's stock loader as q * scale + min. uint8-per-channel: kernels per output channel as above
 * (the stock manifest has no per-channel form, so only the verifying loader reads it), biases float32; kernels
 * named in `moments` are rounded by GPTQ.
 */
export function quantizeArtifacts(artifacts: tf.io.ModelArtifacts, dtype: WeightDtype, moments?: KernelMoments): tf.io.ModelArtifacts {
  if (moments && dtype !== 'uint8-per-channel') throw new Error(`GPTQ rounding is for uint8-per-channel kernels, not ${dtype}`);
  if (dtype === 'float32') return artifacts;
  const specs = artifacts.weightSpecs ?? [];
  const data = artifacts.weightData;
  if (!data || Array.isArray(data)) throw new Error('quantizeArtifacts expects a single weight ArrayBuffer');
  const source = new Float32Array(data);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const newSpecs = specs.map((spec) => {
    if (spec.dtype !== 'float32' || spec.quantization) throw new Error(`Weight ${spec.name} is ${spec.dtype}${spec.quantization ? ' and already quantised' : ''}; only float32 can be quantised.`);
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const w = source.subarray(offset, offset + n);
    offset += n;
    if (dtype === 'float16') {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = toHalf(w[i]);
      chunks.push(new Uint8Array(out.buffer));
      return { ...spec, quantization: { dtype: 'float16' as const } };
    }
    if (dtype === 'uint8-per-channel') {
      if (spec.shape.length < 2) {
        chunks.push(new Uint8Array(w.slice().buffer));
        return spec;
      }
      const { codes, quantization } = quantizePerChannel(w, spec.shape[spec.shape.length - 1], moments?.get(spec.name));
      chunks.push(codes);
      return { ...spec, quantization: quantization as unknown as tf.io.WeightsManifestEntry['quantization'] };
    }
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      if (w[i] < lo) lo = w[i];
      if (w[i] > hi) hi = w[i];
    }
    const { scale, zeroPoint } = n === 0 ? { scale: 1, zeroPoint: 0 } : affineUint8(lo, hi);
    const min = -zeroPoint * scale;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = encodeUint8(w[i], scale, zeroPoint);
    chunks.push(out);
    return { ...spec, quantization: { dtype: 'uint8' as const, scale, min } };
  });
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const weightData = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    weightData.set(c, o);
    o += c.length;
  }
  return { ...artifacts, weightSpecs: newSpecs, weightData: weightData.buffer };
}
