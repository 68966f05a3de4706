// Renders one field of MCF-7-like cells into three 16-bit planes (DNA, Tubulin, Actin) with optics and camera noise.

import { binDown, gaussianBlur } from './blur.ts';
import { placeCells, sampleCell, type Blob, type Cell } from './cells.ts';
import { NoiseTexture } from './noise-texture.ts';
import type { Phenotype } from './phenotypes.ts';
import { deriveSeed, Rng } from '../util/prng.ts';

/** Full BBBC021 field size; phenotype lengths are in pixels of this size. */
export const FULL_HEIGHT = 1024;
export const FULL_WIDTH = 1280;

export interface FieldRenderOptions {
  height: number;
  width: number;
  /** Seed of this field (cell placement, states, noise). */
  seed: number;
  /** Seed of the plate (batch effects: channel gains, illumination pattern). Defaults to a fixed plate. */
  plateSeed?: number;
  /** 'random' (default): about 8% of fields are out of focus, as in a real screen; 'sharp': never. */
  focus?: 'random' | 'sharp';
}

/** Three 16-bit planes, row-major, in CHANNELS order: DNA, Tubulin, Actin. */
export interface RenderedField {
  height: number;
  width: number;
  planes: [Uint16Array, Uint16Array, Uint16Array];
  /** Number of cells drawn (for tests and docs). */
  cellCount: number;
}

/** Camera units per unit of relative stain intensity, autofluorescence background, per channel. */
const CHANNEL_GAIN = [2600, 1400, 1700];
const AUTOFLUORESCENCE = [110, 230, 170];
const CAMERA_OFFSET = 100;
const DN_PER_ELECTRON = 1.6;
const READ_NOISE = 4;

/** Renders a field of the given phenotype. Deterministic in (phenotype, options). */
export function renderField(phenotype: Phenotype, options: FieldRenderOptions): RenderedField {
  const { height, width } = options;
  if (!(Number.isInteger(height) && Number.isInteger(width) && height >= 8 && width >= 8)) {
    throw new Error(`Field size must be integers >= 8, got ${height}x${width}`);
  }
  const rng = new Rng(deriveSeed(options.seed, 'field'));
  const plate = new Rng(deriveSeed(options.plateSeed ?? 1, 'plate'));
  const scale = Math.sqrt((height / FULL_HEIGHT) * (width / FULL_WIDTH));
  // Small outputs are drawn at up to 4x and binned, like a camera integrating over its pixels.
  const supersample = scale < 0.25 ? Math.min(4, Math.ceil(0.25 / scale)) : 1;
  const rh = height * supersample;
  const rw = width * supersample;
  const rs = scale * supersample;

  const fullH = height / scale;
  const fullW = width / scale;
  const density = phenotype.density * rng.logNormal(0.22) * ((fullH * fullW) / (FULL_HEIGHT * FULL_WIDTH));
  const positions = placeCells(phenotype, rng.poisson(density), fullW, fullH, rng);
  const cells = positions.map(({ x, y }) => sampleCell(phenotype, x, y, rng));

  const dna = new Float32Array(rh * rw);
  const tubulin = new Float32Array(rh * rw);
  const actin = new Float32Array(rh * rw);
  const noise = new NoiseTexture(deriveSeed(options.seed, 'texture'));
  const canvas: Canvas = { dna, tubulin, actin, width: rw, height: rh, rs, noise };
  for (const cell of cells) drawCell(cell, phenotype, canvas, rng);

  // Optics: a point-spread function plus, in some fields, defocus.
  const outOfFocus = rng.chance(0.08);
  const defocus = outOfFocus && options.focus !== 'sharp' ? rng.uniform(2, 4.5) : rng.uniform(0, 0.8);
  const sigma = Math.hypot(0.9, defocus) * rs;
  const planes = [dna, tubulin, actin].map((plane) => {
    gaussianBlur(plane, rw, rh, sigma);
    return binDown(plane, rw, rh, supersample);
  });

  // Plate-level batch effects and the camera.
  const gains = CHANNEL_GAIN.map((g) => g * plate.logNormal(0.1) * rng.logNormal(0.04));
  const illumCx = plate.uniform(0.3, 0.7) * width;
  const illumCy = plate.uniform(0.3, 0.7) * height;
  const vignette = plate.uniform(0.15, 0.35);
  const gradient = plate.uniform(-0.12, 0.12);
  const radius2 = (width * width + height * height) / 4;
  const columnFalloff = new Float32Array(width);
  const columnGradient = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    columnFalloff[x] = (vignette * (x - illumCx) ** 2) / radius2;
    columnGradient[x] = 1 + (gradient * (x - width / 2)) / width;
  }
  const normals = gaussianTable();
  let state = deriveSeed(options.seed, 'camera') | 1;
  const out = planes.map(() => new Uint16Array(height * width)) as [Uint16Array, Uint16Array, Uint16Array];
  for (let c = 0; c < 3; c++) {
    const src = planes[c];
    const dst = out[c];
    const gain = gains[c];
    const background = AUTOFLUORESCENCE[c] * plate.logNormal(0.1);
    for (let y = 0; y < height; y++) {
      const rowFalloff = (vignette * (y - illumCy) ** 2) / radius2;
      const row = y * width;
      for (let x = 0; x < width; x++) {
        const illumination = (1 - rowFalloff - columnFalloff[x]) * columnGradient[x];
        const signal = (src[row + x] * gain + background) * illumination;
        // xorshift32 picks two standard normals from a table: shot noise and read noise.
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        const shot = normals[state & NORMAL_MASK];
        const read = normals[(state >>> 16) & NORMAL_MASK];
        const value = CAMERA_OFFSET + signal + Math.sqrt(signal * DN_PER_ELECTRON) * shot + READ_NOISE * read;
        dst[row + x] = value <= 0 ? 0 : value >= 65535 ? 65535 : (value + 0.5) | 0;
      }
    }
  }
  return { height, width, planes: out, cellCount: cells.length };
}

