// Bias correction for 8-bit kernels (empirical bias correction, Nagel et al. 2019): rounding an output channel's
// weights to its 8-bit grid moves that channel's output by sum(dW * x) for the x it reads, and the shifts of earlier
// layers move the x. Over real inputs the change has a mean, which the channel's float32 bias can take back. Layer by
// layer from the input, this measures what each kernel reads on average in the float32 model and in the quantised one
// (tap by tap and input channel by input channel for a convolution, zero padding included; input by input for a dense
// layer) and sets the quantised layer's bias so its mean output is the float32 layer's. Kernels keep their codes.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { FieldModel } from '../../../src/core/field-pipeline.ts';
import { extractTile, tileField } from '../../../src/core/tiling.ts';
import { loadSample, LoadReport, type FieldCache, type Sample } from '../data/index.ts';

/** Per layer name: the mean of each row of its kernel's input (a kernel of shape [..., out] has prod(...) rows). */
export type KernelInputMeans = Map<string, Float64Array>;

interface ConvGeometry {
  kernelHeight: number;
  kernelWidth: number;
  padding: 'same' | 'valid';
}

/** A convolution's kernel size and padding; refused unless stride 1, undilated, same or valid padding (what the 8-bit calibration measures). */
export function convGeometry(layer: tfl.layers.Layer): ConvGeometry {
  const config = layer.getConfig() as { kernelSize: number | number[]; strides?: number | number[]; dilationRate?: number | number[]; padding?: string };
  const pair = (v: number | number[] | undefined, fallback: number) => (v === undefined ? [fallback, fallback] : Array.isArray(v) ? v : [v, v]);
  const [kernelHeight, kernelWidth] = pair(config.kernelSize, 1);
  const strides = pair(config.strides, 1);
  const dilation = pair(config.dilationRate, 1);
  if (strides.some((s) => s !== 1) || dilation.some((d) => d !== 1) || (config.padding !== 'same' && config.padding !== 'valid'))
    throw new Error(`8-bit calibration handles stride-1, undilated convolutions with same or valid padding; layer ${layer.name} has strides ${strides}, dilation ${dilation}, padding ${config.padding}`);
  return { kernelHeight, kernelWidth, padding: config.padding };
}

/** Running sums of one layer's input, enough to give the mean that every kernel row reads. */
class LayerInputSums {
  private rows: Float64Array | undefined;
  private positions = 0;

  constructor(
    readonly name: string,
    private readonly geometry: ConvGeometry | undefined,
  ) {}

  /** Adds a batch of the layer's input: [n, features] for a dense layer, [n, H, W, C] for a convolution. */
  add(x: tf.Tensor): void {
    if (x.rank !== (this.geometry ? 4 : 2)) throw new Error(`bias correction: layer ${this.name} reads a rank-${x.rank} input; a dense layer's must be rank 2, a convolution's rank 4`);
    const sums = this.geometry ? this.convRowSums(x as tf.Tensor4D) : { rows: tf.sum(x, 0).dataSync(), positions: x.shape[0] };
    this.rows ??= new Float64Array(sums.rows.length);
    if (sums.rows.length !== this.rows.length) throw new Error(`bias correction: layer ${this.name} read inputs of two shapes`);
    for (let r = 0; r < sums.rows.length; r++) this.rows[r] += sums.rows[r];
    this.positions += sums.positions;
  }

  means(): Float64Array {
    if (!this.rows || this.positions === 0) throw new Error(`bias correction: layer ${this.name} saw no input`);
    return this.rows.map((v) => v / this.positions);
  }

