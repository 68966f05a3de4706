// Runs `training/src/cluster.ts` for real: the --dry-run plan by engine (no mpirun needed), then mpirun -np 2 with a
// stand-in entry: command printed, flags forwarded, exit code kept, Ctrl-C ends the job.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAvailable as nativeAvailable } from '@moa-lens/native';
import { defaultMapBy, domainsOf } from '../../training/src/cluster/plan.ts';
import { probeMachine } from '../../training/src/cluster/topology.ts';
import { isTfjsNodeInstalled } from '../../training/src/backend/select.ts';
import { fixturesDir, mpirunInstalled, repoRoot, resultLines, runCommand } from './mpirun.ts';

const hasMpirun = mpirunInstalled();
const suiteTitle = hasMpirun ? 'train:cluster launcher (real mpirun)' : 'train:cluster launcher — SKIPPED: mpirun not found (install openmpi-bin)';
if (!hasMpirun) console.warn(`[test/mpi] ${suiteTitle}`);

const launcher = join(repoRoot, 'training', 'src', 'cluster.ts');
const entry = join(fixturesDir, 'launcher-entry.ts');

function launch(args: string[]) {
  return runCommand(process.execPath, ['--import', 'tsx', launcher, '--entry', entry, ...args], { killAfterMs: 60_000 });
}

/** `train:cluster --dry-run ...` with the default entry (the trainer); its printed lines. */
async function dryRun(args: string[], env: Record<string, string> = {}) {
  const result = await runCommand(process.execPath, ['--import', 'tsx', launcher, '--dry-run', ...args], { env, killAfterMs: 60_000 });
  return { ...result, lines: result.stdout.split('\n').filter((line) => line.startsWith('[train:cluster] ')) };
}

/** The mpirun line and the engine line of a dry run that must have succeeded. */
function planLines(result: Awaited<ReturnType<typeof dryRun>>): { engine: string; command: string } {
  if (result.code !== 0) throw new Error(result.stdout + result.stderr);
  const engine = result.lines.find((line) => line.startsWith('[train:cluster] engine: '));
  const command = result.lines.at(-1);
  if (engine === undefined || command === undefined) throw new Error(`no engine or command line in:\n${result.stdout}`);
  return { engine, command };
}

describe('train:cluster --dry-run plans by engine (this machine, no mpirun needed)', () => {
  const machine = probeMachine();
  const perDomain = Math.max(1, Math.floor(machine.cores / domainsOf(machine, defaultMapBy(machine))));

  it('--backend wasm: one rank per core, 1 thread each', async () => {
    const { engine, command } = planLines(await dryRun(['--', '--backend', 'wasm', '--epochs', '1']));
    expect(engine).toBe('[train:cluster] engine: wasm (asked for): single-threaded in Node, so one rank per core, 1 thread each');
    expect(command).toMatch(new RegExp(`^\\[train:cluster\\] mpirun .*-np ${machine.cores} --map-by slot:PE=1 --bind-to core .*-x MOA_THREADS=1 `));
    expect(command).toMatch(/train\.ts --backend wasm --epochs 1$/);
  });

  it('--backend native: one rank per socket (or NUMA domain) with its cores as threads', async () => {
    const { engine, command } = planLines(await dryRun(['--backend=native']));
    expect(engine).toMatch(/^\[train:cluster\] engine: native \(asked for\): threaded, so one rank per (socket|NUMA domain) with its cores as threads$/);
    expect(command).toContain(`-x MOA_THREADS=${perDomain} -x OMP_NUM_THREADS=${perDomain}`);
  });

  it.skipIf(isTfjsNodeInstalled() || !nativeAvailable())('auto with the native engine available: native, threaded', async () => {
    const { engine } = planLines(await dryRun(['--epochs', '1']));
    expect(engine).toMatch(/^\[train:cluster\] engine: native \(auto: tfjs-node is not installed; the native oneDNN engine loads\): threaded, /);
  });

  it.skipIf(isTfjsNodeInstalled())('auto with MOA_NATIVE_ENGINE=off: wasm, one rank per core, and the ranks get the same setting', async () => {
    const { engine, command } = planLines(await dryRun(['--epochs', '1'], { MOA_NATIVE_ENGINE: 'off' }));
    expect(engine).toMatch(/^\[train:cluster\] engine: wasm \(auto: .*MOA_NATIVE_ENGINE=off.*\): single-threaded in Node, so one rank per core, 1 thread each$/);
    expect(command).toMatch(new RegExp(`-np ${machine.cores} .*-x MOA_THREADS=1 .*-x MOA_NATIVE_ENGINE `));
  });

  it('explicit --np and --threads-per-rank win, and the notes say so', async () => {
    const result = await dryRun(['--np', '2', '--threads-per-rank', '1', '--', '--backend', 'native']);
    const { engine, command } = planLines(result);
    expect(engine).toMatch(/; --np, --threads-per-rank given: they win$/);
    expect(result.lines).toContain('[train:cluster] np 2: --np');
    expect(command).toMatch(/-np 2 .*-x MOA_THREADS=1 /);
  });

  it('an unknown --backend fails before anything runs', async () => {
    const result = await dryRun(['--', '--backend', 'cuda']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/train:cluster: --backend must be one of auto, /);
  });
});

describe('train:cluster checks the trainer flags with the trainer\'s own rules before starting mpirun', () => {
  // A stand-in mpirun first on PATH: it leaves a mark if the launcher ever starts it.
  const fake = mkdtempSync(join(tmpdir(), 'moa-fake-mpirun-'));
  const mark = join(fake, 'started');
  writeFileSync(join(fake, 'mpirun'), `#!/bin/sh\ntouch '${mark}'\n`, { mode: 0o755 });
  const data = join(repoRoot, 'training', 'data', 'bbbc021'); // holds both metadata tables
  const env = { PATH: `${fake}:${process.env.PATH}` };

  it.each([
    [['--input-size', '100x100'], /^train:cluster: M-CNN cannot take a 100x100 input: .*multiple of 64/],
    [['--frobnicate'], /^train:cluster: Unknown flag --frobnicate\./],
    [['--epochs', 'many'], /^train:cluster: --epochs must be a number, got "many"\./],
    [['--global-batch', '5'], /^train:cluster: Global batch 5 cannot be split evenly over 2 ranks; choose a multiple of 2\./],
    [['--out', join(repoRoot, 'docs')], /^train:cluster: --out .*docs exists and is not a model bundle/],
  ])('%j: exit 2 with the trainer\'s message, mpirun not started', async (flags, message) => {
    const result = await runCommand(process.execPath, ['--import', 'tsx', launcher, '--np', '2', '--', '--data', data, '--out', join(fake, 'model'), ...flags], { env, killAfterMs: 60_000 });
    expect(result.code, result.stdout + result.stderr).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).not.toMatch(/\[train:cluster\] mpirun /);
    expect(existsSync(mark)).toBe(false);
  });

  it('valid flags do start mpirun (the stand-in)', async () => {
    const result = await runCommand(process.execPath, ['--import', 'tsx', launcher, '--np', '2', '--', '--data', data, '--out', join(fake, 'model'), '--epochs', '1'], { env, killAfterMs: 60_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(existsSync(mark)).toBe(true);
  });
});

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
