// GPTQ rounding for 8-bit kernels (Frantar et al. 2022, after Optimal Brain Quantization): rounding each weight to
// its nearest 8-bit code ignores that the errors of one output channel's weights add up over the inputs they read.
// A layer's output error for input x is sum_i dW_i x_i, whose mean square over real inputs is dW' H dW with
// H = E[x x'] (the second moments of the kernel's input rows). GPTQ rounds the rows one at a time and moves the
// rows not yet rounded to take back what that rounding did to the output, as far as H says they can. The grid is
// the nearest-rounding one (one scale and zero point per output channel): only which code each weight gets changes,
// so the bundle's format, and every loader, are as before.
// H is measured on training fields in the float32 model (the export streams every training field through it): a
// convolution's rows are its 5x5xC patches, sampled at `POSITIONS_PER_TILE` output positions of each tile; a dense
// layer's rows are its inputs. A layer with more rows than `BLOCK_ROWS` (M-CNN's 81,920-input dense layer) uses H's
// diagonal blocks only (H itself: 27 GB).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { cholesky, invertLower } from '../../../src/core/ood.ts';
import { Rng } from '../util/prng.ts';
import { convGeometry, isKernelLayer } from './bias-correction.ts';

/** Output positions of each tile at which a convolution's input patches are sampled. */
const POSITIONS_PER_TILE = 256;
/** The largest block of rows GPTQ treats as one (H's diagonal blocks beyond it). */
const BLOCK_ROWS = 2048;
/** Rows per block for layers over BLOCK_ROWS (M-CNN's dense layer: 80 blocks, one per position of the fuse grid). */
const SPLIT_BLOCK_ROWS = 1024;
/** Input values (64 MB) gathered before their products are added: one matrix multiply per block for many tiles. */
const VALUES_PER_PRODUCT = 1 << 24;
/** H + damping * mean(diag H) * I: keeps H invertible where calibration saw fewer inputs than rows (GPTQ's default). */
const DAMPING = 0.01;

/** E[x x'] of a kernel's input rows, by diagonal blocks: blocks[b] is the [n, n] moment of rows [b * blockRows, ...). */
export interface KernelInputMoments {
  rows: number;
  blockRows: number;
  blocks: Float64Array[];
  samples: number;
}

/** Per kernel weight name (`layer/kernel`): the second moments of what it reads. */
export type KernelMoments = Map<string, KernelInputMoments>;

interface Patches {
  /** [count, rows] */
  values: Float32Array;
  count: number;
}

/** Input patches of a stride-1, 'same' or 'valid' convolution at `positions` random output positions. */
function samplePatches(x: tf.Tensor4D, kernelHeight: number, kernelWidth: number, padding: 'same' | 'valid', positions: number, rng: Rng): Patches {
  const [n, height, width, channels] = x.shape;
  const data = x.dataSync();
  const outHeight = padding === 'same' ? height : height - kernelHeight + 1;
  const outWidth = padding === 'same' ? width : width - kernelWidth + 1;
  const [top, left] = padding === 'same' ? [Math.floor((kernelHeight - 1) / 2), Math.floor((kernelWidth - 1) / 2)] : [0, 0];
  const rows = kernelHeight * kernelWidth * channels;
  const total = n * outHeight * outWidth;
  const count = Math.min(positions * n, total);
  const values = new Float32Array(count * rows);
  for (let p = 0; p < count; p++) {
    // Every position when there are no more than asked for, else random ones (with replacement).
    const at = count === total ? p : Math.floor(rng.next() * total);
    const b = Math.floor(at / (outHeight * outWidth));
    const oy = Math.floor(at / outWidth) % outHeight;
    const ox = at % outWidth;
    for (let ky = 0; ky < kernelHeight; ky++) {
      const y = oy + ky - top;
      if (y < 0 || y >= height) continue;
      for (let kx = 0; kx < kernelWidth; kx++) {
        const xx = ox + kx - left;
        if (xx < 0 || xx >= width) continue;
        const from = ((b * height + y) * width + xx) * channels;
        values.set(data.subarray(from, from + channels), p * rows + (ky * kernelWidth + kx) * channels);
      }
    }
  }
  return { values, count };
}

class MomentSums {
  readonly blockRows: number;
  readonly blocks: Float64Array[];
  private samples = 0;
  private pending: Patches[] = [];
  private pendingRows = 0;

  constructor(readonly rows: number) {
    this.blockRows = rows > BLOCK_ROWS ? SPLIT_BLOCK_ROWS : rows;
    this.blocks = Array.from({ length: Math.ceil(rows / this.blockRows) }, (_, b) => {
      const size = Math.min(this.blockRows, rows - b * this.blockRows);
      return new Float64Array(size * size);
    });
  }

  /** Adds `count` rows of `rows` values; their products x'x are added in batches. */
  add(patches: Patches): void {
    if (patches.count === 0) return;
    this.pending.push(patches);
    this.pendingRows += patches.count;
    if (this.pendingRows * this.rows >= VALUES_PER_PRODUCT) this.flush();
  }

  /** x'x of the pending rows, block by block, on the backend's matrix multiply. */
  private flush(): void {
    if (this.pendingRows === 0) return;
    const values = new Float32Array(this.pendingRows * this.rows);
    let at = 0;
    for (const p of this.pending) {
      values.set(p.values.subarray(0, p.count * this.rows), at);
      at += p.count * this.rows;
    }
    const count = this.pendingRows;
    tf.tidy(() => {
      const x = tf.tensor2d(values, [count, this.rows]);
      this.blocks.forEach((block, b) => {
        const size = Math.sqrt(block.length);
        const part = this.blocks.length === 1 ? x : tf.slice(x, [0, b * this.blockRows], [count, size]);
        const product = tf.matMul(part, part, true, false).dataSync();
        for (let i = 0; i < block.length; i++) block[i] += product[i];
      });
    });
    this.samples += count;
    this.pending = [];
    this.pendingRows = 0;
  }

