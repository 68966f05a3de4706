// Pure planning of the mpirun command: rank count, threads per rank, mapping/binding, oversubscription, env.
import type { MachineTopology } from './topology.ts';

export type MapBy = 'socket' | 'numa' | 'core';

export interface ClusterOptions {
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
  /** Human-readable reasons for the choices that were not asked for. */
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

/** How many objects of the mapping level one machine has. */
export function domainsOf(machine: MachineTopology, mapBy: MapBy): number {
  switch (mapBy) {
    case 'socket': return Math.max(1, machine.sockets);
    case 'numa': return Math.max(1, machine.numaNodes || machine.sockets);
    case 'core': return Math.max(1, machine.cores);
  }
}

/** OpenMPI 4.1 refuses `core:PE=T` for T > 1; `slot:PE=T` packs ranks on consecutive cores instead. */
function mappingObject(mapBy: MapBy): string {
  return mapBy === 'core' ? 'slot' : mapBy;
}

export function planMpirun(options: ClusterOptions, machine: MachineTopology): MpirunPlan {
  requirePositiveInteger('np', options.np);
  requirePositiveInteger('threadsPerRank', options.threadsPerRank);
  if (options.program.length === 0) throw new Error('planMpirun: program is empty');
  const notes: string[] = [];
  const mapBy = options.mapBy ?? defaultMapBy(machine);
  const onHostfile = options.hostfile !== undefined;

  let np: number;
  if (options.np !== undefined) np = options.np;
  else if (onHostfile) {
    if (options.hostfileSlots === null || options.hostfileSlots === undefined) {
      throw new Error('--hostfile without slots=N on every host: pass --np explicitly');
    }
    np = options.hostfileSlots;
    notes.push(`np ${np}: the hostfile's slots`);
  } else if (mapBy === 'core') {
    np = Math.max(1, Math.floor(machine.cores / (options.threadsPerRank ?? 1)));
    notes.push(`np ${np}: ${machine.cores} cores / ${options.threadsPerRank ?? 1} threads per rank`);
  } else {
    np = domainsOf(machine, mapBy);
    notes.push(`np ${np}: one rank per ${mapBy === 'numa' ? 'NUMA domain' : 'socket'} on this machine`);
  }

  // Ranks sharing one machine: all of them locally; on a hostfile, assume nodes shaped like this one.
  const ranksPerMachine = onHostfile ? Math.min(np, domainsOf(machine, mapBy)) : np;
  let threadsPerRank: number;
  if (options.threadsPerRank !== undefined) threadsPerRank = options.threadsPerRank;
  else {
    threadsPerRank = Math.max(1, Math.floor(machine.cores / ranksPerMachine));
    notes.push(`threads per rank ${threadsPerRank}: ${machine.cores} cores / ${ranksPerMachine} ranks per machine` +
      (onHostfile ? ' (assuming the hosts look like this machine)' : ''));
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
  args.push(...options.program, ...options.programArgs);
  return { command: 'mpirun', args, np, threadsPerRank, mapBy, bindTo, oversubscribe, notes };
}

/** The plan as one copy-pasteable shell line. */
export function formatCommand(plan: Pick<MpirunPlan, 'command' | 'args'>): string {
  const quote = (word: string): string => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);
  return [plan.command, ...plan.args].map(quote).join(' ');
}
