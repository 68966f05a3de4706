// Test harness: "hosts" on this machine for mpirun across machines. Each host is a network namespace plus a UTS
// namespace (its own host name) with an address on a private bridge; mpirun runs in a third "lan" namespace that
// holds the bridge, so nothing outside namespaces made here is touched (no address, route or /etc/hosts entry of the
// machine's own). A launch agent (`--mca plm_rsh_agent`) runs orted inside a host's namespaces instead of ssh.
//
//   lan namespace:  br0 10.77.0.1/24 (mpirun, the launcher)   /etc/netns/<lan>/hosts names the hosts
//   host i:         eth0 10.77.0.(i+1)/24 (veth to br0), host name moa-host<i>, its own /etc/hosts
//
// Needs root, iproute2 (`ip netns`), util-linux (`unshare`, `nsenter`, `mount`). Torn down by teardown(), on process
// exit, and (namespaces of dead harness processes) by the next harness that starts.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const SUBNET = '10.77.0.0/24';
const LAUNCHER_ADDRESS = '10.77.0.1';
const NETNS_ETC = '/etc/netns';
const UTS_ROOT = '/run/moa-hosts';

export interface NetnsHost {
  /** Host name (hostfile, `hostname` inside it). */
  name: string;
  /** Its network namespace (`ip netns`). */
  ns: string;
  address: string;
  /** The persistent UTS namespace (a bind mount of nsfs). */
  utsFile: string;
}

export interface NetnsHosts {
  id: string;
  /** The namespace mpirun runs in; it holds the bridge. */
  lanNs: string;
  hosts: NetnsHost[];
  /** "moa-host1 slots=1" per host. */
  hostfile: string;
  /** The launch agent: `agent <host> <command words...>`. */
  agent: string;
  /** The mpirun flags to launch through the agent and keep MPI on TCP over the bridge. */
  mpirunArgs: string[];
  /** Prefix a command with this to run it in the lan namespace (where mpirun can reach the hosts). */
  inLan: string[];
  /** A hostfile naming these hosts and extra names (e.g. one with no namespace). */
  writeHostfile(names: string[], file: string): string;
  /** SIGKILL every process in a host's network namespace (orted, ranks, the agent), until none is left. */
  killHost(name: string): number;
  /** Take a host's link down (it keeps its namespace, the agent still starts processes there). */
  linkDown(name: string): void;
  teardown(): void;
}

