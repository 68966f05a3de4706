// The 'native' TF.js backend: the cpu backend's tensors (plain Float32Arrays, no 4 GiB wasm heap) with the heavy
// kernels of an M-CNN step replaced by @moa-lens/native (oneDNN convolutions and GEMM; OpenMP pooling, reductions
// and element-wise ops, multi-threaded inside the rank). Anything a native kernel does not cover (another dtype,
// an unusual broadcast, overlapping pool windows, dilations, NCHW) runs the cpu backend's own kernel.
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { kernels, type NativeKernels } from '@moa-lens/native';
import os from 'node:os';

export const NATIVE_BACKEND = 'native';

type Shape4 = [number, number, number, number];

/**
 * The cpu backend, quiet (it would advise installing tfjs-node on first use), with a pool of output buffers.
 *
 * A fresh 84 MB Float32Array costs about 25 ms of page faults, three times the add that fills it, so native
 * kernels take their outputs from a pool of buffers that disposed tensors gave back. A buffer is given back
 * only when no live tensor holds it (counted over every dataId registered with it) and no caller has ever
 * read it through dataSync()/data() (such an array may still be in use after the tensor is gone).
 */
class NativeBackend extends MathBackendCPU {
  private readonly free = new Map<number, Float32Array[]>();
  private readonly holders = new Map<Float32Array, number>();
  private readonly pooled = new WeakSet<Float32Array>();
  private readonly escaped = new WeakSet<Float32Array>();
  private freeBytes = 0;

  constructor(readonly poolLimitBytes: number) {
    super();
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** An uninitialised buffer of n floats (from the pool when one fits); callers overwrite every element. */
  allocate(n: number): Float32Array {
    const reused = this.free.get(n)?.pop();
    if (reused) {
      this.freeBytes -= reused.byteLength;
      return reused;
    }
    const fresh = new Float32Array(n);
    this.pooled.add(fresh);
    return fresh;
  }

  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): tf.DataId {
    this.hold(values);
    return super.write(values, shape, dtype);
  }

