// Seeded, tileable value-noise texture sampled bilinearly: nuclear granularity, fibre breaks, cytoplasm mottling.

import { Rng } from '../util/prng.ts';

const SIZE = 128;
const MASK = SIZE - 1;

/** A 128x128 periodic table of uniform values in [0, 1) sampled with bilinear interpolation. */
export class NoiseTexture {
  private readonly table: Float32Array;

  constructor(seed: number) {
    this.table = new Rng(seed).uniformFloats(SIZE * SIZE);
  }

  /** Value noise at (x, y) in table cells; smooth between integer lattice points. */
  sample(x: number, y: number): number {
    const fx = Math.floor(x);
    const fy = Math.floor(y);
    const tx = x - fx;
    const ty = y - fy;
    const x0 = fx & MASK;
    const y0 = fy & MASK;
    const x1 = (x0 + 1) & MASK;
    const y1 = (y0 + 1) & MASK;
    const t = this.table;
    const a = t[y0 * SIZE + x0];
    const b = t[y0 * SIZE + x1];
    const c = t[y1 * SIZE + x0];
    const d = t[y1 * SIZE + x1];
    const top = a + (b - a) * tx;
    const bottom = c + (d - c) * tx;
    return top + (bottom - top) * ty;
  }
}
