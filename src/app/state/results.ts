// Result rows of a run: fields joined with their metadata and predictions, treatments, accuracy.
import { aggregateTreatments, score, type Scores } from '../../core/aggregate.ts';
import { treatmentKey } from '../../core/metadata.ts';
import type { ClassProbability, FieldResult, TileLayout } from '../../engine/index.ts';

/** What the app knows about a field before classifying it: where it sits and what was on it. */
export interface FieldInfo {
  id: string;
  /** What names the field for the user, whatever its file names say about plate and well: its file name without the channel part, or its one file's name. */
  name?: string;
  plate: string;
  well: string;
  /** Site (field number) inside the well; null when the file names do not say. */
  site: number | null;
  /** Paths of the field's files, for messages. */
  files: string[];
  compound?: string;
  concentration?: number;
  /** Ground-truth MoA name from the moa table, when known. */
  moa?: string;
}

export type FieldStatus = 'pending' | 'ok' | 'failed';

export interface FieldRow extends FieldInfo {
  status: FieldStatus;
  /** Predicted class index (bundle order), and its name and probability. */
  predicted?: number;
  predictedLabel?: string;
  confidence?: number;
  top3?: ClassProbability[];
  probabilities?: Float32Array;
  /** Per-tile probabilities and layout, for the heatmap. */
  tileProbabilities?: Float32Array;
  tiles?: TileLayout;
  /** The field's profile (the model's penultimate-layer features). */
  features?: Float32Array;
  /** Ground truth as a class index of the bundle, when the moa is one of its classes. */
  label?: number;
  correct?: boolean;
  /** Why the field failed, naming the file. */
  message?: string;
  notes?: string[];
  /** What makes the prediction doubtful (a blank channel...), each naming the file: shown on the row. */
  warnings?: string[];
}

export function pendingRow(info: FieldInfo, classes: readonly string[]): FieldRow {
  const label = info.moa === undefined ? -1 : classes.indexOf(info.moa);
  return { ...info, status: 'pending', label: label >= 0 ? label : undefined };
}

/** A row updated with the engine's result for it. */
export function applyResult(row: FieldRow, result: FieldResult): FieldRow {
  if (!result.ok) return { ...row, status: 'failed', message: result.message };
  return {
    ...row,
    status: 'ok',
    predicted: result.predicted,
    predictedLabel: result.predictedLabel,
    confidence: result.confidence,
    top3: result.top3,
    probabilities: result.probabilities,
    tileProbabilities: result.tileProbabilities,
    tiles: result.tiles,
    features: result.features,
    correct: row.label === undefined ? undefined : row.label === result.predicted,
    notes: result.notes,
    warnings: result.warnings,
  };
}

export interface TreatmentRow {
  key: string;
  compound: string;
  concentration: number;
  /** Fields averaged. */
  fields: number;
  probabilities: Float32Array;
  predicted: number;
  predictedLabel: string;
  confidence: number;
  label?: number;
  correct?: boolean;
  /** Wells the treatment's fields came from, "plate/well". */
  wells: string[];
}

/** Per treatment (compound + concentration): mean of its classified fields' probabilities, then argmax. */
export function treatmentRows(rows: FieldRow[], classes: readonly string[]): TreatmentRow[] {
  const ok = rows.filter((r) => r.status === 'ok' && r.compound !== undefined && r.concentration !== undefined && r.probabilities);
  const info = new Map<string, { compound: string; concentration: number; wells: Set<string> }>();
  for (const r of ok) {
    const key = treatmentKey(r.compound!, r.concentration!);
    const t = info.get(key) ?? { compound: r.compound!, concentration: r.concentration!, wells: new Set<string>() };
    t.wells.add(`${r.plate}/${r.well}`);
    info.set(key, t);
  }
  return aggregateTreatments(ok.map((r) => ({ treatment: treatmentKey(r.compound!, r.concentration!), probabilities: r.probabilities!, label: r.label }))).map(
    (t) => {
      const i = info.get(t.treatment)!;
      return {
        key: t.treatment,
        compound: i.compound,
        concentration: i.concentration,
        fields: t.fields,
        probabilities: t.probabilities,
        predicted: t.predicted,
        predictedLabel: classes[t.predicted] ?? String(t.predicted),
        confidence: t.probabilities[t.predicted],
        label: t.label,
        correct: t.label === undefined ? undefined : t.label === t.predicted,
        wells: [...i.wells].sort(),
      };
    },
  );
}

export interface RunScores {
  fields: Scores;
  treatments: Scores;
}

/** Accuracy and confusion per field and per treatment, over whatever has ground truth. */
export function runScores(rows: FieldRow[], treatments: TreatmentRow[], classes: number): RunScores {
  const fieldItems = rows.filter((r) => r.status === 'ok').map((r) => ({ predicted: r.predicted!, label: r.label }));
  return { fields: score(fieldItems, classes), treatments: score(treatments, classes) };
}

/** Counts for the summary line. */
export function runCounts(rows: FieldRow[]): { total: number; ok: number; failed: number; pending: number } {
  let ok = 0;
  let failed = 0;
  for (const r of rows) {
    if (r.status === 'ok') ok++;
    else if (r.status === 'failed') failed++;
  }
  return { total: rows.length, ok, failed, pending: rows.length - ok - failed };
}
