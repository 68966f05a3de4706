// The Map view's state: field rows -> the core profile analysis (treatment map, clustered heat map, NSC nearest
// neighbours), the nearest-neighbour MoA beside each treatment's call, and the pictures and CSV it exports.
import { DEFAULT_PROFILE_OPTIONS, analyseProfiles, heatmapSvg, mapSvg, type MapColouring, type ProfileAnalysis, type ProfileOptions } from '../../core/profile-map.ts';
import { treatmentProfilesCsv } from '../../core/profile-csv.ts';
import { treatmentKey } from '../../core/metadata.ts';
import type { FieldProfile } from '../../core/profiles.ts';
import type { FieldRow, TreatmentRow } from './results.ts';

/** Classified fields with features, compound and concentration, as profiles. */
export function fieldProfiles(rows: readonly FieldRow[]): FieldProfile[] {
  return rows.flatMap((r) =>
    r.status === 'ok' && r.features && r.compound !== undefined && r.concentration !== undefined
      ? [{ id: r.id, plate: r.plate, compound: r.compound, concentration: r.concentration, features: r.features, label: r.label }]
      : [],
  );
}

/** The analysis of a run's profiles, or null when fewer than two treatments have any. */
export function profileAnalysis(rows: readonly FieldRow[], treatments: readonly TreatmentRow[], options: ProfileOptions = DEFAULT_PROFILE_OPTIONS): ProfileAnalysis | null {
  const fields = fieldProfiles(rows);
  if (new Set(fields.map((f) => treatmentKey(f.compound, f.concentration))).size < 2) return null;
  const calls = new Map(treatments.map((t) => [t.key, { predicted: t.predicted, confidence: t.confidence }]));
  return analyseProfiles(fields, (key) => calls.get(key), options);
}

/** A treatment's nearest treatment of another compound and the MoA it lends. */
export interface NearestMoa {
  compound: string;
  concentration: number;
  /** The neighbour's class (ground truth, or its call when the run has no ground truth). */
  moa: number;
  source: ProfileAnalysis['neighbourLabels'];
  distance: number;
}

/** Per treatment key: its NSC nearest neighbour's MoA (controls and treatments without an allowed neighbour have none). */
export function nearestMoaByTreatment(analysis: ProfileAnalysis | null): Map<string, NearestMoa> {
  const out = new Map<string, NearestMoa>();
  if (!analysis) return out;
  for (const nn of analysis.neighbours.values()) {
    if (nn.neighbour === null || nn.predicted === undefined) continue;
    const ref = analysis.treatments[nn.neighbour];
    out.set(analysis.treatments[nn.treatment].key, { compound: ref.compound, concentration: ref.concentration, moa: nn.predicted, source: analysis.neighbourLabels, distance: nn.distance });
  }
  return out;
}

/** The first classified field of a treatment, to open from the map. */
export function firstFieldOf(rows: readonly FieldRow[], key: string): string | null {
  return rows.find((r) => r.status === 'ok' && r.compound !== undefined && r.concentration !== undefined && treatmentKey(r.compound, r.concentration) === key)?.id ?? null;
}

export interface MapPictures {
  map: string;
  heatmap: string;
  csv: string;
}

/** The map and heat map as SVG and the treatment profiles as CSV, for download. */
export function mapExports(analysis: ProfileAnalysis, classes: readonly string[], colourBy: MapColouring, runName: string): MapPictures {
  const normalised = analysis.options.normalise ? 'DMSO-normalised' : 'raw';
  return {
    map: mapSvg(analysis, { classes, colourBy, title: `Treatment profiles (${analysis.options.summary}, ${normalised}): ${runName}` }),
    heatmap: heatmapSvg(analysis, classes, `Cosine distance between treatment profiles, average-linkage order: ${runName}`),
    csv: treatmentProfilesCsv(analysis, classes),
  };
}
