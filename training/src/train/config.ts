// Trainer settings: defaults, command-line parsing and validation, failing before any work is done.
import { checkMcnnInputSize } from '../../../src/core/mcnn.ts';
import { WEIGHT_DTYPES, type WeightDtype } from '../../../src/core/weights-encoding.ts';
import { ConfigError } from '../util/cli.ts';
import { SCHEDULE_2018 } from './schedule.ts';
import { SPLIT_KINDS, type SplitKind } from '../data/splits.ts';
import { RECIPE_SETTINGS, RECIPES, SCHEDULE_2018_SETTINGS, type RecipeName } from './recipe.ts';

export { ConfigError };

export interface TrainConfig {
  data: string;
  out: string;
  name: string;
  inputHeight: number;
  inputWidth: number;
  /** Field pixels per model pixel; 0 = choose from the first field so one field fills one input. */
  binning: number;
  widthMultiplier: number;
  epochs: number;
  globalBatch: number;
  /** Per-rank batch; 0 = globalBatch / world size. */
  batchPerRank: number;
  baseLr: number;
  baseBatch: number;
  warmupEpochs: number;
  decay: 'cosine' | 'linear' | 'none';
  finalLr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  labelSmoothing: number;
  /** Scale the averaged gradient down to this L2 norm when it is larger; 0: never (the norm is logged either way). */
  clipGradNorm: number;
  /**
   * Kernels with a fan-in above this learn at the rate x limit / fan-in (their biases at the rate); 0: every
   * layer at the rate. SGD moves a layer's outputs by about rate x fan-in per step, so one rate cannot suit the
   * full network's 81,920-input dense layer and its 400-input convolutions alike.
   */
  fanInRateLimit: number;
  /** inverse-frequency: per-sample loss weights; balanced-sampling: class-balanced epochs drawn with replacement. */
  classWeighting: 'inverse-frequency' | 'balanced-sampling' | 'none';
  /** percentile: per image and channel, 0.1-99.9% to [0, 1]; divide: x / divideBy (the 2018 pipeline). */
  normalisation: 'percentile' | 'divide';
  divideBy: number;
  /** Random crop to the input and random flips; off: the centred crop, no flips. */
  augment: boolean;
  /** The preset `--recipe` applied before the explicit flags (recorded; 'none': the defaults below). */
  recipe: RecipeName;
  /** grouped: K round-robin compound folds; loco: one fold per compound; nscb: loco minus the test week; random: 20% of fields. */
  split: SplitKind;
  /** Folds of --split grouped (loco and nscb take theirs from the data). */
  folds: number;
  fold: number;
  seed: number;
  backend: 'auto' | 'tfjs-node' | 'native' | 'wasm' | 'webgpu' | 'cpu';
  threads: number;
  checkpointDir: string;
  checkpointEvery: number;
  keepCheckpoints: number;
  resume: boolean;
  log: string;
  quantize: WeightDtype;
  maxSteps: number;
  cacheDir: string;
  /** Stop with an error after a step whose loss exceeds this (or is not finite). */
  maxLoss: number;
}

export const DEFAULTS: TrainConfig = {
  data: '',
  out: '',
  name: 'mcnn',
  inputHeight: 256,
  inputWidth: 320,
  binning: 0,
  widthMultiplier: 1,
  // Measured on simulated BBBC021 (docs/trainer.md): the 2018 rate (0.001 per 8 images) barely moves a
  // He-initialised M-CNN within a CPU budget of epochs; a peak of 0.04 at batch 16 learns, 0.1 collapses.
  epochs: 30,
  globalBatch: 16,
  batchPerRank: 0,
  baseLr: 0.02,
  baseBatch: 8,
  warmupEpochs: 2,
  decay: 'cosine',
  finalLr: SCHEDULE_2018.finalLr,
  momentum: 0.9,
  nesterov: true,
  weightDecay: 5e-5,
  labelSmoothing: 0.1,
  clipGradNorm: 0,
  fanInRateLimit: 0,
  classWeighting: 'inverse-frequency',
  normalisation: 'percentile',
  divideBy: 65535,
  augment: true,
  recipe: 'none',
  split: 'grouped',
  folds: 5,
  fold: 0,
  seed: 1,
  backend: 'auto',
  threads: 0,
  checkpointDir: '',
  checkpointEvery: 50,
  keepCheckpoints: 3,
  resume: false,
  log: '',
  quantize: 'float16',
  maxSteps: 0,
  cacheDir: '',
  maxLoss: 1e3,
};

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const FLAG_TO_KEY = new Map(Object.keys(DEFAULTS).map((k) => [kebab(k), k as keyof TrainConfig]));
const CHOICES: Partial<Record<keyof TrainConfig, readonly string[]>> = {
  decay: ['cosine', 'linear', 'none'],
  classWeighting: ['inverse-frequency', 'balanced-sampling', 'none'],
  normalisation: ['percentile', 'divide'],
  recipe: RECIPES,
  split: SPLIT_KINDS,
  backend: ['auto', 'tfjs-node', 'native', 'wasm', 'webgpu', 'cpu'],
  quantize: WEIGHT_DTYPES,
};

