// `npm run train:cluster`: plans the mpirun command for data-parallel training by the ranks' engine, prints it, runs it, keeps its exit code.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mpirunArgsFromEnv, parseLauncherArgs, trainerFlag } from './cluster/args.ts';
import { parseHostfile, totalSlots } from './cluster/hostfile.ts';
import { runMpirun } from './cluster/launch.ts';
import { formatCommand, planMpirun, type MpirunPlan } from './cluster/plan.ts';
import { probeMachine } from './cluster/topology.ts';
import { BACKEND_NAMES, resolveBackend, type BackendRequest, type BackendResolution } from './backend/select.ts';
import { parseTrainArgs, validateTrainConfig } from './train/config.ts';
import { checkTrainPaths } from './train/paths.ts';
import { watchdogSettings } from './train/watchdog.ts';
import { ConfigError, EXIT, exitCodesHelp, MpiError, runCli, verbose } from './util/cli.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const defaultEntry = resolve(repoRoot, 'training', 'src', 'train.ts');

const HELP = `npm run train:cluster -- [trainer flags] [--np N] [--hostfile F] [--threads-per-rank T] [--map-by socket|numa|core]
                         [--mca KEY VALUE]... [--dry-run] [--entry script.ts] [--verbose] [-- trainer flags]
Plans the mpirun command for data-parallel training from the ranks' engine (docs/cluster.md), prints it and runs it.
Flags the launcher does not know go to the trainer (npm run train -- --help lists them); after a second -- every
flag goes to the trainer. The trainer's flags are checked here, with the trainer's own rules, before mpirun starts
(and --data / --out too when the ranks run on this machine). --verbose reaches the ranks as well.
--mca KEY VALUE (repeatable) and MOA_MPIRUN_ARGS (whitespace-separated words) pass flags to mpirun as they are,
e.g. --mca btl tcp,self --mca btl_tcp_if_include 10.0.0.0/24 (docs/cluster.md, "Several hosts").

The exit code is the ranks' (through mpirun), or the launcher's own:
${exitCodesHelp([EXIT.usage, EXIT.data, EXIT.diverged, EXIT.mpi, EXIT.watchdog])}`;

/** Environment variables of ours that every rank should see (remote ranks do not inherit mpirun's env). */
function envToForward(): string[] {
  return Object.keys(process.env).filter((name) => name.startsWith('MOA_') && name !== 'MOA_MPIRUN_ARGS').sort();
}

/** The trainer's --backend value as a request (default auto); unknown names fail here, before mpirun starts. */
function backendRequest(value: string | undefined): BackendRequest {
  if (value === undefined || value === 'auto') return 'auto';
  const name = BACKEND_NAMES.find((known) => known === value);
  if (name === undefined) throw new Error(`--backend must be one of auto, ${BACKEND_NAMES.join(', ')}; got "${value}"`);
  return name;
}

/**
 * The engine the ranks will use. Local ranks run on this machine with this node_modules, so resolving here is
 * what they will resolve; on a hostfile the plan assumes the hosts look like this one (and says so).
 */
export function rankEngine(trainerArgs: readonly string[]): BackendResolution {
  return resolveBackend(backendRequest(trainerFlag(trainerArgs, '--backend')));
}

/**
 * The plan, after checking the trainer's flags with the trainer's own parser and validator (for the planned number
 * of ranks) when the ranks run the trainer: a bad flag stops here, before mpirun starts. The --data and --out checks
 * need the ranks' file system: made for ranks on this machine (no hostfile) and not for a dry run.
 */
export function buildPlan(argv: readonly string[]): { plan: MpirunPlan; dryRun: boolean } {
  const args = parseLauncherArgs(argv);
  const entry = args.entry === undefined ? defaultEntry : resolve(args.entry);
  if (!args.dryRun && !existsSync(entry)) throw new Error(`the rank entry script ${entry} does not exist`);
  // The trainer takes --verbose out before parsing (util/cli.ts), so the check here does too.
  const trainer = entry === defaultEntry ? parseTrainArgs(args.trainerArgs.filter((arg) => arg !== '--verbose')) : null;
  const hostfile = args.hostfile === undefined ? undefined : resolve(args.hostfile);
  const hostfileSlots = hostfile === undefined ? undefined : totalSlots(parseHostfile(readFileSync(hostfile, 'utf8')));
  const tsxLoader = import.meta.resolve('tsx');
  const plan = planMpirun({
    engine: rankEngine(args.trainerArgs),
    np: args.np,
    hostfile,
    hostfileSlots,
    threadsPerRank: args.threadsPerRank,
    mapBy: args.mapBy,
    program: [process.execPath, '--import', tsxLoader, isAbsolute(entry) ? entry : resolve(entry)],
    programArgs: args.trainerArgs,
    forwardEnv: envToForward(),
    mpirunArgs: [...mpirunArgsFromEnv(process.env), ...args.mpirunArgs],
  }, probeMachine());
  if (trainer) {
    watchdogSettings(process.env);
    const config = validateTrainConfig(trainer, plan.np, { requirePaths: !args.dryRun });
    if (!args.dryRun && hostfile === undefined) checkTrainPaths(config);
  }
  return { plan, dryRun: args.dryRun };
}

async function main(argv: string[]): Promise<number | void> {
  if (argv.includes('--help') && !argv.slice(0, argv.indexOf('--help')).includes('--')) {
    console.log(HELP);
    return;
  }
  // runCli took --verbose out of argv; it goes on to the ranks (last, so after any second --), which then print traces too.
  const forwarded = verbose() ? [...argv, '--verbose'] : argv;
  let built: ReturnType<typeof buildPlan>;
  // The exported bundle records how it was made: this command, not the per-rank one.
  process.env.MOA_TRAIN_COMMAND ||= `npm run train:cluster -- ${argv.join(' ')}`;
  try {
    built = buildPlan(forwarded);
  } catch (error) {
    // Every planning failure is a bad argument (flag, hostfile, trainer setting): exit 2, mpirun not started.
    throw error instanceof ConfigError ? error : new ConfigError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  const { plan, dryRun } = built;
  for (const note of plan.notes) console.log(`[train:cluster] ${note}`);
  console.log(`[train:cluster] ${formatCommand(plan)}`);
  if (dryRun) return;
  try {
    return await runMpirun(plan);
  } catch (error) {
    throw new MpiError(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runCli('train:cluster', main);
}