  /**
   * For each tap (ky, kx) and input channel: the sum, over every output position, of the input value under that tap
   * (0 in the padding). The taps of a stride-1 convolution read the whole input less a few rows and columns at its
   * edges, so the sums come from the input's total, its row and column sums, and its corners.
   */
  private convRowSums(x: tf.Tensor4D): { rows: Float32Array | Float64Array; positions: number } {
    const [n, height, width, channels] = x.shape;
    const { kernelHeight: kh, kernelWidth: kw, padding } = this.geometry!;
    const outHeight = padding === 'same' ? height : height - kh + 1;
    const outWidth = padding === 'same' ? width : width - kw + 1;
    const [top, left] = padding === 'same' ? [Math.floor((kh - 1) / 2), Math.floor((kw - 1) / 2)] : [0, 0];
    const cornerHeight = Math.min(kh - 1, height);
    const cornerWidth = Math.min(kw - 1, width);
    const [rowSums, colSums, corners] = tf.tidy(() => {
      const overBatch = tf.sum(x, 0) as tf.Tensor3D;
      const corner = (y: number, xx: number) => tf.slice(overBatch, [y, xx, 0], [cornerHeight, cornerWidth, channels]);
      return [
        tf.sum(overBatch, 1).dataSync(),
        tf.sum(overBatch, 0).dataSync(),
        [corner(0, 0), corner(0, width - cornerWidth), corner(height - cornerHeight, 0), corner(height - cornerHeight, width - cornerWidth)].map((t) => t.dataSync()),
      ] as const;
    });
    const rowSum = (y: number, c: number) => rowSums[y * channels + c];
    const colSum = (xx: number, c: number) => colSums[xx * channels + c];
    // The input value summed over the batch at (y, xx), for a point within (kh - 1, kw - 1) of a corner.
    const atCorner = (y: number, xx: number, c: number) => {
      const bottom = y >= cornerHeight;
      const right = xx >= cornerWidth;
      const block = corners[(bottom ? 2 : 0) + (right ? 1 : 0)];
      const by = bottom ? y - (height - cornerHeight) : y;
      const bx = right ? xx - (width - cornerWidth) : xx;
      return block[(by * cornerWidth + bx) * channels + c];
    };
    const totals = new Float64Array(channels);
    for (let y = 0; y < height; y++) for (let c = 0; c < channels; c++) totals[c] += rowSum(y, c);
    const out = new Float64Array(kh * kw * channels);
    for (let ky = 0; ky < kh; ky++) {
      // Output row p reads input row p + ky - top: rows outside [0, height) are padding; rows never read are left out.
      const firstRow = Math.min(height, Math.max(0, ky - top));
      const endRow = Math.max(firstRow, Math.min(height, outHeight + ky - top));
      const skippedRows = [...range(0, firstRow), ...range(endRow, height)];
      for (let kx = 0; kx < kw; kx++) {
        const firstCol = Math.min(width, Math.max(0, kx - left));
        const endCol = Math.max(firstCol, Math.min(width, outWidth + kx - left));
        const skippedCols = [...range(0, firstCol), ...range(endCol, width)];
        for (let c = 0; c < channels; c++) {
          let sum = totals[c];
          for (const y of skippedRows) sum -= rowSum(y, c);
          for (const xx of skippedCols) sum -= colSum(xx, c);
          for (const y of skippedRows) for (const xx of skippedCols) sum += atCorner(y, xx, c);
          out[(ky * kw + kx) * channels + c] = sum;
        }
      }
    }
    return { rows: out, positions: n * outHeight * outWidth };
  }
}

function* range(start: number, end: number): Generator<number> {
  for (let i = start; i < end; i++) yield i;
}

/** A layer with a kernel to quantise and calibrate: a convolution or a dense layer. */
export function isKernelLayer(layer: tfl.layers.Layer): boolean {
  return layer.getClassName() === 'Conv2D' || layer.getClassName() === 'Dense';
}

/** What the named convolution and dense layers of a model read, summed batch by batch. */
export class KernelInputProbe {
  private readonly sums: LayerInputSums[];
  private readonly probe: tfl.LayersModel;

  constructor(model: tfl.LayersModel, layerNames = model.layers.filter(isKernelLayer).map((l) => l.name)) {
    const layers = layerNames.map((name) => model.getLayer(name));
    for (const l of layers) if (!isKernelLayer(l)) throw new Error(`bias correction: layer ${l.name} is a ${l.getClassName()}, not a convolution or dense layer`);
    this.sums = layers.map((l) => new LayerInputSums(l.name, l.getClassName() === 'Conv2D' ? convGeometry(l) : undefined));
    // Only what the listed layers read is computed: the probe ends at their inputs.
    this.probe = tfl.model({ inputs: model.inputs, outputs: layers.map((l) => l.input as tfl.SymbolicTensor), name: `${model.name}_kernel_inputs` });
  }

  /** Runs a batch of model inputs forward and adds what each layer read. */
  add(x: tf.Tensor): void {
    tf.tidy(() => {
      const inputs = this.probe.predict(x) as tf.Tensor | tf.Tensor[];
      (Array.isArray(inputs) ? inputs : [inputs]).forEach((t, k) => this.sums[k].add(t));
    });
  }

  means(): KernelInputMeans {
    return new Map(this.sums.map((s) => [s.name, s.means()]));
  }
}

/** Model inputs to measure with: tiles of `shape` ([height, width, channels]), run `batch` at a time. */
export interface CalibrationTiles {
  shape: [number, number, number];
  tiles: Float32Array[];
  fields: number;
}

