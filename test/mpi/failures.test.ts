// Tests failure behaviour under a real mpirun: a throwing rank and a hanging rank both end the job promptly.
import { describe, expect, it } from 'vitest';
import { mpirunInstalled, runFixture } from './mpirun.ts';

const hasMpirun = mpirunInstalled();
const suiteTitle = hasMpirun ? 'MPI failure behaviour (mpirun -np 2)' : 'MPI failure behaviour — SKIPPED: mpirun not found (install openmpi-bin)';
if (!hasMpirun) console.warn(`[test/mpi] ${suiteTitle}`);

describe.skipIf(!hasMpirun)(suiteTitle, () => {
  for (const mode of ['throw', 'reject']) {
    it(`a rank that ${mode}s ends the job non-zero within 30 s, naming the rank and the error`, async () => {
      const result = await runFixture('rank-throws.ts', [mode], { killAfterMs: 45_000 });
      expect(result.timedOut).toBe(false);
      expect(result.code).not.toBe(0);
      expect(result.code).not.toBeNull();
      expect(result.elapsedMs).toBeLessThan(30_000);
      expect(result.stderr).toMatch(/\[rank 1\] Error: gradient went NaN in fixture/);
      expect(result.stdout).not.toMatch(/unexpectedly finished/);
    });
  }

  it('a rank that throws while its async collective is inside MPI, at thread level serialized, exits without MPI_Abort and ends the job', async () => {
    const result = await runFixture('rank-throws.ts', ['async-serialized'], { killAfterMs: 45_000 });
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(1);
    expect(result.elapsedMs).toBeLessThan(30_000);
    expect(result.stderr).toMatch(/\[rank 1\] Error: gradient went NaN in fixture/);
    expect(result.stderr).toMatch(/\[rank 1\] abort\(1\): a collective is inside MPI on another thread and the thread level is serialized: not calling MPI_Abort/);
    expect(result.stderr).not.toMatch(/MPI_ABORT was invoked/);
  });

  for (const mode of ['blocking', 'async', 'spin']) {
    it(`a hanging rank (${mode}) trips the watchdog within the configured timeout, naming the stuck rank and step`, async () => {
      const timeoutMs = 3000;
      const result = await runFixture('rank-hangs.ts', [mode], {
        env: { MOA_MPI_TIMEOUT_MS: String(timeoutMs) },
        killAfterMs: 45_000,
      });
      expect(result.timedOut).toBe(false);
      expect(result.code).toBe(124);
      expect(result.stderr).toMatch(/\[rank 0\] MPI watchdog: allreduceSum #3 \(16384 bytes\) \[step 3\] did not complete within 3000 ms/);
      expect(result.stderr).toMatch(/not in it: rank 1: not in a collective; last entered allreduceSum #2 \(16384 bytes\) \[step 2\]/);
      // Startup of two tsx ranks plus the timeout plus the abort, on a busy 2-core box.
      expect(result.elapsedMs).toBeGreaterThan(timeoutMs);
      expect(result.elapsedMs).toBeLessThan(timeoutMs + 20_000);
    });
  }

  // Below MPI_THREAD_MULTIPLE the watchdog must not call MPI (MPI_Abort would race the collective on the other
  // thread): it prints its diagnosis and exits 124, and mpirun ends the job with that code.
  for (const [mode, level] of [['async', 'serialized'], ['blocking', 'funneled']] as const) {
    it(`at thread level ${level}, a hanging rank (${mode}) trips the watchdog, which exits 124 without MPI_Abort`, async () => {
      const timeoutMs = 3000;
      const result = await runFixture('rank-hangs.ts', [mode, level], {
        env: { MOA_MPI_TIMEOUT_MS: String(timeoutMs) },
        killAfterMs: 45_000,
      });
      expect(result.timedOut).toBe(false);
      expect(result.code).toBe(124);
      expect(result.stderr).toMatch(/\[rank 0\] MPI watchdog: allreduceSum #3 \(16384 bytes\) \[step 3\] did not complete within 3000 ms/);
      expect(result.stderr).toMatch(new RegExp(`peers not asked: that needs thread level multiple\\); thread level ${level}: not calling MPI_Abort`));
      expect(result.stderr).not.toMatch(/MPI_ABORT was invoked/);
      expect(result.elapsedMs).toBeGreaterThan(timeoutMs);
      expect(result.elapsedMs).toBeLessThan(timeoutMs + 20_000);
    });
  }
});
