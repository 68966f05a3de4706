// Splits `train:cluster` argv into launcher options and the flags forwarded untouched to the trainer.
import type { MapBy } from './plan.ts';

export interface LauncherArgs {
  np?: number;
  hostfile?: string;
  threadsPerRank?: number;
  mapBy?: MapBy;
  /** Script each rank runs; defaults to the trainer. */
  entry?: string;
  /** Print the mpirun command without running it. */
  dryRun: boolean;
  /** Everything not meant for the launcher, in order. */
  trainerArgs: string[];
}

const VALUE_FLAGS = new Set(['--np', '--hostfile', '--threads-per-rank', '--map-by', '--entry']);

function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${flag} needs a positive integer, got "${text}"`);
  return value;
}

function mapByValue(text: string): MapBy {
  if (text === 'socket' || text === 'numa' || text === 'core') return text;
  throw new Error(`--map-by must be socket, numa or core, got "${text}"`);
}

export function parseLauncherArgs(argv: readonly string[]): LauncherArgs {
  const parsed: LauncherArgs = { dryRun: false, trainerArgs: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--') {
      parsed.trainerArgs.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '--dry-run') {
      parsed.dryRun = true;
      continue;
    }
    const equals = arg.indexOf('=');
    const flag = equals > 0 ? arg.slice(0, equals) : arg;
    if (!VALUE_FLAGS.has(flag)) {
      parsed.trainerArgs.push(arg);
      continue;
    }
    let value: string | undefined;
    if (equals > 0) value = arg.slice(equals + 1);
    else {
      value = argv[i + 1];
      i += 1;
    }
    if (value === undefined || value === '') throw new Error(`${flag} needs a value`);
    switch (flag) {
      case '--np': parsed.np = positiveInteger(flag, value); break;
      case '--threads-per-rank': parsed.threadsPerRank = positiveInteger(flag, value); break;
      case '--hostfile': parsed.hostfile = value; break;
      case '--map-by': parsed.mapBy = mapByValue(value); break;
      case '--entry': parsed.entry = value; break;
    }
  }
  return parsed;
}

/**
 * The value the trainer will read for `flag` (`--flag V` or `--flag=V`, the last one winning, as
 * parseTrainArgs does), or undefined when the flag is absent or has no value.
 */
export function trainerFlag(trainerArgs: readonly string[], flag: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < trainerArgs.length; i += 1) {
    const arg = trainerArgs[i];
    if (arg.startsWith(`${flag}=`)) found = arg.slice(flag.length + 1);
    else if (arg === flag) {
      const next = trainerArgs[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        found = next;
        i += 1;
      }
    }
  }
  return found;
}
