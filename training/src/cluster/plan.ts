// Pure planning of the mpirun command by engine: rank count, threads per rank, mapping/binding, oversubscription, env.
import type { BackendResolution } from '../backend/select.ts';
import type { MachineTopology } from './topology.ts';

export type MapBy = 'socket' | 'numa' | 'core';

export interface ClusterOptions {
  /**
   * The engine the ranks will compute with (resolveBackend of the trainer's --backend). Threaded engines get one
   * rank per socket/NUMA domain with its cores as threads; single-threaded ones one rank per core.
   */
  engine: BackendResolution;
  np?: number;
  hostfile?: string;
  /** Slots the hostfile offers in total (null: unknown, a host without slots=). */
  hostfileSlots?: number | null;
  threadsPerRank?: number;
  mapBy?: MapBy;
  /** Program each rank runs, e.g. [node, --import, <tsx loader>, training/src/train.ts]. */
  program: string[];
  /** Flags forwarded to the program. */
  programArgs: string[];
  /** Names of environment variables to export to every rank as they are (-x NAME). */
  forwardEnv?: string[];
  /** Extra mpirun flags (--mca pass-through, MOA_MPIRUN_ARGS), placed before the program, as given. */
  mpirunArgs?: string[];
}

export interface MpirunPlan {
  command: 'mpirun';
  args: string[];
  np: number;
  threadsPerRank: number;
  mapBy: MapBy;
  /** 'core': each rank bound to its own threadsPerRank cores; 'none': more threads than cores, unbound. */
  bindTo: 'core' | 'none';
  oversubscribe: boolean;
  /** Human-readable lines: the engine and the layout it gets, then each choice and why (asked for or derived). */
  notes: string[];
}

function requirePositiveInteger(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}

/** NUMA domains when the machine has more of them than sockets (e.g. sub-NUMA clustering), else sockets. */
export function defaultMapBy(machine: MachineTopology): MapBy {
  return machine.numaNodes > machine.sockets ? 'numa' : 'socket';
}

/** The mapping level an engine gets when --map-by is not given: a threaded engine's domains, else cores. */
export function engineMapBy(engine: BackendResolution, machine: MachineTopology): MapBy {
  return engine.threaded ? defaultMapBy(machine) : 'core';
}

/** How many objects of the mapping level one machine has. */
export function domainsOf(machine: MachineTopology, mapBy: MapBy): number {
  switch (mapBy) {
    case 'socket': return Math.max(1, machine.sockets);
    case 'numa': return Math.max(1, machine.numaNodes || machine.sockets);
    case 'core': return Math.max(1, machine.cores);
  }
}

const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

const DOMAIN_NAMES: Record<MapBy, string> = { socket: 'socket', numa: 'NUMA domain', core: 'core' };

/** "engine: native (auto: ...): one rank per socket with its cores as threads", plus which launcher flags override it. */
function engineNote(options: ClusterOptions, machine: MachineTopology): string {
  const { engine } = options;
  const layout = engine.threaded
    ? `threaded, so one rank per ${DOMAIN_NAMES[engineMapBy(engine, machine)]} with its cores as threads`
    : 'single-threaded in Node, so one rank per core, 1 thread each';
  const given = Object.entries({ '--np': options.np, '--threads-per-rank': options.threadsPerRank, '--map-by': options.mapBy })
    .filter(([, value]) => value !== undefined)
    .map(([flag]) => flag);
  const override = given.length === 0 ? '' : `; ${given.join(', ')} given: ${given.length === 1 ? 'it wins' : 'they win'}`;
  return `engine: ${engine.name} (${engine.why}): ${layout}${override}`;
}

/** OpenMPI 4.1 refuses `core:PE=T` for T > 1; `slot:PE=T` packs ranks on consecutive cores instead. */
function mappingObject(mapBy: MapBy): string {
  return mapBy === 'core' ? 'slot' : mapBy;
}

