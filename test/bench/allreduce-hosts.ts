// Benchmark: the allreduce bench (binding vs C) across two namespace hosts over TCP (test/mpi/hosts.ts), 1 rank each.
// Root only: `npx tsx test/bench/allreduce-hosts.ts`. The hosts are torn down at the end, also on failure.
import { benchAllreduce } from './allreduce.ts';
import { createHosts, netnsUnavailable } from '../mpi/hosts.ts';

const reason = netnsUnavailable();
if (reason !== null) {
  console.error(`allreduce-hosts: cannot make namespace hosts here: ${reason}`);
  process.exit(2);
}
const hosts = createHosts(2);
try {
  await benchAllreduce({ np: 2, launcher: hosts.inLan, mpirunArgs: ['--hostfile', hosts.hostfile, ...hosts.mpirunArgs] });
} finally {
  hosts.teardown();
}
