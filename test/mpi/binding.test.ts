// Tests the MPI binding under a real `mpirun -np 2`: ranks, thread levels, allreduce, broadcast, buffer checks, the
// serial queue; and, in-process without MPI, the JS side's checks of watchdog times and thread levels.
import * as mpi from '@moa-lens/mpi';
import { afterEach, describe, expect, it } from 'vitest';
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

  it('follows the granted thread level: async collectives fall back below serialized, init() again is idempotent, after finalize it throws', async () => {
    interface LevelReport {
      rank: number; before: string | null; granted: string; threadLevel: string; again: string; reinitError: string | null;
      asyncCorrect: boolean; nativeAsyncError: string | null; afterFinalize: string | null; collectiveAfterFinalize: string | null;
    }
    const funneled = await runFixture('thread-levels.ts', ['funneled']);
    expectClean(funneled);
    const serialized = await runFixture('thread-levels.ts', ['env'], { env: { MOA_MPI_THREAD_LEVEL: 'serialized' } });
    expectClean(serialized);
    for (const [result, level] of [[funneled, 'funneled'], [serialized, 'serialized']] as const) {
      const reports = resultLines<LevelReport>(result.stdout);
      expect(reports).toHaveLength(2);
      for (const report of reports) {
        expect(report.before).toBeNull();
        expect(report.granted).toBe(level); // OpenMPI 4.1.4 grants what is asked up to multiple
        expect(report.threadLevel).toBe(level);
        expect(report.again).toBe(level);
        expect(report.reinitError).toMatch(new RegExp(`already initialized \\(requested thread level ${level}, granted ${level}\\); it cannot be re-initialized with multiple`));
        expect(report.asyncCorrect).toBe(true);
        expect(report.afterFinalize).toMatch(/MPI was finalized; it cannot be initialized again/);
        expect(report.collectiveAfterFinalize).toMatch(/MPI was already finalized/);
      }
      if (level === 'funneled') {
        for (const report of reports) {
          expect(report.nativeAsyncError).toMatch(/allreduceSumAsync: MPI granted thread level funneled, which forbids MPI calls from a threadpool thread/);
        }
      } else {
        for (const report of reports) expect(report.nativeAsyncError).toBeNull();
      }
    }
  });

  it('sums Float32Arrays exactly, blocking and async, odd lengths and offset views; checks watchdog times at the call, clamps huge ones', async () => {
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

  it('refuses detached and resizable buffers with clear errors; a buffer detached while queued or in flight rejects', async () => {
    const result = await runFixture('buffers.ts', [], { killAfterMs: 60_000 });
    expectClean(result);
    const reports = resultLines<{ rank: number; outcomes: Record<string, string | boolean> }>(result.stdout)
      .sort((a, b) => a.rank - b.rank);
    expect(reports).toHaveLength(2);
    for (const { outcomes } of reports) {
      expect(outcomes.detachedAllreduce).toMatch(/^allreduceSum: the Float32Array's ArrayBuffer is detached \(transferred/);
      expect(outcomes.detachedAllreduceAsync).toMatch(/^allreduceSumAsync: the Float32Array's ArrayBuffer is detached/);
      expect(outcomes.detachedBroadcast).toMatch(/^broadcast: the Uint8Array's ArrayBuffer is detached/);
      expect(outcomes.detachedBroadcastAsync).toMatch(/^broadcastAsync: the Uint8Array's ArrayBuffer is detached/);
      expect(outcomes.resizableAllreduce).toMatch(/^allreduceSum: the Float32Array is backed by a resizable ArrayBuffer .*refused/);
      expect(outcomes.resizableAllreduceAsync).toMatch(/^allreduceSumAsync: the Float32Array is backed by a resizable ArrayBuffer/);
      expect(outcomes.growableBroadcastAsync).toMatch(/^broadcastAsync: the Uint8Array is backed by a growable SharedArrayBuffer/);
      expect(outcomes.sharedAccepted).toBe(true);
      expect(outcomes.detachedWhileQueued).toMatch(/^allreduceSumAsync: the Float32Array's ArrayBuffer is detached/);
    }
    expect(reports[0].outcomes.detachedInFlight).toMatch(/was detached \(transferred\) while the collective was in flight/);
    expect(reports[0].outcomes.movedHoldsSum).toBe(true);
    expect(reports[1].outcomes.detachedInFlight).toBe('resolved');
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

describe('@moa-lens/mpi JS-side checks (in-process, MPI not initialized)', () => {
  const saved = { timeout: process.env.MOA_MPI_TIMEOUT_MS, level: process.env.MOA_MPI_THREAD_LEVEL };
  afterEach(() => {
    for (const [name, value] of [['MOA_MPI_TIMEOUT_MS', saved.timeout], ['MOA_MPI_THREAD_LEVEL', saved.level]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    mpi.setDefaultTimeoutMs(null);
  });

  it('parses MOA_MPI_TIMEOUT_MS strictly: decimal ms or Infinity; anything else throws, and init() checks it before MPI starts', () => {
    for (const [text, expected] of [['2500', 2500], [' 2500 ', 2500], ['1e3', 1000], ['0', 0], ['Infinity', Infinity], ['', 600_000]] as const) {
      process.env.MOA_MPI_TIMEOUT_MS = text;
      expect(mpi.defaultTimeoutMs()).toBe(expected);
    }
    for (const text of ['abc', 'NaN', '-5', '0x10', '10s', '1_000', '-Infinity']) {
      process.env.MOA_MPI_TIMEOUT_MS = text;
      expect(() => mpi.defaultTimeoutMs()).toThrow(new RegExp(`MOA_MPI_TIMEOUT_MS must be a non-negative number of milliseconds .*got "${text}"`));
    }
    process.env.MOA_MPI_TIMEOUT_MS = 'abc';
    expect(() => mpi.init()).toThrow(/MOA_MPI_TIMEOUT_MS .*got "abc"/);
    expect(mpi.isInitialized()).toBe(false);
    expect(mpi.threadLevel()).toBeNull();
  });

  it('checks watchdog times the way the addon does: NaN, negatives and non-numbers throw; Infinity means none', () => {
    for (const bad of [Number.NaN, -1, -Infinity, '3000', {}]) {
      expect(() => mpi.setDefaultTimeoutMs(bad as number)).toThrow(/setDefaultTimeoutMs\(ms\): ms must be a number >= 0 \(0 or Infinity: no watchdog\), got/);
      // Refused before the addon is asked (which would say "not initialized").
      expect(() => mpi.allreduceSum(new Float32Array(1), { timeoutMs: bad as number })).toThrow(/^timeoutMs must be a number >= 0/);
      expect(() => mpi.allreduceSumAsync(new Float32Array(1), { timeoutMs: bad as number })).toThrow(/^timeoutMs must be a number >= 0/);
    }
    mpi.setDefaultTimeoutMs(Infinity);
    expect(mpi.defaultTimeoutMs()).toBe(Infinity);
    mpi.setDefaultTimeoutMs(null);
    process.env.MOA_MPI_TIMEOUT_MS = '1234';
    expect(mpi.defaultTimeoutMs()).toBe(1234);
  });

  it('refuses an unknown thread level, from init() options or MOA_MPI_THREAD_LEVEL, before MPI starts', () => {
    expect(() => mpi.init({ threadLevel: 'several' as 'multiple' })).toThrow(/threadLevel must be one of single, funneled, serialized, multiple, got "several"/);
    process.env.MOA_MPI_THREAD_LEVEL = 'MULTIPLE';
    expect(() => mpi.init()).toThrow(/MOA_MPI_THREAD_LEVEL must be one of .*got "MULTIPLE"/);
    expect(mpi.isInitialized()).toBe(false);
  });
});