const NORMAL_BITS = 16;
const NORMAL_MASK = (1 << NORMAL_BITS) - 1;
let normalTable: Float32Array | null = null;

/** 65,536 standard normal values (fixed seed), indexed by a fast per-pixel generator for camera noise. */
function gaussianTable(): Float32Array {
  if (!normalTable) {
    const rng = new Rng(0x5eed);
    normalTable = new Float32Array(1 << NORMAL_BITS);
    for (let i = 0; i < normalTable.length; i++) normalTable[i] = rng.normal();
  }
  return normalTable;
}

interface Canvas {
  dna: Float32Array;
  tubulin: Float32Array;
  actin: Float32Array;
  width: number;
  height: number;
  /** Render pixels per full-resolution pixel. */
  rs: number;
  noise: NoiseTexture;
}


function drawCell(cell: Cell, p: Phenotype, canvas: Canvas, rng: Rng): void {
  const { width, height, rs, noise } = canvas;
  const shape = cellShape(cell, rs);
  const { cx, cy, semiMajor, semiMinor, meanRadius, ca, sa, hc, hs } = shape;
  let harmonicSum = 0;
  for (const h of cell.harmonics) harmonicSum += h.amplitude;
  const extent = semiMajor * (1 + harmonicSum) * 1.12 + 3;
  const x0 = Math.max(0, Math.floor(cx - extent));
  const x1 = Math.min(width - 1, Math.ceil(cx + extent));
  const y0 = Math.max(0, Math.floor(cy - extent));
  const y1 = Math.min(height - 1, Math.ceil(cy + extent));
  if (x0 > x1 || y0 > y1) return;

  const edgeWidth = Math.max(0.6, 1.2 * rs);
  const cortexWidth = Math.max(0.7, 1.8 * rs);
  const interphase = cell.kind === 'interphase';
  const ruffleC = Math.cos(cell.ruffleAngle);
  const ruffleS = Math.sin(cell.ruffleAngle);
  const mottleScale = 1 / Math.max(0.5, 7 * rs);
  const brightness = cell.brightness;
  const diffuseTubulin = cell.kind === 'mitotic' ? (cell.spindle === 'spindleless' ? 1.5 : 0.8) : p.tubulinDiffuse;
  const cortical = cell.kind === 'mitotic' ? 1.4 * p.corticalActin : p.corticalActin;
  const ruffles = interphase ? p.actinRuffles : 0;
  const vacuoles = cell.vacuoles.map((v) => ({ x: cx + v.dx * rs, y: cy + v.dy * rs, r2: (v.radius * rs) ** 2 }));

  for (let py = y0; py <= y1; py++) {
    const row = py * width;
    const dy = py + 0.5 - cy;
    for (let px = x0; px <= x1; px++) {
      const dx = px + 0.5 - cx;
      const u = (dx * ca + dy * sa) / semiMajor;
      const v = (-dx * sa + dy * ca) / semiMinor;
      const q = Math.sqrt(u * u + v * v) + 1e-9;
      if (q > 1.6) continue;
      const c1 = u / q;
      const s1 = v / q;
      const rn = q / outline(c1, s1, hc, hs);
      if (rn > 1.25) continue;
      const edgeDistance = (1 - rn) * meanRadius;
      const mask = clamp01(edgeDistance / edgeWidth + 0.5);
      const cortexArg = edgeDistance / cortexWidth - 0.4;
      const cortex = Math.exp(-cortexArg * cortexArg);
      const thickness = mask * (0.3 + 0.7 * Math.max(0, 1 - rn * rn));
      let vacuole = 1;
      for (const vac of vacuoles) {
        const vx = px + 0.5 - vac.x;
        const vy = py + 0.5 - vac.y;
        if (vx * vx + vy * vy < vac.r2) vacuole = 0.25;
      }
      const mottle = noise.sample(px * mottleScale + cell.noiseOffset, py * mottleScale);
      const tub = 0.45 * diffuseTubulin * thickness * (0.7 + 0.6 * mottle);
      let act = 0.2 * thickness + 0.75 * cortical * cortex * (0.6 + 0.8 * mottle);
      if (ruffles > 0.02) {
        const facing = Math.max(0, c1 * ruffleC + s1 * ruffleS);
        const band = (rn - 0.93) / 0.09;
        act += ruffles * 1.3 * Math.exp(-band * band) * facing * facing * facing * (0.5 + mottle);
      }
      const i = row + px;
      canvas.tubulin[i] += tub * brightness * vacuole;
      canvas.actin[i] += act * brightness * (vacuole < 1 ? 0.5 : 1);
    }
  }

  if (interphase) {
    drawMicrotubules(cell, p, shape, canvas, rng);
    drawStressFibres(cell, p, shape, canvas, rng);
    for (const nucleus of cell.nuclei) drawNucleus(cell, nucleus, p, canvas);
  }
  stampBlobs(canvas.dna, cell, cell.dnaBlobs, canvas);
  stampBlobs(canvas.tubulin, cell, cell.tubulinBlobs, canvas);
  stampBlobs(canvas.actin, cell, cell.actinBlobs, canvas);
}

