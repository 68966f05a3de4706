// Result rows of a run: fields joined with their metadata and predictions, treatments, accuracy.
import { aggregateTreatments, score, type Scores } from '../../core/aggregate.ts';
import { treatmentKey } from '../../core/metadata.ts';
import type { ClassProbability, FieldResult, OodResult, TileLayout } from '../../engine/index.ts';

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
  /** The bundle's out-of-distribution check on this field; absent when the bundle has none. */
  ood?: OodResult;
}

/** A classified field whose features are unlike the training data: shown without a mechanism, set apart from calls and accuracy. */
export function isUnlike(row: FieldRow): boolean {
  return row.status === 'ok' && row.ood?.unlike === true;
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
    ood: result.ood,
  };
}

export interface TreatmentRow {
  key: string;
  compound: string;
  concentration: number;
  /** Fields averaged (classified and like the training data). */
  fields: number;
  /** Classified fields of the treatment set apart as unlike the training data (not averaged). */
  setApart: number;
  probabilities: Float32Array;
  predicted: number;
  predictedLabel: string;
  confidence: number;
  label?: number;
  correct?: boolean;
  /** Wells the treatment's fields came from, "plate/well". */
  wells: string[];
}

/** Classified fields with a treatment (compound and concentration known). */
function treatedFields(rows: readonly FieldRow[]): FieldRow[] {
  return rows.filter((r) => r.status === 'ok' && r.compound !== undefined && r.concentration !== undefined && r.probabilities);
}

/**
 * Per treatment (compound + concentration): mean of the probabilities of its classified fields that are like the
 * training data, then argmax. Fields unlike it are counted in `setApart`; a treatment with no other field gets no
 * row (no call): setApartCounts counts those.
 */
export function treatmentRows(rows: FieldRow[], classes: readonly string[]): TreatmentRow[] {
  const treated = treatedFields(rows);
  const ok = treated.filter((r) => !isUnlike(r));
  const info = new Map<string, { compound: string; concentration: number; wells: Set<string>; setApart: number }>();
  for (const r of treated) {
    const key = treatmentKey(r.compound!, r.concentration!);
    const t = info.get(key) ?? { compound: r.compound!, concentration: r.concentration!, wells: new Set<string>(), setApart: 0 };
    if (isUnlike(r)) t.setApart++;
    else t.wells.add(`${r.plate}/${r.well}`);
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
        setApart: i.setApart,
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

/** What the OOD check set apart: fields unlike the training data, and treatments left with no other field (no call). */
export interface SetApart {
  fields: number;
  /** Of those, fields with a known mechanism (left out of the accuracy). */
  labelledFields: number;
  treatments: number;
  labelledTreatments: number;
}

export function setApartCounts(rows: readonly FieldRow[], treatments: readonly TreatmentRow[]): SetApart {
  const unlike = rows.filter(isUnlike);
  const called = new Set(treatments.map((t) => t.key));
  const uncalled = new Map<string, boolean>();
  for (const r of treatedFields(unlike)) {
    const key = treatmentKey(r.compound!, r.concentration!);
    if (!called.has(key)) uncalled.set(key, r.label !== undefined);
  }
  return {
    fields: unlike.length,
    labelledFields: unlike.filter((r) => r.label !== undefined).length,
    treatments: uncalled.size,
    labelledTreatments: [...uncalled.values()].filter(Boolean).length,
  };
}

/** The OOD score against the threshold, in words, for a row that has one. */
export function oodTitle(row: FieldRow): string {
  if (!row.ood) return '';
  const score = Number.isFinite(row.ood.score) ? row.ood.score.toPrecision(3) : 'infinite';
  return `OOD score ${score} ${row.ood.unlike ? 'above' : 'within'} the model's threshold ${row.ood.threshold.toPrecision(3)} (distance of the field's features to the training data).`;
}

/** One plain sentence on what was set apart, or '' when nothing was. */
export function setApartSentence(s: SetApart): string {
  if (s.fields === 0) return '';
  const fields = s.fields === 1 ? '1 field is' : `${s.fields} fields are`;
  const treatments = s.treatments === 0 ? '' : ` ${s.treatments === 1 ? '1 treatment has' : `${s.treatments} treatments have`} no other field and get no call.`;
  return `${fields} unlike the training data: shown without a mechanism (open the row to see it anyway) and left out of the treatment calls and the accuracy.${treatments}`;
}

export interface RunScores {
  fields: Scores;
  treatments: Scores;
  /** Left out of both scores as unlike the training data. */
  setApart: SetApart;
}

/** Accuracy and confusion per field and per treatment, over whatever has ground truth and is like the training data. */
export function runScores(rows: FieldRow[], treatments: TreatmentRow[], classes: number): RunScores {
  const fieldItems = rows.filter((r) => r.status === 'ok' && !isUnlike(r)).map((r) => ({ predicted: r.predicted!, label: r.label }));
  return { fields: score(fieldItems, classes), treatments: score(treatments, classes), setApart: setApartCounts(rows, treatments) };
}

/** Counts for the summary line. */
export function runCounts(rows: FieldRow[]): { total: number; ok: number; failed: number; pending: number; unlike: number } {
  let ok = 0;
  let failed = 0;
  let unlike = 0;
  for (const r of rows) {
    if (r.status === 'ok') ok++;
    else if (r.status === 'failed') failed++;
    if (isUnlike(r)) unlike++;
  }
  return { total: rows.length, ok, failed, pending: rows.length - ok - failed, unlike };
}
