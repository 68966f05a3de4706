// `npm run train`: M-CNN on a BBBC021-layout root. data -> model -> loop -> eval -> export, one process or one MPI rank.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildMcnn } from '../../src/core/mcnn.ts';
import { MOA_CLASSES } from '../../src/core/labels.ts';
import { ConfigError, parseTrainArgs, USAGE, validateTrainConfig } from './train/config.ts';
import { createWorld } from './train/world.ts';
import { prepareData } from './train/data.ts';
import { trainModel, formatSeconds } from './train/loop.ts';
import { selectBackend } from './engine/backend.ts';
import { evaluate } from './eval/evaluate.ts';
import { reportHtml } from './eval/report.ts';
import { exportBundle, quantizeModel } from './export/export.ts';
import { classCounts, IMAGE_TABLE, MOA_TABLE } from './data/index.ts';
import { existsSync } from 'node:fs';

const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  console.log(USAGE);
  process.exit(0);
}

// --- settings (fail before any work) ---
const world = await createWorld();
let config;
try {
  config = validateTrainConfig(parseTrainArgs(argv), world.size);
  for (const table of [IMAGE_TABLE, MOA_TABLE])
    if (!existsSync(path.join(config.data, table))) throw new ConfigError(`--data ${config.data} is not a BBBC021-layout root: ${table} not found there.`);
} catch (e) {
  if (e instanceof ConfigError) {
    if (world.rank === 0) console.error(`train: ${e.message}`);
    process.exit(2);
  }
  throw e;
}
const isRoot = world.rank === 0;
const log = (line: string) => isRoot && console.log(line);
log(`world: ${world.describe()}`);
const threads = config.threads || Number(process.env.MOA_THREADS) || Math.max(1, Math.floor(os.availableParallelism() / world.size));
await selectBackend({ requested: config.backend, threads, log: isRoot ? console.log : null });
if (isRoot) await mkdir(path.dirname(path.resolve(config.log)), { recursive: true });

// --- data ---
const data = await prepareData(config);
log(`data: ${data.samples.length} labelled fields (${data.index.skipped.length} skipped at indexing) in ${config.data}; fields ${data.fieldSize.height}x${data.fieldSize.width}, binning ${data.spec.binning}`);
log(`split: ${data.split.name}: ${data.split.train.length} train, ${data.split.test.length} held out; per-class train counts ${classCounts(data.split.train.map((i) => data.samples[i])).join(',')}`);
for (const s of data.index.skipped) log(`  skipped ${s.fieldId}: ${s.file}: ${s.reason}`);

// --- model ---
const model = buildMcnn({ height: config.inputHeight, width: config.inputWidth, classes: MOA_CLASSES.length, widthMultiplier: config.widthMultiplier, seed: config.seed });
log(`model: M-CNN ${config.inputHeight}x${config.inputWidth}x3, width x${config.widthMultiplier}, ${model.countParams().toLocaleString('en')} parameters; global batch ${config.globalBatch} = ${world.size} x ${config.batchPerRank}`);

// --- loop ---
const result = await trainModel(model, data, config, world, log);
log(`trained ${result.steps} steps in ${formatSeconds(result.seconds)}; ${result.report.summary()}`);

// --- eval + export (rank 0) ---
if (isRoot) {
  const input = { height: config.inputHeight, width: config.inputWidth, minOverlap: 0 };
  const evaluation = await evaluate(model, data.samples, data.split.test, data.spec, input, MOA_CLASSES.length, data.cache);
  const q = await quantizeModel(model, config.quantize);
  const qEval = q.dtype === 'float32' ? evaluation : await evaluate(q.model, data.samples, data.split.test, data.spec, input, MOA_CLASSES.length, data.cache);
  const agreement = evaluation.fields.filter((f, i) => qEval.fields[i].predicted === f.predicted).length / Math.max(1, evaluation.fields.length);
  const metrics = {
    split: data.split.name,
    heldOutFields: evaluation.fieldScores.n,
    fieldAccuracy: evaluation.fieldScores.accuracy,
    treatmentAccuracy: evaluation.treatmentScores.accuracy,
    heldOutTreatments: evaluation.treatmentScores.n,
    quantizedFieldAccuracy: qEval.fieldScores.accuracy,
    quantizedTreatmentAccuracy: qEval.treatmentScores.accuracy,
    quantizationAgreement: agreement,
  };
  log(`held out (${data.split.name}): field accuracy ${(metrics.fieldAccuracy * 100).toFixed(1)}% of ${metrics.heldOutFields}, treatment accuracy ${(metrics.treatmentAccuracy * 100).toFixed(1)}% of ${metrics.heldOutTreatments}; ${q.dtype} top-1 agreement ${(agreement * 100).toFixed(2)}%`);
  const name = config.name;
  const provenance = {
    trained: true,
    summary: `M-CNN trained by MoA Lens on ${config.data} (${data.split.name}), ${result.steps} steps.`,
    data: config.data,
    command: `npm run train -- ${argv.join(' ')}`,
    worldSize: world.size,
    steps: result.steps,
    epochs: config.epochs,
    seconds: Math.round(result.seconds),
    machine: `${os.cpus()[0]?.model ?? 'unknown'} x ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    recipe: { ...config, data: undefined, out: undefined },
    metrics,
    heldOutConfusion: { field: evaluation.fieldScores.confusion, treatment: evaluation.treatmentScores.confusion },
  };
  await exportBundle(q, config.out, {
    name,
    createdAt: new Date().toISOString(),
    classes: [...MOA_CLASSES],
    input: { height: config.inputHeight, width: config.inputWidth, channels: 3 },
    preprocessing: data.spec,
    tiling: { minOverlap: 0 },
    architecture: { name: 'M-CNN', widthMultiplier: config.widthMultiplier, parameters: model.countParams() },
    provenance,
  });
  const reportBase = `${config.out}.report`;
  await writeFile(`${reportBase}.json`, JSON.stringify({ metrics, provenance, fields: evaluation.fields, treatments: evaluation.treatments.map((t) => ({ ...t, probabilities: Array.from(t.probabilities) })) }, null, 1));
  await writeFile(
    `${reportBase}.html`,
    reportHtml({ title: `MoA Lens training report: ${name}`, classes: MOA_CLASSES, fieldScores: evaluation.fieldScores, treatmentScores: evaluation.treatmentScores, history: result.history, facts: { split: data.split.name, steps: result.steps, 'field accuracy': metrics.fieldAccuracy, 'treatment accuracy': metrics.treatmentAccuracy, 'quantisation agreement': agreement } }),
  );
  log(`exported ${config.out} (${q.dtype}, ${(q.bytes / 1e6).toFixed(2)} MB of weights); report ${reportBase}.html`);
}
world.barrier('end');
world.finalize();
