import { describe, expect, it } from 'vitest';
import {
  compareWithReal,
  CROP_SIZE,
  cropStatistics,
  cutCrop,
  formatRealismTable,
  largestAmong,
  otsuThreshold,
  sortedQuantile,
  spread,
  type Crop,
  type RealCropFigures,
} from '../../training/src/simulate/crop-statistics.ts';
import { globalChannelStatistics, hiddenParameterOracle, type HiddenTreatment } from '../../training/src/simulate/baselines.ts';
import { readRealFigures } from '../../training/src/simulate/realism-report.ts';
import { Rng } from '../../training/src/util/prng.ts';
import { argmax } from '../../src/core/aggregate.ts';
import { fitLogisticHead, headProbabilities } from '../../src/core/logistic-head.ts';

/** A crop with a disk (the nucleus) of the given radius at the centre: inside `inside`, outside `outside`, 12-bit steps. */
function diskCrop(radius: number, inside: number, outside: number, rng: Rng): Crop {
  const make = (scale: number) => {
    const plane = new Uint16Array(CROP_SIZE * CROP_SIZE);
    for (let y = 0; y < CROP_SIZE; y++) {
      for (let x = 0; x < CROP_SIZE; x++) {
        const r2 = (x + 0.5 - CROP_SIZE / 2) ** 2 + (y + 0.5 - CROP_SIZE / 2) ** 2;
        const value = (r2 < radius * radius ? inside : outside) * scale + rng.gaussian(0, 20);
        plane[y * CROP_SIZE + x] = Math.round(value / 16) * 16;
      }
    }
    return plane;
  };
  return [make(1), make(0.5), make(0.8)];
}

describe('crop statistics', () => {
  it('quantiles interpolate between order statistics; spreads give median and quartiles', () => {
    expect(sortedQuantile([10, 20, 30, 40, 50], 0.5)).toBe(30);
    expect(sortedQuantile([10, 20, 30, 40, 50], 0.1)).toBeCloseTo(14);
    expect(sortedQuantile([10, 20], 1)).toBe(20);
    expect(spread([5, 1, 4, 2, 3])).toEqual({ median: 3, q25: 2, q75: 4 });
    expect(() => sortedQuantile([], 0.5)).toThrow(/no values/);
  });

  it("Otsu's threshold splits two populations between their levels", () => {
    const values = [...new Array(300).fill(700), ...new Array(100).fill(4000)].map((v, i) => v + (i % 7) * 10);
    const t = otsuThreshold(values);
    expect(t).toBeGreaterThanOrEqual(760);
    expect(t).toBeLessThan(4000);
    expect(values.filter((v) => v > t)).toHaveLength(100);
    expect(otsuThreshold([5, 5, 5])).toBe(5);
  });

  it('measures a disk nucleus: area, equivalent radius, contrast, foreground, correlation and 12-bit steps', () => {
    const rng = new Rng(1);
    const stats = cropStatistics(Array.from({ length: 20 }, () => diskCrop(17, 4000, 720, rng)));
    expect(stats.crops).toBe(20);
    expect(Math.abs(stats.nucleusArea.median - Math.PI * 17 * 17)).toBeLessThan(30);
    expect(stats.nucleusEquivalentRadius).toBeCloseTo(17, 0);
    expect(stats.nucleusBackgroundRatio.median).toBeCloseTo(4000 / 720, 1);
    // pi 17^2 / 68^2 = 0.196 of the crop is nucleus, in every channel.
    for (const f of stats.foregroundFraction) expect(f).toBeCloseTo(0.196, 2);
    // The channels are the same picture at other levels: correlations near 1.
    for (const r of stats.correlation) expect(r).toBeGreaterThan(0.99);
    expect(stats.multipleOf16).toBe(1);
    expect(stats.background[0].median).toBeGreaterThan(640);
    expect(stats.background[0].median).toBeLessThan(720);
    expect(stats.bright[0].median).toBeGreaterThan(3950);
    // Pooled quantiles: most pixels are background, the top ones nucleus.
    expect(stats.pixelQuantiles[0][4]).toBeGreaterThan(650);
    expect(stats.pixelQuantiles[0][4]).toBeLessThan(800);
    expect(stats.pixelQuantiles[0][8]).toBeGreaterThan(3900);
  });

  it('rejects crops of the wrong size and an empty set', () => {
    expect(() => cropStatistics([[new Uint16Array(10), new Uint16Array(10), new Uint16Array(10)]])).toThrow(/68x68/);
    expect(() => cropStatistics([])).toThrow(/No crops/);
  });

  it('cuts crops inside the field only, with the right pixels', () => {
    const width = 100;
    const height = 80;
    const plane = Uint16Array.from({ length: width * height }, (_, i) => i % 65536);
    const crop = cutCrop([plane, plane, plane], width, height, 50, 40);
    expect(crop).not.toBeNull();
    // Top-left pixel of the crop is field pixel (16, 6).
    expect(crop![0][0]).toBe(6 * width + 16);
    expect(crop![2][CROP_SIZE * CROP_SIZE - 1]).toBe((6 + 67) * width + 16 + 67);
    expect(cutCrop([plane, plane, plane], width, height, 20, 40)).toBeNull();
    expect(cutCrop([plane, plane, plane], width, height, 50, 75)).toBeNull();
  });

  it('the largest value is taken over as many crops as the real set has: the median of consecutive groups\' maxima', () => {
    const maxima = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(largestAmong(maxima, 3)).toBe(6); // groups 1-3, 4-6, 7-9 (10 left over): maxima 3, 6, 9
    expect(largestAmong(maxima, 20)).toBe(10);
    const rng = new Rng(5);
    const crops = Array.from({ length: 4 }, () => diskCrop(17, 3700, 720, rng));
    const stats = cropStatistics(crops);
    expect(stats.cropMaxima).toEqual(crops.map((crop) => Math.max(...crop.flatMap((plane) => Array.from(plane)))));
  });

  it('compares with the vendored real figures: ratio, IQR and 20% rules, a table with a verdict per line', async () => {
    const real: RealCropFigures = await readRealFigures();
    expect(real.crops).toBe(1500);
    expect(real.pixelQuantiles.DNA).toEqual([624, 688, 736, 832, 992, 3392, 5984, 7984, 12752]);
    const rng = new Rng(2);
    const sim = cropStatistics(Array.from({ length: 10 }, () => diskCrop(17, 3700, 720, rng)));
    const rows = compareWithReal(sim, real);
    expect(rows).toHaveLength(44);
    const area = rows.find((r) => r.statistic.startsWith('nucleus area'))!;
    expect(area.realIqr).toEqual([820, 1054]);
    expect(area.withinIqr).toBe(true);
    expect(area.ratio).toBeCloseTo(sim.nucleusArea.median / 931, 5);
    const dnaBackground = rows.find((r) => r.statistic === 'DNA per-crop p1 (background), median')!;
    expect(dnaBackground.pass).toBe(dnaBackground.simulated >= 688 && dnaBackground.simulated <= 752 || Math.abs(dnaBackground.simulated - 720) <= 144);
    // Tubulin at half the DNA level is far from the real tubulin bright level: fails both rules.
    const tubulinBright = rows.find((r) => r.statistic === 'Tubulin per-crop p99.5 (bright), median')!;
    expect(tubulinBright.pass).toBe(false);
    const correlation = rows.find((r) => r.statistic === 'pixel correlation DNA-Tubulin')!;
    expect(correlation.withinAbsolute).toBe(false);
    const table = formatRealismTable(rows);
    expect(table.split('\n')).toHaveLength(46);
    expect(table).toMatch(/OFF/);
    expect(table).toMatch(/ok \(in IQR\)/);
    expect(table).toMatch(new RegExp(`${rows.filter((r) => r.pass).length} of 44 statistics`));
  });
});

