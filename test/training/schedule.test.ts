import { describe, expect, it } from 'vitest';
import { learningRate, peakLr, SCHEDULE_2018 } from '../../training/src/train/schedule.ts';
import { deriveSeed, Random } from '../../training/src/train/random.ts';

describe('learning-rate schedule', () => {
  const c = { ...SCHEDULE_2018, globalBatch: 256 };
  it('scales the peak linearly with the global batch (2018: batch 256 -> 0.032)', () => {
    expect(peakLr(c)).toBeCloseTo(0.032, 10);
    expect(peakLr({ ...c, globalBatch: 16 })).toBeCloseTo(0.002, 10);
  });
  it('warms up linearly from the base rate, then decays to the final rate', () => {
    expect(learningRate(c, 0)).toBeCloseTo(0.001);
    expect(learningRate(c, 2.5)).toBeCloseTo((0.001 + 0.032) / 2);
    expect(learningRate(c, 5)).toBeCloseTo(0.032);
    expect(learningRate(c, 12.5)).toBeCloseTo((0.032 + 0.0001) / 2);
    expect(learningRate(c, 20)).toBeCloseTo(0.0001);
    expect(learningRate(c, 30)).toBeCloseTo(0.0001);
    const cos = { ...c, decay: 'cosine' as const };
    expect(learningRate(cos, 12.5)).toBeCloseTo((0.032 + 0.0001) / 2);
    expect(learningRate(cos, 6)).toBeGreaterThan(learningRate(c, 6));
  });
});

describe('Random', () => {
  it('is deterministic for a seed and resumable from its state', () => {
    const a = new Random(42);
    const first = [a.next(), a.next()];
    const b = new Random(42);
    expect([b.next(), b.next()]).toEqual(first);
    const resumed = new Random(a.state);
    expect(resumed.next()).toBe(a.next());
    expect(deriveSeed(1, 'rank', 0)).not.toBe(deriveSeed(1, 'rank', 1));
    expect(new Random(7).shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
  });
});
