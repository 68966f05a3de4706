// Runs `training/src/cluster.ts` for real (mpirun -np 2, a stand-in entry): command printed, flags forwarded, exit code kept, Ctrl-C ends the job.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixturesDir, mpirunInstalled, repoRoot, resultLines, runCommand } from './mpirun.ts';

const hasMpirun = mpirunInstalled();
const suiteTitle = hasMpirun ? 'train:cluster launcher (real mpirun)' : 'train:cluster launcher — SKIPPED: mpirun not found (install openmpi-bin)';
if (!hasMpirun) console.warn(`[test/mpi] ${suiteTitle}`);

const launcher = join(repoRoot, 'training', 'src', 'cluster.ts');
const entry = join(fixturesDir, 'launcher-entry.ts');

function launch(args: string[]) {
  return runCommand(process.execPath, ['--import', 'tsx', launcher, '--entry', entry, ...args], { killAfterMs: 60_000 });
}

describe.skipIf(!hasMpirun)(suiteTitle, () => {
  it('prints the mpirun command, starts np ranks with MOA_THREADS and forwards trainer flags', async () => {
    const result = await launch(['--np', '2', '--threads-per-rank', '1', '--epochs', '2', '--tag=x y']);
    if (result.code !== 0) throw new Error(result.stdout + result.stderr);
    expect(result.stdout).toMatch(/\[train:cluster\] mpirun .*-np 2 .*--map-by socket:PE=1 --bind-to core/);
    const ranks = resultLines<{ rank: number; size: number; threads: string; args: string[] }>(result.stdout);
    expect(ranks.map((r) => r.rank).sort()).toEqual([0, 1]);
    for (const rank of ranks) {
      expect(rank.size).toBe(2);
      expect(rank.threads).toBe('1');
      expect(rank.args).toEqual(['--epochs', '2', '--tag=x y']);
    }
  });

  it('propagates a non-zero exit code', async () => {
    const result = await launch(['--np', '2', '--exit-code', '3']);
    expect(result.code).toBe(3);
  });

  it('Ctrl-C (SIGINT to the launcher) ends every rank and exits non-zero', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', launcher, '--entry', entry, '--np', '2', '--sleep'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const sleeping = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if ((output.match(/SLEEPING/g) ?? []).length >= 2) resolve();
      });
    });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    await sleeping;
    const interruptedAt = Date.now();
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
    expect(code).not.toBe(0);
    expect(Date.now() - interruptedAt).toBeLessThan(15_000);
  });
});
