// Tests the MPI binding under a real `mpirun -np 2`: ranks, allreduce, broadcast, the serial queue.
import { describe, expect, it } from 'vitest';
import { mpirunInstalled, resultLines, runFixture, type MpiRunResult } from './mpirun.ts';

const hasMpirun = mpirunInstalled();
const suiteTitle = hasMpirun ? 'MPI binding (mpirun -np 2)' : 'MPI binding — SKIPPED: mpirun not found (install openmpi-bin)';
if (!hasMpirun) console.warn(`[test/mpi] ${suiteTitle}`);

function expectClean(result: MpiRunResult): void {
  if (result.code !== 0) throw new Error(`mpirun exited ${result.code}\n${result.stdout}\n${result.stderr}`);
}

describe.skipIf(!hasMpirun)(suiteTitle, () => {
  it('reports rank, size, local rank and a thread level that allows threadpool collectives', async () => {
    const result = await runFixture('ranks.ts');
    expectClean(result);
    const ranks = resultLines<{ rank: number; size: number; localRank: number; localSize: number; threadLevel: string }>(
      result.stdout,
    ).sort((a, b) => a.rank - b.rank);
    expect(ranks.map((r) => r.rank)).toEqual([0, 1]);
    expect(ranks.every((r) => r.size === 2 && r.localSize === 2)).toBe(true);
    expect(ranks.map((r) => r.localRank).sort()).toEqual([0, 1]);
    expect(['serialized', 'multiple']).toContain(ranks[0].threadLevel);
  });

  it('sums Float32Arrays exactly, blocking and async, odd lengths and offset views; refuses NaN or negative watchdog times', async () => {
    const result = await runFixture('allreduce.ts');
    expectClean(result);
    const reports = resultLines<{ rank: number; checked: string[] }>(result.stdout);
    expect(reports).toHaveLength(2);
    for (const report of reports) {
      expect(report.checked).toContain('blocking:1048579');
      expect(report.checked).toContain('async:3');
      expect(report.checked).toContain('offset-view');
      expect(report.checked).toContain('timeouts');
    }
  });

  it('broadcasts Float32Array and Uint8Array from any root', async () => {
    const result = await runFixture('broadcast.ts');
    expectClean(result);
    const reports = resultLines<{ rank: number; outcomes: Record<string, boolean> }>(result.stdout);
    expect(reports).toHaveLength(2);
    for (const report of reports) {
      expect(Object.keys(report.outcomes)).toHaveLength(4);
      expect(Object.values(report.outcomes).every(Boolean)).toBe(true);
    }
  });

  it('runs hundreds of queued async collectives in order without deadlock', async () => {
    const result = await runFixture('queue.ts', [], { killAfterMs: 60_000 });
    expect(result.timedOut).toBe(false);
    expectClean(result);
    const reports = resultLines<{ rank: number; completed: number; wrong: number; blockingRefused: boolean }>(
      result.stdout,
    );
    expect(reports).toHaveLength(2);
    for (const report of reports) {
      expect(report.completed).toBe(306);
      expect(report.wrong).toBe(-1);
      expect(report.blockingRefused).toBe(true);
    }
  });
});
