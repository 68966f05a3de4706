// Unit tests of the train:cluster planning: argv split, the ranks' engine, lscpu/hostfile parsing, and planMpirun's choices by engine.
import { describe, expect, it } from 'vitest';
import { mpirunArgsFromEnv, parseLauncherArgs, trainerFlag } from '../../training/src/cluster/args.ts';
import { parseHostfile, totalSlots } from '../../training/src/cluster/hostfile.ts';
import { exitCodeOf } from '../../training/src/cluster/launch.ts';
import { rankEngine } from '../../training/src/cluster.ts';
import { formatCommand, planMpirun, type ClusterOptions } from '../../training/src/cluster/plan.ts';
import { parseLscpuParsable, type MachineTopology } from '../../training/src/cluster/topology.ts';
import type { BackendResolution } from '../../training/src/backend/select.ts';

const program = ['node', '--import', 'tsx', 'train.ts'];
const laptop: MachineTopology = { sockets: 1, numaNodes: 1, cores: 2, hardwareThreads: 2, isRoot: false };
const xeon6148: MachineTopology = { sockets: 2, numaNodes: 2, cores: 40, hardwareThreads: 80, isRoot: false };
const xeonSnc: MachineTopology = { sockets: 2, numaNodes: 4, cores: 40, hardwareThreads: 80, isRoot: false };

const native: BackendResolution = { name: 'native', why: 'auto: tfjs-node is not installed; the native oneDNN engine loads', threaded: true };
const wasm: BackendResolution = { name: 'wasm', why: 'asked for', threaded: false };

/** A plan for the threaded native engine unless another engine is given. */
function plan(options: Partial<ClusterOptions>, machine: MachineTopology = xeon6148) {
  return planMpirun({ engine: native, program, programArgs: [], ...options }, machine);
}

/** The value after a flag in an argv, or undefined. */
function valueAfter(args: string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index >= 0 ? args[index + 1] : undefined;
}

describe('parseLauncherArgs', () => {
  it('takes launcher flags in both spellings and forwards the rest in order', () => {
    const parsed = parseLauncherArgs(['--epochs', '3', '--np', '4', '--threads-per-rank=10', '--map-by', 'numa',
      '--lr=0.1', '--hostfile', 'hosts', '--resume']);
    expect(parsed).toMatchObject({ np: 4, threadsPerRank: 10, mapBy: 'numa', hostfile: 'hosts', dryRun: false });
    expect(parsed.trainerArgs).toEqual(['--epochs', '3', '--lr=0.1', '--resume']);
  });

  it('passes everything after -- to the trainer, even launcher-looking flags', () => {
    const parsed = parseLauncherArgs(['--np', '2', '--', '--np', '9']);
    expect(parsed.np).toBe(2);
    expect(parsed.trainerArgs).toEqual(['--np', '9']);
  });

  it('rejects bad values', () => {
    expect(() => parseLauncherArgs(['--np', '0'])).toThrow(/positive integer/);
    expect(() => parseLauncherArgs(['--np', '2.5'])).toThrow(/positive integer/);
    expect(() => parseLauncherArgs(['--threads-per-rank'])).toThrow(/needs a value/);
    expect(() => parseLauncherArgs(['--map-by', 'board'])).toThrow(/socket, numa or core/);
  });

  it('recognises --dry-run and --entry', () => {
    expect(parseLauncherArgs(['--dry-run', '--entry', 'x.ts'])).toMatchObject({ dryRun: true, entry: 'x.ts' });
  });
});

describe('trainerFlag', () => {
  it('reads a trainer flag in both spellings, the last one winning, as the trainer does', () => {
    expect(trainerFlag(['--epochs', '3', '--backend', 'wasm'], '--backend')).toBe('wasm');
    expect(trainerFlag(['--backend=native', '--epochs', '3'], '--backend')).toBe('native');
    expect(trainerFlag(['--backend', 'wasm', '--backend=native'], '--backend')).toBe('native');
  });

  it('is undefined when the flag is absent or has no value', () => {
    expect(trainerFlag(['--epochs', '3'], '--backend')).toBeUndefined();
    expect(trainerFlag(['--backend', '--epochs', '3'], '--backend')).toBeUndefined();
    expect(trainerFlag(['--backends', 'x'], '--backend')).toBeUndefined();
  });
});

