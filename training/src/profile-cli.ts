// `npm run profile`: a bundle's profiles (penultimate-layer features) of every field of a BBBC021-layout root, per
// field and per treatment, DMSO-normalised, with NSC and NSCB 1-NN MoA accuracies beside the classifier's accuracy,
// the treatment map and clustered heat map as SVG, and (--adapt-halves) what refitting the head on half the
// held-out compounds does for the other half.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { aggregateTreatments, score } from '../../src/core/aggregate.ts';
import { DEFAULT_PROFILE_OPTIONS, analyseProfiles, heatmapSvg, mapSvg, type ProfileOptions } from '../../src/core/profile-map.ts';
import { fieldProfilesCsv, treatmentProfilesCsv } from '../../src/core/profile-csv.ts';
import { neighbourAccuracy, type ControlSource, type FieldProfile } from '../../src/core/profiles.ts';
import { selectBackend } from './backend/select.ts';
import { chooseSplit } from './data/index.ts';
import { adaptOnHalves, type HalvesResult } from './eval/adapt-halves.ts';
import { evaluate } from './eval/evaluate.ts';
import { ALLOW_UNVERIFIED, openBundle } from './eval/open-bundle.ts';
import { ConfigError, type TrainConfig } from './train/config.ts';
import { prepareData } from './train/data.ts';
import { formatPercent } from './util/format.ts';
import { EXIT, exitCodesHelp, fail, startCli } from './util/cli.ts';

const USAGE = `npm run profile -- --bundle <model dir> --data <BBBC021 root> --out <dir> [options]
  --out <dir>           writes fields.csv, treatments.csv (profiles, DMSO-normalised), map.svg, heatmap.svg, summary.json
  --split S --folds K --fold i
                        the held-out compounds (default: the split the bundle records it was trained without)
  --summary mean|median treatment profile = mean (default) or per-feature median of its fields' profiles
  --normalise dmso|none z-score features against the DMSO fields (default dmso: per plate, pooled when a plate has < 2)
  --adapt-halves        also fit a new head (logistic regression) on half the held-out compounds and score the other half
  --backend auto|native|wasm|webgpu|cpu   (default auto)
  --allow-unverified    run a bundle that is neither shipped nor signed by a trusted key`;
const FLAGS = ['--adapt-halves', ALLOW_UNVERIFIED];

function parseArgs(argv: string[]) {
  const out = { bundle: '', data: '', out: '', split: '', folds: '', fold: '', summary: 'mean', normalise: 'dmso', backend: 'auto' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '') as keyof typeof out;
    if (!(key in out) || !argv[i].startsWith('--')) throw new ConfigError(`Unknown argument "${argv[i]}".\n${USAGE}`);
    if (argv[i + 1] === undefined) throw new ConfigError(`--${key} needs a value.`);
    out[key] = argv[i + 1];
  }
  if (!out.bundle || !out.data || !out.out) throw new ConfigError(`--bundle, --data and --out are required.\n${USAGE}`);
  if (out.summary !== 'mean' && out.summary !== 'median') throw new ConfigError(`--summary must be mean or median, got "${out.summary}".`);
  if (out.normalise !== 'dmso' && out.normalise !== 'none') throw new ConfigError(`--normalise must be dmso or none, got "${out.normalise}".`);
  for (const key of ['folds', 'fold'] as const) if (out[key] !== '' && !/^\d+$/.test(out[key])) throw new ConfigError(`--${key} must be a whole number, got "${out[key]}".`);
  return out;
}

