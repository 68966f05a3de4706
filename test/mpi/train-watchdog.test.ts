// A stopped rank under a real mpirun (2 ranks, tiny dataset): the job ends within the watchdog limit the trainer
// printed (set from the measured steps), naming the rank, and the waiting rank does not spin a core meanwhile.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, smallDataset } from '../training/train-helpers.ts';
import { mpirunInstalled } from './mpirun.ts';

const hasMpirun = mpirunInstalled();
const suiteTitle = hasMpirun ? 'trainer watchdog under mpirun -np 2' : 'trainer watchdog — SKIPPED: mpirun not found (install openmpi-bin)';
if (!hasMpirun) console.warn(`[test/mpi] ${suiteTitle}`);

const CLOCK_TICKS = 100; // USER_HZ: /proc/<pid>/stat counts utime and stime in 1/100 s on Linux

/** PIDs of the ranks whose environment holds MOA_TEST_TAG=tag (train:cluster exports every MOA_* variable), by rank. */
function ranksTagged(tag: string): Map<number, number> {
  const ranks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let env: string;
    try {
      env = readFileSync(`/proc/${entry}/environ`, 'latin1');
    } catch {
      continue;
    }
    const vars = env.split('\0');
    if (!vars.includes(`MOA_TEST_TAG=${tag}`)) continue;
    const rank = vars.find((v) => v.startsWith('OMPI_COMM_WORLD_RANK='));
    if (rank && readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes('train.ts')) ranks.set(Number(rank.split('=')[1]), Number(entry));
  }
  return ranks;
}

/** utime + stime of a process (all its threads), in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!hasMpirun)(suiteTitle, () => {
  let data: string;
  let work: string;
  beforeAll(async () => {
    data = await smallDataset({ size: 64, compoundsPerClass: 1, fieldsPerTreatment: 1, seed: 5 });
    work = await mkdtemp(path.join(os.tmpdir(), 'moa-watchdog-'));
  });

  it('SIGSTOP on rank 1 mid-run: the job ends within the printed step limit naming rank 1; rank 0 waits at low CPU', async () => {
    const tag = randomUUID();
    const minMs = 5000;
    const args = ['--import', 'tsx', path.join(repoRoot, 'training', 'src', 'cluster.ts'), '--np', '2', '--',
      '--data', data, '--out', path.join(work, 'model'), '--input-size', '64x64', '--width-multiplier', '0.25', '--global-batch', '4',
      '--folds', '3', '--epochs', '1000', '--max-steps', '100000', '--quantize', 'float32', '--checkpoint-every', '100000'];
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      env: { ...process.env, MOA_TEST_TAG: tag, MOA_WATCHDOG_MIN_MS: String(minMs), MOA_MPI_TIMEOUT_MS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const limitSet = new Promise<number>((resolve) => {
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        const m = /watchdog: ([\d.]+) s per step from now on/.exec(stdout);
        if (m) resolve(Number(m[1]) * 1000);
      });
    });
    let stopped: number | undefined;
    try {
      const limitMs = await Promise.race([limitSet, closed.then(() => { throw new Error(`the run ended before the limit was set:\n${stdout}\n${stderr}`); })]);
      expect(stdout).toMatch(/watchdog: 600 s until 3 steps are measured, then 10 x the slowest of them, at least 5\.0 s/);
      expect(limitMs).toBeGreaterThanOrEqual(minMs);
      const ranks = ranksTagged(tag);
      expect([...ranks.keys()].sort()).toEqual([0, 1]);
      stopped = ranks.get(1)!;
      const waiting = ranks.get(0)!;
      process.kill(stopped, 'SIGSTOP');
      const stoppedAt = Date.now();
      // Rank 0 finishes the step it is in (tens of ms here), then waits in the next allreduce.
      await sleep(1000);
      const cpuBefore = cpuSeconds(waiting);
      const windowStart = Date.now();
      await sleep(limitMs - 2000);
      const cpuShare = (cpuSeconds(waiting) - cpuBefore) / ((Date.now() - windowStart) / 1000);
      // mpirun ends a stopped rank with SIGKILL; should it not, the test must not hang on it.
      const guard = setTimeout(() => process.kill(stopped!, 'SIGKILL'), limitMs + 20_000);
      const code = await closed;
      clearTimeout(guard);
      const elapsed = Date.now() - stoppedAt;
      expect(code, stdout + stderr).toBe(124);
      // The limit, plus at most one step before rank 0 waits, the 2 s peer probe and the abort on a busy 2-core box.
      expect(elapsed).toBeGreaterThan(limitMs - 1000);
      expect(elapsed).toBeLessThan(limitMs + 8000);
      const fired = /\[rank 0\] MPI watchdog: allreduceSum #\d+ \(\d+ bytes\) \[step \d+\] did not complete within (\d+) ms; not in it: rank 1: no answer within 2000 ms \(hung or dead\)/.exec(stderr);
      expect(fired, stderr).not.toBeNull();
      expect(Math.abs(Number(fired![1]) - limitMs)).toBeLessThanOrEqual(limitMs < 10_000 ? 50 : 500); // printed rounded
      // A busy-polling MPI_Allreduce kept a whole core at 97-100% here; sleeping between MPI_Test calls: ~3%.
      expect(cpuShare).toBeLessThan(0.5);
      console.log(`[train-watchdog] limit ${limitMs} ms; job ended ${elapsed} ms after SIGSTOP; waiting rank's CPU ${(cpuShare * 100).toFixed(1)}% of a core`);
    } finally {
      if (stopped !== undefined) {
        try {
          process.kill(stopped, 'SIGKILL');
        } catch {
          // already gone with the job
        }
      }
      child.kill('SIGKILL');
    }
  });
});
