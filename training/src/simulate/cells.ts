// Cell placement in a field and per-cell state (cycle phase, nuclei, spindle, actin features) drawn from a phenotype.

import type { Phenotype } from './phenotypes.ts';
import type { Rng } from '../util/prng.ts';

export type CellKind = 'interphase' | 'mitotic' | 'apoptotic';
export type SpindleKind = 'bipolar' | 'monopolar' | 'spindleless' | 'multipolar';

/** A blob stamped as a Gaussian: chromosome, micronucleus, actin aggregate, spindle pole. Full-resolution units, relative to the cell centre. */
export interface Blob {
  dx: number;
  dy: number;
  sigma: number;
  amplitude: number;
}

export interface Nucleus {
  dx: number;
  dy: number;
  radius: number;
  aspect: number;
  angle: number;
  /** Peak relative DNA intensity. */
  brightness: number;
  /** Outline harmonic amplitude (lobed polyploid nuclei). */
  lobes: number;
  lobePhase: number;
  /** Replication-foci brightness (S phase). */
  foci: number;
}

export interface Cell {
  x: number;
  y: number;
  kind: CellKind;
  radius: number;
  aspect: number;
  angle: number;
  /** Outline harmonics k = 2..5: amplitude and phase. */
  harmonics: { amplitude: number; phase: number }[];
  nuclei: Nucleus[];
  /** Condensed chromatin, micronuclei, apoptotic fragments. */
  dnaBlobs: Blob[];
  /** Spindle poles, asters, aggresome. */
  tubulinBlobs: Blob[];
  actinBlobs: Blob[];
  spindle: SpindleKind | null;
  /** Microtubule organising centre, relative to the cell centre. */
  mtocDx: number;
  mtocDy: number;
  filamentCount: number;
  filamentPhase: number;
  fibreAngle: number;
  fibreSpacing: number;
  ruffleAngle: number;
  vacuoles: { dx: number; dy: number; radius: number }[];
  /** Per-cell multiplier on cytoplasm brightness. */
  brightness: number;
  /** Per-cell multiplier on actin alone (cells differ in F-actin content independently of tubulin). */
  actinContent: number;
  noiseOffset: number;
}

/** Positions of cells in a field of the given full-resolution size: uniform, clustered, relaxed to limit overlap. */
export function placeCells(p: Phenotype, count: number, width: number, height: number, rng: Rng): { x: number; y: number }[] {
  const margin = p.cellRadius;
  const clusterCount = Math.max(1, Math.round(count / (4 + 10 * p.clustering)));
  const centres = Array.from({ length: clusterCount }, () => ({
    x: rng.uniform(-margin, width + margin),
    y: rng.uniform(-margin, height + margin),
  }));
  const points: { x: number; y: number }[] = [];
  for (let i = 0; i < count; i++) {
    if (rng.chance(p.clustering)) {
      const c = centres[rng.int(centres.length)];
      const spread = p.cellRadius * (1.2 + 2.5 * (1 - p.clustering)) * 1.6;
      points.push({ x: c.x + rng.gaussian(0, spread), y: c.y + rng.gaussian(0, spread) });
    } else {
      points.push({ x: rng.uniform(-margin, width + margin), y: rng.uniform(-margin, height + margin) });
    }
  }
  // A few relaxation sweeps push overlapping cells apart (tighter packing when clustered).
  const minDistance = p.cellRadius * (1.5 - 0.35 * p.clustering);
  for (let sweep = 0; sweep < 4; sweep++) {
    for (let i = 0; i < points.length; i++) {
      for (let j = i + 1; j < points.length; j++) {
        const dx = points[j].x - points[i].x;
        const dy = points[j].y - points[i].y;
        const d2 = dx * dx + dy * dy;
        if (d2 >= minDistance * minDistance) continue;
        const d = Math.sqrt(d2) || 1e-3;
        const push = (0.5 * (minDistance - d)) / d;
        points[i].x -= dx * push;
        points[i].y -= dy * push;
        points[j].x += dx * push;
        points[j].y += dy * push;
      }
    }
  }
  return points;
}

/** Draws one cell's state from the field phenotype. */
export function sampleCell(p: Phenotype, x: number, y: number, rng: Rng): Cell {
  const roll = rng.next();
  const kind: CellKind = roll < p.apoptoticFraction ? 'apoptotic' : roll < p.apoptoticFraction + p.mitoticFraction ? 'mitotic' : 'interphase';
  const cell: Cell = {
    x,
    y,
    kind,
    radius: p.cellRadius * rng.logNormal(0.18),
    aspect: 1 + p.elongation * rng.uniform(0.3, 1.7),
    angle: rng.uniform(0, Math.PI),
    harmonics: [2, 3, 4, 5].map((k) => ({ amplitude: (p.outlineIrregularity * rng.uniform(0.2, 1.4)) / Math.sqrt(k - 1), phase: rng.uniform(0, 2 * Math.PI) })),
    nuclei: [],
    dnaBlobs: [],
    tubulinBlobs: [],
    actinBlobs: [],
    spindle: null,
    mtocDx: 0,
    mtocDy: 0,
    filamentCount: Math.round(rng.uniform(36, 60) / (1 + 1.2 * p.tubulinBundling)),
    filamentPhase: rng.uniform(0, 2 * Math.PI),
    fibreAngle: 0,
    fibreSpacing: rng.uniform(4.5, 7),
    ruffleAngle: rng.uniform(0, 2 * Math.PI),
    vacuoles: [],
    brightness: p.cytoplasmContent * rng.logNormal(0.2),
    actinContent: rng.logNormal(0.05),
    noiseOffset: rng.uniform(0, 128),
  };
  cell.fibreAngle = cell.angle + rng.gaussian(0, 0.25);
  const nucleusRadius = p.nucleusRadius * rng.logNormal(0.1);
  if (kind === 'apoptotic') return apoptotic(cell, nucleusRadius, rng);
  if (kind === 'mitotic') return mitotic(cell, p, nucleusRadius, rng);
  return interphase(cell, p, nucleusRadius, rng);
}

