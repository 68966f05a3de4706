// Renders one field of MCF-7-like cells into three 16-bit planes (DNA, Tubulin, Actin) with optics and camera noise.

import { addGlow, binDown, gaussianBlur } from './blur.ts';
import { placeCells, sampleCell, type Blob, type Cell } from './cells.ts';
import { NoiseTexture } from './noise-texture.ts';
import type { Phenotype } from './phenotypes.ts';
import { deriveSeed, Rng } from '../util/prng.ts';

/**
 * Version of the simulator's output: a dataset written by another version has other pixels for the same seed.
 * 1: textbook camera and cells. 2: calibrated against real BBBC021 DMSO crops (docs/simulator.md), compounds
 * with their own mixture of class features and off-target effects. 3: actin recalibrated (an even cell body, a
 * plateau over the nucleus, a lamella, patches, fewer and brighter stress fibres, less autofluorescence) so that
 * the Actin Otsu fraction and the Tubulin-Actin and DNA-Actin correlations match the real crops.
 */
export const SIMULATOR_VERSION = 3;

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
  /** Each cell's centre in output pixels: its (first) nucleus, or the cell centre for mitotic and apoptotic cells. */
  cellCentres: { x: number; y: number }[];
}

/**
 * Field pixels per phenotype length unit. Phenotype lengths (cell and nucleus radii, blob sizes) were written for a
 * coarser grid; v2 calibrates them against real BBBC021 crops (nucleus equivalent radius ~17 px, docs/simulator.md).
 */
export const LENGTH_UNIT_PX = 1.36;

/**
 * The camera, per channel (DNA, Tubulin, Actin), calibrated against real BBBC021 DMSO crops
 * (training/data/real-stats/BBBC021-DMSO-crops.json): 16-bit units per unit of relative stain, background light
 * (autofluorescence and out-of-focus glow), camera offset; a 12-bit camera whose values are stored shifted into
 * 16 bits (multiples of 16).
 */
const CHANNEL_GAIN = [4600, 4700, 1850];
const AUTOFLUORESCENCE = [120, 70, 60];
const CAMERA_OFFSET = [600, 600, 560];
/** Out-of-focus glow: a share of each channel's light spread with a wide Gaussian (sigma in full-field pixels). */
const GLOW = [0, 0.7, 0];
const GLOW_SIGMA = 30;
/** Log-normal sigma of the plate-to-plate spread of gains, background light and offsets. */
const GAIN_PLATE_SPREAD = 0.15;
const BACKGROUND_PLATE_SPREAD = 0.2;
const OFFSET_PLATE_SPREAD = 0.03;
/** 16-bit units per photo-electron (shot noise) and the read noise in 16-bit units. */
const DN_PER_ELECTRON = 6;
const READ_NOISE = 24;
/** A 12-bit value v is stored as 16 v. */
const ADC_STEP = 16;
const ADC_MAX = 4095;

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
  // Output pixels per phenotype length unit, and render pixels per unit.
  const unit = scale * LENGTH_UNIT_PX;
  const rs = unit * supersample;

  // The field in phenotype units. A smaller output is the whole field drawn smaller, so it holds as many cells
  // (phenotype.density per 1024x1280 field, times CROWDING), spread per plate and per field.
  const fullH = height / unit;
  const fullW = width / unit;
  const fieldShare = (height / scale) * (width / scale) / (FULL_HEIGHT * FULL_WIDTH);
  const density = CROWDING * phenotype.density * plate.logNormal(0.15) * rng.logNormal(0.25) * fieldShare;
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
  // The point-spread function is the microscope's, in field pixels (not in phenotype length units).
  const sigma = Math.hypot(0.9, defocus) * scale * supersample;
  const planes = [dna, tubulin, actin].map((plane, c) => {
    gaussianBlur(plane, rw, rh, sigma);
    const binned = binDown(plane, rw, rh, supersample);
    addGlow(binned, width, height, GLOW_SIGMA * scale, GLOW[c]);
    return binned;
  });

  // Plate-level batch effects and the camera.
  const gains = CHANNEL_GAIN.map((g) => g * plate.logNormal(GAIN_PLATE_SPREAD) * rng.logNormal(0.04));
  const backgrounds = AUTOFLUORESCENCE.map((b) => b * plate.logNormal(BACKGROUND_PLATE_SPREAD));
  const offsets = CAMERA_OFFSET.map((o) => o * plate.logNormal(OFFSET_PLATE_SPREAD));
  const illumCx = plate.uniform(0.3, 0.7) * width;
  const illumCy = plate.uniform(0.3, 0.7) * height;
  const vignette = plate.uniform(0.1, 0.3);
  const gradient = plate.uniform(-0.1, 0.1);
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
    const background = backgrounds[c];
    const offset = offsets[c];
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
        const value = offset + signal + Math.sqrt(signal * DN_PER_ELECTRON) * shot + READ_NOISE * read;
        // 12-bit conversion, stored shifted into 16 bits.
        const level = (value / ADC_STEP + 0.5) | 0;
        dst[row + x] = (level <= 0 ? 0 : level >= ADC_MAX ? ADC_MAX : level) * ADC_STEP;
      }
    }
  }
  const cellCentres = cells.map((cell) => {
    const nucleus = cell.nuclei[0];
    return { x: (cell.x + (nucleus?.dx ?? 0)) * unit, y: (cell.y + (nucleus?.dy ?? 0)) * unit };
  });
  return { height, width, planes: out, cellCount: cells.length, cellCentres };
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


