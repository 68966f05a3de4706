// Separable blurs for optics (point-spread function, defocus) and integer box downsampling.

/** Gaussian blur in place, separable; sigma in pixels. Exact kernel up to sigma 2.5, three box passes above. */
export function gaussianBlur(plane: Float32Array, width: number, height: number, sigma: number): void {
  if (!(sigma > 0.25)) return;
  const scratch = new Float32Array(plane.length);
  if (sigma <= 1.25) {
    // The in-focus point-spread function: a 5-tap kernel, unrolled (most fields take this path).
    const kernel = gaussianKernel(sigma, 2);
    rows5(plane, scratch, width, height, kernel);
    columns5(scratch, plane, width, height, kernel);
    return;
  }
  if (sigma <= 2.5) {
    const kernel = gaussianKernel(sigma);
    convolveRows(plane, scratch, width, height, kernel);
    convolveColumns(scratch, plane, width, height, kernel);
    return;
  }
  // Three box passes approximate a Gaussian: box widths from the standard sigma -> width formula.
  for (const radius of boxRadii(sigma, 3)) {
    boxRows(plane, scratch, width, height, radius);
    boxColumns(scratch, plane, width, height, radius);
  }
}

function gaussianKernel(sigma: number, fixedRadius?: number): Float32Array {
  const radius = fixedRadius ?? Math.max(1, Math.ceil(2.5 * sigma));
  const kernel = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = Math.exp((-i * i) / (2 * sigma * sigma));
    kernel[i + radius] = v;
    sum += v;
  }
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  return kernel;
}

/** Symmetric 5-tap horizontal convolution, clamp-to-edge. */
function rows5(src: Float32Array, dst: Float32Array, width: number, height: number, kernel: Float32Array): void {
  const w0 = kernel[2];
  const w1 = kernel[1];
  const w2 = kernel[0];
  const last = width - 1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const l1 = src[row + (x > 0 ? x - 1 : 0)];
      const l2 = src[row + (x > 1 ? x - 2 : 0)];
      const r1 = src[row + (x < last ? x + 1 : last)];
      const r2 = src[row + (x < last - 1 ? x + 2 : last)];
      dst[row + x] = w0 * src[row + x] + w1 * (l1 + r1) + w2 * (l2 + r2);
    }
  }
}

/** Symmetric 5-tap vertical convolution, clamp-to-edge, one write per pixel. */
function columns5(src: Float32Array, dst: Float32Array, width: number, height: number, kernel: Float32Array): void {
  const w0 = kernel[2];
  const w1 = kernel[1];
  const w2 = kernel[0];
  const last = height - 1;
  for (let y = 0; y < height; y++) {
    const c = y * width;
    const u1 = (y > 0 ? y - 1 : 0) * width;
    const u2 = (y > 1 ? y - 2 : 0) * width;
    const d1 = (y < last ? y + 1 : last) * width;
    const d2 = (y < last - 1 ? y + 2 : last) * width;
    for (let x = 0; x < width; x++) {
      dst[c + x] = w0 * src[c + x] + w1 * (src[u1 + x] + src[d1 + x]) + w2 * (src[u2 + x] + src[d2 + x]);
    }
  }
}

/** Clamp-to-edge horizontal convolution through an edge-padded row buffer (no branches in the inner loop). */
function convolveRows(src: Float32Array, dst: Float32Array, width: number, height: number, kernel: Float32Array): void {
  const radius = (kernel.length - 1) >> 1;
  const padded = new Float32Array(width + 2 * radius);
  const taps = kernel.length;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    padded.set(src.subarray(row, row + width), radius);
    padded.fill(src[row], 0, radius);
    padded.fill(src[row + width - 1], radius + width);
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let k = 0; k < taps; k++) acc += padded[x + k] * kernel[k];
      dst[row + x] = acc;
    }
  }
}

/** Clamp-to-edge vertical convolution, walking rows for cache locality. */
function convolveColumns(src: Float32Array, dst: Float32Array, width: number, height: number, kernel: Float32Array): void {
  const radius = (kernel.length - 1) >> 1;
  for (let y = 0; y < height; y++) {
    const out = y * width;
    const w0 = kernel[0];
    const first = Math.min(height - 1, Math.max(0, y - radius)) * width;
    for (let x = 0; x < width; x++) dst[out + x] = src[first + x] * w0;
    for (let k = 1; k < kernel.length; k++) {
      const inp = Math.min(height - 1, Math.max(0, y + k - radius)) * width;
      const w = kernel[k];
      for (let x = 0; x < width; x++) dst[out + x] += src[inp + x] * w;
    }
  }
}

