// Conv2DBackpropFilter on WebGPU as an implicit GEMM split over the reduction (split-K):
//   dW[m, n] = sum_k A[m, k] * dy[k, n],  m = (kh, kw, ci), n = co, k = (b, oy, ox),
//   A[m, k] = x[b, oy*sh + kh - pt, ox*sw + kw - pl, ci] (zero outside the image; never materialised).
// Pass 1: each workgroup owns a TM x TN tile of dW and one of `splits` slices of k, stages TK-deep slabs of A and dy
// in workgroup memory and accumulates RM x RN outputs per thread; it writes its partial tile to [splits, M, N].
// Pass 2 sums the partials over the splits (skipped when there is one). TF.js 4.22's Conv2DDerFilterProgram
// instead runs M*N threads (1,200 for a 5x5 3->16 layer), each walking the whole batch and image alone.
import { backend_util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { flatProgramShape, int32Uniforms, type WebgpuProgram, type WebgpuProgramRunner } from './program.ts';

/** Tile shape of one workgroup: TM x TN outputs, TK-deep k slabs, RM x RN outputs per thread (256 threads). */
export interface FilterGradTiles {
  tm: number;
  tn: number;
  tk: number;
  rm: number;
  rn: number;
}

export interface FilterGradPlan {
  /** GEMM sizes: M = kh*kw*ci rows, N = co columns, K = batch*outH*outW reduction. */
  m: number;
  n: number;
  k: number;
  tiles: FilterGradTiles;
  /** Slices of k, one workgroup z-layer each; k tiles (TK deep) per slice. */
  splits: number;
  kTilesPerSplit: number;
  /** Workgroups and threads of pass 1. */
  workgroups: number;
  threads: number;
}

/** Workgroups to aim for: enough to fill a large GPU (132 SMs x ~16 resident groups) several times over. */
const TARGET_WORKGROUPS = 2048;
/** A split covers at least this many k tiles, so its partial tile is worth writing. */
const MIN_K_TILES_PER_SPLIT = 8;
/** Partial sums kept within this many bytes (each split holds a full M x N copy). */
const MAX_PARTIAL_BYTES = 64 << 20;
const MAX_WORKGROUPS_PER_DIMENSION = 65535;

/** The tile shape for a given output width, and how k is split: the work counts docs/webgpu.md tabulates. */
export function planFilterGrad(info: backend_util.Conv2DInfo): FilterGradPlan {
  const m = info.filterHeight * info.filterWidth * info.inChannels;
  const n = info.outChannels;
  const k = info.batchSize * info.outHeight * info.outWidth;
  // Narrow outputs (M-CNN's 4..64 filters) get a narrow tile rather than 64 columns of mostly padding.
  const tn = n <= 16 ? 16 : n <= 32 ? 32 : 64;
  const tiles: FilterGradTiles = { tm: 64, tn, tk: 16, rm: 4, rn: tn / 16 };
  const outputTiles = Math.ceil(m / tiles.tm) * Math.ceil(n / tiles.tn);
  const kTiles = Math.ceil(k / tiles.tk);
  const memoryCap = Math.max(1, Math.floor(MAX_PARTIAL_BYTES / (4 * m * n)));
  const wanted = Math.ceil(TARGET_WORKGROUPS / outputTiles);
  const most = Math.max(1, Math.min(Math.ceil(kTiles / MIN_K_TILES_PER_SPLIT), memoryCap, MAX_WORKGROUPS_PER_DIMENSION));
  const kTilesPerSplit = Math.ceil(kTiles / Math.min(wanted, most));
  const splits = Math.ceil(kTiles / kTilesPerSplit);
  const workgroups = outputTiles * splits;
  return { m, n, k, tiles, splits, kTilesPerSplit, workgroups, threads: workgroups * 256 };
}

function partialSumsProgram(plan: FilterGradPlan, outputShape: number[]): WebgpuProgram {
  const { tm, tn, tk, rm, rn } = plan.tiles;
  const wgx = tn / rn;
  const wgy = tm / rm;
  return {
    outputShape,
    shaderKey: `moaConv2DBackpropFilterSplitK_${tm}_${tn}_${tk}_${rm}_${rn}`,
    variableNames: ['x', 'dy'],
    uniforms: 'padTop : i32, padLeft : i32, strideHeight : i32, strideWidth : i32, filterWidth : i32, dimM : i32, dimK : i32, kTilesPerSplit : i32,',
    workgroupSize: [wgx, wgy, 1],
    dispatchLayout: { x: [2], y: [1], z: [0] },
    dispatch: [Math.ceil(plan.n / tn), Math.ceil(plan.m / tm), plan.splits],
    getUserCode: () => `
      const TM = ${tm};
      const TN = ${tn};
      const TK = ${tk};
      const RM = ${rm};
      const RN = ${rn};
      const WGX = ${wgx};
      const WGY = ${wgy};
      const THREADS = ${wgx * wgy};
      var<workgroup> slabA : array<f32, ${tk * tm}>;
      var<workgroup> slabB : array<f32, ${tk * tn}>;

      fn main() {
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let lid = i32(localIndex);
        let nBase = i32(workgroupId.x) * TN;
        let mBase = i32(workgroupId.y) * TM;
        let split = i32(workgroupId.z);
        let inH = uniforms.xShape[1];
        let inW = uniforms.xShape[2];
        let inC = uniforms.xShape[3];
        let outH = uniforms.dyShape[1];
        let outW = uniforms.dyShape[2];
        let dimN = uniforms.dyShape[3];
        let kStart = split * uniforms.kTilesPerSplit * TK;
        let kEnd = min(kStart + uniforms.kTilesPerSplit * TK, uniforms.dimK);
        var acc : array<array<f32, RN>, RM>;
        // The trip count comes from uniforms only, so the barriers sit in uniform control flow.
        for (var t = 0; t < uniforms.kTilesPerSplit; t++) {
          let k0 = kStart + t * TK;
          for (var i = lid; i < TK * TM; i += THREADS) {
            let kk = i / TM;
            let mm = i - kk * TM;
            let kIndex = k0 + kk;
            let mIndex = mBase + mm;
            var v = 0.0;
            if (kIndex < kEnd && mIndex < uniforms.dimM) {
              let ci = mIndex % inC;
              let tap = mIndex / inC;
              let kw = tap % uniforms.filterWidth;
              let kh = tap / uniforms.filterWidth;
              let ox = kIndex % outW;
              let rowIndex = kIndex / outW;
              let oy = rowIndex % outH;
              let b = rowIndex / outH;
              let r = oy * uniforms.strideHeight + kh - uniforms.padTop;
              let c = ox * uniforms.strideWidth + kw - uniforms.padLeft;
              if (r >= 0 && r < inH && c >= 0 && c < inW) {
                v = x[((b * inH + r) * inW + c) * inC + ci];
              }
            }
            slabA[i] = v;
          }
          for (var i = lid; i < TK * TN; i += THREADS) {
            let kk = i / TN;
            let nn = i - kk * TN;
            let kIndex = k0 + kk;
            let nIndex = nBase + nn;
            var v = 0.0;
            if (kIndex < kEnd && nIndex < dimN) {
              v = dy[kIndex * dimN + nIndex];
            }
            slabB[i] = v;
          }
          workgroupBarrier();
          for (var kk = 0; kk < TK; kk++) {
            var a : array<f32, RM>;
            var bv : array<f32, RN>;
            for (var r = 0; r < RM; r++) { a[r] = slabA[kk * TM + ty + r * WGY]; }
            for (var c = 0; c < RN; c++) { bv[c] = slabB[kk * TN + tx + c * WGX]; }
            for (var r = 0; r < RM; r++) {
              for (var c = 0; c < RN; c++) { acc[r][c] = fma(a[r], bv[c], acc[r][c]); }
            }
          }
          workgroupBarrier();
        }
        let base = split * uniforms.dimM * dimN;
        for (var r = 0; r < RM; r++) {
          let mIndex = mBase + ty + r * WGY;
          for (var c = 0; c < RN; c++) {
            let nIndex = nBase + tx + c * WGX;
            if (mIndex < uniforms.dimM && nIndex < dimN) {
              result[base + mIndex * dimN + nIndex] = acc[r][c];
            }
          }
        }
      }
    `,
  };
}

/** Pass 2: out[i] = sum over s of partial[s, i]; one thread per weight, `splits` reads each. */
function sumSplitsProgram(filterShape: number[]): WebgpuProgram {
  const size = filterShape.reduce((a, b) => a * b, 1);
  return {
    outputShape: filterShape,
    shaderKey: 'moaSumSplits',
    variableNames: ['partial'],
    size: true,
    ...flatProgramShape(size),
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let splits = uniforms.partialShape[0];
          var sum = 0.0;
          for (var s = 0; s < splits; s++) {
            sum += partial[s * uniforms.size + index];
          }
          setOutputAtIndex(index, sum);
        }
      }
    `,
  };
}

/** dW for NHWC x and dy (any stride and padding, dilation 1): the two passes above on the WebGPU backend. */
export function conv2dBackpropFilterWebgpu(runner: WebgpuProgramRunner, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const plan = planFilterGrad(info);
  const filterShape = [info.filterHeight, info.filterWidth, info.inChannels, info.outChannels];
  const uniforms = int32Uniforms(info.padInfo.top, info.padInfo.left, info.strideHeight, info.strideWidth, info.filterWidth, plan.m, plan.k, plan.kTilesPerSplit);
  if (plan.splits === 1) return runner.runWebGPUProgram(partialSumsProgram(plan, filterShape), [x, dy], 'float32', uniforms);
  const partial = runner.runWebGPUProgram(partialSumsProgram(plan, [plan.splits, plan.m, plan.n]), [x, dy], 'float32', uniforms);
  const out = runner.runWebGPUProgram(sumSplitsProgram(filterShape), [partial], 'float32');
  runner.disposeData(partial.dataId);
  return out;
}

const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter (webgpu): only NHWC is supported');
  const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  return conv2dBackpropFilterWebgpu(backend as WebgpuProgramRunner, x, dy, info);
};

export const conv2dBackpropFilterConfig: KernelConfig = { kernelName: 'Conv2DBackpropFilter', backendName: 'webgpu', kernelFunc };