export function planMpirun(options: ClusterOptions, machine: MachineTopology): MpirunPlan {
  requirePositiveInteger('np', options.np);
  requirePositiveInteger('threadsPerRank', options.threadsPerRank);
  if (options.program.length === 0) throw new Error('planMpirun: program is empty');
  const { engine } = options;
  const notes: string[] = [engineNote(options, machine)];
  const mapBy = options.mapBy ?? engineMapBy(engine, machine);
  const onHostfile = options.hostfile !== undefined;
  if (onHostfile) {
    notes.push(`engine and cores judged on this machine: assuming the hosts look like it (same engine installed, same cores)`);
  }
  if (options.mapBy !== undefined) notes.push(`map by ${mapBy}: --map-by`);

  let np: number;
  if (options.np !== undefined) {
    np = options.np;
    notes.push(`np ${np}: --np`);
  } else if (onHostfile) {
    if (options.hostfileSlots === null || options.hostfileSlots === undefined) {
      throw new Error('--hostfile without slots=N on every host: pass --np explicitly');
    }
    np = options.hostfileSlots;
    notes.push(`np ${np}: the hostfile's slots`);
  } else if (mapBy === 'core' || !engine.threaded) {
    const threads = options.threadsPerRank ?? 1;
    np = Math.max(1, Math.floor(machine.cores / threads));
    notes.push(`np ${np}: ${machine.cores} cores / ${count(threads, 'thread')} per rank`);
  } else {
    np = domainsOf(machine, mapBy);
    notes.push(`np ${np}: one rank per ${DOMAIN_NAMES[mapBy]} on this machine`);
  }

  let threadsPerRank: number;
  if (options.threadsPerRank !== undefined) {
    threadsPerRank = options.threadsPerRank;
    notes.push(`threads per rank ${threadsPerRank}: --threads-per-rank`);
    if (!engine.threaded && threadsPerRank > 1) {
      notes.push(`${engine.name} uses one thread per rank in Node: --threads-per-rank ${threadsPerRank} kept as asked, ` +
        'but each rank computes on one thread');
    }
  } else if (!engine.threaded) {
    threadsPerRank = 1;
    notes.push(`threads per rank 1: ${engine.name} uses one thread per rank in Node`);
  } else {
    // Ranks sharing one machine: all of them locally; on a hostfile, assume nodes shaped like this one.
    const ranksPerMachine = onHostfile ? Math.min(np, domainsOf(machine, mapBy)) : np;
    threadsPerRank = Math.max(1, Math.floor(machine.cores / ranksPerMachine));
    notes.push(`threads per rank ${threadsPerRank}: ${machine.cores} cores / ${count(ranksPerMachine, 'rank')} per machine`);
  }

  let bindTo: MpirunPlan['bindTo'] = 'core';
  let oversubscribe = false;
  if (onHostfile) {
    if (options.hostfileSlots !== null && options.hostfileSlots !== undefined && np > options.hostfileSlots) {
      oversubscribe = true;
      notes.push(`oversubscribing: ${np} ranks > ${options.hostfileSlots} hostfile slots`);
    }
  } else {
    if (np * threadsPerRank > machine.cores) {
      bindTo = 'none';
      notes.push(`binding off: ${np} ranks x ${threadsPerRank} threads > ${machine.cores} cores`);
    }
    if (np > machine.cores) {
      oversubscribe = true;
      notes.push(`oversubscribing: ${np} ranks > ${machine.cores} slots (cores)`);
    }
  }

  const args: string[] = [];
  if (machine.isRoot) args.push('--allow-run-as-root');
  args.push('-np', String(np));
  if (onHostfile) args.push('--hostfile', options.hostfile as string);
  if (oversubscribe) args.push('--oversubscribe');
  if (bindTo === 'core') {
    args.push('--map-by', `${mappingObject(mapBy)}:PE=${threadsPerRank}`, '--bind-to', 'core', '--report-bindings');
  } else {
    args.push('--map-by', mappingObject(mapBy), '--bind-to', 'none');
  }
  args.push('-x', `MOA_THREADS=${threadsPerRank}`, '-x', `OMP_NUM_THREADS=${threadsPerRank}`);
  for (const name of options.forwardEnv ?? []) {
    if (name !== 'MOA_THREADS' && name !== 'OMP_NUM_THREADS') args.push('-x', name);
  }
  if (options.mpirunArgs !== undefined && options.mpirunArgs.length > 0) {
    args.push(...options.mpirunArgs);
    notes.push(`extra mpirun flags (--mca, MOA_MPIRUN_ARGS): ${options.mpirunArgs.join(' ')}`);
  }
  args.push(...options.program, ...options.programArgs);
  return { command: 'mpirun', args, np, threadsPerRank, mapBy, bindTo, oversubscribe, notes };
}

/** The plan as one copy-pasteable shell line. */
export function formatCommand(plan: Pick<MpirunPlan, 'command' | 'args'>): string {
  const quote = (word: string): string => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);
  return [plan.command, ...plan.args].map(quote).join(' ');
}
