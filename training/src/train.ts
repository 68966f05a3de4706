// `npm run train`: M-CNN on a BBBC021-layout root. data -> model -> loop -> eval -> export, one process or one MPI rank.
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildMcnn } from '../../src/core/mcnn.ts';
import { MOA_CLASSES } from '../../src/core/labels.ts';
import { binnedSize } from '../../src/core/preprocess.ts';
import { tileField } from '../../src/core/tiling.ts';
import { parseTrainArgs, recipeBase, USAGE, validateTrainConfig } from './train/config.ts';
import { describeRecipe } from './train/recipe.ts';
import { checkTrainPaths } from './train/paths.ts';
import { createWorld } from './train/world.ts';
import { prepareData } from './train/data.ts';
import { trainModel } from './train/loop.ts';
import { StepWatchdog, watchdogSettings } from './train/watchdog.ts';
import { formatSeconds } from './util/format.ts';
import { EXIT, exitCodesHelp, runCli } from './util/cli.ts';
import { selectBackend } from './backend/select.ts';
import { evaluateAndExport } from './export/finish.ts';
import { classCounts } from './data/index.ts';

const HELP = `${USAGE}
  --verbose                    on failure, print the stack trace too
Under MPI the watchdog ends a job whose collective waits too long: 600 s until 3 steps are measured, then
10 x the slowest of them, at least 60 s (MOA_WATCHDOG_STARTUP_MS, MOA_WATCHDOG_FACTOR, MOA_WATCHDOG_MIN_MS,
MOA_WATCHDOG_STEPS; MOA_MPI_TIMEOUT_MS sets one fixed limit instead).

${exitCodesHelp([EXIT.usage, EXIT.data, EXIT.diverged, EXIT.mpi, EXIT.watchdog])}`;

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help')) {
    console.log(HELP);
    return;
  }
  // --- settings (fail before any work; every rank checks the same things, rank 0 alone would leave the others waiting) ---
  const watchdog = new StepWatchdog(watchdogSettings());
  const world = await createWorld();
  const config = validateTrainConfig(parseTrainArgs(argv), world.size);
  checkTrainPaths(config);
  const isRoot = world.rank === 0;
  const log = (line: string) => isRoot && console.log(line);
  log(`world: ${world.describe()}`);
  log(describeRecipe(config, recipeBase(config.recipe)));
  if (world.size > 1) log(watchdog.describe());
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
  for (const s of data.report.failures) log(`  skipped ${s.fieldId}: ${s.file}: ${s.reason} (unreadable)`);

  // --- model ---
  const model = buildMcnn({ height: config.inputHeight, width: config.inputWidth, classes: MOA_CLASSES.length, widthMultiplier: config.widthMultiplier, seed: config.seed });
  log(`model: M-CNN ${config.inputHeight}x${config.inputWidth}x3, width x${config.widthMultiplier}, ${model.countParams().toLocaleString('en')} parameters; global batch ${config.globalBatch} = ${world.size} x ${config.batchPerRank}`);

  // --- loop ---
  const result = await trainModel(model, data, config, world, log, watchdog);
  log(`trained ${result.steps} steps in ${formatSeconds(result.seconds)}; ${result.report.summary()}`);

  // --- eval + export (rank 0) ---
  if (isRoot) await evaluateAndExport({ model, data, config, history: result.history, steps: result.steps, seconds: result.seconds, worldSize: world.size, command: process.env.MOA_TRAIN_COMMAND || `npm run train -- ${argv.join(' ')}`, log });
  // The other ranks wait here while rank 0 evaluates the held-out fields twice (float and quantised) and the training
  // fields once (the OOD statistics), tile by tile: in step-times, about (2 x held-out + training) tiles / batch per
  // rank (a forward pass is cheaper than a step; the factor covers the rest).
  const binned = binnedSize(data.fieldSize.height, data.fieldSize.width, data.spec.binning);
  const tiles = tileField(binned.height, binned.width, config.inputHeight, config.inputWidth).tiles.length;
  world.barrier('end', result.watchdog.phaseLimitMs(Math.ceil(((2 * data.split.test.length + data.split.train.length) * tiles) / config.batchPerRank)));
  world.finalize();
}

await runCli('train', main);
