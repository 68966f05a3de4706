// `npm run demo-plate`: renders the app's demo plate (public/demo/) from its committed recipe; `--choose` writes the recipe.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BBBC021_METADATA_DIR } from './bbbc021-metadata.ts';
import { firstReadableField, loadDatasetIndex } from './data/index.ts';
import { readMetadataTables } from './simulate/dataset-writer.ts';
import { chooseDemoPlate, writeDemoPlate } from './simulate/demo-plate.ts';
import { ConfigError, DataError, EXIT, exitCodesHelp, fail, startCli } from './util/cli.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const USAGE = `npm run demo-plate [-- --spec public/demo/plate.json --out public/demo]
  renders the demo plate's TIFFs and CSVs (skipped when public/demo/index.json already matches the recipe)
npm run demo-plate -- --choose --report <bundle>.report.json --data <simulated root> --sim-seed <seed the data was simulated with> [--per-class 2] [--dmso 3] [--metadata <dir>]
  writes the recipe from a training run's held-out fields (the run's seed and field size);
  --metadata: folder of the real BBBC021 CSVs (default training/data/bbbc021, vendored)
  --verbose: on failure, print the stack trace too

${exitCodesHelp([EXIT.usage, EXIT.data])}`;

const { argv } = startCli('demo-plate');
const flag = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};
if (argv.includes('--help')) {
  console.log(USAGE);
  process.exit(0);
}
const specFile = path.resolve(flag('spec', path.join(repoRoot, 'public/demo/plate.json')));
try {
  if (argv.includes('--choose')) {
    if (!flag('report', '') || !flag('data', '')) throw new ConfigError(`--choose needs --report and --data.\n${USAGE}`);
    const reportText = await readFile(flag('report', ''), 'utf8');
    const report = (() => {
      try {
        return JSON.parse(reportText);
      } catch (e) {
        throw new DataError(`${flag('report', '')} is not a training report (${(e as Error).message})`);
      }
    })() as {
      metrics: { split: string };
      provenance: { recipe: { seed: number; name: string } };
      fields: { id: string }[];
    };
    const index = await loadDatasetIndex(flag('data', ''));
    const byId = new Map(index.samples.map((s) => [s.id, s]));
    const heldOut = report.fields.map((f) => {
      const s = byId.get(f.id);
      if (!s) throw new DataError(`field ${f.id} of ${flag('report', '')} is not under --data ${flag('data', '')}`);
      return { dnaFile: path.basename(s.files[0]), compound: s.compound, concentration: s.concentration, moa: s.moa };
    });
    // The first readable field gives the size; unreadable ones are named and skipped.
    const { planes: [dna] } = await firstReadableField(index.samples, (_, error) => console.log(`skipped ${error.message}`));
    const size = { height: dna.height, width: dna.width };
    const full = await readMetadataTables(flag('metadata', BBBC021_METADATA_DIR));
    const seed = Number(flag('sim-seed', 'NaN'));
    if (!Number.isInteger(seed)) throw new ConfigError('--sim-seed <the seed the dataset was simulated with> is required with --choose');
    const spec = chooseDemoPlate(full, heldOut, { perClass: Number(flag('per-class', '2')), dmso: Number(flag('dmso', '3')), seed, ...size, model: report.provenance.recipe.name, heldOut: report.metrics.split });
    await writeFile(specFile, JSON.stringify(spec, null, 1) + '\n');
    console.log(`wrote ${specFile}: ${spec.imageLines.length} fields from ${report.metrics.split} of ${spec.model}`);
  } else {
    const out = path.resolve(flag('out', path.dirname(specFile)));
    const started = performance.now();
    const { index, written } = await writeDemoPlate(await readFile(specFile, 'utf8'), out, (done, total) => process.stderr.write(`\rdemo plate: ${done}/${total} fields`));
    if (written) process.stderr.write('\n');
    console.log(written ? `demo plate: wrote ${index.fields} fields (${(index.bytes / 1e6).toFixed(0)} MB) to ${out} in ${((performance.now() - started) / 1000).toFixed(1)} s` : `demo plate: ${out} is up to date (${index.fields} fields)`);
  }
} catch (e) {
  fail(e);
}