describe('rankEngine (the launcher resolves the trainer\'s --backend)', () => {
  it('resolves an explicit engine without starting it', () => {
    expect(rankEngine(['--epochs', '1', '--backend', 'wasm'])).toEqual({ name: 'wasm', why: 'asked for', threaded: false });
    expect(rankEngine(['--backend=native'])).toEqual({ name: 'native', why: 'asked for', threaded: true });
  });

  it('defaults to auto and refuses unknown names before mpirun starts', () => {
    expect(rankEngine([]).why).toMatch(/^auto: /);
    expect(() => rankEngine(['--backend', 'cuda'])).toThrow(/--backend must be one of auto, tfjs-node, native, wasm/);
  });
});

describe('parseLscpuParsable', () => {
  it('counts sockets, NUMA nodes, cores and hardware threads', () => {
    const text = ['# Socket,Node,Core,CPU', '0,0,0,0', '0,0,1,1', '1,1,2,2', '1,1,3,3', '0,0,0,4', '0,0,1,5', '1,1,2,6',
      '1,1,3,7'].join('\n');
    expect(parseLscpuParsable(text)).toEqual({ sockets: 2, numaNodes: 2, cores: 4, hardwareThreads: 8 });
  });

  it('reports 0 NUMA nodes when the column is empty', () => {
    expect(parseLscpuParsable('# x\n0,,0,0\n0,,1,1\n')).toEqual({ sockets: 1, numaNodes: 0, cores: 2, hardwareThreads: 2 });
  });

  it('throws on output without CPUs', () => {
    expect(() => parseLscpuParsable('# only comments\n')).toThrow(/no CPUs/);
  });
});

describe('hostfile', () => {
  it('sums slots and ignores comments', () => {
    const entries = parseHostfile('# cluster\nnode01 slots=4\nnode02 slots=4 max_slots=8 # two sockets\n\n');
    expect(entries).toEqual([{ host: 'node01', slots: 4 }, { host: 'node02', slots: 4 }]);
    expect(totalSlots(entries)).toBe(8);
  });

  it('gives null total when a host has no slots=', () => {
    expect(totalSlots(parseHostfile('a slots=2\nb\n'))).toBeNull();
  });
});