const { argv } = startCli('profile');
if (argv.includes('--help')) {
  console.log(`${USAGE}\n  --verbose             on failure, print the stack trace too\n\n${exitCodesHelp([EXIT.usage, EXIT.data, EXIT.bundle])}`);
  process.exit(0);
}
try {
  const args = parseArgs(argv.filter((a) => !FLAGS.includes(a)));
  await selectBackend({ requested: args.backend as TrainConfig['backend'], log: console.log });
  const { bundle, model, config } = await openBundle(args.bundle, args.data, argv.includes(ALLOW_UNVERIFIED), 'profile', console.log);
  const meta = bundle.metadata;
  if (args.split) config.split = args.split as TrainConfig['split'];
  if (args.folds) config.folds = Number(args.folds);
  if (args.fold) config.fold = Number(args.fold);
  const data = await prepareData(config, meta.preprocessing);
  const split = args.split || args.folds || args.fold ? chooseSplit(data.samples, config) : data.split;
  const evaluation = await evaluate(model, data.samples, data.samples.map((_, i) => i), meta, meta.classes.length);
  model.dispose();
  const fields: FieldProfile[] = evaluation.fields.map((f) => {
    const s = data.samples[f.sample];
    return { id: f.id, plate: s.plate, compound: s.compound, concentration: s.concentration, features: f.features, label: f.label };
  });
  const options: ProfileOptions = { ...DEFAULT_PROFILE_OPTIONS, summary: args.summary as ProfileOptions['summary'], normalise: args.normalise === 'dmso' };
  const calls = new Map(evaluation.treatments.map((t) => [t.treatment, { predicted: t.predicted, confidence: t.probabilities[t.predicted] }]));
  const analysis = analyseProfiles(fields, (key) => calls.get(key), options);
  const heldOut = new Set(split.test.map((i) => data.samples[i].compound));
  const heldOutFields = new Set(split.test);
  const heldOutTreatments = analysis.treatments.flatMap((t, i) => (heldOut.has(t.compound) ? [i] : []));
  const classifier = {
    all: evaluation.treatmentScores,
    // The held-out fields alone (as npm run evaluate --fields held-out scores them): the DMSO treatment from the held-out DMSO fields only.
    heldOut: score(aggregateTreatments(evaluation.fields.filter((f) => heldOutFields.has(f.sample))), meta.classes.length),
  };
  const nn = {
    all: { nsc: analysis.nsc, nscb: analysis.nscb },
    heldOut: { nsc: neighbourAccuracy(analysis.treatments, 'nsc', heldOutTreatments), nscb: neighbourAccuracy(analysis.treatments, 'nscb', heldOutTreatments) },
  };
  const line = (what: string, a: { accuracy: number; correct: number; n: number }) => `${what} ${formatPercent(a.accuracy)} (${a.correct}/${a.n})`;
  console.log(`profiles: ${fields.length} fields (${evaluation.skipped} unreadable skipped), ${analysis.treatments.length} treatments, ${fields[0]?.features.length ?? 0} features; ${options.summary}, ${options.normalise ? `DMSO-normalised (${controlsLine(analysis.controls)})` : 'not normalised'}`);
  console.log(`all treatments:      classifier ${line('accuracy', classifier.all)}; 1-NN ${line('NSC', nn.all.nsc)}, ${line('NSCB', nn.all.nscb)}`);
  console.log(`held-out (${split.name}): classifier ${line('accuracy', classifier.heldOut)}; 1-NN ${line('NSC', nn.heldOut.nsc)}, ${line('NSCB', nn.heldOut.nscb)}`);
  let adapt: HalvesResult | undefined;
  if (argv.includes('--adapt-halves')) {
    adapt = adaptOnHalves(evaluation.fields, data.samples, split, meta.classes.length);
    for (const r of adapt.rounds)
      console.log(
        `adapt: fit on ${r.fitCompounds.length} held-out compounds, scored on the other ${r.scoredCompounds.length} (${r.classifier.n} treatments): classifier ${formatPercent(r.classifier.accuracy)}, head on that half ${formatPercent(r.headOnHalf.accuracy)}, head on training fold + that half ${formatPercent(r.headOnTrainingAndHalf.accuracy)}`,
      );
    console.log(`adapt (both halves): classifier ${line('accuracy', adapt.classifier)}; head on half ${line('accuracy', adapt.headOnHalf)}; head on training fold + half ${line('accuracy', adapt.headOnTrainingAndHalf)}`);
  }
  await mkdir(args.out, { recursive: true });
  const title = `${meta.name} on ${path.basename(path.resolve(args.data))}`;
  await writeFile(path.join(args.out, 'fields.csv'), fieldProfilesCsv(analysis.fields, meta.classes));
  await writeFile(path.join(args.out, 'treatments.csv'), treatmentProfilesCsv(analysis, meta.classes));
  await writeFile(path.join(args.out, 'map.svg'), mapSvg(analysis, { classes: meta.classes, colourBy: 'truth', title: `Treatment profiles: ${title}` }));
  await writeFile(path.join(args.out, 'heatmap.svg'), heatmapSvg(analysis, meta.classes, `Cosine distance, average-linkage order: ${title}`));
  const summary = {
    bundle: { name: meta.name, sha256: bundle.hash },
    data: args.data,
    split: split.name,
    options,
    fields: fields.length,
    treatments: analysis.treatments.length,
    features: fields[0]?.features.length ?? 0,
    controls: analysis.controls,
    classifier: { all: rate(classifier.all), heldOut: rate(classifier.heldOut) },
    nearestNeighbour: nn,
    explained: analysis.explained,
    adapt,
  };
  await writeFile(path.join(args.out, 'summary.json'), JSON.stringify(summary, null, 1));
  console.log(`wrote ${args.out}/{fields.csv,treatments.csv,map.svg,heatmap.svg,summary.json}`);
} catch (e) {
  fail(e);
}

function controlsLine(controls: readonly ControlSource[]): string {
  const count = (source: ControlSource['source']) => controls.filter((c) => c.source === source).length;
  if (count('none') > 0) return 'no DMSO field: left as they are';
  return `${count('plate')} plates against their own DMSO fields, ${count('pooled')} against all ${controls.find((c) => c.source === 'pooled')?.controls ?? 0} pooled`;
}

function rate(s: { n: number; correct: number; accuracy: number }) {
  return { n: s.n, correct: s.correct, accuracy: s.accuracy };
}