/** A cell's outline in render pixels: centre, ellipse axes, rotation and outline harmonics. */
interface CellShape {
  cx: number;
  cy: number;
  semiMajor: number;
  semiMinor: number;
  meanRadius: number;
  ca: number;
  sa: number;
  hc: number[];
  hs: number[];
}

function cellShape(cell: Cell, rs: number): CellShape {
  const radius = cell.radius * rs;
  const sqrtAspect = Math.sqrt(cell.aspect);
  return {
    cx: cell.x * rs,
    cy: cell.y * rs,
    semiMajor: radius * sqrtAspect,
    semiMinor: radius / sqrtAspect,
    meanRadius: radius,
    ca: Math.cos(cell.angle),
    sa: Math.sin(cell.angle),
    hc: cell.harmonics.map((h) => h.amplitude * Math.cos(h.phase)),
    hs: cell.harmonics.map((h) => h.amplitude * Math.sin(h.phase)),
  };
}

/** Outline radius (relative) in the direction (c1, s1): harmonics k = 2..5 via angle addition, no atan2. */
function outline(c1: number, s1: number, hc: number[], hs: number[]): number {
  let ck = c1;
  let sk = s1;
  let boundary = 1;
  for (let k = 0; k < 4; k++) {
    const cn = ck * c1 - sk * s1;
    const sn = sk * c1 + ck * s1;
    ck = cn;
    sk = sn;
    boundary += hc[k] * ck - hs[k] * sk;
  }
  return boundary;
}

/** Normalised radius of a render-space point in a cell (1 at the outline). */
function normalisedRadius(shape: CellShape, x: number, y: number): number {
  const dx = x - shape.cx;
  const dy = y - shape.cy;
  const u = (dx * shape.ca + dy * shape.sa) / shape.semiMajor;
  const v = (-dx * shape.sa + dy * shape.ca) / shape.semiMinor;
  const q = Math.sqrt(u * u + v * v) + 1e-9;
  return q / outline(u / q, v / q, shape.hc, shape.hs);
}

