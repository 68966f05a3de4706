import { describe, expect, it } from 'vitest';
import { ProgressTracker, formatDuration, formatRate } from '../../src/app/state/progress.ts';

describe('ProgressTracker', () => {
  it('reports nothing known before the first field, then rate and ETA from the start', () => {
    const t = new ProgressTracker(10_000);
    expect(t.add({ done: 0, total: 10, elapsedMs: 0 })).toMatchObject({ fraction: 0, rate: null, etaSeconds: null });
    const v = t.add({ done: 2, total: 10, elapsedMs: 1000 });
    expect(v.rate).toBeCloseTo(2, 9);
    expect(v.etaSeconds).toBeCloseTo(4, 9);
    expect(v.fraction).toBeCloseTo(0.2, 9);
  });

  it('counts from zero when the first sample already has fields done', () => {
    const t = new ProgressTracker();
    const v = t.add({ done: 3, total: 12, elapsedMs: 3000 });
    expect(v.rate).toBeCloseTo(1, 9);
    expect(v.etaSeconds).toBeCloseTo(9, 9);
  });

  it('follows a change of pace within the window', () => {
    const t = new ProgressTracker(10_000);
    t.add({ done: 0, total: 1000, elapsedMs: 0 });
    // 1 field/s for 100 s, then 10 fields/s for 20 s.
    for (let s = 1; s <= 100; s++) t.add({ done: s, total: 1000, elapsedMs: s * 1000 });
    let v = t.view();
    for (let s = 1; s <= 20; s++) v = t.add({ done: 100 + 10 * s, total: 1000, elapsedMs: 100_000 + s * 1000 });
    expect(v.rate).toBeCloseTo(10, 6);
    expect(v.etaSeconds).toBeCloseTo(70, 6);
  });

  it('is done at the end and restarts on a new run', () => {
    const t = new ProgressTracker();
    t.add({ done: 0, total: 2, elapsedMs: 0 });
    expect(t.add({ done: 2, total: 2, elapsedMs: 500 })).toMatchObject({ fraction: 1, etaSeconds: 0 });
    const v = t.add({ done: 0, total: 5, elapsedMs: 0 });
    expect(v).toMatchObject({ done: 0, total: 5, rate: null, etaSeconds: null });
  });
});

describe('formatting', () => {
  it('reads like a person would say it', () => {
    expect(formatRate(null)).toBe('–');
    expect(formatRate(2.345)).toBe('2.3 fields/s');
    expect(formatRate(42)).toBe('42 fields/s');
    expect(formatRate(0.05)).toBe('3.0 fields/min');
    expect(formatDuration(null)).toBe('–');
    expect(formatDuration(44.6)).toBe('45 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(7620)).toBe('2 h 07 min');
  });
});