function interphase(cell: Cell, p: Phenotype, baseRadius: number, rng: Rng): Cell {
  const phaseRoll = rng.next();
  const phase = phaseRoll < p.g2Fraction ? 'G2' : phaseRoll < p.g2Fraction + p.sPhaseFraction ? 'S' : 'G1';
  const content = phase === 'G2' ? 2 : phase === 'S' ? rng.uniform(1.2, 1.85) : 1;
  const multinucleate = rng.chance(p.multinucleateFraction);
  const nucleusCount = multinucleate ? (rng.chance(0.35) ? 1 : 2 + rng.int(3)) : 1;
  const ploidy = multinucleate ? p.polyploidy : 1;
  if (multinucleate) {
    cell.radius *= 1.1 + 0.25 * ploidy * (nucleusCount === 1 ? 1 : Math.sqrt(nucleusCount) * 0.7);
    cell.aspect = 1 + (cell.aspect - 1) * 0.6;
  }
  const along = { c: Math.cos(cell.angle), s: Math.sin(cell.angle) };
  for (let n = 0; n < nucleusCount; n++) {
    // One giant lobed nucleus (polyploid) or several normal-sized ones spread across the cell.
    const giant = multinucleate && nucleusCount === 1;
    const radius = baseRadius * Math.cbrt(content) * (giant ? Math.sqrt(2 * ploidy) : multinucleate ? Math.cbrt(ploidy) : 1);
    let dx = rng.gaussian(0, 0.12) * cell.radius;
    let dy = rng.gaussian(0, 0.12) * cell.radius;
    if (nucleusCount > 1) {
      const a = (2 * Math.PI * n) / nucleusCount + rng.gaussian(0, 0.3);
      dx = Math.cos(a) * radius * 1.05;
      dy = Math.sin(a) * radius * 1.05;
    } else {
      const shift = rng.uniform(-0.2, 0.2) * cell.radius;
      dx += along.c * shift;
      dy += along.s * shift;
    }
    cell.nuclei.push({
      dx,
      dy,
      radius,
      aspect: 1 + rng.uniform(0, 0.35),
      angle: cell.angle + rng.gaussian(0, 0.4),
      brightness: (content * ploidy * Math.pow(baseRadius / radius, 2)) * rng.logNormal(0.08) * (giant ? 2 : 1),
      lobes: giant ? rng.uniform(0.12, 0.25) : rng.uniform(0, 0.06),
      lobePhase: rng.uniform(0, 2 * Math.PI),
      foci: phase === 'S' ? p.replicationFoci * rng.uniform(0.6, 1.4) : p.replicationFoci * 0.15,
    });
  }
  const first = cell.nuclei[0];
  const mtocAngle = rng.uniform(0, 2 * Math.PI);
  cell.mtocDx = first.dx + Math.cos(mtocAngle) * first.radius * 1.05;
  cell.mtocDy = first.dy + Math.sin(mtocAngle) * first.radius * 1.05;
  for (let i = rng.poisson(p.micronuclei); i > 0; i--) {
    const a = rng.uniform(0, 2 * Math.PI);
    const r = first.radius * rng.uniform(1.15, 1.7);
    cell.dnaBlobs.push({ dx: first.dx + Math.cos(a) * r, dy: first.dy + Math.sin(a) * r, sigma: rng.uniform(1.2, 2.2), amplitude: rng.uniform(0.8, 1.5) });
  }
  if (p.aggresome > 0.05) {
    cell.tubulinBlobs.push({ dx: cell.mtocDx, dy: cell.mtocDy, sigma: rng.uniform(2.5, 4.5), amplitude: p.aggresome * rng.uniform(1.2, 2.6) });
  }
  for (let i = rng.poisson(p.actinPuncta * 7); i > 0; i--) {
    const a = rng.uniform(0, 2 * Math.PI);
    const r = cell.radius * Math.sqrt(rng.next()) * 0.85;
    cell.actinBlobs.push({ dx: Math.cos(a) * r, dy: Math.sin(a) * r, sigma: rng.uniform(1.2, 2.8), amplitude: rng.uniform(1.5, 3.5) });
  }
  for (let i = rng.poisson(p.vacuoles); i > 0; i--) {
    const a = rng.uniform(0, 2 * Math.PI);
    const r = cell.radius * rng.uniform(0.4, 0.8);
    cell.vacuoles.push({ dx: Math.cos(a) * r, dy: Math.sin(a) * r, radius: rng.uniform(1.8, 4) });
  }
  return cell;
}

