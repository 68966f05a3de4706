import { describe, expect, it } from 'vitest';
import { parseTrainArgs, validateTrainConfig } from '../../training/src/train/config.ts';
import { clipGlobalNorm } from '../../training/src/train/optimizer.ts';

describe('--clip-grad-norm', () => {
  it('returns the global L2 norm and scales the gradient down to the limit only when it is above it', () => {
    const gradient = Float32Array.from([3, 4, 0, 12]); // norm 13
    expect(clipGlobalNorm(gradient, 0)).toBe(13);
    expect(Array.from(gradient)).toEqual([3, 4, 0, 12]);
    expect(clipGlobalNorm(gradient, 20)).toBe(13);
    expect(Array.from(gradient)).toEqual([3, 4, 0, 12]);
    expect(clipGlobalNorm(gradient, 6.5)).toBe(13);
    expect(Array.from(gradient)).toEqual([1.5, 2, 0, 6]);
    expect(clipGlobalNorm(gradient, 0)).toBeCloseTo(6.5, 5);
  });

  it('is off by default, takes a positive limit and refuses a negative one', () => {
    const base = ['--data', '/d', '--out', '/o'];
    expect(parseTrainArgs(base).clipGradNorm).toBe(0);
    expect(parseTrainArgs([...base, '--clip-grad-norm', '1.5']).clipGradNorm).toBe(1.5);
    expect(() => validateTrainConfig(parseTrainArgs([...base, '--clip-grad-norm', '-1']), 1, { requirePaths: false })).toThrow('--clip-grad-norm must be 0 (off) or positive.');
  });
});