describe('planMpirun on one machine', () => {
  it('runs one rank per socket with all its cores by default (2-socket Xeon Gold 6148)', () => {
    const p = plan({});
    expect(p.np).toBe(2);
    expect(p.threadsPerRank).toBe(20);
    expect(p.args).toEqual(['-np', '2', '--map-by', 'socket:PE=20', '--bind-to', 'core', '--report-bindings',
      '-x', 'MOA_THREADS=20', '-x', 'OMP_NUM_THREADS=20', ...program]);
  });

  it('prefers NUMA domains when there are more of them than sockets (sub-NUMA clustering)', () => {
    const p = plan({}, xeonSnc);
    expect(p.mapBy).toBe('numa');
    expect(p.np).toBe(4);
    expect(p.threadsPerRank).toBe(10);
    expect(valueAfter(p.args, '--map-by')).toBe('numa:PE=10');
  });

  it('reproduces the 2018 layout on one node: 4 ranks x 10 threads mapped by socket', () => {
    const p = plan({ np: 4, threadsPerRank: 10, mapBy: 'socket' });
    expect(valueAfter(p.args, '--map-by')).toBe('socket:PE=10');
    expect(p.bindTo).toBe('core');
    expect(p.oversubscribe).toBe(false);
  });

  it('splits cores evenly when only np is given', () => {
    expect(plan({ np: 8 }).threadsPerRank).toBe(5);
    expect(plan({ np: 3 }).threadsPerRank).toBe(13);
  });

  it('maps by core with slot:PE=T, and derives np from the cores', () => {
    const p = plan({ mapBy: 'core', threadsPerRank: 4 });
    expect(p.np).toBe(10);
    expect(valueAfter(p.args, '--map-by')).toBe('slot:PE=4');
  });

  it('exports the thread count to every rank and keeps MOA_THREADS consistent with PE', () => {
    const p = plan({ np: 2, threadsPerRank: 7, forwardEnv: ['MOA_MPI_TIMEOUT_MS', 'MOA_THREADS'] });
    expect(p.args).toContain('MOA_THREADS=7');
    expect(p.args).toContain('OMP_NUM_THREADS=7');
    expect(valueAfter(p.args, '--map-by')).toBe('socket:PE=7');
    expect(p.args.filter((a) => a.startsWith('MOA_THREADS'))).toEqual(['MOA_THREADS=7']);
    expect(valueAfter(p.args, '-x', )).toBe('MOA_THREADS=7');
    expect(p.args).toContain('MOA_MPI_TIMEOUT_MS');
  });

  it('adds --allow-run-as-root only for root', () => {
    expect(plan({}, { ...xeon6148, isRoot: true }).args[0]).toBe('--allow-run-as-root');
    expect(plan({}).args).not.toContain('--allow-run-as-root');
  });

  it('2 ranks x 1 thread on a 2-core box: bound, not oversubscribed', () => {
    const p = plan({ np: 2, threadsPerRank: 1 }, laptop);
    expect(p.bindTo).toBe('core');
    expect(p.oversubscribe).toBe(false);
    expect(p.args).not.toContain('--oversubscribe');
  });

  it('more threads than cores: binding off, but no oversubscription while ranks fit the slots', () => {
    const p = plan({ np: 2, threadsPerRank: 2 }, laptop);
    expect(p.bindTo).toBe('none');
    expect(p.oversubscribe).toBe(false);
    expect(valueAfter(p.args, '--bind-to')).toBe('none');
    expect(valueAfter(p.args, '--map-by')).toBe('socket');
    expect(p.args).toContain('MOA_THREADS=2');
  });

  it('more ranks than cores: --oversubscribe and no binding', () => {
    const p = plan({ np: 3 }, laptop);
    expect(p.oversubscribe).toBe(true);
    expect(p.args).toContain('--oversubscribe');
    expect(p.bindTo).toBe('none');
    expect(p.threadsPerRank).toBe(1);
  });

  it('falls back to sockets when the machine reports no NUMA nodes', () => {
    const p = plan({ mapBy: 'numa' }, { ...xeon6148, numaNodes: 0 });
    expect(p.np).toBe(2);
  });

  it('appends the program and its flags last, untouched', () => {
    const p = plan({ programArgs: ['--epochs', '3', '--out dir'] });
    expect(p.args.slice(-7)).toEqual([...program, '--epochs', '3', '--out dir']);
  });

  it('rejects invalid numbers', () => {
    expect(() => plan({ np: 0 })).toThrow(RangeError);
    expect(() => plan({ threadsPerRank: 1.5 })).toThrow(RangeError);
    expect(() => planMpirun({ engine: native, program: [], programArgs: [] }, laptop)).toThrow(/program is empty/);
  });
});

