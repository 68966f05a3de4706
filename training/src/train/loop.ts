// The training loop: sharded batches, fused gradients averaged over ranks, momentum SGD, logs, checkpoints.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { appendFile } from 'node:fs/promises';
import { balancedEpochOrder, epochOrder, shardOrder, streamBatches, classWeights, type LoadReport } from '../data/index.ts';
import { DataError, DivergedError } from '../util/cli.ts';
import { formatSeconds } from '../util/format.ts';
import { deriveSeed, Rng } from '../util/prng.ts';
import { tileField, extractTile } from '../../../src/core/tiling.ts';
import type { TrainConfig } from './config.ts';
import type { TrainingData } from './data.ts';
import { learningRate, type ScheduleConfig } from './schedule.ts';
import { clipGlobalNorm, fanIn, MomentumSgd, parameterLayout, readFlat, writeFlat } from './optimizer.ts';
import { computeGradient, type StepBatch } from './step.ts';
import { latestCheckpoint, saveCheckpoint } from './checkpoint.ts';
import type { World } from './world.ts';
import { StepWatchdog, watchdogSettings } from './watchdog.ts';

export interface HistoryPoint {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  lr_x100: number;
  /** L2 norm of the averaged gradient before any clipping (--clip-grad-norm). */
  gradNorm: number;
  imagesPerSecond: number;
  [key: string]: number;
}

export interface TrainResult {
  steps: number;
  history: HistoryPoint[];
  report: LoadReport;
  seconds: number;
  /** The limits the collectives ran under; the end barrier asks it for rank 0's evaluation and export. */
  watchdog: StepWatchdog;
}

/**
 * Fits a preprocessed field to the model input: a random crop when larger, zero padding when smaller,
 * and random horizontal/vertical flips. Keyed by (seed, epoch, sample), not by rank, so the same global
 * batch gives the same gradient whatever the number of ranks. Without an rng (--no-augment): the centred
 * crop, no flips.
 */
export function augmentToInput(data: Float32Array, height: number, width: number, channels: number, input: { height: number; width: number }, rng: Rng | null, out: Float32Array): void {
  const grid = tileField(height, width, input.height, input.width);
  const offset = (size: number, crop: number) => (size > crop ? (rng ? rng.int(size - crop + 1) : Math.floor((size - crop) / 2)) : 0);
  const y = offset(height, input.height);
  const x = offset(width, input.width);
  const tile = { ...grid.tiles[0], y, x };
  extractTile({ height, width, channels, data }, grid, tile, out);
  if (!rng) return;
  const flipV = rng.chance(0.5);
  const flipH = rng.chance(0.5);
  if (!flipV && !flipH) return;
  const src = out.slice();
  const { height: h, width: w } = input;
  for (let r = 0; r < h; r++) {
    const sr = flipV ? h - 1 - r : r;
    for (let c = 0; c < w; c++) {
      const sc = flipH ? w - 1 - c : c;
      const d = (r * w + c) * channels;
      const s = (sr * w + sc) * channels;
      for (let k = 0; k < channels; k++) out[d + k] = src[s + k];
    }
  }
}

