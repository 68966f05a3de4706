// Reference points for a model trained on the simulator: the strongest simple baseline (logistic regression on 30
// global per-channel statistics of each field) and the hidden-parameter oracle (logistic regression on the
// phenotype parameters the simulator drew each treatment from: the ceiling no image model can pass).
// Run on a written dataset: npx tsx training/src/simulate/baselines.ts --data <dir> --seed <S> [--split grouped --folds 3 --fold 0]

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { classIndex, DMSO, MOA_CLASSES, type MoaClass } from '../../../src/core/labels.ts';
import { treatmentKey } from '../../../src/core/metadata.ts';
import { BBBC021_METADATA_DIR } from '../bbbc021-metadata.ts';
import { chooseSplit, loadDatasetIndex, loadFieldPlanes, SPLIT_KINDS, type Sample, type Split, type SplitKind } from '../data/index.ts';
import { ConfigError, runCli } from '../util/cli.ts';
import { argmax } from '../../../src/core/aggregate.ts';
import { fitLogisticHead, headProbabilities, type HeadExample, type LinearHead } from '../../../src/core/logistic-head.ts';
import { compoundSignatures, readMetadataTables, type MetadataTables } from './dataset-writer.ts';
import { DMSO_PHENOTYPE, treatmentPhenotype, type Phenotype, type PhenotypeKey } from './phenotypes.ts';

/** Quantile levels of the global statistics (with log mean and log standard deviation: 10 per channel). */
const STATISTIC_QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999];

/**
 * 30 global per-channel statistics of a field of 16-bit planes: per channel the log of the mean, of the standard
 * deviation and of eight pixel quantiles (1, 5, 25, 50, 75, 95, 99, 99.9%).
 */
export function globalChannelStatistics(planes: readonly { data: ArrayLike<number> }[]): number[] {
  const out: number[] = [];
  for (const { data } of planes) {
    const histogram = new Float64Array(65536);
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < data.length; i++) {
      const v = Math.min(65535, Math.max(0, Math.round(data[i])));
      histogram[v]++;
      sum += v;
      sumSq += v * v;
    }
    const n = data.length;
    const mean = sum / n;
    out.push(Math.log1p(mean), Math.log1p(Math.sqrt(Math.max(0, sumSq / n - mean * mean))));
    let seen = 0;
    let level = 0;
    for (let v = 0; v < histogram.length && level < STATISTIC_QUANTILES.length; v++) {
      seen += histogram[v];
      while (level < STATISTIC_QUANTILES.length && seen > STATISTIC_QUANTILES[level] * (n - 1)) {
        out.push(Math.log1p(v));
        level++;
      }
    }
  }
  return out;
}

export interface SplitAccuracy {
  fields: number;
  fieldAccuracy: number;
  /** Treatments (compound + concentration, DMSO one treatment) of the held-out fields: mean probabilities, then argmax. */
  treatments: number;
  treatmentAccuracy: number;
}

/** Inverse class frequency over the given samples, one weight per sample. */
function inverseFrequencyWeights(labels: readonly number[]): number[] {
  const counts = new Map<number, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  return labels.map((l) => labels.length / (counts.size * counts.get(l)!));
}

/** Class-balanced multinomial logistic regression (the core's head fit, L2 1e-3) on feature rows. */
function fitBalanced(rows: readonly { features: readonly number[]; label: number; compound: string; treatment: string }[]): LinearHead {
  const weights = inverseFrequencyWeights(rows.map((r) => r.label));
  const examples: HeadExample[] = rows.map((r, i) => ({ ...r, weight: weights[i] }));
  return fitLogisticHead(examples, MOA_CLASSES.length, { l2: 1e-3, maxIterations: 300 });
}

/** Logistic regression on per-field features: trained on split.train (class-balanced), scored on split.test. */
export function logisticBaseline(samples: readonly Sample[], features: readonly (readonly number[])[], split: Split): SplitAccuracy {
  const model = fitBalanced(split.train.map((i) => ({ features: features[i], label: samples[i].label, compound: samples[i].compound, treatment: treatmentKey(samples[i].compound, samples[i].concentration) })));
  let correct = 0;
  const byTreatment = new Map<string, { label: number; sum: Float64Array }>();
  for (const i of split.test) {
    const p = headProbabilities(model, features[i]);
    if (argmax(p) === samples[i].label) correct++;
    const key = treatmentKey(samples[i].compound, samples[i].concentration);
    const entry = byTreatment.get(key) ?? { label: samples[i].label, sum: new Float64Array(p.length) };
    p.forEach((v, k) => (entry.sum[k] += v));
    byTreatment.set(key, entry);
  }
  const treatmentCorrect = [...byTreatment.values()].filter((t) => argmax(t.sum) === t.label).length;
  return { fields: split.test.length, fieldAccuracy: correct / split.test.length, treatments: byTreatment.size, treatmentAccuracy: treatmentCorrect / byTreatment.size };
}

/** A treatment as the simulator draws it: its mean phenotype parameters. */
export interface HiddenTreatment {
  compound: string;
  moa: MoaClass;
  concentration: number;
  parameters: number[];
}