describe('planMpirun by engine (2-socket, 40-core Xeon Gold 6148)', () => {
  it('threaded engine (native): the 2018 layout, 2 ranks x 20 threads mapped by socket and bound to their cores', () => {
    const p = plan({ engine: native });
    expect(p).toMatchObject({ np: 2, threadsPerRank: 20, mapBy: 'socket', bindTo: 'core', oversubscribe: false });
    expect(valueAfter(p.args, '--map-by')).toBe('socket:PE=20');
    expect(p.args).toContain('MOA_THREADS=20');
    expect(p.args).toContain('OMP_NUM_THREADS=20');
    expect(p.notes[0]).toBe('engine: native (auto: tfjs-node is not installed; the native oneDNN engine loads): ' +
      'threaded, so one rank per socket with its cores as threads');
  });

  it('tfjs-node is threaded too; with sub-NUMA clustering the engine line names the NUMA domain', () => {
    const tfjsNode: BackendResolution = { name: 'tfjs-node', why: 'asked for', threaded: true };
    expect(plan({ engine: tfjsNode })).toMatchObject({ np: 2, threadsPerRank: 20, mapBy: 'socket' });
    const snc = plan({ engine: tfjsNode }, xeonSnc);
    expect(snc).toMatchObject({ np: 4, threadsPerRank: 10, mapBy: 'numa' });
    expect(snc.notes[0]).toBe('engine: tfjs-node (asked for): threaded, so one rank per NUMA domain with its cores as threads');
  });

  it('single-threaded WASM: 40 ranks x 1 thread mapped by core, each bound to its core', () => {
    const p = plan({ engine: wasm });
    expect(p).toMatchObject({ np: 40, threadsPerRank: 1, mapBy: 'core', bindTo: 'core', oversubscribe: false });
    expect(valueAfter(p.args, '--map-by')).toBe('slot:PE=1');
    expect(p.args).toContain('MOA_THREADS=1');
    expect(p.args).toContain('OMP_NUM_THREADS=1');
    expect(p.notes).toEqual([
      'engine: wasm (asked for): single-threaded in Node, so one rank per core, 1 thread each',
      'np 40: 40 cores / 1 thread per rank',
      'threads per rank 1: wasm uses one thread per rank in Node',
    ]);
  });

  it('explicit --np, --threads-per-rank and --map-by win over the WASM layout, with a note on the idle threads', () => {
    const p = plan({ engine: wasm, np: 4, threadsPerRank: 10, mapBy: 'socket' });
    expect(p).toMatchObject({ np: 4, threadsPerRank: 10, mapBy: 'socket', bindTo: 'core' });
    expect(valueAfter(p.args, '--map-by')).toBe('socket:PE=10');
    expect(p.args).toContain('MOA_THREADS=10');
    expect(p.notes[0]).toMatch(/^engine: wasm \(asked for\): .*; --np, --threads-per-rank, --map-by given: they win$/);
    expect(p.notes).toContain('np 4: --np');
    expect(p.notes).toContain('threads per rank 10: --threads-per-rank');
    expect(p.notes).toContain('map by socket: --map-by');
    expect(p.notes).toContain('wasm uses one thread per rank in Node: --threads-per-rank 10 kept as asked, but each rank computes on one thread');
  });

  it('WASM with only --threads-per-rank: ranks fill the cores at that width', () => {
    const p = plan({ engine: wasm, threadsPerRank: 4 });
    expect(p).toMatchObject({ np: 10, threadsPerRank: 4, mapBy: 'core' });
    expect(p.notes[0]).toMatch(/; --threads-per-rank given: it wins$/);
    expect(p.notes.some((note) => note.includes('each rank computes on one thread'))).toBe(true);
  });

  it('WASM with --map-by socket still runs one rank per core, spread over the sockets', () => {
    const p = plan({ engine: wasm, mapBy: 'socket' });
    expect(p).toMatchObject({ np: 40, threadsPerRank: 1, mapBy: 'socket' });
    expect(valueAfter(p.args, '--map-by')).toBe('socket:PE=1');
  });

  it('explicit flags win over the threaded layout too', () => {
    const p = plan({ engine: native, np: 40, threadsPerRank: 1, mapBy: 'core' });
    expect(p).toMatchObject({ np: 40, threadsPerRank: 1, mapBy: 'core', bindTo: 'core' });
    expect(valueAfter(p.args, '--map-by')).toBe('slot:PE=1');
    expect(p.notes.some((note) => note.includes('one thread per rank'))).toBe(false);
  });

  it('on a hostfile both engines say they assume the hosts look like this machine', () => {
    const threaded = plan({ engine: native, hostfile: 'h', hostfileSlots: 16 });
    const single = plan({ engine: wasm, hostfile: 'h', hostfileSlots: 320 });
    expect(threaded).toMatchObject({ np: 16, threadsPerRank: 20 });
    expect(single).toMatchObject({ np: 320, threadsPerRank: 1, mapBy: 'core' });
    for (const p of [threaded, single]) expect(p.notes[1]).toMatch(/assuming the hosts look like it \(same engine installed, same cores\)/);
  });
});

