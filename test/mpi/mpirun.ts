// Test helper: finds mpirun and runs a fixture script under a real `mpirun -np N`, capturing output and timing.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixturesDir = join(repoRoot, 'test', 'mpi', 'fixtures');

/** True when an `mpirun` binary answers `--version`. */
export function mpirunInstalled(): boolean {
  const probe = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  return !probe.error && probe.status === 0;
}

/** mpirun flags for a test on this box: oversubscribe (2 cores), run-as-root only when root. */
export function mpirunBaseFlags(np: number): string[] {
  const flags = ['-np', String(np), '--oversubscribe'];
  if (process.getuid?.() === 0) flags.push('--allow-run-as-root');
  return flags;
}

export interface MpiRunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  timedOut: boolean;
}

export interface MpiRunOptions {
  np?: number;
  env?: Record<string, string>;
  /** Kill mpirun (and fail) after this long. */
  killAfterMs?: number;
}

/** Runs `mpirun -np N node --import tsx <fixture> ...args`. */
export function runFixture(fixture: string, args: string[] = [], options: MpiRunOptions = {}): Promise<MpiRunResult> {
  const np = options.np ?? 2;
  const mpirunArgs = [
    ...mpirunBaseFlags(np),
    process.execPath, '--import', 'tsx', join(fixturesDir, fixture), ...args,
  ];
  return runCommand('mpirun', mpirunArgs, options);
}

/** Runs any command with a kill timer, capturing stdout/stderr. */
export function runCommand(command: string, args: string[], options: MpiRunOptions = {}): Promise<MpiRunResult> {
  const started = Date.now();
  const child = spawn(command, args, {
    cwd: repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.killAfterMs ?? 90_000);
  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, elapsedMs: Date.now() - started, timedOut });
    });
  });
}

/** Lines a fixture printed as `RESULT <json>`, parsed. */
export function resultLines<T>(stdout: string): T[] {
  return stdout.split('\n')
    .filter((line) => line.startsWith('RESULT '))
    .map((line) => JSON.parse(line.slice('RESULT '.length)) as T);
}
