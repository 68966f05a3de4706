// `npm run evaluate`: score a model bundle on a BBBC021-layout root, per field and per treatment, as the app predicts.
import { writeFile } from 'node:fs/promises';
import { selectBackend } from './backend/select.ts';
import { evaluate, reportedField } from './eval/evaluate.ts';
import { ALLOW_UNVERIFIED, openBundle } from './eval/open-bundle.ts';
import { reportHtml } from './eval/report.ts';
import { MOA_CLASSES } from '../../src/core/labels.ts';
import { checkpointConfig, checkpointFiles, checkpointModel, readCheckpointFile } from './eval/checkpoint-model.ts';
import { curvePoint, type CurvePoint } from './eval/curve.ts';
import { ConfigError, type TrainConfig } from './train/config.ts';
import { prepareData, runFieldModel } from './train/data.ts';
import { formatPercent } from './util/format.ts';
import { EXIT, exitCodesHelp, fail, startCli } from './util/cli.ts';

const USAGE = `npm run evaluate -- --bundle <model dir> --data <BBBC021 root> [--fields all|held-out] [--report <file base>]
  --fields all       every labelled field under --data (default; e.g. a plate the model never saw)
  --fields held-out  only the held-out fold the bundle was trained without (its recorded split, folds, fold, seed)
  --report <base>    also write <base>.json (every field and treatment) and <base>.html (confusion matrices)
  --backend auto|native|wasm|webgpu|cpu   (default auto: tfjs-node, else native, else wasm)
  --allow-unverified run a bundle that is neither shipped (pinned in models/index.json) nor signed by a key in
                     models/trusted-keys.json; without it such a bundle is refused

npm run evaluate -- --checkpoint <file, file,file,... or checkpoint folder> [--data <root>] [--report <file base>]
  A run's held-out curve: each checkpoint's float32 weights on the held-out fold the run trained without (its own
  recorded data, split, input and seed; --data points it elsewhere), one line per checkpoint in step order beside
  the training loss of the steps before it. A folder means every checkpoint in it. --report writes <base>.json.`;

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
  if (argv.includes('--checkpoint')) await checkpointCurve(argv);
  else await evaluateBundle();
} catch (e) {
  fail(e);
}

async function evaluateBundle(): Promise<void> {
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
}

async function checkpointCurve(argv: string[]): Promise<void> {
  // The settings that must agree for checkpoints to be scored on one held-out fold.
  const FOLD_KEYS = ['data', 'split', 'folds', 'fold', 'seed', 'inputHeight', 'inputWidth', 'binning', 'normalisation', 'divideBy'] as const;
  const given: Record<string, string> = { checkpoint: '', data: '', report: '', backend: 'auto' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '');
    if (!(key in given) || !argv[i].startsWith('--')) throw new ConfigError(`Unknown argument "${argv[i]}" beside --checkpoint.\n${USAGE}`);
    if (argv[i + 1] === undefined) throw new ConfigError(`--${key} needs a value.`);
    given[key] = argv[i + 1];
  }
  const files = await checkpointFiles(given.checkpoint);
  const overrides: Partial<TrainConfig> = { backend: given.backend as TrainConfig['backend'], ...(given.data ? { data: given.data } : {}) };
  await selectBackend({ requested: overrides.backend, log: console.log });
  let first: TrainConfig | undefined;
  let data: Awaited<ReturnType<typeof prepareData>> | undefined;
  const rows: CurvePoint[] = [];
  for (const file of files) {
    const checkpoint = await readCheckpointFile(file);
    const config = checkpointConfig(checkpoint, overrides);
    if (!first || !data) {
      first = config;
      data = await prepareData(config);
      console.log(`held-out fold: ${data.split.name}, ${data.split.test.length} fields of ${config.data}`);
    }
    const differs = FOLD_KEYS.filter((k) => config[k] !== first![k]);
    if (differs.length) throw new ConfigError(`${file} was trained with another ${differs.join(', ')} than ${files[0]}: give the checkpoints of one run.`);
    const model = checkpointModel(checkpoint, config);
    const { fieldScores: f, treatmentScores: t } = await evaluate(model, data.samples, data.split.test, runFieldModel(config, data), MOA_CLASSES.length, data.cache);
    model.dispose();
    const row = curvePoint(file, checkpoint, f, t);
    rows.push(row);
    console.log(`step ${row.step} (epoch ${row.epoch.toFixed(2)}): training loss ${row.trainingLoss.toFixed(3)}; held out: field accuracy ${formatPercent(f.accuracy)} of ${f.n}, treatment accuracy ${formatPercent(t.accuracy)} of ${t.n}`);
  }
  if (given.report) {
    await writeFile(`${given.report}.json`, JSON.stringify({ split: data!.split.name, data: first!.data, checkpoints: rows }, null, 1));
    console.log(`report: ${given.report}.json`);
  }
}
