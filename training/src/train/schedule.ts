// Learning-rate schedule: linear scaling rule with gradual warm-up (Goyal et al. 2017), then decay.

export interface ScheduleConfig {
  /** Learning rate at the reference batch size. */
  baseLr: number;
  /** Batch size baseLr was tuned for; the peak is baseLr * globalBatch / baseBatch. */
  baseBatch: number;
  globalBatch: number;
  /** Linear warm-up from baseLr to the peak over this many epochs (fractional allowed). */
  warmupEpochs: number;
  /** Decay from the peak to finalLr by the end of training. */
  decay: 'cosine' | 'linear' | 'none';
  finalLr: number;
  epochs: number;
}

/** The Intel/Novartis 2018 schedule: batch 8 at 0.001, warm-up over 5 epochs, linear decay to 0.0001 by epoch 20. */
export const SCHEDULE_2018: Omit<ScheduleConfig, 'globalBatch'> = {
  baseLr: 0.001,
  baseBatch: 8,
  warmupEpochs: 5,
  decay: 'linear',
  finalLr: 0.0001,
  epochs: 20,
};

export function peakLr(c: ScheduleConfig): number {
  return (c.baseLr * c.globalBatch) / c.baseBatch;
}

/** Learning rate at a (fractional) epoch position. */
export function learningRate(c: ScheduleConfig, epoch: number): number {
  const peak = peakLr(c);
  if (epoch < c.warmupEpochs) return c.baseLr + ((peak - c.baseLr) * epoch) / c.warmupEpochs;
  if (c.decay === 'none' || c.epochs <= c.warmupEpochs) return peak;
  const t = Math.min(1, (epoch - c.warmupEpochs) / (c.epochs - c.warmupEpochs));
  const shape = c.decay === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * t)) : 1 - t;
  return c.finalLr + (peak - c.finalLr) * shape;
}
