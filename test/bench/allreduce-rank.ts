// Rank program of the allreduce benchmark: times the binding's blocking and async in-place allreduce per size.
import * as mpi from '@moa-lens/mpi';

mpi.installAbortOnError();
mpi.init();
const rank = mpi.rank();
const size = mpi.size();
const [iterationsText, ...byteSizes] = process.argv.slice(2);
const iterations = Number(iterationsText);

function median(sorted: number[]): number {
  return sorted[Math.floor(sorted.length / 2)];
}

/** Per-iteration times, taking the slowest rank's (like the C baseline). */
function slowestRank(times: number[]): number[] {
  const all = new Float32Array(times);
  const perRank = new Float32Array(times.length * size);
  perRank.set(all, rank * times.length);
  mpi.allreduceSum(perRank); // gather by summing disjoint slots
  return times.map((_, it) => {
    let slowest = 0;
    for (let r = 0; r < size; r += 1) slowest = Math.max(slowest, perRank[r * times.length + it]);
    return slowest;
  }).sort((a, b) => a - b);
}

for (const bytesText of byteSizes) {
  const bytes = Number(bytesText);
  const data = new Float32Array(Math.floor(bytes / 4));
  for (const impl of ['binding', 'binding-async'] as const) {
    data.fill(1);
    mpi.allreduceSum(data);
    mpi.allreduceSum(data);
    const times: number[] = [];
    for (let it = 0; it < iterations; it += 1) {
      data.fill(1);
      mpi.barrier();
      const start = performance.now();
      if (impl === 'binding') mpi.allreduceSum(data);
      else await mpi.allreduceSumAsync(data);
      times.push(performance.now() - start);
    }
    const correct = data.every((value) => value === size);
    const sorted = slowestRank(times);
    if (rank === 0) {
      console.log('RESULT ' + JSON.stringify({
        impl, bytes, iterations, medianMs: median(sorted), minMs: sorted[0], correct,
      }));
    }
  }
}
mpi.finalize();
