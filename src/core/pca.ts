// Principal component analysis of profiles for the treatment map: the leading components by power iteration
// with deflation on the covariance, started from a fixed vector, so the same rows always give the same map.

export interface Projection {
  /** n rows of `components` coordinates, row-major. */
  coordinates: Float64Array;
  components: number;
  /** Each component's share of the total variance, in [0, 1]. */
  explained: number[];
}

const ITERATIONS = 500;
const TOLERANCE = 1e-10;

/**
 * Rows (n x d) projected on their first `components` principal axes (default 2). Deterministic: each axis is found
 * by power iteration from the unit vector along the feature of largest remaining variance, and its sign is fixed so
 * that its largest loading is positive. Fewer rows than 2, or no variance left, give zero coordinates.
 */
export function pca(rows: readonly ArrayLike<number>[], components = 2): Projection {
  const n = rows.length;
  const d = n ? rows[0].length : 0;
  const coordinates = new Float64Array(n * components);
  const explained = new Array<number>(components).fill(0);
  if (n < 2 || d === 0) return { coordinates, components, explained };
  const mean = new Float64Array(d);
  for (const row of rows) for (let j = 0; j < d; j++) mean[j] += row[j] / n;
  const centred = rows.map((row) => Float64Array.from({ length: d }, (_, j) => row[j] - mean[j]));
  // Covariance (d x d): the profiles are at most a few thousand wide, the axes are few.
  const cov = new Float64Array(d * d);
  for (const x of centred)
    for (let a = 0; a < d; a++) {
      const xa = x[a] / (n - 1);
      if (xa === 0) continue;
      for (let b = a; b < d; b++) cov[a * d + b] += xa * x[b];
    }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) cov[a * d + b] = cov[b * d + a];
  let total = 0;
  for (let a = 0; a < d; a++) total += cov[a * d + a];
  const v = new Float64Array(d);
  const w = new Float64Array(d);
  for (let c = 0; c < components; c++) {
    let start = 0;
    for (let a = 1; a < d; a++) if (cov[a * d + a] > cov[start * d + start]) start = a;
    if (!(cov[start * d + start] > 0)) break;
    v.fill(0);
    v[start] = 1;
    let eigenvalue = 0;
    for (let it = 0; it < ITERATIONS; it++) {
      w.fill(0);
      for (let a = 0; a < d; a++) {
        const va = v[a];
        if (va === 0) continue;
        for (let b = 0; b < d; b++) w[b] += cov[a * d + b] * va;
      }
      let norm = 0;
      for (let b = 0; b < d; b++) norm += w[b] * w[b];
      norm = Math.sqrt(norm);
      if (norm === 0) break;
      let change = 0;
      for (let b = 0; b < d; b++) {
        const next = w[b] / norm;
        change += (next - v[b]) ** 2;
        v[b] = next;
      }
      eigenvalue = norm;
      if (change < TOLERANCE) break;
    }
    let largest = 0;
    for (let a = 1; a < d; a++) if (Math.abs(v[a]) > Math.abs(v[largest])) largest = a;
    if (v[largest] < 0) for (let a = 0; a < d; a++) v[a] = -v[a];
    explained[c] = total > 0 ? eigenvalue / total : 0;
    centred.forEach((x, i) => {
      let s = 0;
      for (let a = 0; a < d; a++) s += x[a] * v[a];
      coordinates[i * components + c] = s;
    });
    // Deflate: remove this axis from the covariance.
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a * d + b] -= eigenvalue * v[a] * v[b];
  }
  return { coordinates, components, explained };
}
