// Helpers shared by the benches that run each engine/thread configuration in its own child process
// (a TF.js backend switch, an OpenMP pool or a wasm heap never leaks into the next configuration).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const MARK = '@@bench-result ';

/** Runs `file` (a bench module) as a child with the same loader (tsx) and `job` in env[envName]; returns its result. */
export function runWorker<T>(file: string, envName: string, job: unknown, log: (line: string) => void, timeoutMs = 30 * 60_000): T {
  const r = spawnSync(process.execPath, [...process.execArgv, file], {
    encoding: 'utf8',
    env: { ...process.env, [envName]: JSON.stringify(job) },
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  });
  let result: T | undefined;
  for (const line of (r.stdout ?? '').split('\n')) {
    if (line.startsWith(MARK)) result = JSON.parse(line.slice(MARK.length)) as T;
    else if (line.trim()) log(`    | ${line}`);
  }
  if (r.status !== 0 || result === undefined) {
    throw new Error(`bench worker ${JSON.stringify(job)} failed (exit ${r.status ?? r.signal}${r.error ? `, ${r.error.message}` : ''})`);
  }
  return result;
}

/** The worker side: hands its result to the parent. */
export function emitResult(result: unknown): void {
  console.log(MARK + JSON.stringify(result));
}

/** The job a worker was started with, or null when this process is not that worker. */
export function workerJob<T>(envName: string): T | null {
  const raw = process.env[envName];
  return raw ? (JSON.parse(raw) as T) : null;
}

/** Whether the benches run in their quick form (fewer configurations, one timed step): MOA_BENCH_QUICK=1 or --quick. */
export function quickMode(): boolean {
  return process.env.MOA_BENCH_QUICK === '1' || process.argv.includes('--quick');
}

export const PYTHON = '/usr/bin/python3';

/** Debian's python3 with python3-torch: the PyTorch peers run there. */
export function torchAvailable(python = PYTHON): boolean {
  if (!existsSync(python)) return false;
  return spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
}

/**
 * Times `once` after one warm-up call: at least one timed call, then more while under `budgetS` seconds in all and
 * fewer than `maxCalls`. Returns the mean seconds per call and the number of timed calls.
 */
export async function timeCalls(once: () => unknown, maxCalls: number, budgetS: number): Promise<{ seconds: number; calls: number }> {
  await once();
  let total = 0;
  let calls = 0;
  do {
    const t0 = performance.now();
    await once();
    total += (performance.now() - t0) / 1000;
    calls++;
  } while (calls < maxCalls && total < budgetS);
  return { seconds: total / calls, calls };
}

/** A plain-text table: one header row, then rows; columns padded to their widest cell. */
export function table(header: string[], rows: string[][], indent = '  '): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) => indent + cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/** oneDNN implementations by primitive kind ('conv_fwd:1,256,...,t2' -> 'jit:avx512_core'), condensed to kind -> impl -> shapes. */
export function condenseImplementations(all: Record<string, string>[]): Map<string, Map<string, number>> {
  const byKind = new Map<string, Map<string, number>>();
  for (const impls of all) {
    for (const [key, impl] of Object.entries(impls)) {
      const kind = key.split(':')[0];
      const counts = byKind.get(kind) ?? new Map<string, number>();
      counts.set(impl, (counts.get(impl) ?? 0) + 1);
      byKind.set(kind, counts);
    }
  }
  return byKind;
}

/** Lines describing the oneDNN implementations used, with a loud flag on any reference ('ref...') one. */
export function implementationLines(all: Record<string, string>[]): string[] {
  const byKind = condenseImplementations(all);
  if (!byKind.size) return ['  oneDNN implementations: none recorded'];
  const lines = ['  oneDNN implementations (primitive kind -> implementation (shapes x thread counts)):'];
  for (const [kind, counts] of [...byKind.entries()].sort()) {
    lines.push(`    ${kind.padEnd(22)} ${[...counts.entries()].map(([impl, n]) => `${impl} (${n})`).join(', ')}`);
  }
  const slow = all.flatMap((impls) => Object.entries(impls).filter(([, impl]) => impl.startsWith('ref')));
  if (slow.length) {
    lines.push(`  !!! WARNING: ${slow.length} oneDNN primitive(s) run the slow REFERENCE implementation:`);
    for (const [key, impl] of slow) lines.push(`  !!!   ${key} -> ${impl}`);
  } else {
    lines.push('  no reference (ref:*) implementation in use');
  }
  return lines;
}