/**
 * Calibrated against real crops: DAPI in the cytoplasm, actin in the cell body, tubulin left over the nucleus.
 * Actin (version 3): an even cell body with a plateau over the nucleus (where tubulin is excluded: the real
 * Tubulin-Actin and DNA-Actin correlations), a thin lamella beyond the tubulin's outline, patches at about 20 px and
 * little fine mottle, so that about 40% of a real-like crop is above its Otsu threshold as in real crops.
 */
const CYTOPLASM_DNA = 0.035;
const CYTOPLASM_ACTIN = 0.3375;
const PERINUCLEAR_ACTIN = 0.675;
const CORTICAL_ACTIN = 0.1875;
/** The perinuclear actin is flat over the inner 80% of the nucleus's radius and falls to zero at its edge. */
const PERINUCLEAR_PLATEAU = 3;
/** Actin beyond the cell's outline (lamella), width in full-resolution pixels and level. */
const LAMELLA_WIDTH = 6;
const LAMELLA_ACTIN = 0.45;
/** Actin's fine mottle (7 px) and its coarser patches (20 px), as amplitudes around 1. */
const ACTIN_MOTTLE = 0.3;
const ACTIN_PATCHES = 0.8;
const ACTIN_PATCH_SIZE = 20;
/** Condensed chromatin (mitotic chromosomes, apoptotic bodies) relative to the class tables' blob amplitudes. */
const CONDENSED_DNA = 0.4;
const NUCLEAR_TUBULIN_EXCLUSION = 0.85;
/**
 * Microtubules drawn per cell (a share of the cell's filaments: at BBBC021's resolution single microtubules are not
 * resolved, so fewer, brighter lines give the same picture at lower cost) and their brightness per unit length.
 */
