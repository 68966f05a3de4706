// Describes the machine a benchmark ran on, for the record in docs/benchmarks.md.
import os from 'node:os';

export function machineSummary(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} logical cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

/** 1/5/15-minute load averages against the core count: other work on the machine skews the timings. */
export function loadSummary(): string {
  return `load average ${os.loadavg().map((l) => l.toFixed(2)).join(' / ')} on ${os.cpus().length} cores`;
}
