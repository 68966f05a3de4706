// Conv2DBackpropFilter on WebGPU as an implicit GEMM split over the reduction (split-K):
//   dW[m, n] = sum_k A[m, k] * dy[k, n],  m = (kh, kw, ci), n = co, k = (b, oy, ox),
//   A[m, k] = x[b, oy*sh + kh - pt, ox*sw + kw - pl, ci] (zero outside the image; never materialised).
// Pass 1: each workgroup owns a TM x TN tile of dW and one of `splits` slices of k, stages TK-deep slabs of A and dy
// in workgroup memory and accumulates RM x RN outputs per thread; it writes its partial tile to [splits, M, N].
// Pass 2 sums the partials over the splits (skipped when there is one). TF.js 4.22's Conv2DDerFilterProgram
// instead runs M*N threads (1,200 for a 5x5 3->16 layer), each walking the whole batch and image alone.
import { backend_util, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
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
  const tiles: FilterGradTiles =
    n <= 4 ? { tm: 64, tn: 4, tk: 16, rm: 1, rn: 1 }
    : n <= 8 ? { tm: 64, tn: 8, tk: 16, rm: 2, rn: 1 }
    : n <= 16 ? { tm: 64, tn: 16, tk: 16, rm: 4, rn: 1 }
    : n <= 32 ? { tm: 64, tn: 32, tk: 16, rm: 4, rn: 2 }
    : { tm: 64, tn: 64, tk: 16, rm: 4, rn: 4 };
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

/** Work of one Conv2DBackpropFilter: threads launched, global-memory bytes read per weight gradient, FLOP per byte read. */
export interface KernelWork {
  threads: number;
  bytesPerOutput: number;
  flopPerByte: number;
}

/**
 * The work counts of TF.js 4.22's kernel (one thread per weight, reading one x and one dy value per multiply-add,
 * no reuse) and of ours (each k slab of a tile is read once for TM x TN outputs; partials written and read once).
 */
export function filterGradWork(info: backend_util.Conv2DInfo): { stock: KernelWork; ours: KernelWork & { splits: number } } {
  const plan = planFilterGrad(info);
  const { tm, tn, tk } = plan.tiles;
  const flop = 2 * plan.m * plan.n * plan.k;
  const outputs = plan.m * plan.n;
  const stockBytes = 8 * plan.k * outputs;
  const outputTiles = plan.workgroups / plan.splits;
  const slabBytes = plan.workgroups * plan.kTilesPerSplit * (tm + tn) * tk * 4;
  const partialBytes = plan.splits > 1 ? 2 * 4 * plan.splits * outputs : 0; // written by pass 1, read by pass 2
  const oursBytes = slabBytes + partialBytes;
  return {
    stock: { threads: outputs, bytesPerOutput: stockBytes / outputs, flopPerByte: flop / stockBytes },
    ours: { threads: outputTiles * plan.splits * 256 + (plan.splits > 1 ? outputs : 0), bytesPerOutput: oursBytes / outputs, flopPerByte: flop / oursBytes, splits: plan.splits },
  };
}

function partialSumsProgram(plan: FilterGradPlan, outputShape: number[]): WebgpuProgram {
  const { tm, tn, tk, rm, rn } = plan.tiles;
  const wgx = tn / rn;
  const wgy = tm / rm;
  // The RM x RN accumulators as named scalars, the loops over them unrolled here: registers on every compiler.
  const each = (f: (r: number, c: number) => string) => Array.from({ length: rm * rn }, (_, i) => f(Math.floor(i / rn), i % rn)).join('\n');
  const rows = (f: (r: number) => string) => Array.from({ length: rm }, (_, r) => f(r)).join('\n');
  const cols = (f: (c: number) => string) => Array.from({ length: rn }, (_, c) => f(c)).join('\n');
  const aLoads = Array.from({ length: (tk * tm) / (wgx * wgy) }, (_, j) => j);
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
        ${each((r, c) => `var acc${r}_${c} = 0.0;`)}
        // Each thread stages the same slab column every k tile (TM and TN divide the 256 threads): its m = (kh, kw, ci) and n
        // are fixed, so their decomposition is done once; only k = (b, oy, ox) changes.
        let mm = lid % TM;
        let kkA = lid / TM;
        let mIndex = mBase + mm;
        let mValid = mIndex < uniforms.dimM;
        let ci = mIndex % inC;
        let tap = mIndex / inC;
        let rOffset = tap / uniforms.filterWidth - uniforms.padTop;
        let cOffset = tap % uniforms.filterWidth - uniforms.padLeft;
        let nn = lid % TN;
        let kkB = lid / TN;
        let nIndex = nBase + nn;
        let nValid = nIndex < dimN;
        // The k = (b, oy, ox) of each of this thread's A loads, divided out once here and then stepped by TK per slab
        // (adds and compares in the loop, no integer division).
        ${aLoads.map((j) => `
        let kFirst${j} = kStart + kkA + ${(j * wgx * wgy) / tm};
        var ox${j} = kFirst${j} % outW;
        var oy${j} = (kFirst${j} / outW) % outH;
        var b${j} = kFirst${j} / (outW * outH);`).join('')}
        // The trip count comes from uniforms only, so the barriers sit in uniform control flow.
        for (var t = 0; t < uniforms.kTilesPerSplit; t++) {
          let k0 = kStart + t * TK;
          ${aLoads.map((j) => `{
            let kk = kkA + ${(j * wgx * wgy) / tm};
            var v = 0.0;
            if (mValid && k0 + kk < kEnd) {
              let r = oy${j} * uniforms.strideHeight + rOffset;
              let c = ox${j} * uniforms.strideWidth + cOffset;
              if (r >= 0 && r < inH && c >= 0 && c < inW) {
                v = x[((b${j} * inH + r) * inW + c) * inC + ci];
              }
            }
            slabA[kk * TM + mm] = v;
            ox${j} += TK;
            while (ox${j} >= outW) {
              ox${j} -= outW;
              oy${j} += 1;
            }
            while (oy${j} >= outH) {
              oy${j} -= outH;
              b${j} += 1;
            }
          }`).join('\n')}
          ${Array.from({ length: Math.ceil((tk * tn) / (wgx * wgy)) }, (_, j) => `{
            let kk = kkB + ${(j * wgx * wgy) / tn};
            let kIndex = k0 + kk;
            var v = 0.0;
            if (nValid && kIndex < kEnd) {
              v = dy[kIndex * dimN + nIndex];
            }
            ${tk * tn < wgx * wgy ? 'if (kk < TK) { slabB[kk * TN + nn] = v; }' : 'slabB[kk * TN + nn] = v;'}
          }`).join('\n')}
          workgroupBarrier();
          for (var kk = 0; kk < TK; kk++) {
            ${rows((r) => `let a${r} = slabA[kk * TM + ty + ${r * wgy}];`)}
            ${cols((c) => `let b${c} = slabB[kk * TN + tx + ${c * wgx}];`)}
            ${each((r, c) => `acc${r}_${c} = fma(a${r}, b${c}, acc${r}_${c});`)}
          }
          workgroupBarrier();
        }
        let base = split * uniforms.dimM * dimN;
        ${each((r, c) => `if (mBase + ty + ${r * wgy} < uniforms.dimM && nBase + tx + ${c * wgx} < dimN) { result[base + (mBase + ty + ${r * wgy}) * dimN + nBase + tx + ${c * wgx}] = acc${r}_${c}; }`)}
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

export const conv2dBackpropFilterKernel: KernelFunc = ({ inputs, backend, attrs }) => {
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