  override move(dataId: tf.DataId, values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void {
    this.hold(values);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override readSync(dataId: tf.DataId): tf.backend_util.BackendValues {
    const values = this.data.get(dataId)?.values;
    if (values instanceof Float32Array) this.escaped.add(values);
    return super.readSync(dataId);
  }

  override disposeData(dataId: tf.DataId, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const done = super.disposeData(dataId, force);
    if (values instanceof Float32Array && this.pooled.has(values) && !this.data.has(dataId)) this.release(values);
    return done;
  }

  private hold(values: tf.backend_util.BackendValues): void {
    if (values instanceof Float32Array && this.pooled.has(values)) this.holders.set(values, (this.holders.get(values) ?? 0) + 1);
  }

  private release(values: Float32Array): void {
    const left = (this.holders.get(values) ?? 1) - 1;
    if (left > 0) {
      this.holders.set(values, left);
      return;
    }
    this.holders.delete(values);
    if (this.escaped.has(values) || this.freeBytes + values.byteLength > this.poolLimitBytes) return;
    const list = this.free.get(values.length);
    if (list) list.push(values);
    else this.free.set(values.length, [values]);
    this.freeBytes += values.byteLength;
  }
}

function floats(backend: NativeBackend, info: tf.TensorInfo | undefined): Float32Array | null {
  if (!info || info.dtype !== 'float32') return null;
  const values = backend.data.get(info.dataId)?.values;
  return values instanceof Float32Array ? values : null;
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** True when `shape`, right-aligned against `out`, only repeats along leading axes (a scalar, a bias vector, ...). */
function repeatsInnermost(shape: readonly number[], out: readonly number[]): boolean {
  let first = 0;
  while (first < shape.length && shape[first] === 1) first++;
  const rest = shape.slice(first);
  if (rest.length > out.length) return false;
  const tail = out.slice(out.length - rest.length);
  return rest.every((d, i) => d === tail[i]);
}

type Fallback = (args: { inputs: KernelInputs; backend: NativeBackend; attrs?: tf.NamedAttrMap }) => tf.TensorInfo | tf.TensorInfo[];

/** A kernel's inputs by name (TF.js passes every input an op declares; optional ones may be missing). */
type KernelInputs = Record<string, tf.TensorInfo>;

interface NativeKernelArgs {
  inputs: KernelInputs;
  backend: NativeBackend;
  attrs: tf.NamedAttrMap;
  native: NativeKernels;
  fallback: Fallback;
}

type NativeKernelFunc = (args: NativeKernelArgs) => tf.TensorInfo | tf.TensorInfo[];

function output(backend: NativeBackend, shape: number[], values: Float32Array): tf.TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values);
}

// ---- convolutions ----

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Geometry of an NHWC, undilated 2-D convolution, or null for what the native kernels do not take. */
function convGeometry(xShape: number[], filterShape: number[], attrs: ConvAttrs) {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return null;
  const d = attrs.dilations ?? 1;
  if (!(d === 1 || (Array.isArray(d) && d[0] === 1 && d[1] === 1))) return null;
  const info = tf.backend_util.computeConv2DInfo(xShape as Shape4, filterShape as Shape4, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  return {
    info,
    xShape: [info.batchSize, info.inHeight, info.inWidth, info.inChannels] as Shape4,
    filterShape: [info.filterHeight, info.filterWidth, info.inChannels, info.outChannels] as Shape4,
    outShape: [info.batchSize, info.outHeight, info.outWidth, info.outChannels] as Shape4,
    strides: [info.strideHeight, info.strideWidth] as [number, number],
    pads: [info.padInfo.top, info.padInfo.left, info.padInfo.bottom, info.padInfo.right] as Shape4,
  };
}

const conv2D: NativeKernelFunc = ({ inputs, backend, attrs, native, fallback }) => {
  const x = floats(backend, inputs.x);
  const w = floats(backend, inputs.filter);
  const g = x && w ? convGeometry(inputs.x.shape, inputs.filter.shape, attrs as unknown as ConvAttrs) : null;
  if (!x || !w || !g) return fallback({ inputs, backend, attrs });
  const y = backend.allocate(sizeOf(g.outShape));
  native.conv2dForward(x, w, null, y, g.xShape, g.filterShape, g.outShape, g.strides, g.pads, false);
  return output(backend, g.outShape, y);
};

const fusedConv2D: NativeKernelFunc = ({ inputs, backend, attrs, native, fallback }) => {
  const activation = (attrs.activation as string | undefined) ?? 'linear';
  const x = floats(backend, inputs.x);
  const w = floats(backend, inputs.filter);
  const bias = inputs.bias ? floats(backend, inputs.bias) : null;
  const g = x && w ? convGeometry(inputs.x.shape, inputs.filter.shape, attrs as unknown as ConvAttrs) : null;
  const biasOk = !inputs.bias || (bias !== null && g !== null && bias.length === g.outShape[3]);
  if (!x || !w || !g || !biasOk || inputs.preluActivationWeights || (activation !== 'linear' && activation !== 'relu')) {
    return fallback({ inputs, backend, attrs });
  }
  const y = backend.allocate(sizeOf(g.outShape));
  native.conv2dForward(x, w, bias, y, g.xShape, g.filterShape, g.outShape, g.strides, g.pads, activation === 'relu');
  return output(backend, g.outShape, y);
};

const conv2DBackpropInput: NativeKernelFunc = ({ inputs, backend, attrs, native, fallback }) => {
  const dy = floats(backend, inputs.dy);
  const w = floats(backend, inputs.filter);
  const g = dy && w ? convGeometry(attrs.inputShape as number[], inputs.filter.shape, attrs as unknown as ConvAttrs) : null;
  if (!dy || !w || !g) return fallback({ inputs, backend, attrs });
  const dx = backend.allocate(sizeOf(g.xShape));
  native.conv2dBackwardData(dy, w, dx, null, g.xShape, g.filterShape, g.outShape, g.strides, g.pads);
  return output(backend, g.xShape, dx);
};

const conv2DBackpropFilter: NativeKernelFunc = ({ inputs, backend, attrs, native, fallback }) => {
  const x = floats(backend, inputs.x);
  const dy = floats(backend, inputs.dy);
  const g = x && dy ? convGeometry(inputs.x.shape, attrs.filterShape as number[], attrs as unknown as ConvAttrs) : null;
  if (!x || !dy || !g) return fallback({ inputs, backend, attrs });
  const dw = backend.allocate(sizeOf(g.filterShape));
  native.conv2dBackwardWeights(x, dy, dw, null, g.xShape, g.filterShape, g.outShape, g.strides, g.pads);
  return output(backend, g.filterShape, dw);
};

// ---- pooling ----

interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function poolGeometry(xShape: number[], attrs: PoolAttrs) {
  const info = tf.backend_util.computePool2DInfo(xShape as Shape4, attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  return {
    info,
    xShape: [info.batchSize, info.inHeight, info.inWidth, info.inChannels] as Shape4,
    out: [info.outHeight, info.outWidth] as [number, number],
    window: [info.effectiveFilterHeight, info.effectiveFilterWidth] as [number, number],
    strides: [info.strideHeight, info.strideWidth] as [number, number],
    pads: [info.padInfo.top, info.padInfo.left] as [number, number],
  };
}

const maxPool: NativeKernelFunc = ({ inputs, backend, attrs, native, fallback }) => {
  const x = floats(backend, inputs.x);
  if (!x || inputs.x.shape.length !== 4) return fallback({ inputs, backend, attrs });
  const g = poolGeometry(inputs.x.shape, attrs as unknown as PoolAttrs);
  const outShape = [g.xShape[0], g.out[0], g.out[1], g.xShape[3]];
  const y = backend.allocate(sizeOf(outShape));
  native.maxPool(x, y, null, g.xShape, g.out, g.window, g.strides, g.pads);
  return output(backend, outShape, y);
};

const maxPoolGrad: NativeKernelFunc = ({ inputs, backend, attrs, native, fallback }) => {
  const x = floats(backend, inputs.input);
  const dy = floats(backend, inputs.dy);
  if (!x || !dy) return fallback({ inputs, backend, attrs });
  const g = poolGeometry(inputs.input.shape, attrs as unknown as PoolAttrs);
  if (g.strides[0] < g.window[0] || g.strides[1] < g.window[1]) return fallback({ inputs, backend, attrs });
  const dx = backend.allocate(x.length);
  native.maxPoolGrad(x, dy, dx, g.xShape, g.out, g.window, g.strides, g.pads);
  return output(backend, inputs.input.shape.slice(), dx);
};

// ---- matrix multiply ----

/** Row-major batched matmul of float32 a and b (TF.js BatchMatMul semantics), or null when not covered natively. */
function matmul(backend: NativeBackend, native: NativeKernels, a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean) {
  const av = floats(backend, a);
  const bv = floats(backend, b);
  if (!av || !bv || a.shape.length < 2 || b.shape.length < 2) return null;
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const m = transposeA ? ac : ar;
  const k = transposeA ? ar : ac;
  const n = transposeB ? br : bc;
  if ((transposeB ? bc : br) !== k) return null;
  const batchA = sizeOf(a.shape.slice(0, -2));
  const batchB = sizeOf(b.shape.slice(0, -2));
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  const batchShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = Math.max(batchA, batchB);
  if (sizeOf(batchShape) !== batch) return null;
  const c = backend.allocate(batch * m * n);
  native.matmul(av, bv, c, batch, m, n, k, transposeA, transposeB, batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n);
  return { values: c, shape: [...batchShape, m, n] };
}

const batchMatMul: NativeKernelFunc = ({ inputs, backend, attrs, native, fallback }) => {
  const product = matmul(backend, native, inputs.a, inputs.b, Boolean(attrs.transposeA), Boolean(attrs.transposeB));
  if (!product) return fallback({ inputs, backend, attrs });
  return output(backend, product.shape, product.values);
};

const fusedMatMul: NativeKernelFunc = ({ inputs, backend, attrs, native, fallback }) => {
  const activation = (attrs.activation as string | undefined) ?? 'linear';
  const bias = inputs.bias ? floats(backend, inputs.bias) : null;
  if ((inputs.bias && !bias) || inputs.preluActivationWeights || (activation !== 'linear' && activation !== 'relu')) return fallback({ inputs, backend, attrs });
  const product = matmul(backend, native, inputs.a, inputs.b, Boolean(attrs.transposeA), Boolean(attrs.transposeB));
  if (!product || (bias && !repeatsInnermost(inputs.bias.shape, product.shape))) return fallback({ inputs, backend, attrs });
  if (bias) native.binary('add', product.values, bias, product.values);
  if (activation === 'relu') native.unary('relu', product.values, product.values, 0);
  return output(backend, product.shape, product.values);
};

// ---- element-wise and reductions ----

function binaryKernel(op: 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min'): NativeKernelFunc {
  return ({ inputs, backend, attrs, native, fallback }) => {
    const a = floats(backend, inputs.a);
    const b = floats(backend, inputs.b);
    if (!a || !b) return fallback({ inputs, backend, attrs });
    const shape = tf.broadcast_util.assertAndGetBroadcastShape(inputs.a.shape, inputs.b.shape);
    const size = sizeOf(shape);
    const aFull = a.length === size && repeatsInnermost(inputs.a.shape, shape);
    const bFull = b.length === size && repeatsInnermost(inputs.b.shape, shape);
    const ok = (aFull && (bFull || repeatsInnermost(inputs.b.shape, shape))) || (bFull && repeatsInnermost(inputs.a.shape, shape));
    if (!ok || size === 0) return fallback({ inputs, backend, attrs });
    const out = backend.allocate(size);
    native.binary(op, a, b, out);
    return output(backend, shape, out);
  };
}

function unaryKernel(op: 'relu' | 'step'): NativeKernelFunc {
  return ({ inputs, backend, attrs, native, fallback }) => {
    const x = floats(backend, inputs.x);
    if (!x || x.length === 0) return fallback({ inputs, backend, attrs });
    const out = backend.allocate(x.length);
    native.unary(op, x, out, op === 'step' ? Number(attrs.alpha ?? 0) : 0);
    return output(backend, inputs.x.shape.slice(), out);
  };
}

/** Sum over leading axes (e.g. a bias gradient: all but channels) or over everything. */
const sum: NativeKernelFunc = ({ inputs, backend, attrs, native, fallback }) => {
  const x = floats(backend, inputs.x);
  const shape = inputs.x.shape;
  if (!x || x.length === 0) return fallback({ inputs, backend, attrs });
  const axes = tf.util.parseAxisParam(attrs.axis as number | number[], shape).sort((p, q) => p - q);
  const leading = axes.every((axis, i) => axis === i);
  if (!leading || axes.length === 0) return fallback({ inputs, backend, attrs });
  const rows = sizeOf(shape.slice(0, axes.length));
  const cols = sizeOf(shape.slice(axes.length));
  const out = backend.allocate(cols);
  native.sumRows(x, rows, cols, out);
  const outShape = attrs.keepDims ? shape.map((d, i) => (i < axes.length ? 1 : d)) : shape.slice(axes.length);
  return output(backend, outShape, out);
};

/** Split along the innermost axis (the gradient of M-CNN's channel concat): row-wise block copies. */
const splitV: NativeKernelFunc = ({ inputs, backend, attrs, fallback }) => {
  const x = floats(backend, inputs.x);
  const shape = inputs.x.shape;
  const axis = tf.util.parseAxisParam(attrs.axis as number, shape)[0];
  if (!x || axis !== shape.length - 1) return fallback({ inputs, backend, attrs });
  const sizes = tf.backend_util.prepareSplitSize(inputs.x as tf.Tensor, attrs.numOrSizeSplits as number | number[], axis);
  const width = shape[axis];
  const rows = x.length / width;
  let start = 0;
  return sizes.map((size) => {
    const out = backend.allocate(rows * size);
    for (let r = 0; r < rows; r++) out.set(x.subarray(r * width + start, r * width + start + size), r * size);
    start += size;
    return output(backend, [...shape.slice(0, -1), size], out);
  });
};

const NATIVE_KERNELS: Record<string, NativeKernelFunc> = {
  SplitV: splitV,
  Conv2D: conv2D,
  FusedConv2D: fusedConv2D,
  Conv2DBackpropInput: conv2DBackpropInput,
  Conv2DBackpropFilter: conv2DBackpropFilter,
  MaxPool: maxPool,
  MaxPoolGrad: maxPoolGrad,
  BatchMatMul: batchMatMul,
  _FusedMatMul: fusedMatMul,
  Add: binaryKernel('add'),
  Sub: binaryKernel('sub'),
  Multiply: binaryKernel('mul'),
  RealDiv: binaryKernel('div'),
  Maximum: binaryKernel('max'),
  Minimum: binaryKernel('min'),
  Relu: unaryKernel('relu'),
  Step: unaryKernel('step'),
  Sum: sum,
};

/** Kernel names the native backend computes natively (when dtype and layout allow). */
export const NATIVE_KERNEL_NAMES = Object.keys(NATIVE_KERNELS);

/**
 * The trainer's momentum SGD for one variable in one native pass (new weight and velocity buffers from the pool,
 * then assigned); false when the variables do not live on the native backend, so the caller runs the TF.js ops.
 */
export function nativeMomentumStep(w: tf.Variable, velocity: tf.Variable, gradient: Float32Array, lr: number, momentum: number, weightDecay: number, nesterov: boolean): boolean {
  const backend = tf.engine().backend;
  if (!(backend instanceof NativeBackend) || tf.getBackend() !== NATIVE_BACKEND) return false;
  const wv = floats(backend, w);
  const vv = floats(backend, velocity);
  if (!wv || !vv || wv.length !== gradient.length || vv.length !== gradient.length) return false;
  const wOut = backend.allocate(wv.length);
  const vOut = backend.allocate(vv.length);
  kernels().sgdMomentum(wv, vv, gradient, wOut, vOut, lr, momentum, weightDecay, nesterov);
  for (const [variable, values] of [[w, wOut], [velocity, vOut]] as const) {
    const next = tf.engine().makeTensorFromTensorInfo(backend.makeTensorInfo(variable.shape, 'float32', values), backend);
    variable.assign(next);
    next.dispose();
  }
  return true;
}

/**
 * Copies a tensor's values into `out` at `offset` without handing its buffer to the caller (it may be pooled);
 * other backends through data(), the only read a GPU backend (WebGPU in Node) has.
 */
export async function copyValuesInto(t: tf.Tensor, out: Float32Array, offset = 0): Promise<void> {
  const backend = tf.engine().backend;
  const values = backend instanceof NativeBackend ? floats(backend, t) : null;
  out.set(values ?? ((await t.data()) as Float32Array), offset);
}

let registered = false;

/**
 * Registers the 'native' backend (once): every cpu kernel, with the ones above replaced by native ones that fall
 * back to the cpu kernel for cases they do not cover. Throws with the reason when the addon cannot load.
 */
export function registerNativeBackend(): NativeKernels {
  const native = kernels();
  if (registered) return native;
  // The pool may keep up to a quarter of the machine's memory in buffers a training step will ask for again.
  const poolLimit = Math.min(8 * 2 ** 30, os.totalmem() / 4);
  tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(poolLimit), 0);
  for (const config of tf.getKernelsForBackend('cpu')) {
    const own = NATIVE_KERNELS[config.kernelName];
    if (!own) {
      tf.registerKernel({ ...config, backendName: NATIVE_BACKEND });
      continue;
    }
    const fallback = config.kernelFunc as unknown as Fallback;
    tf.registerKernel({
      kernelName: config.kernelName,
      backendName: NATIVE_BACKEND,
      kernelFunc: (args) => own({ inputs: args.inputs as KernelInputs, backend: args.backend as unknown as NativeBackend, attrs: args.attrs ?? {}, native, fallback }),
    });
  }
  registered = true;
  return native;
}
