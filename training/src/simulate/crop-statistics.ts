// Pixel statistics of cell-centred crops (three 16-bit channels), computed as for the real BBBC021 DMSO figures
// in training/data/real-stats/BBBC021-DMSO-crops.json, and their comparison with those figures.

/** Pooled pixel quantile levels of the real table (fractions). */
export const QUANTILE_LEVELS = [0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999] as const;
/** Side of a crop in pixels, and of the central window in which the nucleus area is counted. */
export const CROP_SIZE = 68;
export const NUCLEUS_WINDOW = 40;
export const CHANNEL_NAMES = ['DNA', 'Tubulin', 'Actin'] as const;

/** One crop: three planes of CROP_SIZE x CROP_SIZE raw values, row-major, DNA / Tubulin / Actin. */
export type Crop = readonly [Uint16Array, Uint16Array, Uint16Array];

/** Median and interquartile range over crops. */
export interface Spread {
  median: number;
  q25: number;
  q75: number;
}

export interface CropStatistics {
  crops: number;
  /** Per channel: quantiles of all pixels of all crops at QUANTILE_LEVELS. */
  pixelQuantiles: number[][];
  /** Per channel: the per-crop 1st percentile (background) and 99.5th percentile (bright), over crops. */
  background: Spread[];
  bright: Spread[];
  /** DNA pixels above the crop's Otsu threshold inside the central 40x40 window, over crops. */
  nucleusArea: Spread;
  /** sqrt(median nucleus area / pi). */
  nucleusEquivalentRadius: number;
  /** Median DNA above Otsu over median DNA at or below it, per crop, over crops. */
  nucleusBackgroundRatio: Spread;
  /** Per channel: median over crops of the fraction of the crop above its Otsu threshold. */
  foregroundFraction: number[];
  /** Pearson correlation of all pixels: DNA-Tubulin, DNA-Actin, Tubulin-Actin. */
  correlation: [number, number, number];
  /** Fraction of pixel values that are multiples of 16 (12-bit data shifted into 16 bits). */
  multipleOf16: number;
  /** Each crop's largest value, in the order the crops came: a maximum grows with the number of crops looked at. */
  cropMaxima: number[];
}

/** Quantile of sorted values with linear interpolation between order statistics (numpy's default). */
export function sortedQuantile(sorted: ArrayLike<number>, level: number): number {
  const n = sorted.length;
  if (n === 0) throw new Error('Quantile of no values');
  const position = level * (n - 1);
  const lo = Math.floor(position);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - lo);
}

/** Median and quartiles of a list of numbers. */
export function spread(values: readonly number[]): Spread {
  const sorted = Float64Array.from(values).sort();
  return { median: sortedQuantile(sorted, 0.5), q25: sortedQuantile(sorted, 0.25), q75: sortedQuantile(sorted, 0.75) };
}

/**
 * Otsu's threshold of a set of values: 256 equal bins between their minimum and maximum; the split between bins
 * that maximises the between-class variance, returned as the upper edge of the last background bin; values
 * strictly above it are foreground. A constant set returns its value.
 */
export function otsuThreshold(values: ArrayLike<number>): number {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < min) min = values[i];
    if (values[i] > max) max = values[i];
  }
  if (!(max > min)) return min;
  const bins = 256;
  const width = (max - min) / bins;
  const counts = new Float64Array(bins);
  for (let i = 0; i < values.length; i++) counts[Math.min(bins - 1, Math.floor((values[i] - min) / width))]++;
  const centre = (b: number) => min + (b + 0.5) * width;
  let total = 0;
  let totalSum = 0;
  for (let b = 0; b < bins; b++) {
    total += counts[b];
    totalSum += counts[b] * centre(b);
  }
  let weightLow = 0;
  let sumLow = 0;
  let best = 0;
  let bestVariance = -1;
  for (let b = 0; b < bins - 1; b++) {
    weightLow += counts[b];
    sumLow += counts[b] * centre(b);
    const weightHigh = total - weightLow;
    if (weightLow === 0 || weightHigh === 0) continue;
    const meanLow = sumLow / weightLow;
    const meanHigh = (totalSum - sumLow) / weightHigh;
    const variance = weightLow * weightHigh * (meanLow - meanHigh) ** 2;
    if (variance > bestVariance) [best, bestVariance] = [b, variance];
  }
  return min + (best + 1) * width;
}