function boxRadii(sigma: number, passes: number): number[] {
  const ideal = Math.sqrt((12 * sigma * sigma) / passes + 1);
  let lower = Math.floor(ideal);
  if (lower % 2 === 0) lower--;
  const upper = lower + 2;
  const m = Math.round((12 * sigma * sigma - passes * lower * lower - 4 * passes * lower - 3 * passes) / (-4 * lower - 4));
  const radii: number[] = [];
  for (let i = 0; i < passes; i++) radii.push(((i < m ? lower : upper) - 1) >> 1);
  return radii;
}

function boxRows(src: Float32Array, dst: Float32Array, width: number, height: number, radius: number): void {
  const norm = 1 / (2 * radius + 1);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let acc = 0;
    for (let k = -radius; k <= radius; k++) acc += src[row + Math.min(width - 1, Math.max(0, k))];
    for (let x = 0; x < width; x++) {
      dst[row + x] = acc * norm;
      acc += src[row + Math.min(width - 1, x + radius + 1)] - src[row + Math.max(0, x - radius)];
    }
  }
}

function boxColumns(src: Float32Array, dst: Float32Array, width: number, height: number, radius: number): void {
  const norm = 1 / (2 * radius + 1);
  const acc = new Float32Array(width);
  for (let k = -radius; k <= radius; k++) {
    const inp = Math.min(height - 1, Math.max(0, k)) * width;
    for (let x = 0; x < width; x++) acc[x] += src[inp + x];
  }
  for (let y = 0; y < height; y++) {
    const out = y * width;
    const add = Math.min(height - 1, y + radius + 1) * width;
    const sub = Math.max(0, y - radius) * width;
    for (let x = 0; x < width; x++) {
      dst[out + x] = acc[x] * norm;
      acc[x] += src[add + x] - src[sub + x];
    }
  }
}

/** Mean over factor x factor blocks; width and height must be multiples of factor. */
export function binDown(plane: Float32Array, width: number, height: number, factor: number): Float32Array {
  if (factor === 1) return plane;
  const w = width / factor;
  const h = height / factor;
  const out = new Float32Array(w * h);
  const norm = 1 / (factor * factor);
  for (let y = 0; y < height; y++) {
    const outRow = Math.floor(y / factor) * w;
    const row = y * width;
    for (let x = 0; x < width; x++) out[outRow + Math.floor(x / factor)] += plane[row + x];
  }
  for (let i = 0; i < out.length; i++) out[i] *= norm;
  return out;
}

/**
 * Adds `amount` times a wide Gaussian blur (sigma in pixels) of the plane to itself: out-of-focus glow around
 * cells. The blur runs on a grid `step` times coarser and is interpolated back bilinearly, so it costs little.
 */
export function addGlow(plane: Float32Array, width: number, height: number, sigma: number, amount: number): void {
  if (!(amount > 0) || !(sigma > 0)) return;
  const step = Math.max(1, Math.floor(sigma / 3));
  const gw = Math.ceil(width / step);
  const gh = Math.ceil(height / step);
  const grid = new Float32Array(gw * gh);
  const counts = new Float32Array(gw * gh);
  const cellOf = new Int32Array(width);
  for (let x = 0; x < width; x++) cellOf[x] = Math.floor(x / step);
  for (let y = 0; y < height; y++) {
    const g = Math.floor(y / step) * gw;
    const row = y * width;
    for (let x = 0; x < width; x++) grid[g + cellOf[x]] += plane[row + x];
  }
  for (let y = 0; y < height; y++) {
    const g = Math.floor(y / step) * gw;
    for (let x = 0; x < width; x++) counts[g + cellOf[x]]++;
  }
  for (let k = 0; k < grid.length; k++) grid[k] = (amount * grid[k]) / counts[k];
  gaussianBlur(grid, gw, gh, sigma / step);
  // Bilinear weights per column (grid cell centres sit at (k + 0.5) * step - 0.5 in pixel coordinates).
  const left = new Int32Array(width);
  const right = new Int32Array(width);
  const weight = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const gx = Math.min(gw - 1, Math.max(0, (x + 0.5) / step - 0.5));
    left[x] = Math.floor(gx);
    right[x] = Math.min(gw - 1, left[x] + 1);
    weight[x] = gx - left[x];
  }
  const line = new Float32Array(gw);
  for (let y = 0; y < height; y++) {
    const gy = Math.min(gh - 1, Math.max(0, (y + 0.5) / step - 0.5));
    const y0 = Math.floor(gy);
    const y1 = Math.min(gh - 1, y0 + 1);
    const ty = gy - y0;
    for (let k = 0; k < gw; k++) line[k] = grid[y0 * gw + k] + (grid[y1 * gw + k] - grid[y0 * gw + k]) * ty;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const a = line[left[x]];
      plane[row + x] += a + (line[right[x]] - a) * weight[x];
    }
  }
}
