// `npm run train`: M-CNN on a BBBC021-layout root. data -> model -> loop -> eval -> export, one process or one MPI rank.
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildMcnn } from '../../src/core/mcnn.ts';
import { MOA_CLASSES } from '../../src/core/labels.ts';
import { ConfigError, parseTrainArgs, USAGE, validateTrainConfig } from './train/config.ts';
import { createWorld } from './train/world.ts';
import { prepareData } from './train/data.ts';
import { trainModel } from './train/loop.ts';
import { formatSeconds } from './util/format.ts';
import { selectBackend } from './backend/select.ts';
import { evaluateAndExport } from './export/finish.ts';
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
// Threads: --threads, else MOA_THREADS (train:cluster sets it), else the cores this rank is bound to, else the
// machine's cores shared among the ranks (unbound ranks on one machine).
const boundToCores = os.availableParallelism() < os.cpus().length;
const threads = config.threads || Number(process.env.MOA_THREADS) || (boundToCores ? os.availableParallelism() : Math.max(1, Math.floor(os.availableParallelism() / world.size)));
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
if (isRoot) await evaluateAndExport({ model, data, config, history: result.history, steps: result.steps, seconds: result.seconds, worldSize: world.size, command: process.env.MOA_TRAIN_COMMAND || `npm run train -- ${argv.join(' ')}`, log });
world.barrier('end');
world.finalize();
