// Profiles as CSV, the same columns from the app's export and the trainer's `npm run profile`.
import { csvLine } from './csv.ts';
import type { ProfileAnalysis } from './profile-map.ts';
import type { FieldProfile } from './profiles.ts';

const featureHeaders = (width: number) => Array.from({ length: width }, (_, j) => `f${j}`);
const round = (x: number) => Math.round(x * 1e6) / 1e6;
const className = (classes: readonly string[], index: number | undefined) => (index === undefined ? undefined : (classes[index] ?? String(index)));

/** One row per field: where it came from, its true MoA, then its features f0..f(d-1). */
export function fieldProfilesCsv(fields: readonly FieldProfile[], classes: readonly string[]): string {
  const width = fields[0]?.features.length ?? 0;
  const lines = [csvLine(['field', 'plate', 'compound', 'concentration', 'true_moa', ...featureHeaders(width)])];
  for (const f of fields) lines.push(csvLine([f.id, f.plate, f.compound, f.concentration, className(classes, f.label), ...Array.from(f.features, round)]));
  return lines.join('\r\n') + '\r\n';
}

/** One row per treatment: the classifier's call, the NSC nearest neighbour and its MoA, map coordinates, then the profile. */
export function treatmentProfilesCsv(analysis: ProfileAnalysis, classes: readonly string[]): string {
  const width = analysis.treatments[0]?.features.length ?? 0;
  const header = ['compound', 'concentration', 'fields', 'plates', 'true_moa', 'predicted_moa', 'confidence', 'nn_compound', 'nn_concentration', `nn_moa_${analysis.neighbourLabels}`, 'nn_cosine_distance', 'map_x', 'map_y', 'cluster_order', ...featureHeaders(width)];
  const rank = new Map(analysis.clustering.order.map((i, r) => [i, r]));
  const lines = [csvLine(header)];
  analysis.treatments.forEach((t, i) => {
    const p = analysis.points[i];
    const nn = analysis.neighbours.get(i);
    const ref = nn?.neighbour === null || nn === undefined ? undefined : analysis.treatments[nn.neighbour];
    lines.push(
      csvLine([
        t.compound, t.concentration, t.fields, t.plates.join(';'), className(classes, t.label), className(classes, p.predicted), p.confidence === undefined ? undefined : round(p.confidence),
        ref?.compound, ref?.concentration, className(classes, nn?.predicted), ref ? round(nn!.distance) : undefined, round(p.x), round(p.y), rank.get(i), ...Array.from(t.features, round),
      ]),
    );
  });
  return lines.join('\r\n') + '\r\n';
}