/** Adds intensity at a sub-pixel point, split bilinearly over four pixels (area-preserving line drawing). */
function splat(plane: Float32Array, width: number, height: number, x: number, y: number, value: number): void {
  const fx = x - 0.5;
  const fy = y - 0.5;
  const ix = Math.floor(fx);
  const iy = Math.floor(fy);
  if (ix < 0 || iy < 0 || ix >= width - 1 || iy >= height - 1) return;
  const tx = fx - ix;
  const ty = fy - iy;
  const i = iy * width + ix;
  plane[i] += value * (1 - tx) * (1 - ty);
  plane[i + 1] += value * tx * (1 - ty);
  plane[i + width] += value * (1 - tx) * ty;
  plane[i + width + 1] += value * tx * ty;
}

/**
 * Microtubules: curved polylines from the MTOC to the cortex, where they bend and follow the edge.
 * Stabilisers give fewer, brighter, thicker bundles that run far along the cortex; destabilisers remove them.
 */
function drawMicrotubules(cell: Cell, p: Phenotype, shape: CellShape, canvas: Canvas, rng: Rng): void {
  if (p.tubulinFilaments < 0.03) return;
  const { width, height, rs } = canvas;
  const step = 0.7;
  const startX = shape.cx + cell.mtocDx * rs;
  const startY = shape.cy + cell.mtocDy * rs;
  const bundled = p.tubulinBundling;
  const perLength = (p.tubulinFilaments * 0.32 * (1 + 1.5 * bundled) * cell.brightness * step) * rs;
  const maxSteps = Math.ceil((shape.semiMajor * 1.6 * (1 + 2 * bundled)) / step);
  const curvature = (0.06 + 0.05 * bundled) / Math.sqrt(Math.max(rs, 0.1));
  for (let f = 0; f < cell.filamentCount; f++) {
    let angle = (2 * Math.PI * (f + rng.next())) / cell.filamentCount;
    let x = startX + rng.gaussian(0, 1.5 * rs);
    let y = startY + rng.gaussian(0, 1.5 * rs);
    const intensity = perLength * rng.uniform(0.5, 1.5);
    let alongEdge = 0;
    const edgeRun = (0.12 + 2.2 * bundled) * shape.meanRadius * rng.uniform(0.4, 1.4);
    const turn = rng.chance(0.5) ? 1 : -1;
    for (let s = 0; s < maxSteps; s++) {
      const rn = normalisedRadius(shape, x, y);
      if (rn > 0.92) {
        // At the cortex: bend along the edge (far for bundled microtubules), then stop.
        if (alongEdge > edgeRun || rn > 1.02) break;
        angle = Math.atan2(y - shape.cy, x - shape.cx) + turn * (Math.PI / 2 + 0.12);
        alongEdge += step;
      } else {
        angle += rng.gaussian(0, curvature);
      }
      splat(canvas.tubulin, width, height, x, y, intensity);
      x += Math.cos(angle) * step;
      y += Math.sin(angle) * step;
    }
  }
}

/** Stress fibres: straight bundles along the cell's long axis, ending short of the outline. */
function drawStressFibres(cell: Cell, p: Phenotype, shape: CellShape, canvas: Canvas, rng: Rng): void {
  const count = rng.poisson(p.stressFibres * 5 * cell.aspect);
  if (count === 0) return;
  const { width, height, rs } = canvas;
  const step = 0.7;
  for (let f = 0; f < count; f++) {
    const angle = cell.fibreAngle + rng.gaussian(0, 0.12);
    const dirX = Math.cos(angle);
    const dirY = Math.sin(angle);
    const offset = rng.uniform(-0.85, 0.85) * shape.semiMinor;
    const ox = shape.cx - dirY * offset;
    const oy = shape.cy + dirX * offset;
    const intensity = (cell.brightness * step * rng.uniform(0.3, 1.3) * 1.3) * rs;
    for (const sign of [1, -1]) {
      let x = ox;
      let y = oy;
      for (let s = 0; s < 4000; s++) {
        if (normalisedRadius(shape, x, y) > 0.9) break;
        splat(canvas.actin, width, height, x, y, intensity);
        x += sign * dirX * step;
        y += sign * dirY * step;
      }
    }
  }
}