  /** The mean of x x' over every row added (once: the sums become the means). */
  moments(): KernelInputMoments {
    this.flush();
    if (this.samples === 0) throw new Error('GPTQ: a layer saw no input');
    for (const block of this.blocks) for (let i = 0; i < block.length; i++) block[i] /= this.samples;
    return { rows: this.rows, blockRows: this.blockRows, blocks: this.blocks, samples: this.samples };
  }
}

/** Model input tiles of one shape ([height, width, channels]), one at a time. */
export interface TileStream {
  shape: [number, number, number];
  tiles: Iterable<Float32Array> | AsyncIterable<Float32Array>;
}

/** The second moments of every convolution's and dense layer's input rows over the tiles, in the float32 model. */
export async function measureKernelMoments(model: tfl.LayersModel, calibration: TileStream, seed = 2026): Promise<KernelMoments> {
  const layers = model.layers.filter(isKernelLayer);
  const probe = tfl.model({ inputs: model.inputs, outputs: layers.map((l) => l.input as tfl.SymbolicTensor), name: `${model.name}_kernel_rows` });
  const sums = layers.map((l) => {
    const kernelShape = l.getWeights()[0].shape;
    return new MomentSums(kernelShape.slice(0, -1).reduce((a, b) => a * b, 1));
  });
  // Each convolution's geometry, checked before any tile is read; undefined for a dense layer.
  const geometries = layers.map((l) => (l.getClassName() === 'Conv2D' ? convGeometry(l) : undefined));
  const rng = new Rng(seed);
  for await (const tile of calibration.tiles) {
    tf.tidy(() => {
      const inputs = probe.predict(tf.tensor4d(tile, [1, ...calibration.shape])) as tf.Tensor | tf.Tensor[];
      (Array.isArray(inputs) ? inputs : [inputs]).forEach((input, k) => {
        const geometry = geometries[k];
        if (!geometry) sums[k].add({ values: input.dataSync() as Float32Array, count: input.shape[0] });
        else sums[k].add(samplePatches(input as tf.Tensor4D, geometry.kernelHeight, geometry.kernelWidth, geometry.padding, POSITIONS_PER_TILE, rng));
      });
    });
  }
  return new Map(layers.map((l, k) => [l.weights[0].originalName, sums[k].moments()]));
}

/** The inverse of the symmetric positive definite [n, n] matrix `a`: L^-T L^-1 from its Cholesky factor L. */
function inverseSpd(a: Float64Array, n: number): Float64Array {
  const li = invertLower(cholesky(a, n), n);
  const inverse = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += li[k * n + i] * li[k * n + j];
      inverse[i * n + j] = s;
      inverse[j * n + i] = s;
    }
  }
  return inverse;
}

/**
 * The 8-bit codes of kernel `w` ([rows, channels] row-major, the last axis the output channel) on the grid
 * `scales`/`zeroPoints`, rounded by GPTQ against the input moments: row by row (the rows with the largest inputs
 * first), each row's rounding error, divided by the diagonal of the Cholesky factor of H^-1, is taken back by the
 * later rows of its block in proportion to that factor.
 */
export function gptqCodes(w: Float32Array, channels: number, moments: KernelInputMoments, scales: readonly number[], zeroPoints: readonly number[]): Uint8Array {
  const rows = w.length / channels;
  if (rows !== moments.rows) throw new Error(`GPTQ: a kernel of ${rows} rows measured with moments of ${moments.rows}`);
  const weights = Float64Array.from(w);
  const codes = new Uint8Array(w.length);
  const error = new Float64Array(channels);
  moments.blocks.forEach((block, b) => {
    const n = Math.sqrt(block.length);
    const start = b * moments.blockRows;
    // Rows that read the largest inputs first, while the most rows are left to take their error back (GPTQ's
    // "act order"); dead inputs (never nonzero in calibration) last.
    const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => block[j * n + j] - block[i * n + i] || i - j);
    const h = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) h[i * n + j] = block[order[i] * n + order[j]];
    let meanDiagonal = 0;
    for (let i = 0; i < n; i++) meanDiagonal += h[i * n + i] / n;
    for (let i = 0; i < n; i++) h[i * n + i] += DAMPING * (meanDiagonal > 0 ? meanDiagonal : 1);
    const u = cholesky(inverseSpd(h, n), n); // lower L with H^-1 = L L': the upper factor GPTQ uses is L'
    for (let i = 0; i < n; i++) {
      const row = (start + order[i]) * channels;
      const d = u[i * n + i];
      for (let c = 0; c < channels; c++) {
        const q = Math.max(0, Math.min(255, Math.round(weights[row + c] / scales[c]) + zeroPoints[c]));
        codes[row + c] = q;
        error[c] = (weights[row + c] - (q - zeroPoints[c]) * scales[c]) / d;
      }
      for (let j = i + 1; j < n; j++) {
        const f = u[j * n + i];
        if (f === 0) continue;
        const later = (start + order[j]) * channels;
        for (let c = 0; c < channels; c++) weights[later + c] -= error[c] * f;
      }
    }
  });
  return codes;
}