function run(command: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return { ok: !r.error && r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}`.trim() };
}

function must(command: string, args: string[]): string {
  const r = run(command, args);
  if (!r.ok) throw new Error(`${command} ${args.join(' ')}: ${r.out}`);
  return r.out;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why namespace hosts cannot be made here, or null when they can (checked by making and deleting one namespace). */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'needs root (ip netns add, mount)';
  for (const [tool, pkg] of [['ip', 'iproute2'], ['unshare', 'util-linux'], ['nsenter', 'util-linux']]) {
    if (!run('sh', ['-c', `command -v ${tool}`]).ok) return `${tool} not found (install ${pkg})`;
  }
  const probe = `moah${process.pid}probe`;
  const added = run('ip', ['netns', 'add', probe]);
  if (!added.ok) return `ip netns add failed: ${added.out}`;
  run('ip', ['netns', 'del', probe]);
  const uts = spawnSync('unshare', ['--uts', 'hostname', 'moa-probe'], { encoding: 'utf8' });
  if (uts.status !== 0) return `unshare --uts failed: ${uts.stderr}`;
  return null;
}

/** Kill what runs in a namespace (bounded: a few rounds), then delete it. */
function killNamespace(ns: string): number {
  let killed = 0;
  for (let round = 0; round < 20; round += 1) {
    const pids = run('ip', ['netns', 'pids', ns]).out.split('\n').map(Number).filter((pid) => pid > 0 && pid !== process.pid);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed += 1;
      } catch {
        // already gone
      }
    }
    spawnSync('sleep', ['0.05']);
  }
  return killed;
}

function removeHarness(id: string, namespaces: string[]): void {
  for (const ns of namespaces) {
    killNamespace(ns);
    run('ip', ['netns', 'del', ns]);
    rmSync(path.join(NETNS_ETC, ns), { recursive: true, force: true });
  }
  const utsDir = path.join(UTS_ROOT, id);
  if (existsSync(utsDir)) {
    for (const file of readdirSync(utsDir)) {
      run('umount', [path.join(utsDir, file)]);
      rmSync(path.join(utsDir, file), { force: true });
    }
    run('umount', [utsDir]);
    rmSync(utsDir, { recursive: true, force: true });
  }
  if (existsSync(UTS_ROOT) && readdirSync(UTS_ROOT).length === 0) rmSync(UTS_ROOT, { recursive: true, force: true });
  if (existsSync(NETNS_ETC) && readdirSync(NETNS_ETC).length === 0) rmSync(NETNS_ETC, { recursive: true, force: true });
}

/** Namespaces left by harness processes that died without tearing down (kill -9 of a test run). */
function removeStale(): void {
  const names = run('ip', ['netns', 'list']).out.split('\n').map((line) => line.split(' ')[0]).filter(Boolean);
  const byId = new Map<string, string[]>();
  for (const name of names) {
    const m = /^(moah(\d+)[a-z]?)-/.exec(name);
    if (m && !processAlive(Number(m[2]))) byId.set(m[1], [...(byId.get(m[1]) ?? []), name]);
  }
  for (const [id, namespaces] of byId) removeHarness(id, namespaces);
}

let serial = 0;

/** Stands up `count` hosts (moa-host1..N, slots=1 each) and the lan they share. */
export function createHosts(count = 2): NetnsHosts {
  removeStale();
  const id = `moah${process.pid}${String.fromCharCode(97 + (serial++ % 26))}`;
  const lanNs = `${id}-lan`;
  const hosts: NetnsHost[] = Array.from({ length: count }, (_, i) => ({
    name: `moa-host${i + 1}`,
    ns: `${id}-h${i + 1}`,
    address: `10.77.0.${i + 2}`,
    utsFile: path.join(UTS_ROOT, id, `h${i + 1}`),
  }));
  const namespaces = [lanNs, ...hosts.map((h) => h.ns)];
  const work = mkdtempSync(path.join(os.tmpdir(), 'moa-hosts-'));
  let tornDown = false;
  const teardown = (): void => {
    if (tornDown) return;
    tornDown = true;
    process.off('exit', teardown);
    removeHarness(id, namespaces);
    rmSync(work, { recursive: true, force: true });
  };
  process.on('exit', teardown);
  try {
    const etcHosts = ['127.0.0.1 localhost', `${LAUNCHER_ADDRESS} moa-launcher`, ...hosts.map((h) => `${h.address} ${h.name}`), ''].join('\n');
    for (const ns of namespaces) {
      must('ip', ['netns', 'add', ns]);
      must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      // `ip netns exec` bind-mounts /etc/netns/<ns>/hosts over /etc/hosts: names resolve inside our namespaces only.
      mkdirSync(path.join(NETNS_ETC, ns), { recursive: true });
      writeFileSync(path.join(NETNS_ETC, ns, 'hosts'), etcHosts);
    }
    must('ip', ['-n', lanNs, 'link', 'add', 'br0', 'type', 'bridge']);
    must('ip', ['-n', lanNs, 'addr', 'add', `${LAUNCHER_ADDRESS}/24`, 'dev', 'br0']);
    must('ip', ['-n', lanNs, 'link', 'set', 'br0', 'up']);
    // A private bind mount to hold the UTS namespace files (nsfs cannot be mounted under a shared mount).
    const utsDir = path.join(UTS_ROOT, id);
    mkdirSync(utsDir, { recursive: true });
    must('mount', ['--bind', utsDir, utsDir]);
    must('mount', ['--make-private', utsDir]);
    hosts.forEach((host, i) => {
      must('ip', ['-n', lanNs, 'link', 'add', `v${i + 1}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns]);
      must('ip', ['-n', lanNs, 'link', 'set', `v${i + 1}`, 'master', 'br0', 'up']);
      must('ip', ['-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
      must('ip', ['-n', host.ns, 'link', 'set', 'eth0', 'up']);
      writeFileSync(host.utsFile, '');
      must('unshare', [`--uts=${host.utsFile}`, 'hostname', host.name]);
    });
    const agent = path.join(work, 'netns-agent.sh');
    const cases = hosts.map((h) => `  ${h.name}) ns=${h.ns}; uts=${h.utsFile} ;;`).join('\n');
    // Called by mpirun as `agent <host> <words of the orted command>`, like ssh: the words make one shell line.
    writeFileSync(agent, `#!/bin/sh
# mpirun launch agent (plm_rsh_agent): runs a command in a namespace host instead of over ssh.
host="$1"; shift
case "$host" in
${cases}
  *) echo "netns-agent: no host named $host (no namespace for it)" >&2; exit 255 ;;
esac
exec ip netns exec "$ns" nsenter --uts="$uts" -- /bin/sh -c "$*"
`);
    chmodSync(agent, 0o755);
    const hostfile = path.join(work, 'hosts');
    const writeHostfile = (names: string[], file: string): string => {
      writeFileSync(file, names.map((name) => `${name} slots=1\n`).join(''));
      return file;
    };
    writeHostfile(hosts.map((h) => h.name), hostfile);
    const hostByName = (name: string): NetnsHost => {
      const host = hosts.find((h) => h.name === name);
      if (!host) throw new Error(`no host ${name}`);
      return host;
    };
    return {
      id,
      lanNs,
      hosts,
      hostfile,
      agent,
      mpirunArgs: [
        '--mca', 'plm_rsh_agent', agent,
        '--mca', 'btl', 'tcp,self',
        '--mca', 'btl_tcp_if_include', SUBNET,
        '--mca', 'oob_tcp_if_include', SUBNET,
      ],
      inLan: ['ip', 'netns', 'exec', lanNs],
      writeHostfile,
      killHost: (name) => killNamespace(hostByName(name).ns),
      linkDown: (name) => { must('ip', ['-n', hostByName(name).ns, 'link', 'set', 'eth0', 'down']); },
      teardown,
    };
  } catch (error) {
    teardown();
    throw error;
  }
}