function drawNucleus(cell: Cell, nucleus: Cell['nuclei'][number], p: Phenotype, canvas: Canvas): void {
  const { width, height, rs, noise } = canvas;
  const cx = (cell.x + nucleus.dx) * rs;
  const cy = (cell.y + nucleus.dy) * rs;
  const radius = nucleus.radius * rs;
  const sqrtAspect = Math.sqrt(nucleus.aspect);
  const a = radius * sqrtAspect;
  const b = radius / sqrtAspect;
  const extent = a * (1 + nucleus.lobes * 1.6) + 2;
  const x0 = Math.max(0, Math.floor(cx - extent));
  const x1 = Math.min(width - 1, Math.ceil(cx + extent));
  const y0 = Math.max(0, Math.floor(cy - extent));
  const y1 = Math.min(height - 1, Math.ceil(cy + extent));
  const ca = Math.cos(nucleus.angle);
  const sa = Math.sin(nucleus.angle);
  const lc3 = nucleus.lobes * Math.cos(nucleus.lobePhase);
  const ls3 = nucleus.lobes * Math.sin(nucleus.lobePhase);
  const edgeWidth = Math.max(0.5, 0.9 * rs);
  // Texture finer than the grid is attenuated rather than aliased.
  const texturePeriod = 4 * rs;
  const textureScale = 1 / Math.max(0.5, texturePeriod);
  const textureGain = p.nuclearTexture * 2.4 * Math.min(1, texturePeriod / 1.5);
  const fociGain = nucleus.foci * 2.2 * Math.min(1, texturePeriod / 1.5);
  const meanRadius = Math.sqrt(a * b);
  for (let py = y0; py <= y1; py++) {
    const dy = py + 0.5 - cy;
    for (let px = x0; px <= x1; px++) {
      const dx = px + 0.5 - cx;
      const u = (dx * ca + dy * sa) / a;
      const v = (-dx * sa + dy * ca) / b;
      const q = Math.sqrt(u * u + v * v) + 1e-9;
      if (q > 1.6) continue;
      const c1 = u / q;
      const s1 = v / q;
      const c3 = c1 * (4 * c1 * c1 - 3);
      const s3 = s1 * (3 - 4 * s1 * s1);
      const rn = q / (1 + lc3 * c3 - ls3 * s3);
      const mask = clamp01(((1 - rn) * meanRadius) / edgeWidth + 0.5);
      if (mask === 0) continue;
      const grain = noise.sample(px * textureScale + cell.noiseOffset, py * textureScale + 17);
      const spot = noise.sample(px * textureScale * 1.3 + 63, py * textureScale * 1.3 + cell.noiseOffset);
      const foci = Math.max(0, spot - 0.62) * 2.6;
      const value = nucleus.brightness * (0.78 + 0.22 * (1 - rn * rn)) * (1 + textureGain * (grain - 0.5)) * (1 + fociGain * foci);
      canvas.dna[py * width + px] += mask * Math.max(0, value);
    }
  }
}

function stampBlobs(plane: Float32Array, cell: Cell, blobs: Blob[], canvas: Canvas): void {
  const { width, height, rs } = canvas;
  for (const blob of blobs) {
    const sigma = blob.sigma * rs;
    const drawSigma = Math.max(0.55, sigma);
    const amplitude = blob.amplitude * (sigma * sigma) / (drawSigma * drawSigma) * cell.brightness ** (plane === canvas.dna ? 0 : 1);
    const bx = (cell.x + blob.dx) * rs;
    const by = (cell.y + blob.dy) * rs;
    const reach = Math.ceil(3 * drawSigma);
    const x0 = Math.max(0, Math.floor(bx - reach));
    const x1 = Math.min(width - 1, Math.ceil(bx + reach));
    const y0 = Math.max(0, Math.floor(by - reach));
    const y1 = Math.min(height - 1, Math.ceil(by + reach));
    const inv = 1 / (2 * drawSigma * drawSigma);
    for (let py = y0; py <= y1; py++) {
      const dy = py + 0.5 - by;
      for (let px = x0; px <= x1; px++) {
        const dx = px + 0.5 - bx;
        plane[py * width + px] += amplitude * Math.exp(-(dx * dx + dy * dy) * inv);
      }
    }
  }
}

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);
