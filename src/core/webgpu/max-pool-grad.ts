// MaxPoolGrad on WebGPU for non-overlapping windows (window = stride: every M-CNN pool), O(1) work per element:
//   1. every window's slot is set to "none";
//   2. one thread per input element: if it equals its window's maximum (the forward output, an exact copy of one
//      input value), atomicMin its offset in the window into the slot: the slot ends holding the first maximum in
//      row-major order, the element the cpu backend gives the gradient to (ties such as all-zero ReLU windows too);
//   3. one thread per input element: dx = dy of its window where it is that first maximum, else 0.
// TF.js 4.22's kernel instead loops over every window row and column that could cover each element (~2 x window
// per element, 128 iterations for M-CNN's 64x64 pools) after a pass that scans each window with a single thread.
// Overlapping windows, dilation, or a call without the forward output fall back to the stock kernel.
import { backend_util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { flatProgramShape, int32Uniforms, type WebgpuProgram, type WebgpuProgramRunner } from './program.ts';

const NONE = 2147483647;
const WINDOW_UNIFORMS = 'padTop : i32, padLeft : i32, strideHeight : i32, strideWidth : i32, filterWidth : i32,';

/** The input element's window (b, wr, wc, d) flattened, and its row-major offset in that window; -1 when in none. */
const windowOf = (outHeight: string, outWidth: string) => `
  fn windowOf(b : i32, r : i32, c : i32, d : i32, channels : i32) -> vec2<i32> {
    let wr = (r + uniforms.padTop) / uniforms.strideHeight;
    let wc = (c + uniforms.padLeft) / uniforms.strideWidth;
    if (wr >= ${outHeight} || wc >= ${outWidth}) {
      return vec2<i32>(-1, 0);
    }
    let offset = (r + uniforms.padTop - wr * uniforms.strideHeight) * uniforms.filterWidth + (c + uniforms.padLeft - wc * uniforms.strideWidth);
    return vec2<i32>(((b * ${outHeight} + wr) * ${outWidth} + wc) * channels + d, offset);
  }
`;

function clearProgram(windowsShape: number[]): WebgpuProgram {
  return {
    outputShape: windowsShape,
    shaderKey: 'moaMaxPoolGradClear',
    variableNames: [],
    size: true,
    ...flatProgramShape(windowsShape.reduce((a, b) => a * b, 1)),
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          result[index] = ${NONE};
        }
      }
    `,
  };
}

function firstMaximumProgram(windowsShape: number[], inputSize: number): WebgpuProgram {
  return {
    outputShape: windowsShape,
    shaderKey: 'moaMaxPoolGradFirstMaximum',
    variableNames: ['x', 'y'],
    uniforms: WINDOW_UNIFORMS,
    atomic: true,
    ...flatProgramShape(inputSize),
    getUserCode: () => `
      ${windowOf('uniforms.yShape[1]', 'uniforms.yShape[2]')}
      fn main(index : i32) {
        let s = uniforms.xShape;
        if (index < s[0] * s[1] * s[2] * s[3]) {
          let d = index % s[3];
          let c = (index / s[3]) % s[2];
          let r = (index / (s[3] * s[2])) % s[1];
          let b = index / (s[3] * s[2] * s[1]);
          let w = windowOf(b, r, c, d, s[3]);
          if (w.x >= 0 && x[index] == y[w.x]) {
            atomicMin(&result[w.x], w.y);
          }
        }
      }
    `,
  };
}

function scatterProgram(inputShape: number[]): WebgpuProgram {
  return {
    outputShape: inputShape,
    shaderKey: 'moaMaxPoolGradScatter',
    variableNames: ['dy', 'first'],
    uniforms: WINDOW_UNIFORMS,
    size: true,
    ...flatProgramShape(inputShape.reduce((a, b) => a * b, 1)),
    getUserCode: () => `
      ${windowOf('uniforms.dyShape[1]', 'uniforms.dyShape[2]')}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let coords = getCoordsFromIndex(index);
          let w = windowOf(coords[0], coords[1], coords[2], coords[3], uniforms.outShape[3]);
          var value = 0.0;
          if (w.x >= 0 && first[w.x] == w.y) {
            value = dy[w.x];
          }
          setOutputAtIndex(index, value);
        }
      }
    `,
  };
}

/** Whether the three passes above apply: windows that tile the input without overlap, no dilation. */
export function maxPoolGradApplies(info: backend_util.Conv2DInfo): boolean {
  return info.filterHeight === info.strideHeight && info.filterWidth === info.strideWidth && info.dilationHeight === 1 && info.dilationWidth === 1 && info.dataFormat === 'channelsLast';
}

export function maxPoolGradWebgpu(runner: WebgpuProgramRunner, dy: TensorInfo, x: TensorInfo, y: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const uniforms = int32Uniforms(info.padInfo.top, info.padInfo.left, info.strideHeight, info.strideWidth, info.filterWidth);
  const first = runner.runWebGPUProgram(clearProgram(dy.shape), [], 'int32');
  runner.runWebGPUProgram(firstMaximumProgram(dy.shape, x.shape.reduce((a, b) => a * b, 1)), [x, y], 'int32', uniforms, first);
  const dx = runner.runWebGPUProgram(scatterProgram(x.shape), [dy, first], 'float32', uniforms);
  runner.disposeData(first.dataId);
  return dx;
}

/** Our MaxPoolGrad where it applies, else `stock` (TF.js's kernel). */
export function maxPoolGradKernel(stock: KernelFunc | undefined): KernelFunc {
  return (args) => {
    const { dy, input, output } = args.inputs as { dy: TensorInfo; input: TensorInfo; output?: TensorInfo };
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as {
      filterSize: [number, number] | number;
      strides: [number, number] | number;
      pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
    };
    const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    if (output && maxPoolGradApplies(info)) return maxPoolGradWebgpu(args.backend as WebgpuProgramRunner, dy, input, output, info);
    if (!stock) throw new Error('MaxPoolGrad (webgpu): overlapping windows or no forward output, and no stock kernel to fall back to');
    return stock(args);
  };
}
