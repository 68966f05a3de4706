import { describe, expect, it } from 'vitest';
import { learningRate, peakLr, SCHEDULE_2018 } from '../../training/src/train/schedule.ts';

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