describe('planMpirun with a hostfile', () => {
  it('8 nodes x 4 slots: 32 ranks, 10 threads each, hostfile passed through', () => {
    const p = plan({ hostfile: '/etc/hosts.mpi', hostfileSlots: 32, threadsPerRank: 10, mapBy: 'socket' });
    expect(p.np).toBe(32);
    expect(valueAfter(p.args, '--hostfile')).toBe('/etc/hosts.mpi');
    expect(valueAfter(p.args, '--map-by')).toBe('socket:PE=10');
    expect(p.oversubscribe).toBe(false);
  });

  it('derives threads per rank assuming hosts shaped like this one', () => {
    const p = plan({ hostfile: 'h', hostfileSlots: 32 });
    expect(p.threadsPerRank).toBe(20);
  });

  it('oversubscribes only when np exceeds the hostfile slots', () => {
    expect(plan({ hostfile: 'h', hostfileSlots: 4, np: 4 }).oversubscribe).toBe(false);
    expect(plan({ hostfile: 'h', hostfileSlots: 4, np: 6 }).oversubscribe).toBe(true);
    expect(plan({ hostfile: 'h', hostfileSlots: null, np: 64 }).oversubscribe).toBe(false);
  });

  it('requires --np when the hostfile does not say its slots', () => {
    expect(() => plan({ hostfile: 'h', hostfileSlots: null })).toThrow(/pass --np/);
  });
});

describe('formatCommand and exit codes', () => {
  it('quotes words the shell would split', () => {
    expect(formatCommand({ command: 'mpirun', args: ['-np', '2', 'a b', "it's"] }))
      .toBe(`mpirun -np 2 'a b' 'it'\\''s'`);
  });

  it('maps signals to 128 + number', () => {
    expect(exitCodeOf(3, null)).toBe(3);
    expect(exitCodeOf(null, 'SIGINT')).toBe(130);
    expect(exitCodeOf(null, 'SIGKILL')).toBe(137);
  });
});

describe('extra mpirun flags (--mca pass-through, MOA_MPIRUN_ARGS)', () => {
  it('parses --mca KEY VALUE, repeatable, in order, and keeps them from the trainer', () => {
    const parsed = parseLauncherArgs(['--mca', 'btl', 'tcp,self', '--epochs', '3', '--mca', 'btl_tcp_if_include', '10.77.0.0/24']);
    expect(parsed.mpirunArgs).toEqual(['--mca', 'btl', 'tcp,self', '--mca', 'btl_tcp_if_include', '10.77.0.0/24']);
    expect(parsed.trainerArgs).toEqual(['--epochs', '3']);
    expect(parseLauncherArgs(['--', '--mca', 'a', 'b']).mpirunArgs).toEqual([]);
  });

  it('rejects --mca without both words', () => {
    expect(() => parseLauncherArgs(['--mca', 'btl'])).toThrow(/--mca needs a parameter name and a value/);
    expect(() => parseLauncherArgs(['--mca', '--np', '2'])).toThrow(/--mca needs/);
    expect(() => parseLauncherArgs(['--mca=btl', 'tcp'])).toThrow(/--mca needs/);
  });

  it('reads MOA_MPIRUN_ARGS as whitespace-separated words', () => {
    expect(mpirunArgsFromEnv({})).toEqual([]);
    expect(mpirunArgsFromEnv({ MOA_MPIRUN_ARGS: '  ' })).toEqual([]);
    expect(mpirunArgsFromEnv({ MOA_MPIRUN_ARGS: ' --mca btl tcp,self\n--mca plm_rsh_agent /x/agent ' }))
      .toEqual(['--mca', 'btl', 'tcp,self', '--mca', 'plm_rsh_agent', '/x/agent']);
  });

  it('places them after the plan\'s own flags and before the program, and notes them', () => {
    const extra = ['--mca', 'btl', 'tcp,self', '--mca', 'plm_rsh_agent', '/x/agent'];
    const p = plan({ hostfile: 'hosts', hostfileSlots: 2, threadsPerRank: 1, mpirunArgs: extra, programArgs: ['--epochs', '1'] });
    const at = p.args.indexOf('--mca');
    expect(p.args.slice(at, at + extra.length)).toEqual(extra);
    expect(p.args.slice(at + extra.length)).toEqual([...program, '--epochs', '1']);
    expect(p.args.indexOf('--hostfile')).toBeLessThan(at);
    expect(p.notes).toContain('extra mpirun flags (--mca, MOA_MPIRUN_ARGS): --mca btl tcp,self --mca plm_rsh_agent /x/agent');
    expect(plan({ np: 2 }).args).not.toContain('--mca');
  });
});
