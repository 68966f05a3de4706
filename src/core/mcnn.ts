// The M-CNN builder (Godinez et al. 2017): seven parallel scale columns, concat, 1x1 conv, dense head.
import * as tfl from '@tensorflow/tfjs-layers';

export interface McnnConfig {
  /** Input height in pixels; a positive multiple of 64. */
  height: number;
  /** Input width in pixels; a positive multiple of 64. */
  width: number;
  /** Input channels (DNA, Tubulin, Actin). */
  channels?: number;
  /** Output classes (12 MoA + DMSO). */
  classes?: number;
  /** Scales every layer's filter/unit count; 1 is the paper's network, 0.25 a small test model. */
  widthMultiplier?: number;
  /** Seed for the Glorot initialisers, so two builds with the same seed have the same weights. */
  seed?: number;
}

/** The paper's columns: pre-pool size (1 = none) and filters of its three 5x5 convs. */
export const MCNN_COLUMNS = [
  { scale: 1, filters: 16 },
  { scale: 2, filters: 16 },
  { scale: 4, filters: 16 },
  { scale: 8, filters: 32 },
  { scale: 16, filters: 32 },
  { scale: 32, filters: 32 },
  { scale: 64, filters: 64 },
] as const;

/** Coarsest scale: every column ends at input/64. */
export const MCNN_STRIDE = 64;

export class McnnInputSizeError extends Error {
  constructor(height: number, width: number) {
    super(
      `M-CNN cannot take a ${height}x${width} input: height and width must each be a positive multiple of ${MCNN_STRIDE} ` +
        `(for example 64x64, 256x320, 512x640 or the paper's 1024x1280), because the coarsest column pools by ${MCNN_STRIDE}.`,
    );
    this.name = 'McnnInputSizeError';
  }
}

export function checkMcnnInputSize(height: number, width: number): void {
  const ok = (n: number) => Number.isInteger(n) && n >= MCNN_STRIDE && n % MCNN_STRIDE === 0;
  if (!ok(height) || !ok(width)) throw new McnnInputSizeError(height, width);
}

const scaled = (n: number, m: number) => Math.max(1, Math.round(n * m));

/** Builds M-CNN as a tf.js layers model; the default configuration is the paper's network. */
export function buildMcnn(config: McnnConfig): tfl.LayersModel {
  const { height, width, channels = 3, classes = 13, widthMultiplier = 1, seed } = config;
  checkMcnnInputSize(height, width);
  if (!(widthMultiplier > 0)) throw new Error(`widthMultiplier must be positive, got ${widthMultiplier}`);
  let seedCounter = seed ?? 0;
  // He initialisation for the ReLU layers (keeps activations alive through the deep narrow columns), Glorot for the softmax.
  const init = () => tfl.initializers.heNormal({ seed: seed === undefined ? undefined : seedCounter++ });
  const initSoftmax = () => tfl.initializers.glorotUniform({ seed: seed === undefined ? undefined : seedCounter++ });

  const input = tfl.input({ shape: [height, width, channels], name: 'field' });
  const columns = MCNN_COLUMNS.map(({ scale, filters }, i) => {
    const c = i + 1;
    let x: tfl.SymbolicTensor = input;
    if (scale > 1) {
      x = tfl.layers.maxPooling2d({ poolSize: scale, strides: scale, padding: 'valid', name: `c${c}_prepool` }).apply(x) as tfl.SymbolicTensor;
    }
    for (let k = 1; k <= 3; k++) {
      x = tfl.layers
        .conv2d({ filters: scaled(filters, widthMultiplier), kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: init(), name: `c${c}_conv${k}` })
        .apply(x) as tfl.SymbolicTensor;
    }
    const post = MCNN_STRIDE / scale;
    if (post > 1) {
      x = tfl.layers.maxPooling2d({ poolSize: post, strides: post, padding: 'same', name: `c${c}_postpool` }).apply(x) as tfl.SymbolicTensor;
    }
    return x;
  });
  let x = tfl.layers.concatenate({ axis: -1, name: 'concat' }).apply(columns) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: scaled(1024, widthMultiplier), kernelSize: 1, activation: 'relu', kernelInitializer: init(), name: 'fuse_conv1x1' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same', name: 'fuse_pool' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.flatten({ name: 'flatten' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.dense({ units: scaled(512, widthMultiplier), activation: 'relu', kernelInitializer: init(), name: 'dense512' }).apply(x) as tfl.SymbolicTensor;
  const output = tfl.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: initSoftmax(), name: 'moa' }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: output, name: 'mcnn' });
}

/** Multiply-accumulates of one forward pass (convolutions and dense layers; pools ignored). */
export function mcnnForwardMacs(config: McnnConfig): number {
  const { height, width, channels = 3, classes = 13, widthMultiplier = 1 } = config;
  checkMcnnInputSize(height, width);
  let macs = 0;
  let concat = 0;
  for (const { scale, filters } of MCNN_COLUMNS) {
    const f = scaled(filters, widthMultiplier);
    const pixels = (height / scale) * (width / scale);
    macs += pixels * 25 * (channels * f + 2 * f * f);
    concat += f;
  }
  const fuse = scaled(1024, widthMultiplier);
  const dense = scaled(512, widthMultiplier);
  macs += (height / 64) * (width / 64) * concat * fuse;
  macs += Math.ceil(height / 128) * Math.ceil(width / 128) * fuse * dense + dense * classes;
  return macs;
}