/** Accumulates crops one at a time (memory: one 65,536-bin histogram per channel plus a few numbers per crop). */
export class CropStatisticsAccumulator {
  private readonly histograms = [0, 1, 2].map(() => new Float64Array(65536));
  private readonly background: number[][] = [[], [], []];
  private readonly bright: number[][] = [[], [], []];
  private readonly foreground: number[][] = [[], [], []];
  private readonly nucleusAreas: number[] = [];
  private readonly ratios: number[] = [];
  /** Sums for the pooled correlations: per channel sum and sum of squares, per pair the sum of products. */
  private readonly sums = new Float64Array(3);
  private readonly squares = new Float64Array(3);
  private readonly products = new Float64Array(3);
  private pixels = 0;
  private multiples = 0;
  private readonly cropMaxima: number[] = [];
  private count = 0;

  add(crop: Crop): void {
    const size = CROP_SIZE * CROP_SIZE;
    for (const plane of crop) {
      if (plane.length !== size) throw new Error(`A crop plane has ${plane.length} pixels, expected ${CROP_SIZE}x${CROP_SIZE} = ${size}`);
    }
    this.count++;
    const thresholds = crop.map((plane) => otsuThreshold(plane));
    let cropMax = 0;
    for (let c = 0; c < 3; c++) {
      const plane = crop[c];
      const histogram = this.histograms[c];
      let above = 0;
      for (let i = 0; i < size; i++) {
        const v = plane[i];
        histogram[v]++;
        if ((v & 15) === 0) this.multiples++;
        if (v > cropMax) cropMax = v;
        if (v > thresholds[c]) above++;
        this.sums[c] += v;
        this.squares[c] += v * v;
      }
      const sorted = Uint16Array.from(plane).sort();
      this.background[c].push(sortedQuantile(sorted, 0.01));
      this.bright[c].push(sortedQuantile(sorted, 0.995));
      this.foreground[c].push(above / size);
    }
    this.cropMaxima.push(cropMax);
    const [dna, tubulin, actin] = crop;
    for (let i = 0; i < size; i++) {
      this.products[0] += dna[i] * tubulin[i];
      this.products[1] += dna[i] * actin[i];
      this.products[2] += tubulin[i] * actin[i];
    }
    this.pixels += size;

    const threshold = thresholds[0];
    const start = (CROP_SIZE - NUCLEUS_WINDOW) / 2;
    let area = 0;
    for (let y = start; y < start + NUCLEUS_WINDOW; y++) {
      for (let x = start; x < start + NUCLEUS_WINDOW; x++) if (dna[y * CROP_SIZE + x] > threshold) area++;
    }
    this.nucleusAreas.push(area);
    const inside: number[] = [];
    const outside: number[] = [];
    for (let i = 0; i < size; i++) (dna[i] > threshold ? inside : outside).push(dna[i]);
    if (inside.length > 0 && outside.length > 0) {
      const median = (values: number[]) => sortedQuantile(Float64Array.from(values).sort(), 0.5);
      this.ratios.push(median(inside) / Math.max(1, median(outside)));
    }
  }

  result(): CropStatistics {
    if (this.count === 0) throw new Error('No crops were added');
    const pixelQuantiles = this.histograms.map((h) => QUANTILE_LEVELS.map((level) => histogramQuantile(h, this.pixels, level)));
    const n = this.pixels;
    const mean = [0, 1, 2].map((c) => this.sums[c] / n);
    const sd = [0, 1, 2].map((c) => Math.sqrt(Math.max(0, this.squares[c] / n - mean[c] ** 2)));
    const pearson = (k: number, a: number, b: number) => (this.products[k] / n - mean[a] * mean[b]) / (sd[a] * sd[b] || 1);
    const area = spread(this.nucleusAreas);
    return {
      crops: this.count,
      pixelQuantiles,
      background: this.background.map(spread),
      bright: this.bright.map(spread),
      nucleusArea: area,
      nucleusEquivalentRadius: Math.sqrt(area.median / Math.PI),
      nucleusBackgroundRatio: spread(this.ratios.length ? this.ratios : [0]),
      foregroundFraction: this.foreground.map((f) => spread(f).median),
      correlation: [pearson(0, 0, 1), pearson(1, 0, 2), pearson(2, 1, 2)],
      multipleOf16: this.multiples / (3 * n),
      cropMaxima: [...this.cropMaxima],
    };
  }
}

