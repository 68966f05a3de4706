// train:cluster across two "hosts" (network + UTS namespaces on a private bridge, test/mpi/hosts.ts), MPI over TCP
// only: the same weights as one host, a host killed mid-run (then --resume), a host unreachable at start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { latestCheckpoint, type Checkpoint } from '../../training/src/train/checkpoint.ts';
import { repoRoot, runTrainer, smallDataset } from '../training/train-helpers.ts';
import { createHosts, netnsUnavailable, type NetnsHosts } from './hosts.ts';
import { mpirunInstalled } from './mpirun.ts';

const skipReason = mpirunInstalled() ? netnsUnavailable() : 'mpirun not found (install openmpi-bin)';
const title = skipReason === null ? 'train:cluster on two namespace hosts over TCP' : `train:cluster on two namespace hosts — SKIPPED: ${skipReason}`;
if (skipReason !== null) console.warn(`[test/mpi] ${title}`);

const clusterEntry = path.join(repoRoot, 'training', 'src', 'cluster.ts');
const common = ['--input-size', '64x64', '--width-multiplier', '0.25', '--epochs', '2', '--global-batch', '4', '--folds', '3',
  '--base-lr', '0.01', '--warmup-epochs', '1', '--max-steps', '6', '--quantize', 'float32', '--threads-per-rank', '1'];

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.skipIf(skipReason !== null)(title, () => {
  let hosts: NetnsHosts;
  let data: string;
  let work: string;
  let oneHost: Checkpoint;
  /** `npm run train:cluster` in the lan namespace (where mpirun reaches the hosts), with extra env. */
  const cluster = (env: Record<string, string> = {}): string[] => [
    ...hosts.inLan, 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, '--import', 'tsx', clusterEntry,
  ];

  beforeAll(async () => {
    hosts = createHosts(2);
    data = await smallDataset({ size: 128, compoundsPerClass: 1, fieldsPerTreatment: 1, seed: 3 });
    work = await mkdtemp(path.join(os.tmpdir(), 'moa-multihost-'));
    // Reference: one host, 2 ranks (shared memory), same seed and global batch.
    const out = path.join(work, 'one-host', 'model');
    const r = await runTrainer(['--np', '2', '--data', data, '--out', out, ...common], { command: [process.execPath, '--import', 'tsx', clusterEntry] });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    oneHost = (await latestCheckpoint(`${out}.checkpoints`))!.checkpoint;
  });

  afterAll(async () => {
    hosts?.teardown();
    if (work) await rm(work, { recursive: true, force: true });
    if (data) await rm(data, { recursive: true, force: true });
  });

  it('2 hosts x 1 rank over TCP (--mca flags) give the weights of 1 host x 2 ranks', async () => {
    const out = path.join(work, 'two-hosts', 'model');
    const r = await runTrainer(['--hostfile', hosts.hostfile, ...hosts.mpirunArgs, '--mca', 'btl_base_verbose', '30',
      '--data', data, '--out', out, ...common], { command: cluster() });
    const all = r.stdout + r.stderr;
    expect(r.code, all).toBe(0);
    expect(r.stdout).toMatch(/\[train:cluster\] np 2: the hostfile's slots/);
    expect(r.stdout).toMatch(/\[train:cluster\] extra mpirun flags \(--mca, MOA_MPIRUN_ARGS\): --mca plm_rsh_agent .* --mca btl tcp,self/);
    expect(r.stdout).toMatch(/world: MPI rank 0 of 2/);
    // OpenMPI's own account: each rank on its host, the peer reached by the tcp btl, no shared-memory btl loaded.
    expect(all).toMatch(/\[moa-host1:\d+\] mca: bml: Using tcp btl for send to \[\[\d+,\d+\],1\] on node moa-host2/);
    expect(all).toMatch(/\[moa-host2:\d+\] mca: bml: Using tcp btl for send to \[\[\d+,\d+\],0\] on node moa-host1/);
    expect(all).toMatch(/btl: tcp: Found match: 10\.77\.0\.2 \(eth0\)/);
    expect(all).not.toMatch(/Using (vader|sm) btl/);
    expect(all).not.toMatch(/initializing btl component (vader|sm)\b/);
    const two = (await latestCheckpoint(`${out}.checkpoints`))!.checkpoint;
    expect(two.step).toBe(6);
    expect(maxAbsDiff(two.weights, oneHost.weights)).toBeLessThan(1e-4);
    two.history.forEach((h, i) => expect(h.loss as number).toBeCloseTo(oneHost.history[i].loss as number, 4));
  });

  it('a host whose processes are all killed mid-run ends the job naming it; --resume reaches the uninterrupted weights', async () => {
    const out = path.join(work, 'killed', 'model');
    const ckptDir = `${out}.checkpoints`;
    // The flags through MOA_MPIRUN_ARGS this time; a short watchdog in case MPI itself does not notice.
    const env = { MOA_MPIRUN_ARGS: hosts.mpirunArgs.join(' '), MOA_WATCHDOG_MIN_MS: '5000' };
    let killedAt = 0;
    let killed = 0;
    const r = await runTrainer(['--hostfile', hosts.hostfile, '--data', data, '--out', out, '--checkpoint-every', '1', ...common], {
      command: cluster(env),
      onStart: (child) => {
        let polls = 0;
        const timer = setInterval(() => {
          polls += 1;
          if (polls > 6000) clearInterval(timer); // 120 s at most
          if (!existsSync(path.join(ckptDir, 'ckpt-00000003.bin'))) return;
          clearInterval(timer);
          killedAt = Date.now();
          killed = hosts.killHost('moa-host2'); // the whole "machine": orted, the rank, the agent
        }, 20);
        child.on('close', () => clearInterval(timer));
      },
    });
    const all = r.stdout + r.stderr;
    expect(killed, all).toBeGreaterThan(0);
    expect(r.code, all).not.toBe(0);
    const endedMs = Date.now() - killedAt;
    expect(endedMs).toBeLessThan(5000 + 8000); // within the watchdog limit (5 s) plus the probe and the abort
    // OpenMPI names the dead host, in whichever of its accounts comes first: the surviving rank's ("An MPI
    // communication peer process has unexpectedly disconnected ... Peer host: moa-host2"), mpirun's own ("ORTE has
    // lost communication with a remote daemon ... Remote daemon: [[j,0],2] on node moa-host2"), which ends the job
    // before the rank can speak, or, when the rank's reconnect fails first, by address ("Open MPI failed to TCP
    // connect to a peer MPI process ... connect() to 10.77.0.3:1024 failed").
    const address = hosts.hosts.find((h) => h.name === 'moa-host2')!.address.replaceAll('.', '\\.');
    expect(all).toMatch(new RegExp(`Peer host:\\s+moa-host2|Remote daemon:\\s+\\[\\[\\d+,\\d+\\],\\d+\\] on node moa-host2|connect\\(\\) to ${address}:\\d+ failed`));
    expect(existsSync(path.join(out, 'moa-lens.json'))).toBe(false);
    console.log(`[multi-host] killed ${killed} processes on moa-host2; the job ended ${endedMs} ms later with exit ${r.code}`);

    const resumed = await runTrainer(['--hostfile', hosts.hostfile, '--data', data, '--out', out, '--checkpoint-every', '1', '--resume', ...common],
      { command: cluster(env) });
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    expect(resumed.stdout).toMatch(/resumed from .*ckpt-\d+\.bin at step [3-6]/);
    const final = (await latestCheckpoint(ckptDir))!.checkpoint;
    expect(final.step).toBe(6);
    expect(maxAbsDiff(final.weights, oneHost.weights)).toBeLessThan(1e-4);
  });

  it('a host with no namespace, or with its link down, fails before any training with a message naming it', async () => {
    const env = { MOA_MPIRUN_ARGS: hosts.mpirunArgs.join(' ') };
    const args = (hostfile: string, name: string) => ['--hostfile', hostfile, '--data', data, '--out', path.join(work, name, 'model'), ...common];

    const ghost = hosts.writeHostfile(['moa-host1', 'moa-host3'], path.join(work, 'hosts-ghost'));
    let started = Date.now();
    const noHost = await runTrainer(args(ghost, 'ghost'), { command: cluster(env) });
    let all = noHost.stdout + noHost.stderr;
    expect(noHost.code, all).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(all).toMatch(/netns-agent: no host named moa-host3/);
    expect(all).toMatch(/ORTE was unable to reliably start one or more daemons|ORTE daemon has unexpectedly failed/);
    expect(all).not.toMatch(/world: MPI rank|step \d+\/\d+/);

    hosts.linkDown('moa-host2');
    started = Date.now();
    const down = await runTrainer(args(hosts.hostfile, 'down'), { command: cluster(env) });
    all = down.stdout + down.stderr;
    expect(down.code, all).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(60_000);
    // orted on moa-host2 cannot connect back to mpirun: "unable to complete a TCP connection ... Local host: moa-host2".
    expect(all).toMatch(/unable to complete a TCP connection[\s\S]*Local host:\s+moa-host2/);
    expect(all).toMatch(/ORTE was unable to reliably start one or more daemons/);
    expect(all).not.toMatch(/world: MPI rank|step \d+\/\d+/);
    console.log(`[multi-host] link down: the job failed ${Date.now() - started} ms after start, before training`);
  });
});
