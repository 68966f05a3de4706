// `npm run evaluate`: score a model bundle on a BBBC021-layout root, per field and per treatment, as the app predicts.
import { writeFile } from 'node:fs/promises';
import { selectBackend } from './backend/select.ts';
import { evaluate, reportedField } from './eval/evaluate.ts';
import { ALLOW_UNVERIFIED, openBundle } from './eval/open-bundle.ts';
import { reportHtml } from './eval/report.ts';
import { ConfigError, type TrainConfig } from './train/config.ts';
import { prepareData } from './train/data.ts';
import { formatPercent } from './util/format.ts';
import { EXIT, exitCodesHelp, fail, startCli } from './util/cli.ts';

const USAGE = `npm run evaluate -- --bundle <model dir> --data <BBBC021 root> [--fields all|held-out] [--report <file base>]
  --fields all       every labelled field under --data (default; e.g. a plate the model never saw)
  --fields held-out  only the held-out fold the bundle was trained without (its recorded split, folds, fold, seed)
  --report <base>    also write <base>.json (every field and treatment) and <base>.html (confusion matrices)
  --backend auto|native|wasm|webgpu|cpu   (default auto: tfjs-node, else native, else wasm)
  --allow-unverified run a bundle that is neither shipped (pinned in models/index.json) nor signed by a key in
                     models/trusted-keys.json; without it such a bundle is refused`;

function parseArgs(argv: string[]) {
  const out = { bundle: '', data: '', fields: 'all', report: '', backend: 'auto' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '') as keyof typeof out;
    if (!(key in out) || !argv[i].startsWith('--')) throw new ConfigError(`Unknown argument "${argv[i]}".\n${USAGE}`);
    if (argv[i + 1] === undefined) throw new ConfigError(`--${key} needs a value.`);
    out[key] = argv[i + 1];
  }
  if (!out.bundle || !out.data) throw new ConfigError(`--bundle and --data are required.\n${USAGE}`);
  if (out.fields !== 'all' && out.fields !== 'held-out') throw new ConfigError(`--fields must be all or held-out, got "${out.fields}".`);
  return out;
}

const { argv } = startCli('evaluate');
if (argv.includes('--help')) {
  console.log(`${USAGE}\n  --verbose          on failure, print the stack trace too\n\n${exitCodesHelp([EXIT.usage, EXIT.data, EXIT.bundle])}`);
  process.exit(0);
}
try {
  const args = parseArgs(argv.filter((a) => a !== ALLOW_UNVERIFIED));
  await selectBackend({ requested: args.backend as TrainConfig['backend'], log: console.log });
  const { bundle, model, config } = await openBundle(args.bundle, args.data, argv.includes(ALLOW_UNVERIFIED), 'evaluate', console.log);
  const meta = bundle.metadata;
  if (args.fields === 'held-out' && !meta.provenance.recipe) throw new ConfigError(`${args.bundle} records no training recipe, so its held-out fold is unknown; use --fields all.`);
  const data = await prepareData(config, meta.preprocessing);
  const indices = args.fields === 'all' ? data.samples.map((_, i) => i) : data.split.test;
  // No preprocessed cache: one pass over the fields, and nothing written into a data folder that may be served (public/demo).
  const evaluation = await evaluate(model, data.samples, indices, meta, meta.classes.length);
  const { fieldScores: f, treatmentScores: t } = evaluation;
  console.log(`fields: ${args.fields === 'all' ? 'all labelled' : data.split.name} (${evaluation.skipped} unreadable skipped)`);
  console.log(`field accuracy ${formatPercent(f.accuracy)} of ${f.n}; treatment accuracy ${formatPercent(t.accuracy)} of ${t.n}; chance ${formatPercent(1 / meta.classes.length)}`);
  console.log(`per class (treatment recall): ${meta.classes.map((c, k) => `${c} ${t.confusion[k].reduce((a, b) => a + b, 0) ? formatPercent(t.confusion[k][k] / t.confusion[k].reduce((a, b) => a + b, 0), 0) : '-'}`).join(', ')}`);
  if (args.report) {
    await writeFile(`${args.report}.json`, JSON.stringify({ bundle: { name: meta.name, hash: bundle.hash }, data: args.data, fields: args.fields, fieldAccuracy: f.accuracy, treatmentAccuracy: t.accuracy, fieldResults: evaluation.fields.map(reportedField), treatments: evaluation.treatments.map((x) => ({ ...x, probabilities: Array.from(x.probabilities) })) }, null, 1));
    await writeFile(`${args.report}.html`, reportHtml({ title: `MoA Lens evaluation: ${meta.name} on ${args.data}`, classes: meta.classes, fieldScores: f, treatmentScores: t, history: [], facts: { fields: args.fields, 'field accuracy': f.accuracy, 'treatment accuracy': t.accuracy } }));
    console.log(`report: ${args.report}.html`);
  }
} catch (e) {
  fail(e);
}
