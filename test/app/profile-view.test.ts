import { describe, expect, it } from 'vitest';
import { MOA_CLASSES } from '../../src/core/labels.ts';
import { parseCsv } from '../../src/core/metadata.ts';
import { firstFieldOf, mapExports, nearestMoaByTreatment, profileAnalysis } from '../../src/app/state/profile-view.ts';
import { treatmentRows, type FieldRow } from '../../src/app/state/results.ts';
import { Rng } from '../../training/src/util/prng.ts';

const classes = [...MOA_CLASSES];

/** Fields of 3 classes x 2 compounds x 2 doses x 2 sites on 2 plates, plus DMSO: features = class direction + noise; the classifier calls the class. */
function run(seed: number, withTruth = true): FieldRow[] {
  const rng = new Rng(seed);
  const d = 16;
  const centres = [0, 1, 2].map(() => Array.from({ length: d }, () => Math.max(0, rng.normal() + 1)));
  const rows: FieldRow[] = [];
  const add = (compound: string, concentration: number, centre: number[], plate: string, label: number | undefined, predicted: number) => {
    const probabilities = new Float32Array(classes.length).fill(0.02);
    probabilities[predicted] = 1 - 0.02 * (classes.length - 1);
    rows.push({
      id: `${plate}/${compound}/${concentration}/${rows.length}`, plate, well: `B0${rows.length % 9}`, site: 1, files: [], compound, concentration,
      moa: label === undefined ? undefined : classes[label], status: 'ok', label: withTruth ? label : undefined,
      predicted, predictedLabel: classes[predicted], confidence: probabilities[predicted], probabilities,
      features: Float32Array.from(centre, (v) => Math.max(0, v + 0.1 * rng.normal())),
    });
  };
  [0, 3, 5].forEach((cls, c) =>
    [0, 1].forEach((k) => [1, 3].forEach((dose) => ['Week1_1', 'Week2_1'].forEach((plate) => add(`compound-${c}-${k}`, dose, centres[c], plate, cls, cls))))
  );
  for (const plate of ['Week1_1', 'Week2_1']) for (let s = 0; s < 3; s++) add('DMSO', 0, centres[0].map(() => 1), plate, 12, 12);
  return rows;
}

describe('profile view', () => {
  it('maps treatments, lends each the MoA of its nearest other compound, and is the same every time', () => {
    const rows = run(1);
    const treatments = treatmentRows(rows, classes);
    const a = profileAnalysis(rows, treatments)!;
    expect(a.treatments).toHaveLength(13);
    expect(a.controls.every((c) => c.source === 'plate')).toBe(true);
    expect(a.points.filter((p) => p.control).map((p) => p.key)).toEqual(['DMSO@0']);
    for (const p of a.points) {
      expect(p.x).toBeGreaterThanOrEqual(0);
      expect(p.x).toBeLessThanOrEqual(1);
    }
    expect(a.nsc).toMatchObject({ n: 12, correct: 12 });
    const nearest = nearestMoaByTreatment(a);
    expect(nearest.size).toBe(12);
    const nn = nearest.get('compound-1-0@3')!;
    expect(nn.compound).toBe('compound-1-1');
    expect(nn.moa).toBe(3);
    expect(nn.source).toBe('truth');
    const again = profileAnalysis(run(1), treatmentRows(run(1), classes))!;
    expect(again.points).toEqual(a.points);
    expect(again.clustering).toEqual(a.clustering);
  });

  it('without ground truth the neighbours lend their calls; with one treatment there is no map', () => {
    const rows = run(2, false);
    const a = profileAnalysis(rows, treatmentRows(rows, classes))!;
    expect(a.neighbourLabels).toBe('predicted');
    expect(a.nsc.n).toBe(0);
    expect(nearestMoaByTreatment(a).get('compound-2-1@1')?.moa).toBe(5);
    const one = rows.filter((r) => r.compound === 'compound-0-0' && r.concentration === 1);
    expect(profileAnalysis(one, treatmentRows(one, classes))).toBeNull();
    expect(firstFieldOf(rows, 'compound-0-1@3')).toBe(rows.find((r) => r.compound === 'compound-0-1' && r.concentration === 3)!.id);
  });

  it('exports the map and heat map as SVG and the profiles as CSV', () => {
    const rows = run(3);
    const a = profileAnalysis(rows, treatmentRows(rows, classes), { summary: 'median', normalise: false })!;
    const files = mapExports(a, classes, 'truth', 'mcnn-sim-v1 <demo>');
    expect(files.map.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(files.map.match(/<circle cx=/g)).toHaveLength(12 + 4); // 12 treatments + 3 classes and DMSO in the legend
    expect(files.map.match(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[\d.]+" fill="#BBBBBB" stroke="black"/g)).toHaveLength(1); // DMSO, a square
    expect(files.map).toContain('&lt;demo&gt;');
    expect(files.map).toContain('Eg5 inhibitors');
    expect(files.heatmap.match(/<rect x="\d+" y="\d+" width="(\d+)" height="\1" fill="#[0-9a-f]{6}"\/>/g)!.length).toBe(13 * 13); // square cells; the class bar is 8 wide
    const csv = parseCsv(files.csv);
    expect(csv).toHaveLength(14);
    expect(csv[0].slice(0, 5)).toEqual(['compound', 'concentration', 'fields', 'plates', 'true_moa']);
    expect(csv[0]).toContain('f15');
    const dmso = csv.find((r) => r[0] === 'DMSO')!;
    expect(dmso[2]).toBe('6');
    expect(dmso[7]).toBe(''); // controls get no neighbour
  });
});
