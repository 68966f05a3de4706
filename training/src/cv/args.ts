// `train:cv` arguments: the protocol, which folds, how each fold is launched, and the trainer flags every fold shares.
import { trainerFlag } from '../cluster/args.ts';
import { SPLIT_KINDS, type SplitKind } from '../data/splits.ts';
import { ConfigError } from '../util/cli.ts';

export interface CvArgs {
  split: Exclude<SplitKind, 'random'>;
  /** Folds of --split grouped. */
  folds: number;
  /** Fold indices to run (--folds-subset), else all. */
  subset?: number[];
  /** Run only the first N folds of the selection (--max-folds). */
  maxFolds?: number;
  /** train:cluster launcher flags (--np, --hostfile, --threads-per-rank, --map-by, --mca): when any is given, every fold runs through it. */
  launcher: string[];
  dryRun: boolean;
  /** The sweep folder (the trainer flags' --out): fold i trains into <out>/folds/<i>/model. */
  out: string;
  data: string;
  /** Trainer flags shared by every fold, without --out (train:cv adds --out, --split, --folds, --fold, --resume per fold). */
  trainerArgs: string[];
}

const LAUNCHER_VALUE_FLAGS = ['--np', '--hostfile', '--threads-per-rank', '--map-by'];
/** Set per fold by train:cv; a fold's own copy would be silently wrong. */
const OWNED_BY_CV = ['--split', '--folds', '--fold', '--resume', '--checkpoint-dir', '--log'];

/** "0,3,5-7" -> [0, 3, 5, 6, 7]. */
export function parseFoldList(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new ConfigError(`--folds-subset must be fold numbers and ranges like 0,3,5-7; got "${text}".`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new ConfigError(`--folds-subset range ${part.trim()} runs backwards.`);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

const flagName = (arg: string) => arg.split('=')[0];

export function parseCvArgs(argv: readonly string[]): CvArgs {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const trainer = dash < 0 ? [] : argv.slice(dash + 1);
  let split: CvArgs['split'] | undefined;
  let folds: number | undefined;
  let subset: number[] | undefined;
  let maxFolds: number | undefined;
  let dryRun = false;
  const launcher: string[] = [];
  for (let i = 0; i < own.length; i++) {
    const arg = own[i];
    const flag = flagName(arg);
    const eq = arg.indexOf('=');
    const value = (): string => {
      const v = eq > 0 ? arg.slice(eq + 1) : own[++i];
      if (v === undefined || v === '' || (eq < 0 && v.startsWith('--'))) throw new ConfigError(`${flag} needs a value.`);
      return v;
    };
    const positive = (v: string): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${flag} needs a positive integer, got "${v}".`);
      return n;
    };
    if (flag === '--split') {
      const v = value();
      if (v === 'random' || !(SPLIT_KINDS as readonly string[]).includes(v)) throw new ConfigError(`--split must be one of loco, nscb, grouped for a cross-validation sweep; got "${v}".`);
      split = v as CvArgs['split'];
    } else if (flag === '--folds') folds = positive(value());
    else if (flag === '--folds-subset') subset = parseFoldList(value());
    else if (flag === '--max-folds') maxFolds = positive(value());
    else if (flag === '--dry-run') dryRun = true;
    else if (LAUNCHER_VALUE_FLAGS.includes(flag)) launcher.push(flag, value());
    else if (flag === '--mca') {
      const key = own[i + 1];
      const v = own[i + 2];
      if (key === undefined || v === undefined || key.startsWith('--')) throw new ConfigError('--mca needs a parameter name and a value: --mca btl tcp,self');
      launcher.push('--mca', key, v);
      i += 2;
    } else throw new ConfigError(`Unknown train:cv flag ${flag}; trainer flags go after "--" (npm run train:cv -- --help).`);
  }
  if (!split) throw new ConfigError('--split loco|nscb|grouped is required.');
  if (folds !== undefined && split !== 'grouped') throw new ConfigError(`--folds is for --split grouped; --split ${split} has one fold per ${split === 'loco' ? 'compound' : '(compound, week)'}.`);
  if (subset !== undefined && maxFolds !== undefined) throw new ConfigError('give --folds-subset or --max-folds, not both.');
  for (const arg of trainer) {
    if (OWNED_BY_CV.includes(flagName(arg))) throw new ConfigError(`${flagName(arg)} is set by train:cv for each fold; give --split/--folds before "--" and leave the rest out.`);
  }
  const out = trainerFlag(trainer, '--out');
  const data = trainerFlag(trainer, '--data');
  if (!out) throw new ConfigError('--out <sweep dir> is required among the trainer flags: each fold trains into <out>/folds/<i>/model.');
  if (!data) throw new ConfigError('--data <BBBC021 root> is required among the trainer flags.');
  return { split, folds: folds ?? 5, subset, maxFolds, launcher, dryRun, out, data, trainerArgs: withoutFlag(trainer, '--out') };
}

/** The flags with every `--flag V` / `--flag=V` removed. */
function withoutFlag(args: readonly string[], flag: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === flag) i++;
    else if (!args[i].startsWith(`${flag}=`)) out.push(args[i]);
  }
  return out;
}
