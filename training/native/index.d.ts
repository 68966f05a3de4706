// Type declarations of @moa-lens/native: oneDNN and OpenMP kernels on float32 NHWC buffers, computed in place.

export const INSTALL_HINT: string;

/** True when the addon is built and libdnnl loads (and MOA_NATIVE_ENGINE is not 'off'). */
export function isAvailable(): boolean;
/** Why the addon is unavailable, or null when it loads. */
export function unavailableReason(): string | null;

type Shape4 = [number, number, number, number];
type Pair = [number, number];

export interface NativeKernels {
  /** y = conv(x, filter) (+ bias) (then ReLU); x NHWC, filter HWIO, pads [top, left, bottom, right]. */
  conv2dForward(x: Float32Array, filter: Float32Array, bias: Float32Array | null, out: Float32Array, xShape: Shape4, filterShape: Shape4, outShape: Shape4, strides: Pair, pads: Shape4, relu: boolean): void;
  /** dx of a convolution from dy and the filter. */
  conv2dBackwardData(dy: Float32Array, filter: Float32Array, dx: Float32Array, unused: null, xShape: Shape4, filterShape: Shape4, outShape: Shape4, strides: Pair, pads: Shape4): void;
  /** dfilter (HWIO) of a convolution from x and dy. */
  conv2dBackwardWeights(x: Float32Array, dy: Float32Array, dFilter: Float32Array, unused: null, xShape: Shape4, filterShape: Shape4, outShape: Shape4, strides: Pair, pads: Shape4): void;
  /** Row-major c[i] = op(a[i]) op(b[i]) for each of `batch` matrices; a batch stride of 0 broadcasts that operand. */
  matmul(a: Float32Array, b: Float32Array, c: Float32Array, batch: number, m: number, n: number, k: number, transposeA: boolean, transposeB: boolean, aBatchStride: number, bBatchStride: number): void;
  /** out = a op b; the shorter operand repeats along the innermost axes (scalar or last-axis vector). */
  binary(op: 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min', a: Float32Array, b: Float32Array, out: Float32Array): void;
  /** relu, or step (x > 0 ? 1 : alpha). */
  unary(op: 'relu' | 'step', x: Float32Array, out: Float32Array, alpha: number): void;
  /** out[c] = sum over rows of x[r, c]. */
  sumRows(x: Float32Array, rows: number, cols: number, out: Float32Array): void;
  /** Max pool, NHWC; pads [top, left]. */
  maxPool(x: Float32Array, out: Float32Array, unused: null, xShape: Shape4, outShape: Pair, window: Pair, strides: Pair, pads: Pair): void;
  /** Gradient of a max pool whose windows do not overlap: each window's first maximum gets its dy. */
  maxPoolGrad(x: Float32Array, dy: Float32Array, dx: Float32Array, xShape: Shape4, outShape: Pair, window: Pair, strides: Pair, pads: Pair): void;
  /** Momentum SGD in one pass: g' = g + wd*w; v' = m*v + g'; w' = w - lr*(nesterov ? g' + m*v' : v'). */
  sgdMomentum(w: Float32Array, velocity: Float32Array, gradient: Float32Array, wOut: Float32Array, velocityOut: Float32Array, lr: number, momentum: number, weightDecay: number, nesterov: boolean): void;
  setThreads(threads: number): void;
  getThreads(): number;
  version(): { onednn: string; isa: string; ompMaxThreads: number; cores: number };
  /** oneDNN's implementation per primitive and shape, e.g. "jit:avx512_core"; "ref" would be the slow reference path. */
  implementations(): Record<string, string>;
}

/** The addon's functions; throws with the reason when it cannot load. */
export function kernels(): NativeKernels;
