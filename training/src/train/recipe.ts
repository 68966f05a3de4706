// Training recipes: `--recipe 2018` (the Intel/Novartis 2018 setting, complete) and the line that prints the effective one.
import type { TrainConfig } from './config.ts';
import { peakLr, SCHEDULE_2018 } from './schedule.ts';

/** The recipe names `--recipe` takes; `none` is the project's measured defaults. */
export const RECIPES = ['none', '2018'] as const;
export type RecipeName = (typeof RECIPES)[number];

/** The settings a recipe fixes (docs/trainer.md, "Recipe and defaults", lists them beside the defaults). */
export type RecipeSettings = Pick<
  TrainConfig,
  | 'inputHeight' | 'inputWidth' | 'binning' | 'widthMultiplier' | 'globalBatch' | 'baseLr' | 'baseBatch' | 'warmupEpochs' | 'decay' | 'finalLr' | 'epochs'
  | 'momentum' | 'nesterov' | 'weightDecay' | 'labelSmoothing' | 'classWeighting' | 'normalisation' | 'divideBy' | 'augment'
>;

/** The 2018 schedule alone (`--schedule 2018`): its learning rate, warm-up, decay and epochs. */
export const SCHEDULE_2018_SETTINGS: Pick<TrainConfig, 'baseLr' | 'baseBatch' | 'warmupEpochs' | 'decay' | 'finalLr' | 'epochs'> = {
  baseLr: SCHEDULE_2018.baseLr,
  baseBatch: SCHEDULE_2018.baseBatch,
  warmupEpochs: SCHEDULE_2018.warmupEpochs,
  decay: SCHEDULE_2018.decay,
  finalLr: SCHEDULE_2018.finalLr,
  epochs: SCHEDULE_2018.epochs,
};

/**
 * The Intel/Novartis 2018 setting (AI DevCon 2018; TensorFlow + Horovod): whole 1024x1280 fields at full
 * resolution, the full-width M-CNN, 32 workers x batch 8 = global batch 256, the learning rate 0.001 per 8 images
 * scaled linearly to 0.032 (Goyal et al. 2017) after a linear warm-up from 0.001 over 5 epochs, linear decay to
 * 0.0001 by epoch 20, Nesterov momentum 0.9, L2 weight decay 5e-5, label smoothing 0.1, plain cross-entropy (no
 * class weighting), 8-bit images divided by 255 (16-bit fields: x / 65535 = (x / 257) / 255, without the rounding
 * to integers) and no augmentation. The split is not part of it: the 2018 work used a random field split
 * (`--split random`); the honest protocols are `--split loco|nscb`.
 */
export const RECIPE_2018: RecipeSettings = {
  inputHeight: 1024,
  inputWidth: 1280,
  binning: 1,
  widthMultiplier: 1,
  globalBatch: 256,
  ...SCHEDULE_2018_SETTINGS,
  momentum: 0.9,
  nesterov: true,
  weightDecay: 5e-5,
  labelSmoothing: 0.1,
  classWeighting: 'none',
  normalisation: 'divide',
  divideBy: 65535,
  augment: false,
};

export const RECIPE_SETTINGS: Record<Exclude<RecipeName, 'none'>, RecipeSettings> = { '2018': RECIPE_2018 };

const RECIPE_KEYS = Object.keys(RECIPE_2018) as (keyof RecipeSettings)[];

/**
 * The effective recipe in one line, as the trainer prints it at start: every setting a recipe fixes, then those an
 * explicit flag changed from the recipe (or from the defaults when no recipe was named).
 */
export function describeRecipe(config: TrainConfig, base: TrainConfig): string {
  const c = config;
  const normalisation = c.normalisation === 'divide' ? `x / ${c.divideBy}` : 'per-image percentiles 0.1-99.9%';
  const parts = [
    `input ${c.inputHeight}x${c.inputWidth}, binning ${c.binning || 'auto'}, width x${c.widthMultiplier}`,
    `global batch ${c.globalBatch}`,
    `lr ${c.baseLr} per ${c.baseBatch} images -> peak ${Number(peakLr(c).toPrecision(4))} (linear scaling), warm-up ${c.warmupEpochs} epochs from ${c.baseLr}, ${c.decay} decay to ${c.finalLr} by epoch ${c.epochs}`,
    `momentum ${c.momentum}${c.nesterov ? ' Nesterov' : ''}, weight decay ${c.weightDecay}, label smoothing ${c.labelSmoothing}`,
    `class weighting ${c.classWeighting}, normalisation ${normalisation}, augmentation ${c.augment ? 'crop + flips' : 'none'}`,
  ];
  const changed = RECIPE_KEYS.filter((k) => c[k] !== base[k]).map((k) => `${k} ${String(c[k])}`);
  const name = c.recipe === 'none' ? 'project defaults' : `recipe ${c.recipe}`;
  return `recipe: ${name}: ${parts.join('; ')}${changed.length ? `; changed by flags: ${changed.join(', ')}` : ''}`;
}

