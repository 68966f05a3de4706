// Per-epoch sample order, sharding by rank and world size, and class-imbalance helpers (class weights, balanced sampling).

import type { Sample } from './dataset-index.ts';
import { deriveSeed, Rng } from '../util/prng.ts';

/** A permutation of `indices` that depends only on (seed, epoch): every rank computes the same one. */
export function epochOrder(indices: readonly number[], epoch: number, seed: number): number[] {
  return new Rng(deriveSeed(seed, 'epoch', epoch)).shuffle(indices.slice());
}

export type RemainderPolicy = 'pad' | 'drop';

/**
 * The part of an epoch's order that `rank` of `worldSize` processes. Rank r takes positions r, r + W,
 * r + 2W, ... so all ranks get the same count. 'pad' (default) wraps around to the start of the order to
 * fill the last round: every sample is seen at least once per epoch, (W - n mod W) of them twice.
 * 'drop' leaves out the last n mod W samples of the (shuffled) order: each sample at most once.
 */
export function shardOrder(order: readonly number[], rank: number, worldSize: number, policy: RemainderPolicy = 'pad'): number[] {
  if (!(Number.isInteger(worldSize) && worldSize >= 1)) throw new Error(`worldSize must be a positive integer, got ${worldSize}`);
  if (!(Number.isInteger(rank) && rank >= 0 && rank < worldSize)) throw new Error(`rank must be in [0, ${worldSize}), got ${rank}`);
  const n = order.length;
  if (n === 0) return [];
  const perRank = policy === 'pad' ? Math.ceil(n / worldSize) : Math.floor(n / worldSize);
  const out: number[] = [];
  for (let k = 0; k < perRank; k++) out.push(order[(k * worldSize + rank) % n]);
  return out;
}

/** Inverse-frequency class weights over the given samples, scaled so the sample-weighted mean is 1 (0 for absent classes). */
export function classWeights(samples: readonly Sample[], indices: readonly number[], classCount = 13): number[] {
  const counts = new Array(classCount).fill(0);
  for (const i of indices) counts[samples[i].label]++;
  const present = counts.filter((c) => c > 0).length;
  return counts.map((c) => (c > 0 ? indices.length / (present * c) : 0));
}

/**
 * A class-balanced epoch: `size` draws (default: as many as there are indices) with replacement, each
 * class equally likely, uniform within a class. Deterministic in (seed, epoch); shard it with shardOrder.
 */
export function balancedEpochOrder(samples: readonly Sample[], indices: readonly number[], epoch: number, seed: number, size = indices.length): number[] {
  const byClass = new Map<number, number[]>();
  for (const i of indices) {
    if (!byClass.has(samples[i].label)) byClass.set(samples[i].label, []);
    byClass.get(samples[i].label)!.push(i);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const rng = new Rng(deriveSeed(seed, 'balanced', epoch));
  const out: number[] = [];
  for (let k = 0; k < size && classes.length > 0; k++) {
    const members = byClass.get(classes[rng.int(classes.length)])!;
    out.push(members[rng.int(members.length)]);
  }
  return out;
}