/**
 * The largest value seen in `groupSize` crops, as the real figure was seen in as many: the crops are cut into
 * consecutive groups of that size (consecutive crops share fields and plates, as the real ones share wells) and the
 * median of the groups' maxima is returned; fewer crops than one group give their maximum.
 */
export function largestAmong(cropMaxima: readonly number[], groupSize: number): number {
  const groups = Math.floor(cropMaxima.length / groupSize);
  if (groups === 0) return cropMaxima.reduce((a, b) => Math.max(a, b), 0);
  const maxima: number[] = [];
  for (let g = 0; g < groups; g++) maxima.push(cropMaxima.slice(g * groupSize, (g + 1) * groupSize).reduce((a, b) => Math.max(a, b), 0));
  return sortedQuantile(Float64Array.from(maxima).sort(), 0.5);
}

/** Statistics of a list of crops. */
export function cropStatistics(crops: Iterable<Crop>): CropStatistics {
  const accumulator = new CropStatisticsAccumulator();
  for (const crop of crops) accumulator.add(crop);
  return accumulator.result();
}

/** Quantile (linear interpolation between order statistics) of the values counted in a histogram of integers. */
function histogramQuantile(histogram: Float64Array, total: number, level: number): number {
  const position = level * (total - 1);
  const lo = Math.floor(position);
  const valueAt = (rank: number) => {
    let seen = 0;
    for (let v = 0; v < histogram.length; v++) {
      seen += histogram[v];
      if (seen > rank) return v;
    }
    return histogram.length - 1;
  };
  const a = valueAt(lo);
  const b = valueAt(Math.min(total - 1, lo + 1));
  return a + (b - a) * (position - lo);
}

/**
 * Cuts a CROP_SIZE crop centred on (x, y) from three planes of a field; null when it does not fit inside the
 * field (real crops come from segmented cells away from the edge).
 */
export function cutCrop(planes: readonly Uint16Array[], width: number, height: number, x: number, y: number): Crop | null {
  const x0 = Math.round(x) - CROP_SIZE / 2;
  const y0 = Math.round(y) - CROP_SIZE / 2;
  if (x0 < 0 || y0 < 0 || x0 + CROP_SIZE > width || y0 + CROP_SIZE > height) return null;
  const cut = (plane: Uint16Array) => {
    const out = new Uint16Array(CROP_SIZE * CROP_SIZE);
    for (let r = 0; r < CROP_SIZE; r++) out.set(plane.subarray((y0 + r) * width + x0, (y0 + r) * width + x0 + CROP_SIZE), r * CROP_SIZE);
    return out;
  };
  return [cut(planes[0]), cut(planes[1]), cut(planes[2])];
}

/** The real figures as vendored (training/data/real-stats/BBBC021-DMSO-crops.json). */
export interface RealCropFigures {
  source: string;
  provenance: string;
  crops: number;
  pixelQuantiles: Record<(typeof CHANNEL_NAMES)[number], number[]>;
  background: Record<(typeof CHANNEL_NAMES)[number], Spread>;
  bright: Record<(typeof CHANNEL_NAMES)[number], Spread>;
  nucleusArea: Spread;
  nucleusEquivalentRadius: number;
  nucleusBackgroundRatio: Spread;
  foregroundFraction: Record<(typeof CHANNEL_NAMES)[number], number>;
  correlation: { 'DNA-Tubulin': number; 'DNA-Actin': number; 'Tubulin-Actin': number };
  maxValue: number;
  valuesMultipleOf16: boolean;
}

/** One line of the comparison. */
export interface RealismRow {
  statistic: string;
  simulated: number;
  real: number;
  /** Real interquartile range where the table gives one. */
  realIqr?: [number, number];
  /** simulated / real (NaN when real is 0). */
  ratio: number;
  withinIqr: boolean;
  within20Percent: boolean;
  /** Correlations: within 0.1 of the real value (a relative band around a value near zero is empty). */
  withinAbsolute?: boolean;
  pass: boolean;
}

