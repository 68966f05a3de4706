// Benchmark: allreduce through the binding vs a C program calling MPI_Allreduce, same `mpirun -np 2`, same machine.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cSource = join(repoRoot, 'training', 'mpi', 'bench', 'allreduce_c.c');
const rankScript = join(repoRoot, 'test', 'bench', 'allreduce-rank.ts');
const MiB = 1024 * 1024;

export interface AllreduceRow {
  label: string;
  bytes: number;
  iterations: number;
  cMs: number;
  bindingMs: number;
  bindingAsyncMs: number;
  /** binding / C on medians; <= 1.05 is the goal at 170 MiB. */
  ratio: number;
  asyncRatio: number;
  /** Fastest single op of each: less sensitive to other work on a shared machine. */
  cMinMs: number;
  bindingMinMs: number;
  minRatio: number;
}

interface RankResult {
  impl: 'c' | 'binding' | 'binding-async';
  bytes: number;
  medianMs: number;
  minMs: number;
  correct: boolean;
}

export interface AllreduceBenchOptions {
  np?: number;
  /** Alternating C/binding runs per size; the best median of each is kept (the box is shared and noisy). */
  rounds?: number;
  sizes?: { label: string; bytes: number; iterations: number }[];
  /** Words before `mpirun` (e.g. `ip netns exec <ns>`: test/bench/allreduce-hosts.ts). */
  launcher?: string[];
  /** Extra mpirun flags (a hostfile, --mca ...), after -np. */
  mpirunArgs?: string[];
}

const defaultSizes = [
  { label: '1 MiB', bytes: MiB, iterations: 200 },
  { label: '16 MiB', bytes: 16 * MiB, iterations: 40 },
  { label: '170 MiB', bytes: 170 * MiB, iterations: 10 },
];

function mpirunFlags(np: number): string[] {
  const flags = ['-np', String(np)];
  if (process.getuid?.() === 0) flags.push('--allow-run-as-root');
  if (np > cpus().length) flags.push('--oversubscribe');
  return flags;
}

function compileBaseline(): string {
  const outDir = join(tmpdir(), 'moa-lens-bench');
  mkdirSync(outDir, { recursive: true });
  const binary = join(outDir, 'allreduce_c');
  const compile = spawnSync('mpicc', ['-O2', cSource, '-o', binary], { encoding: 'utf8' });
  if (compile.error || compile.status !== 0) {
    throw new Error(`mpicc failed (install libopenmpi-dev): ${compile.error?.message ?? compile.stderr}`);
  }
  return binary;
}

function runRanks(np: number, program: string[], options: AllreduceBenchOptions = {}): RankResult[] {
  const command = [...(options.launcher ?? []), 'mpirun', ...mpirunFlags(np), ...(options.mpirunArgs ?? []), ...program];
  const run = spawnSync(command[0], command.slice(1), {
    cwd: repoRoot, encoding: 'utf8', maxBuffer: 16 * MiB, timeout: 600_000,
  });
  if (run.error || run.status !== 0) {
    throw new Error(`mpirun ${program[0]} failed (${run.status}): ${run.error?.message ?? ''}\n${run.stdout}\n${run.stderr}`);
  }
  const results = run.stdout.split('\n').filter((line) => line.startsWith('RESULT '))
    .map((line) => JSON.parse(line.slice('RESULT '.length)) as RankResult);
  const wrong = results.find((result) => !result.correct);
  if (wrong) throw new Error(`${wrong.impl} produced a wrong sum at ${wrong.bytes} bytes`);
  return results;
}

function best(values: number[]): number {
  return Math.min(...values);
}

export async function benchAllreduce(options: AllreduceBenchOptions = {}): Promise<AllreduceRow[]> {
  const np = options.np ?? 2;
  const rounds = options.rounds ?? 2;
  const baseline = compileBaseline();
  const loadBefore = loadavg()[0];
  const rows: AllreduceRow[] = [];
  for (const size of options.sizes ?? defaultSizes) {
    const medians: Record<RankResult['impl'], number[]> = { c: [], binding: [], 'binding-async': [] };
    const minimums: Record<RankResult['impl'], number[]> = { c: [], binding: [], 'binding-async': [] };
    for (let round = 0; round < rounds; round += 1) {
      const runs = [
        runRanks(np, [baseline, String(size.iterations), String(size.bytes)], options),
        runRanks(np, [process.execPath, '--import', 'tsx', rankScript, String(size.iterations), String(size.bytes)], options),
      ];
      for (const result of runs.flat()) {
        medians[result.impl].push(result.medianMs);
        minimums[result.impl].push(result.minMs);
      }
    }
    const cMs = best(medians.c);
    const bindingMs = best(medians.binding);
    const bindingAsyncMs = best(medians['binding-async']);
    rows.push({
      label: size.label, bytes: size.bytes, iterations: size.iterations, cMs, bindingMs, bindingAsyncMs,
      ratio: bindingMs / cMs, asyncRatio: bindingAsyncMs / cMs,
      cMinMs: best(minimums.c), bindingMinMs: best(minimums.binding),
      minRatio: best(minimums.binding) / best(minimums.c),
    });
  }
  console.log(`allreduce, mpirun ${[...mpirunFlags(np), ...(options.mpirunArgs ?? [])].join(' ')}, median ms per op (best of ${rounds} alternating runs); ` +
    `${cpus().length} CPUs, 1-min load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after ` +
    '(a load above the CPU count means other work shared the cores: treat ratios as noisy)');
  console.log('| size | C MPI_Allreduce | binding (blocking) | binding (async) | ratio | async ratio | C min | binding min | min ratio |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) {
    console.log(`| ${row.label} | ${row.cMs.toFixed(3)} | ${row.bindingMs.toFixed(3)} | ${row.bindingAsyncMs.toFixed(3)} | ` +
      `${row.ratio.toFixed(3)} | ${row.asyncRatio.toFixed(3)} | ${row.cMinMs.toFixed(3)} | ${row.bindingMinMs.toFixed(3)} | ` +
      `${row.minRatio.toFixed(3)} |`);
  }
  return rows;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await benchAllreduce();
}
