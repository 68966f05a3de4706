// `npm run train:cluster`: plans the mpirun command for data-parallel training by the ranks' engine, prints it, runs it, keeps its exit code.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseLauncherArgs, trainerFlag } from './cluster/args.ts';
import { parseHostfile, totalSlots } from './cluster/hostfile.ts';
import { runMpirun } from './cluster/launch.ts';
import { formatCommand, planMpirun, type MpirunPlan } from './cluster/plan.ts';
import { probeMachine } from './cluster/topology.ts';
import { BACKEND_NAMES, resolveBackend, type BackendRequest, type BackendResolution } from './backend/select.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const defaultEntry = resolve(repoRoot, 'training', 'src', 'train.ts');

/** Environment variables of ours that every rank should see (remote ranks do not inherit mpirun's env). */
function envToForward(): string[] {
  return Object.keys(process.env).filter((name) => name.startsWith('MOA_')).sort();
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

export function buildPlan(argv: readonly string[]): { plan: MpirunPlan; dryRun: boolean } {
  const args = parseLauncherArgs(argv);
  const entry = args.entry === undefined ? defaultEntry : resolve(args.entry);
  if (!args.dryRun && !existsSync(entry)) throw new Error(`the rank entry script ${entry} does not exist`);
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
  }, probeMachine());
  return { plan, dryRun: args.dryRun };
}

async function main(): Promise<void> {
  let built: ReturnType<typeof buildPlan>;
  // The exported bundle records how it was made: this command, not the per-rank one.
  process.env.MOA_TRAIN_COMMAND ||= `npm run train:cluster -- ${process.argv.slice(2).join(' ')}`;
  try {
    built = buildPlan(process.argv.slice(2));
  } catch (error) {
    console.error(`train:cluster: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
    return;
  }
  const { plan, dryRun } = built;
  for (const note of plan.notes) console.log(`[train:cluster] ${note}`);
  console.log(`[train:cluster] ${formatCommand(plan)}`);
  if (dryRun) return;
  try {
    process.exitCode = await runMpirun(plan);
  } catch (error) {
    console.error(`train:cluster: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 127;
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
