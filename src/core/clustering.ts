// Hierarchical clustering of profiles (average linkage, UPGMA) on a distance matrix, and the leaf order that
// lays the dendrogram out for a clustered heat map. Deterministic: ties merge the pair with the lowest indices.

export interface Merge {
  /** The two clusters joined: ids < n are leaves (rows), id n + k is the cluster made by merge k. */
  left: number;
  right: number;
  /** Average distance between their members. */
  height: number;
  size: number;
}

export interface Dendrogram {
  /** n - 1 merges, in the order they happened (heights non-decreasing for average linkage). */
  merges: Merge[];
  /** The rows in dendrogram order (left subtree first), for the heat map's rows and columns. */
  order: number[];
}

/** Average-linkage clustering of n items from their n x n distance matrix (row-major, symmetric). */
export function averageLinkage(distances: ArrayLike<number>, n: number): Dendrogram {
  if (distances.length !== n * n) throw new Error(`averageLinkage: ${distances.length} distances for ${n} items (expected ${n * n}).`);
  const d = Float64Array.from(distances);
  const active = Array.from({ length: n }, (_, i) => i);
  const id = Array.from({ length: n }, (_, i) => i);
  const size = new Array<number>(n).fill(1);
  const merges: Merge[] = [];
  while (active.length > 1) {
    let bi = 0;
    let bk = 1;
    let best = Infinity;
    for (let x = 0; x < active.length; x++)
      for (let y = x + 1; y < active.length; y++) {
        const v = d[active[x] * n + active[y]];
        if (v < best) {
          best = v;
          bi = x;
          bk = y;
        }
      }
    const a = active[bi];
    const b = active[bk];
    // Lance-Williams for average linkage; the merged cluster lives in slot a.
    for (const c of active) {
      if (c === a || c === b) continue;
      const v = (size[a] * d[a * n + c] + size[b] * d[b * n + c]) / (size[a] + size[b]);
      d[a * n + c] = v;
      d[c * n + a] = v;
    }
    merges.push({ left: id[a], right: id[b], height: best, size: size[a] + size[b] });
    size[a] += size[b];
    id[a] = n + merges.length - 1;
    active.splice(bk, 1);
  }
  return { merges, order: leafOrder(merges, n) };
}

function leafOrder(merges: readonly Merge[], n: number): number[] {
  if (n === 0) return [];
  const order: number[] = [];
  const stack = [merges.length ? n + merges.length - 1 : 0];
  while (stack.length) {
    const node = stack.pop()!;
    if (node < n) order.push(node);
    else {
      const m = merges[node - n];
      stack.push(m.right, m.left);
    }
  }
  return order;
}