describe('logistic regression and the baselines', () => {
  it("the baselines' class-balanced fit: example weights move the boundary towards the class that outnumbers", () => {
    // One feature, class 0 around -1 (90 fields) and class 1 around +1 (10 fields): unweighted, x = 0.3 is class 0;
    // weighted by inverse class frequency (as the baselines fit), the two classes count alike and x = 0.3 is class 1.
    const rng = new Rng(3);
    const examples = Array.from({ length: 100 }, (_, i) => {
      const label = i < 90 ? 0 : 1;
      return { features: [label === 0 ? -1 + rng.gaussian(0, 0.8) : 1 + rng.gaussian(0, 0.8)], label, compound: `c${i}`, treatment: `t${i}` };
    });
    const plain = fitLogisticHead(examples, 2);
    const balanced = fitLogisticHead(examples.map((e) => ({ ...e, weight: e.label === 0 ? 100 / (2 * 90) : 100 / (2 * 10) })), 2);
    expect(argmax(headProbabilities(plain, [0.3]))).toBe(0);
    expect(argmax(headProbabilities(balanced, [0.3]))).toBe(1);
    const p = headProbabilities(balanced, [4]);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(() => fitLogisticHead([{ ...examples[0], weight: 0 }], 2)).toThrow(/weights must be positive/);
  });

  it('computes 30 global statistics with quantiles in order', () => {
    const rng = new Rng(4);
    const plane = { data: Uint16Array.from({ length: 5000 }, () => Math.round(rng.uniform(500, 5000))) };
    const f = globalChannelStatistics([plane, plane, plane]);
    expect(f).toHaveLength(30);
    for (let k = 3; k < 10; k++) expect(f[k]).toBeGreaterThanOrEqual(f[k - 1]);
    expect(Math.expm1(f[0])).toBeCloseTo(2750, -2);
  });

  it('the oracle classifies held-out compounds from their hidden parameters, and fails where classes overlap', () => {
    const rng = new Rng(5);
    const make = (spreadOf: number) => {
      const treatments: HiddenTreatment[] = [{ compound: 'DMSO', moa: 'DMSO', concentration: 0, parameters: [0, 0] }];
      const classes = [['Actin disruptors', [3, 0]], ['Eg5 inhibitors', [0, 3]], ['DNA damage', [-3, 0]]] as const;
      for (const [moa, centre] of classes) {
        for (let c = 0; c < 4; c++) {
          const offset = [rng.gaussian(0, spreadOf), rng.gaussian(0, spreadOf)];
          for (const dose of [1, 3]) treatments.push({ compound: `${moa}-${c}`, moa, concentration: dose, parameters: [(centre[0] + offset[0]) * dose, (centre[1] + offset[1]) * dose] });
        }
      }
      return treatments;
    };
    const separable = hiddenParameterOracle(make(0.2));
    expect(separable.treatments).toBe(24);
    expect(separable.topDoses).toBe(12);
    expect(separable.topDoseCorrect).toBe(12);
    const mixed = hiddenParameterOracle(make(6));
    expect(mixed.treatmentAccuracy).toBeLessThan(separable.treatmentAccuracy);
  });
});
