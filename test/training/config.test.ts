import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { DEFAULTS, parseTrainArgs, recipeBase, recordedTrainConfig, validateTrainConfig, type TrainConfig } from '../../training/src/train/config.ts';
import { describeRecipe, RECIPE_2018 } from '../../training/src/train/recipe.ts';

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
    [['--data', '/d', '--out', 'o', '--split', 'weird'], /--split must be one of grouped, loco, nscb, random/],
    [['--data', '/d', '--out', 'o', '--fold', '5'], /--fold 5 does not exist with --split grouped --folds 5/],
    [['--data', '/d', '--out', 'o', '--split', 'random', '--fold', '1'], /--split random has one split/],
    [['--data', '/d', '--out', 'o', '--recipe', '2017'], /--recipe must be one of none, 2018; got "2017"/],
    [['--data', '/d', '--out', 'o', '--split', 'loco', '--folds', '38'], /--folds is for --split grouped; --split loco has one fold per compound, counted from the data/],
    [['--data', '/d', '--out', 'o', '--epochs'], /--epochs needs a value/],
  ])('refuses %j', (args, message) => {
    expect(() => ok(args as string[])).toThrow(message);
  });

  it('refuses an impossible batch split over ranks', () => {
    expect(() => ok(['--data', '/d', '--out', 'o', '--global-batch', '9'], 2)).toThrow(/cannot be split evenly over 2 ranks/);
    expect(() => ok(['--data', '/d', '--out', 'o', '--global-batch', '8', '--batch-per-rank', '2'], 2)).toThrow(/--batch-per-rank 2 x 2 ranks != --global-batch 8/);
  });

  it('takes --fold beyond --folds for loco and nscb (their fold count comes from the data)', () => {
    expect(ok(['--data', '/d', '--out', 'o', '--split', 'loco', '--fold', '37'])).toMatchObject({ split: 'loco', fold: 37 });
    expect(ok(['--data', '/d', '--out', 'o'])).toMatchObject({ split: 'grouped', folds: 5, recipe: 'none' });
  });
});

/** The rows of docs/trainer.md's side-by-side table: flag, the defaults' value, the 2018 recipe's value. */
function documentedRecipe(): { flag: string; defaults: string; recipe2018: string }[] {
  const doc = readFileSync(new URL('../../docs/trainer.md', import.meta.url), 'utf8');
  const start = doc.indexOf('### `--recipe 2018` beside the defaults');
  expect(start).toBeGreaterThan(0);
  const rows = doc.slice(start).split('\n\n')[1].split('\n').slice(2);
  const code = (cell: string) => /`([^`]+)`/.exec(cell)?.[1];
  return rows.flatMap((row) => {
    const [, , flag, defaults, recipe2018] = row.split('|').map((c) => c.trim());
    const f = code(flag);
    return f ? [{ flag: f, defaults: code(defaults)!, recipe2018: code(recipe2018)! }] : [];
  });
}

describe('--recipe 2018', () => {
  const keys = Object.keys(RECIPE_2018) as (keyof TrainConfig)[];
  const pick = (c: TrainConfig) => Object.fromEntries(keys.map((k) => [k, c[k]]));

  it('expands to the values docs/trainer.md documents, and the defaults to theirs, every recipe setting a row', () => {
    const rows = documentedRecipe();
    expect(rows.length).toBeGreaterThanOrEqual(18);
    const recipe = parseTrainArgs(['--recipe', '2018']);
    expect(pick(recipe)).toEqual(pick(parseTrainArgs(rows.map((r) => `${r.flag}=${r.recipe2018}`))));
    expect(pick(parseTrainArgs([]))).toEqual(pick(parseTrainArgs(rows.map((r) => `${r.flag}=${r.defaults}`))));
    // Every setting the recipe fixes is documented: changing the documented flags alone reaches the recipe from the defaults.
    expect(pick({ ...DEFAULTS, ...parseTrainArgs(rows.map((r) => `${r.flag}=${r.recipe2018}`)) })).toEqual(pick(recipe));
    expect(recipe).toMatchObject({ recipe: '2018', globalBatch: 256, baseLr: 0.001, baseBatch: 8, warmupEpochs: 5, decay: 'linear', finalLr: 0.0001, epochs: 20, momentum: 0.9, nesterov: true, weightDecay: 5e-5, labelSmoothing: 0.1, classWeighting: 'none', normalisation: 'divide', divideBy: 65535, augment: false, inputHeight: 1024, inputWidth: 1280, binning: 1 });
    expect(recipe.split).toBe(DEFAULTS.split); // the protocol is not part of the recipe
  });

  it('lets explicit flags override it wherever they stand, and prints the effective recipe with the changes', () => {
    const before = parseTrainArgs(['--input-size', '64x64', '--augment', '--recipe', '2018', '--epochs', '3']);
    const after = parseTrainArgs(['--recipe', '2018', '--input-size', '64x64', '--augment', '--epochs', '3']);
    expect(before).toEqual(after);
    expect(after).toMatchObject({ inputHeight: 64, inputWidth: 64, augment: true, epochs: 3, globalBatch: 256, decay: 'linear' });
    const line = describeRecipe(validateTrainConfig(after, 4, { requirePaths: false }), recipeBase(after.recipe));
    expect(line).toMatch(/^recipe: recipe 2018: input 64x64, binning 1, width x1; global batch 256; lr 0.001 per 8 images -> peak 0.032 \(linear scaling\), warm-up 5 epochs from 0.001, linear decay to 0.0001 by epoch 3/);
    expect(line).toContain('class weighting none, normalisation x / 65535, augmentation crop + flips');
    expect(line).toMatch(/changed by flags: inputHeight 64, inputWidth 64, epochs 3, augment true$/);
    expect(describeRecipe(parseTrainArgs([]), recipeBase('none'))).toMatch(/^recipe: project defaults: .*peak 0.04 .*cosine decay.*percentiles[^;]*$/);
    // --schedule 2018 is the learning-rate part alone.
    expect(parseTrainArgs(['--schedule', '2018'])).toMatchObject({ globalBatch: DEFAULTS.globalBatch, classWeighting: DEFAULTS.classWeighting, warmupEpochs: 5, decay: 'linear', epochs: 20, recipe: 'none' });
  });

  it('reads the grouped folds of a bundle recorded before --split grouped existed (the shipped model\'s recipe)', () => {
    const shipped = JSON.parse(readFileSync(new URL('../../models/mcnn-sim-v1/moa-lens.json', import.meta.url), 'utf8'));
    expect(shipped.provenance.recipe.split).toBe('loco');
    expect(recordedTrainConfig(shipped.provenance.recipe)).toMatchObject({ split: 'grouped', folds: 3, fold: 0 });
    const current = { ...parseTrainArgs(['--split', 'loco']) } as unknown as Record<string, unknown>;
    expect(recordedTrainConfig(current).split).toBe('loco');
  });
});