/** The labelled treatments of the metadata (DMSO included) with the phenotype the simulator renders them from. */
export function hiddenTreatments(tables: MetadataTables, seed: number): HiddenTreatment[] {
  const signatures = compoundSignatures(tables, seed);
  const keys = Object.keys(DMSO_PHENOTYPE) as PhenotypeKey[];
  const vector = (p: Phenotype) => keys.map((k) => p[k]);
  return tables.moaRows.map((r) => ({ compound: r.compound, moa: r.moa, concentration: r.concentration, parameters: vector(treatmentPhenotype(signatures.get(r.compound)!, r.concentration)) }));
}

export interface OracleResult {
  /** Non-DMSO treatments of the held-out compounds classified from their hidden parameters. */
  treatments: number;
  treatmentAccuracy: number;
  /** The highest dose of each held-out compound. */
  topDoses: number;
  topDoseCorrect: number;
}

/**
 * The hidden-parameter oracle: for each group of held-out compounds, logistic regression on the phenotype
 * parameters of all other treatments (DMSO always in training) classifies the held-out treatments. Default groups:
 * leave-one-compound-out.
 */
export function hiddenParameterOracle(treatments: readonly HiddenTreatment[], heldOutGroups?: readonly (readonly string[])[]): OracleResult {
  const compounds = [...new Set(treatments.filter((t) => t.moa !== DMSO).map((t) => t.compound))].sort();
  const groups = heldOutGroups ?? compounds.map((c) => [c]);
  let correct = 0;
  let total = 0;
  let topDoseCorrect = 0;
  let topDoses = 0;
  for (const group of groups) {
    const held = new Set(group);
    const train = treatments.filter((t) => !held.has(t.compound));
    const model = fitBalanced(train.map((t) => ({ features: t.parameters, label: classIndex(t.moa), compound: t.compound, treatment: treatmentKey(t.compound, t.concentration) })));
    for (const compound of group) {
      const own = treatments.filter((t) => t.compound === compound && t.moa !== DMSO);
      if (own.length === 0) continue;
      const top = own.reduce((a, b) => (b.concentration > a.concentration ? b : a));
      for (const t of own) {
        const ok = argmax(headProbabilities(model, t.parameters)) === classIndex(t.moa);
        correct += ok ? 1 : 0;
        total++;
        if (t === top) {
          topDoseCorrect += ok ? 1 : 0;
          topDoses++;
        }
      }
    }
  }
  return { treatments: total, treatmentAccuracy: correct / total, topDoses, topDoseCorrect };
}

async function main(argv: string[]): Promise<void> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new ConfigError(`Usage: baselines.ts --data <dir> --seed <S> [--split grouped|loco|nscb|random] [--folds K] [--fold F] [--metadata <dir>] (at "${argv[i]}")`);
    flags.set(argv[i].slice(2), argv[i + 1]);
  }
  const data = flags.get('data');
  if (!data) throw new ConfigError('--data <dir> (a simulated dataset) is required');
  const seed = Number(flags.get('seed') ?? 0);
  const splitKind = (flags.get('split') ?? 'grouped') as SplitKind;
  if (!SPLIT_KINDS.includes(splitKind)) throw new ConfigError(`--split is one of ${SPLIT_KINDS.join(', ')}`);
  const choice = { split: splitKind, folds: Number(flags.get('folds') ?? 3), fold: Number(flags.get('fold') ?? 0), seed };
  const started = performance.now();
  const index = await loadDatasetIndex(data);
  const split = chooseSplit(index.samples, choice);
  const features: number[][] = [];
  for (const sample of index.samples) features.push(globalChannelStatistics(await loadFieldPlanes(sample)));
  const baseline = logisticBaseline(index.samples, features, split);
  const tables = await readMetadataTables(flags.get('metadata') ?? BBBC021_METADATA_DIR);
  const treatments = hiddenTreatments(tables, seed).filter((t) => index.samples.some((s) => s.compound === t.compound));
  const heldOut = [...new Set(split.test.map((i) => index.samples[i].compound).filter((c) => c !== DMSO))];
  const oracleOnSplit = hiddenParameterOracle(treatments, [heldOut]);
  const oracleLoco = hiddenParameterOracle(treatments);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  console.log(`${data}: ${index.samples.length} fields, split ${split.name} (${split.train.length} train, ${split.test.length} held out)`);
  console.log(`logistic regression on 30 global per-channel statistics: ${pct(baseline.fieldAccuracy)} of ${baseline.fields} held-out fields, ${pct(baseline.treatmentAccuracy)} of ${baseline.treatments} treatments`);
  console.log(`hidden-parameter oracle, this split: ${pct(oracleOnSplit.treatmentAccuracy)} of ${oracleOnSplit.treatments} held-out treatments, top doses ${oracleOnSplit.topDoseCorrect}/${oracleOnSplit.topDoses}`);
  console.log(`hidden-parameter oracle, leave-one-compound-out: ${pct(oracleLoco.treatmentAccuracy)} of ${oracleLoco.treatments} treatments, top doses ${oracleLoco.topDoseCorrect}/${oracleLoco.topDoses}`);
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runCli('baselines', main);
}