export const USAGE = `npm run train -- --data <BBBC021 root> --out <bundle dir> [--input-size HxW] [--epochs N] [options]
Options (default in brackets):
${Object.entries(DEFAULTS)
  .map(([k, v]) => `  --${kebab(k)}${CHOICES[k as keyof TrainConfig] ? ` ${CHOICES[k as keyof TrainConfig]!.join('|')}` : ''} [${JSON.stringify(v)}]`)
  .join('\n')}
  --input-size HxW [256x320]   model input, multiples of 64
  --recipe 2018                the complete Intel/Novartis 2018 setting (docs/trainer.md): 1024x1280 fields, global batch 256,
                               0.001 per 8 images scaled to 0.032, 5 warm-up epochs, linear decay to 1e-4 by epoch 20, Nesterov
                               0.9, weight decay 5e-5, label smoothing 0.1, no class weighting, x / 65535, no augmentation;
                               flags given beside it override it, wherever they stand
  --schedule 2018              its learning-rate schedule alone: linear warm-up over 5 epochs, linear decay to 1e-4 by epoch 20
  --split grouped|loco|nscb|random, --folds K (grouped only), --fold i: docs/trainer.md "Evaluation protocols"`;

/** The defaults with a recipe applied: what explicit flags are compared against. */
export function recipeBase(recipe: RecipeName): TrainConfig {
  return recipe === 'none' ? { ...DEFAULTS } : { ...DEFAULTS, ...RECIPE_SETTINGS[recipe], recipe };
}

/**
 * Parses trainer flags; unknown flags, bad values and impossible combinations throw ConfigError. The presets
 * (--recipe, then --schedule) apply first, the other flags over them, wherever they stand on the line.
 */
export function parseTrainArgs(argv: string[]): TrainConfig {
  const c: Partial<TrainConfig> = {};
  let recipe: RecipeName = 'none';
  let schedule = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new ConfigError(`Unexpected argument "${arg}". ${hint()}`);
    let [flag, value] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const takeValue = () => {
      if (value !== undefined) return value;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new ConfigError(`--${flag} needs a value.`);
      i++;
      return next;
    };
    if (flag === 'input-size') {
      const m = /^(\d+)x(\d+)$/.exec(takeValue());
      if (!m) throw new ConfigError('--input-size must look like HxW, for example 256x320.');
      c.inputHeight = Number(m[1]);
      c.inputWidth = Number(m[2]);
      continue;
    }
    if (flag === 'schedule') {
      const v = takeValue();
      if (v !== '2018') throw new ConfigError(`Unknown --schedule "${v}"; the preset is 2018.`);
      schedule = true;
      continue;
    }
    if (flag === 'recipe') {
      const v = takeValue();
      const known = RECIPES.find((r) => r === v);
      if (known === undefined) throw new ConfigError(`--recipe must be one of ${RECIPES.join(', ')}; got "${v}".`);
      recipe = known;
      continue;
    }
    const negated = flag.startsWith('no-') && FLAG_TO_KEY.has(flag.slice(3));
    const key = FLAG_TO_KEY.get(negated ? flag.slice(3) : flag);
    if (!key) throw new ConfigError(`Unknown flag --${flag}. ${hint()}`);
    const def = DEFAULTS[key];
    if (typeof def === 'boolean') {
      (c as unknown as Record<string, unknown>)[key] = negated ? false : value === undefined ? true : value !== 'false';
      continue;
    }
    const raw = takeValue();
    if (typeof def === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new ConfigError(`--${flag} must be a number, got "${raw}".`);
      (c as unknown as Record<string, unknown>)[key] = n;
    } else {
      const choices = CHOICES[key];
      if (choices && !choices.includes(raw)) throw new ConfigError(`--${flag} must be one of ${choices.join(', ')}; got "${raw}".`);
      (c as unknown as Record<string, unknown>)[key] = raw;
    }
  }
  const config = { ...recipeBase(recipe), ...(schedule ? SCHEDULE_2018_SETTINGS : {}), ...c };
  if (c.folds !== undefined && config.split !== 'grouped')
    throw new ConfigError(`--folds is for --split grouped; --split ${config.split} ${config.split === 'random' ? 'has one split' : `has one fold per ${config.split === 'loco' ? 'compound' : '(compound, week)'}, counted from the data`}.`);
  return config;
}

