import { describe, expect, it } from 'vitest';
import { parseTrainArgs, validateTrainConfig } from '../../training/src/train/config.ts';

const ok = (args: string[], world = 1) => validateTrainConfig(parseTrainArgs(args), world);

describe('trainer configuration', () => {
  it('parses the documented flags and derives per-rank batch, checkpoint and log paths', () => {
    const c = ok(['--data', '/d', '--out', 'models/x', '--input-size', '512x640', '--epochs', '3', '--global-batch=16', '--no-nesterov'], 2);
    expect(c).toMatchObject({ data: '/d', out: 'models/x', inputHeight: 512, inputWidth: 640, epochs: 3, globalBatch: 16, batchPerRank: 8, nesterov: false });
    expect(c.checkpointDir).toBe('models/x.checkpoints');
    const preset = ok(['--data', '/d', '--out', 'o', '--schedule', '2018']);
    expect(preset).toMatchObject({ decay: 'linear', warmupEpochs: 5, epochs: 20, baseLr: 0.001, baseBatch: 8 });
  });

  it.each([
    [['--data', '/d', '--out', 'o', '--frobnicate', '1'], /Unknown flag --frobnicate/],
    [['--data', '/d', '--out', 'o', '--input-size', '1000x1280'], /multiple of 64/],
    [['--data', '/d', '--out', 'o', '--input-size', 'big'], /HxW/],
    [['--out', 'o'], /--data <BBBC021 root> is required/],
    [['--data', '/d'], /--out <bundle dir> is required/],
    [['--data', '/d', '--out', 'o', '--epochs', 'many'], /--epochs must be a number/],
    [['--data', '/d', '--out', 'o', '--split', 'weird'], /--split must be one of loco, random/],
    [['--data', '/d', '--out', 'o', '--fold', '5'], /--fold 5 does not exist/],
    [['--data', '/d', '--out', 'o', '--epochs'], /--epochs needs a value/],
  ])('refuses %j', (args, message) => {
    expect(() => ok(args as string[])).toThrow(message);
  });

  it('refuses an impossible batch split over ranks', () => {
    expect(() => ok(['--data', '/d', '--out', 'o', '--global-batch', '9'], 2)).toThrow(/cannot be split evenly over 2 ranks/);
    expect(() => ok(['--data', '/d', '--out', 'o', '--global-batch', '8', '--batch-per-rank', '2'], 2)).toThrow(/--batch-per-rank 2 x 2 ranks != --global-batch 8/);
  });
});
