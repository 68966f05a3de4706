// Training kernels the TF.js 4.22 WASM backend lacks (Conv2DBackpropFilter) or runs slowly (Conv2DBackpropInput, MaxPoolGrad).
import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropFilterViaConv, conv2dBackpropInputViaConv, type ConvGradAttrs } from './conv-grad.ts';
import { maxPoolGradNonOverlapping } from './max-pool-grad.ts';

interface ConvGradKernelAttrs extends ConvGradAttrs {
  dataFormat?: 'NHWC' | 'NCHW';
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
}

function asTensor4D(info: tf.TensorInfo | undefined, name: string): tf.Tensor4D {
  // Ops hand kernels real Tensors; a bare TensorInfo would have to be wrapped by the engine.
  if (info instanceof tf.Tensor) return info as tf.Tensor4D;
  throw new Error(`wasm training kernel: input ${name} is not a Tensor`);
}

function checkFormat(attrs: ConvGradKernelAttrs, kernel: string): void {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') {
    throw new Error(`${kernel} (wasm, MoA Lens): only NHWC is supported, got ${attrs.dataFormat}`);
  }
}

const conv2DBackpropFilter: tf.KernelFunc = ({ inputs, attrs }) => {
  const a = attrs as unknown as ConvGradKernelAttrs;
  checkFormat(a, 'Conv2DBackpropFilter');
  const x = asTensor4D(inputs.x, 'x');
  const dy = asTensor4D(inputs.dy, 'dy');
  if (!a.filterShape) throw new Error('Conv2DBackpropFilter: filterShape attribute missing');
  // Returning a Tensor (not a bare TensorInfo) lets the engine adopt it as the kernel output as is.
  return conv2dBackpropFilterViaConv(x, dy, a.filterShape, a);
};

let originalBackpropInput: tf.KernelConfig | undefined;

const conv2DBackpropInput: tf.KernelFunc = (args) => {
  const a = args.attrs as unknown as ConvGradKernelAttrs;
  const strides = typeof a.strides === 'number' ? [a.strides, a.strides] : a.strides;
  const stride1 = strides[0] === 1 && strides[1] === 1;
  if ((a.dataFormat === undefined || a.dataFormat === 'NHWC') && stride1 && a.inputShape) {
    const dy = asTensor4D(args.inputs.dy, 'dy');
    const filter = asTensor4D(args.inputs.filter, 'filter');
    return conv2dBackpropInputViaConv(dy, filter, a.inputShape, a);
  }
  if (!originalBackpropInput) throw new Error('Conv2DBackpropInput: no fallback kernel for this case');
  return originalBackpropInput.kernelFunc(args);
};

let originalMaxPoolGrad: tf.KernelConfig | undefined;

const maxPoolGrad: tf.KernelFunc = (args) => {
  const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const out = maxPoolGradNonOverlapping(input, dy, args.attrs as unknown as Parameters<typeof maxPoolGradNonOverlapping>[2], args.backend as unknown as Parameters<typeof maxPoolGradNonOverlapping>[3]);
  if (out) return out;
  if (!originalMaxPoolGrad) throw new Error('MaxPoolGrad: no fallback kernel for overlapping windows');
  return originalMaxPoolGrad.kernelFunc(args);
};

let registered = false;

/** Registers our training kernels for 'wasm' (idempotent). Call after importing the wasm backend. */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
  tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2DBackpropFilter });
  originalBackpropInput = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (originalBackpropInput) tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  // Keep the original's setup (it binds the wasm function) so the fallback path for strides > 1 works.
  tf.registerKernel({
    kernelName: 'Conv2DBackpropInput',
    backendName: 'wasm',
    kernelFunc: conv2DBackpropInput,
    setupFunc: originalBackpropInput?.setupFunc,
    disposeFunc: originalBackpropInput?.disposeFunc,
  });
  originalMaxPoolGrad = tf.getKernel('MaxPoolGrad', 'wasm');
  if (originalMaxPoolGrad) tf.unregisterKernel('MaxPoolGrad', 'wasm');
  tf.registerKernel({ kernelName: 'MaxPoolGrad', backendName: 'wasm', kernelFunc: maxPoolGrad, setupFunc: originalMaxPoolGrad?.setupFunc, disposeFunc: originalMaxPoolGrad?.disposeFunc });
  registered = true;
}