const MICROTUBULE_SHARE = 0.6;
const MICROTUBULE_INTENSITY = 0.18 / MICROTUBULE_SHARE;
/** Cells per field per unit of phenotype density: real DMSO crops are crowded by neighbours. */
const CROWDING = 2;

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
  const patchScale = 1 / Math.max(0.5, ACTIN_PATCH_SIZE * rs);
  const brightness = cell.brightness;
  const actinBrightness = p.cytoplasmContent * cell.actinContent;
  const diffuseTubulin = cell.kind === 'mitotic' ? (cell.spindle === 'spindleless' ? 1.5 : 0.8) : p.tubulinDiffuse;
  const cortical = cell.kind === 'mitotic' ? 1.4 * p.corticalActin : p.corticalActin;
  const ruffles = interphase ? p.actinRuffles : 0;
  const vacuoles = cell.vacuoles.map((v) => ({ x: cx + v.dx * rs, y: cy + v.dy * rs, r2: (v.radius * rs) ** 2 }));
  // Tubulin is partly excluded above and below the (first) nucleus.
  const firstNucleus = cell.nuclei[0];
  const nucleusX = firstNucleus ? cx + firstNucleus.dx * rs : 0;
  const nucleusY = firstNucleus ? cy + firstNucleus.dy * rs : 0;
  const nucleusInv2 = firstNucleus ? 1 / (firstNucleus.radius * rs) ** 2 : 0;

  // Beyond rnMax the cortex, lamella and ruffles have faded below 0.3% (mask and thickness are 0 past rn ~1.02), and no
  // point beyond qMax of the ellipse is inside rnMax of the outline: each row is drawn only over that span.
  const lamellaWidth = LAMELLA_WIDTH * rs;
  const rnMax = Math.min(1.4, Math.max(1 + (2.2 * cortexWidth) / meanRadius, 1 + (lamellaWidth + edgeWidth) / meanRadius, ruffles > 0.02 ? 1.15 : 0));
  const qMax = Math.min(1.6, rnMax * (1 + harmonicSum));
  const invA2 = 1 / (semiMajor * semiMajor);
  const invB2 = 1 / (semiMinor * semiMinor);
  const quadA = ca * ca * invA2 + sa * sa * invB2;
  const quadC = sa * sa * invA2 + ca * ca * invB2;
  const quadB = 2 * ca * sa * (invA2 - invB2);

  for (let py = y0; py <= y1; py++) {
    const row = py * width;
    const dy = py + 0.5 - cy;
    // Solve quadA dx^2 + quadB dy dx + quadC dy^2 <= qMax^2 for the row's span.
    const b = quadB * dy;
    const disc = b * b - 4 * quadA * (quadC * dy * dy - qMax * qMax);
    if (disc < 0) continue;
    const root = Math.sqrt(disc);
    const spanStart = Math.max(x0, Math.ceil(cx - 0.5 + (-b - root) / (2 * quadA)));
    const spanEnd = Math.min(x1, Math.floor(cx - 0.5 + (-b + root) / (2 * quadA)));
    // u and v (ellipse coordinates) change by a constant per pixel along the row.
    const dx0 = spanStart + 0.5 - cx;
    const uStep = ca / semiMajor;
    const vStep = -sa / semiMinor;
    let u = (dx0 * ca + dy * sa) / semiMajor - uStep;
    let v = (-dx0 * sa + dy * ca) / semiMinor - vStep;
    for (let px = spanStart; px <= spanEnd; px++) {
      u += uStep;
      v += vStep;
      const q = Math.sqrt(u * u + v * v) + 1e-9;
      const c1 = u / q;
      const s1 = v / q;
      const rn = q / outline(c1, s1, hc, hs);
      if (rn > rnMax) continue;
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
      const nx = px + 0.5 - nucleusX;
      const ny = py + 0.5 - nucleusY;
      const overNucleus = Math.max(0, 1 - (nx * nx + ny * ny) * nucleusInv2);
      const tub = 0.45 * diffuseTubulin * thickness * (0.7 + 0.6 * mottle) * (1 - NUCLEAR_TUBULIN_EXCLUSION * overNucleus);
      const actinMottle = noise.sample(py * mottleScale + 41, px * mottleScale + cell.noiseOffset);
      const actinTexture = 1 - ACTIN_MOTTLE / 2 + ACTIN_MOTTLE * actinMottle;
      const lamella = clamp01((edgeDistance + lamellaWidth) / edgeWidth + 0.5) - mask;
      let act = (CYTOPLASM_ACTIN * mask + PERINUCLEAR_ACTIN * Math.min(1, PERINUCLEAR_PLATEAU * overNucleus) + CORTICAL_ACTIN * cortical * cortex + LAMELLA_ACTIN * lamella) * actinTexture;
      if (ruffles > 0.02) {
        const facing = Math.max(0, c1 * ruffleC + s1 * ruffleS);
        const band = (rn - 0.93) / 0.09;
        act += ruffles * 0.975 * Math.exp(-band * band) * facing * facing * facing * (0.5 + mottle);
      }
      act *= 1 - ACTIN_PATCHES / 2 + ACTIN_PATCHES * noise.sample(py * patchScale + 77, px * patchScale + cell.noiseOffset + 13);
      const i = row + px;
      canvas.tubulin[i] += tub * brightness * vacuole;
      canvas.actin[i] += act * actinBrightness * (vacuole < 1 ? 0.5 : 1);
      canvas.dna[i] += CYTOPLASM_DNA * mask;
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
  const perLength = (p.tubulinFilaments * MICROTUBULE_INTENSITY * (1 + 1.5 * bundled) * cell.brightness * step) * rs;
  const maxSteps = Math.ceil((shape.semiMajor * 1.6 * (1 + 2 * bundled)) / step);
  const curvature = (0.06 + 0.05 * bundled) / Math.sqrt(Math.max(rs, 0.1));
  const filaments = Math.max(1, Math.round(cell.filamentCount * MICROTUBULE_SHARE));
  for (let f = 0; f < filaments; f++) {
    let angle = (2 * Math.PI * (f + rng.next())) / filaments;
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
  const count = rng.poisson(p.stressFibres * 0.4 * cell.aspect);
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
    const intensity = (cell.brightness * step * rng.uniform(0.3, 1.3) * 2.86) * rs;
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
    const amplitude = blob.amplitude * (sigma * sigma) / (drawSigma * drawSigma) * (plane === canvas.dna ? CONDENSED_DNA : cell.brightness);
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
