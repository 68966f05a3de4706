// Tile batch sizing by bytes: the largest activation of a batch must fit the backend's memory limits.
import type * as tfl from '@tensorflow/tfjs-layers';

/** Bytes of the largest layer output for one input (float32), read from the model's layer shapes. */
export function largestActivationBytes(model: tfl.LayersModel): number {
  let largest = 0;
  for (const layer of model.layers) {
    const shapes = layer.outputShape;
    const list = (Array.isArray(shapes[0]) || shapes[0] === undefined ? shapes : [shapes]) as (number | null)[][];
    for (const shape of list) {
      if (!Array.isArray(shape)) continue;
      const values = shape.slice(1).reduce<number>((n, d) => n * (d ?? 1), 1);
      largest = Math.max(largest, values * 4);
    }
  }
  return largest;
}

export interface BatchLimits {
  /** Most bytes one activation tensor of a batch may hold (WebGPU: binding limit; WASM: heap share). */
  maxActivationBytes: number;
  maxBatch: number;
}

/** WASM: activations of a batch stay under 256 MiB (the heap tops out at 4 GiB, shared with weights). */
export const WASM_LIMITS: BatchLimits = { maxActivationBytes: 256 * 1024 * 1024, maxBatch: 8 };

/** WebGPU: stay at 90% of the device's storage binding limit (default 128 MiB). */
export function webgpuLimits(maxBindingBytes: number): BatchLimits {
  return { maxActivationBytes: Math.floor(maxBindingBytes * 0.9), maxBatch: 16 };
}

/** Tiles per predict call: as many as fit the limits, at least 1 (a single tile is always tried). */
export function batchSizeFor(perTileBytes: number, limits: BatchLimits): number {
  if (!(perTileBytes > 0)) return 1;
  return Math.max(1, Math.min(limits.maxBatch, Math.floor(limits.maxActivationBytes / perTileBytes)));
}
