// Convolution gradients rewritten as forward convolutions, so a backend's fast (XNNPACK) Conv2D does the work.
import * as tf from '@tensorflow/tfjs-core';

export type ConvPad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

export interface ConvGradAttrs {
  strides: number | [number, number];
  pad: ConvPad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | [number, number];
}

/** Largest number of float32 values one chunk of the filter gradient may stage (64 MiB). */
export const DEFAULT_CHUNK_FLOATS = 1 << 24;

const pair = (v: number | [number, number] | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v;

/** Geometry of the forward convolution whose gradient we take. */
export function convGeometry(xShape: number[], filterShape: number[], attrs: ConvGradAttrs): tf.backend_util.Conv2DInfo {
  const [dh, dw] = pair(attrs.dilations, 1);
  if (dh !== 1 || dw !== 1) throw new Error(`conv gradient: dilation ${dh}x${dw} is not supported (only 1)`);
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
}

/** How many width strips to fold into the channel axis: enough that batch x strips >= `target` (default 8, fastest measured on WASM). */
export function stripCount(batch: number, outWidth: number, target = 8): number {
  if (batch >= target) return 1;
  // Keep strips at least 8 output columns wide so the halo stays a small overhead.
  return Math.max(1, Math.min(Math.ceil(target / batch), Math.floor(outWidth / 8)));
}

/**
 * dL/dW of a 2-D NHWC convolution: dW[a,b,c,o] = sum_{n,y,x} xpad[n, y*sh + a, x*sw + b, c] * dy[n,y,x,o].
 *
 * Computed as one forward convolution in which the output-gradient plays the filter and the filter taps play
 * the output pixels (a stride of the original becomes a dilation). To give that convolution real work per
 * indirection step, the image width is cut into g strips that are folded, with the batch, into its channel
 * axis. Everything is laid out width-major (spatial axes swapped), so that strips are contiguous slices and
 * every rearrangement is a 4-D transpose, the two data movements the WASM backend does natively. Images, and
 * for a single large image its output rows, are processed in chunks that stage at most `chunkFloats` values.
 */
export function conv2dBackpropFilterViaConv(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  attrs: ConvGradAttrs,
  options: { chunkFloats?: number; stripTarget?: number } = {},
): tf.Tensor4D {
  const chunkFloats = options.chunkFloats ?? DEFAULT_CHUNK_FLOATS;
  const info = convGeometry(x.shape, filterShape, attrs);
  const { batchSize: n, inChannels: ci, outChannels: co, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const { top: pt, left: pl } = info.padInfo;
  if (dy.shape[0] !== n || dy.shape[1] !== oh || dy.shape[2] !== ow || dy.shape[3] !== co) {
    throw new Error(`conv2dBackpropFilter: dy shape ${dy.shape} does not match output ${[n, oh, ow, co]}`);
  }
  return tf.tidy(() => {
    const g = stripCount(n, ow, options.stripTarget);
    const sWidth = Math.ceil(ow / g); // output columns per strip
    const inStripW = (sWidth - 1) * sw + kw; // input columns one strip reads
    const needW = (g * sWidth - 1) * sw + kw; // padded input width read by all strips
    const needH = (oh - 1) * sh + kh;
    // Padded input, zero-extended or cropped to exactly needH x needW.
    const padB = needH - pt - x.shape[1];
    const padR = needW - pl - x.shape[2];
    let xp: tf.Tensor4D = x;
    if (pt > 0 || pl > 0 || padB > 0 || padR > 0) {
      xp = tf.pad(x, [[0, 0], [Math.max(pt, 0), Math.max(padB, 0)], [Math.max(pl, 0), Math.max(padR, 0)], [0, 0]]);
    }
    if (xp.shape[1] !== needH || xp.shape[2] !== needW) {
      xp = tf.slice(xp, [0, Math.max(-pt, 0), Math.max(-pl, 0), 0], [n, needH, needW, ci]);
    }
    // dy zero-extended to g * sWidth columns: the extra columns contribute nothing.
    const dyp = g * sWidth > ow ? tf.pad(dy, [[0, 0], [0, 0], [0, g * sWidth - ow], [0, 0]]) : dy;

    // Chunking: whole images while they fit, else rows of one image (both contiguous slices of NHWC).
    const perRow = g * (inStripW * ci * sh + sWidth * co) * 2; // staged floats per image row (x2: transposes)
    const perImage = perRow * oh;
    const imagesPerChunk = Math.max(1, Math.min(n, Math.floor(chunkFloats / perImage)));
    const rows = perImage <= chunkFloats ? oh : Math.max(1, Math.floor(chunkFloats / perRow));

    let acc: tf.Tensor | null = null;
    for (let n0 = 0; n0 < n; n0 += imagesPerChunk) {
      const nb = Math.min(imagesPerChunk, n - n0);
      for (let r0 = 0; r0 < oh; r0 += rows) {
        const h = Math.min(rows, oh - r0);
        const inH = (h - 1) * sh + kh;
        const part = tf.tidy(() => {
          const whole = nb === n && h === oh;
          const xs = whole ? xp : tf.slice(xp, [n0, r0 * sh, 0, 0], [nb, inH, needW, ci]);
          const ds = whole ? dyp : tf.slice(dyp, [n0, r0, 0, 0], [nb, h, g * sWidth, co]);
          // x width-major [W, H, n, ci]; strips are slices on the leading axis.
          const xT = tf.transpose(xs, [2, 1, 0, 3]);
          const strips: tf.Tensor[] = [];
          for (let s = 0; s < g; s++) strips.push(g === 1 ? xT : tf.slice(xT, [s * sWidth * sw, 0, 0, 0], [inStripW, inH, nb, ci]));
          const xStrips = g === 1 ? xT : tf.concat(strips, 0); // [g*inStripW, inH, nb, ci]
          const input = tf.reshape(
            tf.transpose(tf.reshape(xStrips, [g, inStripW * inH, nb, ci]), [3, 1, 0, 2]),
            [ci, inStripW, inH, g * nb],
          ) as tf.Tensor4D;
          // dy width-major: [g*sWidth, h, nb, co] -> [sWidth, h, g*nb, co].
          const dT = tf.transpose(ds, [2, 1, 0, 3]);
          const filt = tf.reshape(
            tf.transpose(tf.reshape(dT, [g, sWidth * h, nb, co]), [1, 0, 2, 3]),
            [sWidth, h, g * nb, co],
          ) as tf.Tensor4D;
          // Output [ci, kw, kh, co] (spatial axes swapped like the inputs).
          return tf.conv2d(input, filt, 1, 'valid', 'NHWC', [sw, sh]);
        });
        if (acc) {
          const sum: tf.Tensor = tf.add(acc, part);
          acc.dispose();
          part.dispose();
          acc = sum;
        } else acc = part;
      }
    }
    return tf.transpose(acc as tf.Tensor4D, [2, 1, 0, 3]) as tf.Tensor4D;
  });
}

/**
 * dL/dx of a stride-1 2-D NHWC convolution, as a forward convolution of dy with the filter rotated by
 * 180 degrees and its in/out channels swapped, padded so the result has x's height and width.
 */
export function conv2dBackpropInputViaConv(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  xShape: [number, number, number, number],
  attrs: ConvGradAttrs,
): tf.Tensor4D {
  const info = convGeometry(xShape, filter.shape, attrs);
  if (info.strideHeight !== 1 || info.strideWidth !== 1) throw new Error('conv2dBackpropInputViaConv: stride 1 only');
  const { filterHeight: kh, filterWidth: kw, outHeight: oh, outWidth: ow, inHeight: ih, inWidth: iw } = info;
  const { top: pt, left: pl } = info.padInfo;
  return tf.tidy(() => {
    const rotated = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    const pads: tf.backend_util.ExplicitPadding = [
      [0, 0],
      [kh - 1 - pt, ih - oh + pt],
      [kw - 1 - pl, iw - ow + pl],
      [0, 0],
    ];
    if (pads.some(([a, b]) => a < 0 || b < 0)) throw new Error(`conv2dBackpropInputViaConv: unsupported padding ${JSON.stringify(pads)}`);
    return tf.conv2d(dy, rotated, 1, pads);
  });
}
