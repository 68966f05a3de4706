// Reads this machine's CPU topology (sockets, NUMA domains, cores) from `lscpu -p`, for choosing ranks and threads.
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';

export interface MachineTopology {
  /** Physical packages. */
  sockets: number;
  /** NUMA domains; 0 when the kernel reports none. */
  numaNodes: number;
  /** Physical cores (what `--bind-to core` binds to and OpenMPI's default slot count). */
  cores: number;
  /** Logical CPUs (hardware threads). */
  hardwareThreads: number;
  /** Running as uid 0: mpirun then needs --allow-run-as-root. */
  isRoot: boolean;
}

/** Parses `lscpu -p=SOCKET,NODE,CORE,CPU` output (comment lines start with '#'; empty fields allowed). */
export function parseLscpuParsable(text: string): Omit<MachineTopology, 'isRoot'> {
  const sockets = new Set<string>();
  const nodes = new Set<string>();
  const cores = new Set<string>();
  let hardwareThreads = 0;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [socket = '', node = '', core = ''] = line.split(',');
    hardwareThreads += 1;
    sockets.add(socket);
    if (node !== '') nodes.add(node);
    cores.add(`${socket}/${core === '' ? String(hardwareThreads) : core}`);
  }
  if (hardwareThreads === 0) throw new Error('lscpu output lists no CPUs');
  return { sockets: sockets.size, numaNodes: nodes.size, cores: cores.size, hardwareThreads };
}

/** This machine's topology; falls back to os.cpus() (one socket, one NUMA domain) when lscpu is missing. */
export function probeMachine(): MachineTopology {
  const isRoot = process.getuid?.() === 0;
  const lscpu = spawnSync('lscpu', ['-p=SOCKET,NODE,CORE,CPU'], { encoding: 'utf8' });
  if (!lscpu.error && lscpu.status === 0) {
    try {
      return { ...parseLscpuParsable(lscpu.stdout), isRoot };
    } catch {
      // fall through to the os.cpus() estimate
    }
  }
  const logical = Math.max(1, cpus().length);
  return { sockets: 1, numaNodes: 1, cores: logical, hardwareThreads: logical, isRoot };
}