/** Compares simulated statistics with the real figures, statistic by statistic. */
export function compareWithReal(sim: CropStatistics, real: RealCropFigures): RealismRow[] {
  const rows: RealismRow[] = [];
  const add = (statistic: string, simulated: number, realValue: number, iqr?: [number, number], absolute?: number) => {
    const withinIqr = iqr ? simulated >= iqr[0] && simulated <= iqr[1] : false;
    const within20Percent = Math.abs(simulated - realValue) <= 0.2 * Math.abs(realValue);
    const withinAbsolute = absolute === undefined ? undefined : Math.abs(simulated - realValue) <= absolute;
    rows.push({
      statistic,
      simulated,
      real: realValue,
      realIqr: iqr,
      ratio: realValue === 0 ? NaN : simulated / realValue,
      withinIqr,
      within20Percent,
      withinAbsolute,
      pass: withinIqr || within20Percent || withinAbsolute === true,
    });
  };
  CHANNEL_NAMES.forEach((name, c) => {
    QUANTILE_LEVELS.forEach((level, k) => add(`${name} pixel p${+(level * 100).toFixed(1)}`, sim.pixelQuantiles[c][k], real.pixelQuantiles[name][k]));
  });
  CHANNEL_NAMES.forEach((name, c) => {
    const b = real.background[name];
    add(`${name} per-crop p1 (background), median`, sim.background[c].median, b.median, [b.q25, b.q75]);
    const h = real.bright[name];
    add(`${name} per-crop p99.5 (bright), median`, sim.bright[c].median, h.median, [h.q25, h.q75]);
  });
  const a = real.nucleusArea;
  add('nucleus area px (DNA > Otsu, central 40x40), median', sim.nucleusArea.median, a.median, [a.q25, a.q75]);
  add('nucleus equivalent radius px', sim.nucleusEquivalentRadius, real.nucleusEquivalentRadius);
  const r = real.nucleusBackgroundRatio;
  add('DNA nucleus/background ratio, median', sim.nucleusBackgroundRatio.median, r.median, [r.q25, r.q75]);
  CHANNEL_NAMES.forEach((name, c) => add(`${name} fraction above Otsu, median`, sim.foregroundFraction[c], real.foregroundFraction[name]));
  add('pixel correlation DNA-Tubulin', sim.correlation[0], real.correlation['DNA-Tubulin'], undefined, 0.1);
  add('pixel correlation DNA-Actin', sim.correlation[1], real.correlation['DNA-Actin'], undefined, 0.1);
  add('pixel correlation Tubulin-Actin', sim.correlation[2], real.correlation['Tubulin-Actin'], undefined, 0.1);
  add('values that are multiples of 16', sim.multipleOf16, real.valuesMultipleOf16 ? 1 : 0);
  add(`largest value among ${real.crops} crops (median of groups)`, largestAmong(sim.cropMaxima, real.crops), real.maxValue);
  return rows;
}

/** A fixed-width table of the comparison, one statistic a line, with a final count of passes. */
export function formatRealismTable(rows: readonly RealismRow[]): string {
  const number = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3));
  const lines = [
    `${'statistic'.padEnd(52)} ${'simulated'.padStart(10)} ${'real'.padStart(10)} ${'real IQR'.padStart(14)} ${'ratio'.padStart(6)}  verdict`,
  ];
  for (const row of rows) {
    const iqr = row.realIqr ? `${number(row.realIqr[0])}-${number(row.realIqr[1])}` : '';
    const verdict = row.withinIqr ? 'ok (in IQR)' : row.within20Percent ? 'ok (within 20%)' : row.withinAbsolute ? 'ok (within 0.1)' : 'OFF';
    lines.push(`${row.statistic.padEnd(52)} ${number(row.simulated).padStart(10)} ${number(row.real).padStart(10)} ${iqr.padStart(14)} ${(Number.isFinite(row.ratio) ? row.ratio.toFixed(2) : '-').padStart(6)}  ${verdict}`);
  }
  const passed = rows.filter((r) => r.pass).length;
  lines.push(`${passed} of ${rows.length} statistics within the real IQR or 20% of the real median (correlations: within 0.1).`);
  return lines.join('\n');
}
