// MaxPoolGrad for non-overlapping windows (M-CNN's pools) in one pass over the input, on the WASM backend's heap.
import * as tf from '@tensorflow/tfjs-core';

/** The parts of the WASM backend this kernel uses (BackendWasm is not exported as a type we can import cheaply). */
interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
}

interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * dx of a max pool whose stride equals its window (every input pixel in at most one window): each window's
 * first maximum in row-major order (the cpu backend's choice, so ties such as all-zero ReLU windows agree)
 * receives that window's dy. O(input) instead of the stock kernel's per-pixel window scans. Returns null
 * for pools this does not cover (overlapping windows), so the caller can use the stock kernel.
 */
export function maxPoolGradNonOverlapping(input: tf.TensorInfo, dy: tf.TensorInfo, attrs: MaxPoolGradAttrs, backend: HeapBackend): tf.TensorInfo | null {
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw, padInfo } = info;
  if (sh !== fh || sw !== fw || input.dtype !== 'float32') return null;
  const out = backend.makeOutput(input.shape, 'float32');
  // Views after makeOutput: allocating may grow (and move) the WASM heap.
  const x = backend.typedArrayFromHeap(input) as Float32Array;
  const g = backend.typedArrayFromHeap(dy) as Float32Array;
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  dx.fill(0);
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = Math.max(0, oy * sh - padInfo.top);
      const y1 = Math.min(h, oy * sh - padInfo.top + fh);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = Math.max(0, ox * sw - padInfo.left);
        const x1 = Math.min(w, ox * sw - padInfo.left + fw);
        best.fill(-Infinity);
        where.fill(-1);
        for (let y = y0; y < y1; y++) {
          for (let xx = x0; xx < x1; xx++) {
            const base = ((b * h + y) * w + xx) * c;
            for (let k = 0; k < c; k++) {
              const v = x[base + k];
              if (v > best[k]) {
                best[k] = v;
                where[k] = base + k;
              }
            }
          }
        }
        const gBase = ((b * oh + oy) * ow + ox) * c;
        for (let k = 0; k < c; k++) if (where[k] >= 0) dx[where[k]] += g[gBase + k];
      }
    }
  }
  return out;
}
