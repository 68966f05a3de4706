// Scaling on this machine: training throughput of 2 MPI ranks x 1 thread vs 1 rank x 2 threads (and 1 x 1), same data, same global batch.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSimulatedDataset } from '../../training/src/simulate/dataset-writer.ts';
import { BBBC021_METADATA_DIR } from '../fixtures/paths.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ScalingRow {
  layout: string;
  np: number;
  threadsPerRank: number;
  imagesPerSecond: number;
}

function run(data: string, out: string, np: number, threads: number, steps: number, width: number): number {
  const args = ['--import', 'tsx', path.join(repoRoot, 'training/src/cluster.ts'), '--np', `${np}`, '--threads-per-rank', `${threads}`, '--',
    '--data', data, '--out', out, '--input-size', '256x320', '--binning', '1', '--width-multiplier', `${width}`, '--global-batch', '8', '--epochs', '100', '--max-steps', `${steps}`, '--split', 'random', '--cache-dir', path.join(data, '.cache')];
  const r = spawnSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8', timeout: 30 * 60_000 });
  if (r.status !== 0) throw new Error(`train:cluster -np ${np} failed: ${r.stderr.slice(-1500)}`);
  const log = readFileSync(`${out}.train.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; time: string });
  // Skip the first two steps (kernel warm-up; decoding a 256x320 field costs ~1% of a step): throughput over the rest, by wall clock.
  const a = log.find((p) => p.step === 2)!;
  const b = log[log.length - 1];
  return ((b.step - a.step) * 8) / ((Date.parse(b.time) - Date.parse(a.time)) / 1000);
}

export async function benchScaling(options: { steps?: number; widthMultiplier?: number } = {}): Promise<ScalingRow[]> {
  const steps = options.steps ?? 8;
  const width = options.widthMultiplier ?? 1;
  const dir = mkdtempSync(path.join(tmpdir(), 'moa-scaling-'));
  const data = path.join(dir, 'data');
  await writeSimulatedDataset({ outDir: data, metadataDir: BBBC021_METADATA_DIR, compoundsPerClass: 1, fieldsPerTreatment: 2, height: 256, width: 320, seed: 11 });
  console.log(`  M-CNN width x${width} at 256x320, global batch 8, ${steps} steps (throughput from step 2 on); load average before: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const layouts: [string, number, number][] = [['1 rank x 1 thread', 1, 1], ['1 rank x 2 threads', 1, 2], ['2 ranks x 1 thread', 2, 1]];
  const rows: ScalingRow[] = [];
  for (const [layout, np, threads] of layouts) {
    const ips = run(data, path.join(dir, `m-${np}x${threads}`), np, threads, steps, width);
    rows.push({ layout, np, threadsPerRank: threads, imagesPerSecond: ips });
    console.log(`  ${layout.padEnd(20)} ${ips.toFixed(2)} img/s`);
  }
  const [one, oneTwo, two] = rows.map((r) => r.imagesPerSecond);
  console.log(`  2 ranks x 1 thread vs 1 rank x 2 threads: x${(two / oneTwo).toFixed(2)}; parallel efficiency of 2 ranks over 1 rank x 1 thread: ${((two / (2 * one)) * 100).toFixed(0)}%`);
  console.log(`  load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  return rows;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await benchScaling();
}