const hint = () => 'Run with --help for the list of options.';

/**
 * Checks what can be checked before any data is read; worldSize is the number of ranks. The one set of rules for
 * the trainer and for train:cluster (which checks before starting mpirun; `requirePaths: false` for its dry runs).
 */
export function validateTrainConfig(c: TrainConfig, worldSize: number, options: { requirePaths?: boolean } = {}): TrainConfig {
  if (options.requirePaths !== false) {
    if (!c.data) throw new ConfigError('--data <BBBC021 root> is required.');
    if (!c.out) throw new ConfigError('--out <bundle dir> is required.');
  }
  try {
    checkMcnnInputSize(c.inputHeight, c.inputWidth);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const positiveInt = (k: keyof TrainConfig, min = 1) => {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < min) throw new ConfigError(`--${kebab(k)} must be an integer >= ${min}, got ${v}.`);
  };
  positiveInt('epochs');
  positiveInt('globalBatch');
  positiveInt('batchPerRank', 0);
  positiveInt('folds', 2);
  positiveInt('fold', 0);
  positiveInt('binning', 0);
  positiveInt('threads', 0);
  positiveInt('checkpointEvery');
  positiveInt('keepCheckpoints');
  positiveInt('maxSteps', 0);
  if (c.split === 'grouped' && c.fold >= c.folds) throw new ConfigError(`--fold ${c.fold} does not exist with --split grouped --folds ${c.folds} (folds are 0..${c.folds - 1}).`);
  if (c.split === 'random' && c.fold !== 0) throw new ConfigError(`--split random has one split; --fold ${c.fold} does not exist.`);
  if (!(c.divideBy > 0)) throw new ConfigError('--divide-by must be positive.');
  if (c.globalBatch % worldSize !== 0)
    throw new ConfigError(`Global batch ${c.globalBatch} cannot be split evenly over ${worldSize} ranks; choose a multiple of ${worldSize}.`);
  const perRank = c.globalBatch / worldSize;
  if (c.batchPerRank && c.batchPerRank !== perRank)
    throw new ConfigError(`--batch-per-rank ${c.batchPerRank} x ${worldSize} ranks != --global-batch ${c.globalBatch}.`);
  if (!(c.widthMultiplier > 0 && c.widthMultiplier <= 4)) throw new ConfigError(`--width-multiplier must be in (0, 4], got ${c.widthMultiplier}.`);
  if (!(c.labelSmoothing >= 0 && c.labelSmoothing < 1)) throw new ConfigError('--label-smoothing must be in [0, 1).');
  if (!(c.clipGradNorm >= 0)) throw new ConfigError('--clip-grad-norm must be 0 (off) or positive.');
  if (!(c.fanInRateLimit >= 0)) throw new ConfigError('--fan-in-rate-limit must be 0 (off) or positive.');
  if (!(c.momentum >= 0 && c.momentum < 1)) throw new ConfigError('--momentum must be in [0, 1).');
  if (!(c.baseLr > 0)) throw new ConfigError('--base-lr must be positive.');
  return { ...c, batchPerRank: perRank, checkpointDir: c.checkpointDir || `${c.out}.checkpoints`, log: c.log || `${c.out}.train.jsonl` };
}

/**
 * Settings recorded by a run (a bundle's provenance.recipe, a checkpoint's config) as this version reads them.
 * Before --split grouped existed, the round-robin compound folds were recorded as split "loco" (and no recipe
 * key): such a record means the grouped folds it was trained with.
 */
export function recordedTrainConfig(recorded: Record<string, unknown>): Partial<TrainConfig> {
  const legacyGrouped = recorded.split === 'loco' && !('recipe' in recorded);
  return { ...(recorded as Partial<TrainConfig>), ...(legacyGrouped ? { split: 'grouped' as const } : {}) };
}