function mitotic(cell: Cell, p: Phenotype, baseRadius: number, rng: Rng): Cell {
  cell.radius = Math.max(12, p.cellRadius * 0.62 * rng.logNormal(0.1));
  cell.aspect = 1 + rng.uniform(0, 0.1);
  for (const h of cell.harmonics) h.amplitude *= 0.2;
  const roll = rng.next();
  const spindle: SpindleKind =
    roll < p.monopolarShare ? 'monopolar'
    : roll < p.monopolarShare + p.spindlelessShare ? 'spindleless'
    : roll < p.monopolarShare + p.spindlelessShare + p.multipolarShare ? 'multipolar'
    : 'bipolar';
  cell.spindle = spindle;
  const axis = rng.uniform(0, Math.PI);
  const ca = Math.cos(axis);
  const sa = Math.sin(axis);
  const chromosomes = 16 + rng.int(8);
  const chromosome = (dx: number, dy: number) =>
    cell.dnaBlobs.push({ dx, dy, sigma: rng.uniform(1.3, 2), amplitude: rng.uniform(1.8, 2.8) });
  const pole = (dx: number, dy: number, amplitude: number) => cell.tubulinBlobs.push({ dx, dy, sigma: rng.uniform(2.2, 3.2), amplitude });
  const spread = baseRadius * 0.95;
  if (spindle === 'bipolar') {
    const anaphase = rng.chance(0.25);
    for (let i = 0; i < chromosomes; i++) {
      const t = rng.gaussian(0, 0.45) * spread;
      const sep = anaphase ? (i % 2 ? 1 : -1) * spread * 0.55 : 0;
      const w = rng.gaussian(0, 1) + sep;
      chromosome(-sa * t + ca * w, ca * t + sa * w);
    }
    const d = spread * 1.3;
    pole(ca * d, sa * d, 2.4);
    pole(-ca * d, -sa * d, 2.4);
    for (let i = -3; i <= 3; i++) cell.tubulinBlobs.push({ dx: (ca * d * i) / 4, dy: (sa * d * i) / 4, sigma: spread * 0.45, amplitude: 0.55 });
  } else if (spindle === 'monopolar') {
    // Chromosomes in a rosette around a single central aster.
    for (let i = 0; i < chromosomes; i++) {
      const a = (2 * Math.PI * i) / chromosomes + rng.gaussian(0, 0.15);
      const r = spread * rng.uniform(0.75, 1.05);
      chromosome(Math.cos(a) * r, Math.sin(a) * r);
    }
    pole(0, 0, 3.2);
    for (let i = 0; i < 8; i++) {
      const a = (2 * Math.PI * i) / 8;
      cell.tubulinBlobs.push({ dx: Math.cos(a) * spread * 0.45, dy: Math.sin(a) * spread * 0.45, sigma: spread * 0.3, amplitude: 0.6 });
    }
  } else if (spindle === 'multipolar') {
    const poles = 3 + rng.int(2);
    for (let k = 0; k < poles; k++) {
      const a = (2 * Math.PI * k) / poles + rng.gaussian(0, 0.2);
      pole(Math.cos(a) * spread * 1.2, Math.sin(a) * spread * 1.2, 2.6);
      for (let i = 0; i < chromosomes / poles; i++) {
        const r = spread * rng.uniform(0.2, 0.7);
        chromosome(Math.cos(a + rng.gaussian(0, 0.35)) * r, Math.sin(a + rng.gaussian(0, 0.35)) * r);
      }
    }
  } else {
    // No spindle: chromosomes scattered through the rounded cell, tubulin stays diffuse.
    for (let i = 0; i < chromosomes; i++) {
      const a = rng.uniform(0, 2 * Math.PI);
      const r = spread * 1.25 * Math.sqrt(rng.next());
      chromosome(Math.cos(a) * r, Math.sin(a) * r);
    }
  }
  return cell;
}

function apoptotic(cell: Cell, baseRadius: number, rng: Rng): Cell {
  cell.radius = Math.max(9, cell.radius * 0.45);
  cell.aspect = 1.05;
  cell.brightness *= 0.5;
  cell.dnaBlobs.push({ dx: 0, dy: 0, sigma: baseRadius * 0.35, amplitude: 3.2 });
  for (let i = 1 + rng.int(4); i > 0; i--) {
    const a = rng.uniform(0, 2 * Math.PI);
    const r = baseRadius * rng.uniform(0.4, 0.9);
    cell.dnaBlobs.push({ dx: Math.cos(a) * r, dy: Math.sin(a) * r, sigma: rng.uniform(1.3, 2.5), amplitude: rng.uniform(2, 3.5) });
  }
  return cell;
}