function measure(model: tfl.LayersModel, layerNames: string[], calibration: CalibrationTiles, batch = 2): KernelInputMeans {
  const probe = new KernelInputProbe(model, layerNames);
  const values = calibration.shape.reduce((a, b) => a * b, 1);
  for (let start = 0; start < calibration.tiles.length; start += batch) {
    const chunk = calibration.tiles.slice(start, start + batch);
    const data = new Float32Array(chunk.length * values);
    chunk.forEach((tile, i) => data.set(tile, i * values));
    const x = tf.tensor4d(data, [chunk.length, ...calibration.shape]);
    probe.add(x);
    x.dispose();
  }
  return probe.means();
}

/** The kernel layers in groups, each group reading only what earlier groups' kernels compute (M-CNN: conv1s, conv2s, ...). */
function kernelLayerStages(model: tfl.LayersModel): string[][] {
  const kernelsBefore = new Map<string, number>();
  const stages: string[][] = [];
  for (const layer of model.layers) {
    const upstream = layer.inboundNodes.flatMap((node) => node.inboundLayers);
    const depth = Math.max(0, ...upstream.map((l) => kernelsBefore.get(l.name) ?? 0));
    if (isKernelLayer(layer)) (stages[depth] ??= []).push(layer.name);
    kernelsBefore.set(layer.name, depth + (isKernelLayer(layer) ? 1 : 0));
  }
  return stages.filter((stage) => stage !== undefined);
}

/**
 * Sets the bias of every convolution and dense layer of `quantized` (the same network as `float`, its kernels
 * rounded) so that over `calibration` each layer's mean output (before its activation) is the float32 layer's:
 * bias -= sum over rows of (quantised kernel * quantised model's mean input - float kernel * float model's mean input).
 * Stage by stage, so each layer is measured behind corrected ones. Returns the new biases by weight name.
 */
export function correctBiases(float: tfl.LayersModel, quantized: tfl.LayersModel, calibration: CalibrationTiles): Map<string, Float32Array> {
  const floatMeans = measure(float, float.layers.filter(isKernelLayer).map((l) => l.name), calibration);
  const biases = new Map<string, Float32Array>();
  kernelLayerStages(quantized).forEach((stage, depth) => {
    // The first stage reads nothing a kernel computed (the input, pooled or not): the same in both models.
    const quantizedMeans = depth === 0 ? floatMeans : measure(quantized, stage, calibration);
    for (const name of stage) {
      const layer = quantized.getLayer(name);
      const [kernelQ, biasQ] = layer.getWeights();
      const kernelF = float.getLayer(name).getWeights()[0];
      if (!biasQ || biasQ.shape.length !== 1) throw new Error(`bias correction: layer ${name} has no bias to correct`);
      const [wq, wf, b] = [kernelQ.dataSync(), kernelF.dataSync(), biasQ.dataSync()];
      const [mq, mf] = [quantizedMeans.get(name)!, floatMeans.get(name)!];
      const channels = b.length;
      const shift = new Float64Array(channels);
      for (let i = 0; i < wq.length; i++) {
        const row = Math.floor(i / channels);
        shift[i % channels] += wq[i] * mq[row] - wf[i] * mf[row];
      }
      const corrected = Float32Array.from(b, (v, c) => v - shift[c]);
      const bias = tf.tensor1d(corrected);
      layer.setWeights([kernelQ, bias]);
      bias.dispose();
      biases.set(layer.weights[1].originalName, corrected);
    }
  });
  return biases;
}

/**
 * The model input tiles of the listed fields, as the exported bundle will tile them, one field at a time
 * (unreadable fields are skipped); `onField` is called for each field read.
 */
export async function* streamCalibrationTiles(samples: readonly Sample[], indices: readonly number[], fieldModel: FieldModel, cache?: FieldCache, onField?: () => void): AsyncGenerator<Float32Array> {
  const { height, width } = fieldModel.input;
  const report = new LoadReport();
  for (const index of indices) {
    let image: Awaited<ReturnType<typeof loadSample>>;
    try {
      image = await loadSample(samples[index], fieldModel.preprocessing, cache, report);
    } catch (error) {
      report.fail(index, error, samples[index]);
      continue;
    }
    onField?.();
    const grid = tileField(image.height, image.width, height, width, fieldModel.tiling.minOverlap);
    for (const tile of grid.tiles) yield extractTile(image, grid, tile);
  }
}

/** The model input tiles of the listed fields (unreadable fields are skipped), kept in memory for the stages of bias correction. */
export async function loadCalibrationTiles(samples: readonly Sample[], indices: readonly number[], fieldModel: FieldModel, cache?: FieldCache): Promise<CalibrationTiles> {
  const { height, width, channels } = fieldModel.input;
  const tiles: Float32Array[] = [];
  let fields = 0;
  for await (const tile of streamCalibrationTiles(samples, indices, fieldModel, cache, () => fields++)) tiles.push(tile);
  return { shape: [height, width, channels], tiles, fields };
}