export async function trainModel(model: tfl.LayersModel, data: TrainingData, config: TrainConfig, world: World, log: (line: string) => void, watchdog = new StepWatchdog(watchdogSettings())): Promise<TrainResult> {
  const layout = parameterLayout(model.trainableWeights.map((w) => w.read() as tf.Variable));
  const optimizer = new MomentumSgd(layout, { momentum: config.momentum, nesterov: config.nesterov, weightDecay: config.weightDecay, fanInRateLimit: config.fanInRateLimit });
  optimizer.rateScales.forEach((scale, i) => {
    if (scale !== 1 && world.rank === 0) log(`${layout.variables[i].name}: fan-in ${fanIn(layout.variables[i].shape)} above --fan-in-rate-limit ${config.fanInRateLimit}: rate x ${scale.toPrecision(3)}`);
  });
  const b = config.batchPerRank;
  const trainIdx = data.split.train;
  const perRankPerEpoch = Math.ceil(trainIdx.length / world.size);
  const stepsPerEpoch = Math.ceil(perRankPerEpoch / b);
  const totalSteps = config.maxSteps ? Math.min(config.maxSteps, stepsPerEpoch * config.epochs) : stepsPerEpoch * config.epochs;
  const schedule: ScheduleConfig = { baseLr: config.baseLr, baseBatch: config.baseBatch, globalBatch: config.globalBatch, warmupEpochs: config.warmupEpochs, decay: config.decay, finalLr: config.finalLr, epochs: config.epochs };
  const weightsByClass = config.classWeighting === 'inverse-frequency' ? classWeights(data.samples, trainIdx) : null;
  const isRoot = world.rank === 0;

  // Rank 0's initial weights go to every rank; then resume (rank 0's checkpoint, broadcast) if asked.
  let step = 0;
  let history: HistoryPoint[] = [];
  const weights = await readFlat(layout);
  const velocity = new Float32Array(layout.total);
  const position = new Float32Array(1);
  if (config.resume && isRoot) {
    const found = await latestCheckpoint(config.checkpointDir, log);
    if (found) {
      weights.set(found.checkpoint.weights);
      velocity.set(found.checkpoint.velocity);
      step = found.checkpoint.step;
      history = found.checkpoint.history as HistoryPoint[];
      log(`resumed from ${found.file} at step ${step}`);
    } else log(`no checkpoint in ${config.checkpointDir}: starting from scratch`);
  }
  position[0] = step;
  const startLimit = watchdog.stepLimitMs();
  await world.broadcast(weights, 0, 'initial weights', startLimit);
  await world.broadcast(velocity, 0, 'initial velocity', startLimit);
  await world.broadcast(position, 0, 'resume step', startLimit);
  step = position[0];
  writeFlat(layout, weights);
  optimizer.loadVelocity(velocity);

  const report = data.report;
  const input = { height: config.inputHeight, width: config.inputWidth };
  const c = data.spec.channels.length;
  const tileSize = input.height * input.width * c;
  const started = performance.now();
  let imagesSince = 0;
  let timeSince = performance.now();
  const fused = new Float32Array(layout.total + 1); // gradient, then the loss: one allreduce per step
  let stepStarted = performance.now();

  while (step < totalSteps) {
    const epoch = Math.floor(step / stepsPerEpoch);
    const epochSamples = config.classWeighting === 'balanced-sampling' ? balancedEpochOrder(data.samples, trainIdx, epoch, config.seed) : epochOrder(trainIdx, epoch, config.seed);
    const order = shardOrder(epochSamples, world.rank, world.size, 'pad');
    const skip = step - epoch * stepsPerEpoch;
    const batches = streamBatches(data.samples, order.slice(skip * b), { batchSize: b, spec: data.spec, cache: data.cache, report });
    let batchesThisPass = 0;
    for await (const batch of batches) {
      batchesThisPass++;
      if (step >= totalSteps || Math.floor(step / stepsPerEpoch) !== epoch) break;
      const n = batch.size;
      const images = new Float32Array(n * tileSize);
      const sampleWeights = new Float32Array(n);
      const pixels = batch.height * batch.width * batch.channels;
      for (let k = 0; k < n; k++) {
        const sample = batch.sampleIndices[k];
        const rng = config.augment ? new Rng(deriveSeed(config.seed, 'augment', epoch, sample)) : null;
        augmentToInput(batch.x.subarray(k * pixels, (k + 1) * pixels), batch.height, batch.width, batch.channels, input, rng, images.subarray(k * tileSize, (k + 1) * tileSize));
        sampleWeights[k] = weightsByClass ? weightsByClass[batch.labels[k]] : 1;
      }
      const stepBatch: StepBatch = { images, labels: batch.labels, weights: sampleWeights, height: input.height, width: input.width, channels: c };
      const { loss } = await computeGradient(model, layout, stepBatch, config.labelSmoothing, fused.subarray(0, layout.total));
      fused[layout.total] = loss;
      await world.allreduceMean(fused, `step ${step + 1}`, watchdog.stepLimitMs());
      const reduced = performance.now();
      const limitSet = watchdog.recordStep(reduced - stepStarted);
      stepStarted = reduced;
      if (limitSet && world.size > 1) log(limitSet);
      const meanLoss = fused[layout.total];
      if (!Number.isFinite(meanLoss) || meanLoss > config.maxLoss)
        throw new DivergedError(`Training diverged at step ${step + 1}: loss ${meanLoss}. Lower --base-lr or check the data; resume from the last checkpoint with --resume.`);
      const epochPos = step / stepsPerEpoch;
      const lr = learningRate(schedule, epochPos);
      const gradNorm = clipGlobalNorm(fused.subarray(0, layout.total), config.clipGradNorm);
      optimizer.apply(fused.subarray(0, layout.total), lr);
      step++;
      imagesSince += n * world.size;

      if (isRoot) {
        const now = performance.now();
        const ips = (imagesSince * 1000) / (now - timeSince);
        const point: HistoryPoint = { step, epoch: step / stepsPerEpoch, loss: meanLoss, lr, lr_x100: lr * 100, gradNorm, imagesPerSecond: ips };
        history.push(point);
        if (step % 5 === 0 || step === totalSteps || step === 1) {
          const eta = ((totalSteps - step) * config.globalBatch) / Math.max(ips, 1e-9);
          log(`epoch ${(step / stepsPerEpoch).toFixed(2)}/${config.epochs} step ${step}/${totalSteps} loss ${meanLoss.toFixed(4)} lr ${lr.toExponential(2)} ${ips.toFixed(2)} img/s ETA ${formatSeconds(eta)}`);
          imagesSince = 0;
          timeSince = now;
        }
        await appendFile(config.log, JSON.stringify({ ...point, time: new Date().toISOString() }) + '\n');
        if (step % config.checkpointEvery === 0 || step === totalSteps) {
          await saveCheckpoint(config.checkpointDir, { step, epoch: Math.floor(step / stepsPerEpoch), stepInEpoch: step % stepsPerEpoch, rngState: config.seed, config: { ...config }, history, weights: await readFlat(layout), velocity: await optimizer.velocityFlat() }, config.keepCheckpoints);
        }
      }
    }
    // Every field of this rank's share unreadable: without this the loop would start the same epoch forever.
    if (batchesThisPass === 0 && step < totalSteps) {
      throw new DataError(`no readable field left for rank ${world.rank} in epoch ${epoch}: ${report.failures.length} fields skipped (${report.failures.slice(0, 3).map((f) => `${f.file}: ${f.reason}`).join('; ')})`);
    }
  }
  optimizer.dispose();
  return { steps: step, history, report, seconds: (performance.now() - started) / 1000, watchdog };
}
