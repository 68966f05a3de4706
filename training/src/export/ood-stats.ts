// The bundle's out-of-distribution check and pixel size, computed at export from the run's own split: class statistics
// of the training fields' features, the threshold from the held-out fields' scores (src/core/ood.ts).
import { OOD_METHOD, type ModelPixelSize, type OodSection } from '../../../src/core/bundle-format.ts';
import { chooseThreshold, encodeOodStats, fitOod, OOD_PASS_FRACTION, oodScore, oodVector, passRate } from '../../../src/core/ood.ts';
import type { EvaluatedField } from '../eval/evaluate.ts';
import { formatPercent } from '../util/format.ts';

/** The statistics file's name inside the bundle. */
export const OOD_FILE = 'ood-stats.bin';

/**
 * The pixel size assumed for BBBC021 and for the simulator's BBBC021-like fields: a 20x objective on the ImageXpress
 * Micro, whose CCD has 6.45 um pixels, gives 6.45 / 20 = 0.32 um per field pixel. The BBBC021 TIFFs do not state it.
 */
export const BBBC021_PIXEL_MICROMETRES = 0.32;
export const BBBC021_PIXEL_SOURCE = 'assumed: BBBC021 acquisition (ImageXpress Micro, 20x objective, 6.45 um camera pixels: 6.45 / 20 = 0.32 um); the training files state none';

/** The bundle's pixel size record for a model whose fields are binned `binning` times. */
export function modelPixelSize(binning: number, micrometres = BBBC021_PIXEL_MICROMETRES, source = BBBC021_PIXEL_SOURCE): ModelPixelSize {
  return { micrometres, binning, source };
}

export interface OodExport {
  section: OodSection;
  /** The statistics file's bytes (OOD_FILE). */
  bytes: Uint8Array;
  heldOutScores: number[];
  /** One line for the log. */
  summary: string;
}

/**
 * Fits the statistics to the training fields' features and chooses the threshold that at least OOD_PASS_FRACTION
 * of the held-out fields pass. Both lists come from the model as the bundle ships it (quantised weights).
 */
export function oodForBundle(training: readonly EvaluatedField[], heldOut: readonly EvaluatedField[], fitOn: { data: string; split: string }): OodExport {
  if (heldOut.length === 0) throw new Error(`the split ${fitOn.split} holds out no readable field; the OOD threshold is chosen on held-out fields.`);
  const vector = (f: EvaluatedField) => oodVector(f.features, f.inputStatistics);
  // Features and input statistics scored as independent blocks (see fitOod).
  const fit = fitOod(
    training.map((f) => ({ features: vector(f), label: f.label })),
    [training[0].features.length, training[0].inputStatistics.length],
  );
  const heldOutScores = heldOut.map((f) => oodScore(fit.stats, vector(f)));
  const threshold = chooseThreshold(heldOutScores, OOD_PASS_FRACTION);
  const heldOutPassed = heldOutScores.filter((s) => s <= threshold).length;
  const trainingPass = passRate(training.map((f) => oodScore(fit.stats, vector(f))), threshold);
  const section: OodSection = {
    method: OOD_METHOD,
    file: OOD_FILE,
    featureSize: fit.stats.featureSize,
    inputStatistics: training[0].inputStatistics.length,
    classes: fit.stats.classes,
    threshold,
    passFraction: OOD_PASS_FRACTION,
    shrinkage: fit.shrinkage,
    fitOn: { data: fitOn.data, split: fitOn.split, trainingFields: training.length, heldOutFields: heldOut.length, heldOutPassed },
  };
  const summary =
    `OOD check: tied-covariance Mahalanobis over ${training[0].features.length} features and ${training[0].inputStatistics.length} input statistics, ${fit.stats.classes.length} class means from ${training.length} training fields ` +
    `(Ledoit-Wolf shrinkage ${fit.shrinkage.toFixed(3)}); threshold ${threshold.toPrecision(4)} passes ${heldOutPassed} of ${heldOut.length} held-out fields ` +
    `(${formatPercent(heldOutPassed / heldOut.length)}) and ${formatPercent(trainingPass)} of the training fields`;
  return { section, bytes: encodeOodStats(fit.stats), heldOutScores, summary };
}
