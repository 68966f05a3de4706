// `npm run bench [-- name ...]`: runs the project's benchmarks and prints the machine they ran on.
import { machineSummary } from './machine.ts';

const benches: Record<string, () => Promise<unknown>> = {
  forward: async () => (await import('./forward.ts')).benchForward(),
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(w in benches));
if (unknown.length) {
  console.error(`Unknown benchmark(s): ${unknown.join(', ')}. Known: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
console.log(`machine: ${machineSummary()}`);
console.log(`date: ${new Date().toISOString()}`);
for (const name of wanted.length ? wanted : Object.keys(benches)) {
  console.log(`\n## ${name}`);
  await benches[name]();
}
