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
  /** Extra mpirun flags, in order: each `--mca KEY VALUE` given (passed through as they are). */
  mpirunArgs: string[];
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
  const parsed: LauncherArgs = { dryRun: false, mpirunArgs: [], trainerArgs: [] };
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
    if (arg === '--mca' || arg.startsWith('--mca=')) {
      // OpenMPI's own spelling, two words: --mca btl tcp,self.
      const key = argv[i + 1];
      const value = argv[i + 2];
      if (arg !== '--mca' || key === undefined || value === undefined || key.startsWith('--') || key === '' || value === '') {
        throw new Error('--mca needs a parameter name and a value: --mca btl tcp,self');
      }
      parsed.mpirunArgs.push('--mca', key, value);
      i += 2;
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

/**
 * MOA_MPIRUN_ARGS: extra mpirun flags as whitespace-separated words (no quoting), e.g.
 * "--mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24"; empty or unset: none.
 */
export function mpirunArgsFromEnv(env: NodeJS.ProcessEnv): string[] {
  const text = env.MOA_MPIRUN_ARGS?.trim() ?? '';
  return text === '' ? [] : text.split(/\s+/);
}
