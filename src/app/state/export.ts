// Exports of a run as CSV and JSON, per field and per treatment, each naming the model and its hash.
import { csvLine } from '../../core/csv.ts';
import { trainedOnSimulatedData } from '../../core/provenance.ts';
import type { LoadedBundle } from '../../engine/index.ts';
import type { RunScores, FieldRow, TreatmentRow } from './results.ts';

/** The model an export names. */
export interface ModelRef {
  name: string;
  /** sha256 of the bundle's moa-lens.json. */
  hash: string;
  trained: boolean;
  /** The bundle's provenance says it was trained on simulated data. */
  simulated?: boolean;
  /** Whether the bundle has an out-of-distribution check (absent: not known, e.g. no bundle). */
  oodCheck?: boolean;
}

/** The model an export and the results screen name, from the loaded bundle (none: 'none', untrained). */
export function modelRef(bundle: LoadedBundle | null | undefined): ModelRef {
  if (!bundle) return { name: 'none', hash: '', trained: false };
  return { name: bundle.name, hash: bundle.hash, trained: bundle.trained, simulated: trainedOnSimulatedData(bundle.metadata.provenance), oodCheck: bundle.metadata.ood !== undefined };
}

/** Probability columns are named p_<class>, spaces kept (quoted by csvCell when needed). */
function probHeaders(classes: readonly string[]): string[] {
  return classes.map((c) => `p_${c}`);
}

/** One channel name of the run and what it was used as (the review's channel mapping), exported with the results. */
export interface ChannelUse {
  token: string;
  files: number;
  /** DNA, Tubulin or Actin; null: not used. */
  channel: string | null;
  assignedBy: string;
}

/** The CSV's first line when the run had channel names: "# channel mapping: w1 = DNA (3 files); w3 = not used (3 files)". */
function mappingComment(mapping: readonly ChannelUse[]): string[] {
  if (!mapping.length) return [];
  const uses = mapping.map((m) => `${m.token.replace(/[\r\n;]+/g, ' ')} = ${m.channel ?? 'not used'} (${m.files} file${m.files === 1 ? '' : 's'})`);
  return [`# channel mapping: ${uses.join('; ')}`];
}

function round(x: number | undefined): number | undefined {
  return x === undefined ? undefined : Math.round(x * 1e6) / 1e6;
}

/** An OOD score or threshold to 6 significant digits; an infinite score (non-finite features) as "inf". */
function oodNumber(x: number | undefined): number | string | undefined {
  if (x === undefined) return undefined;
  return Number.isFinite(x) ? Number(x.toPrecision(6)) : 'inf';
}

/** A field's warnings or decoder notes in one cell, one per line (each names its file); empty when there are none. */
function listCell(items: readonly string[] | undefined): string | undefined {
  return items?.length ? items.join('\n') : undefined;
}

export function fieldsCsv(rows: readonly FieldRow[], classes: readonly string[], model: ModelRef, mapping: readonly ChannelUse[] = []): string {
  const header = [
    'plate', 'well', 'site', 'compound', 'concentration', 'status', 'predicted_moa', 'confidence',
    'top2_moa', 'top2_probability', 'top3_moa', 'top3_probability', 'true_moa', 'correct', 'message', 'warnings', 'notes',
    'ood_score', 'ood_threshold', 'unlike_training_data', ...probHeaders(classes), 'model', 'model_sha256', 'files',
  ];
  const lines = [...mappingComment(mapping), csvLine(header)];
  for (const r of rows) {
    lines.push(
      csvLine([
        r.plate, r.well, r.site ?? undefined, r.compound, r.concentration, r.status, r.predictedLabel, round(r.confidence),
        r.top3?.[1]?.label, round(r.top3?.[1]?.probability), r.top3?.[2]?.label, round(r.top3?.[2]?.probability),
        r.moa, r.correct === undefined ? undefined : r.correct ? 1 : 0, r.message, listCell(r.warnings), listCell(r.notes),
        oodNumber(r.ood?.score), oodNumber(r.ood?.threshold), r.ood === undefined ? undefined : r.ood.unlike ? 1 : 0,
        ...classes.map((_, j) => round(r.probabilities?.[j])), model.name, model.hash, r.files.join(';'),
      ]),
    );
  }
  return lines.join('\r\n') + '\r\n';
}

export function treatmentsCsv(rows: readonly TreatmentRow[], classes: readonly string[], model: ModelRef, mapping: readonly ChannelUse[] = []): string {
  const header = ['compound', 'concentration', 'fields', 'fields_set_apart', 'predicted_moa', 'confidence', 'true_moa', 'correct', ...probHeaders(classes), 'model', 'model_sha256', 'wells'];
  const lines = [...mappingComment(mapping), csvLine(header)];
  for (const t of rows) {
    lines.push(
      csvLine([
        t.compound, t.concentration, t.fields, t.setApart, t.predictedLabel, round(t.confidence), t.label === undefined ? undefined : classes[t.label],
        t.correct === undefined ? undefined : t.correct ? 1 : 0, ...classes.map((_, j) => round(t.probabilities[j])), model.name, model.hash, t.wells.join(';'),
      ]),
    );
  }
  return lines.join('\r\n') + '\r\n';
}

/** One JSON document: the model, the classes, the channel mapping, every field, every treatment and the scores. */
export function runJson(
  fields: readonly FieldRow[],
  treatments: readonly TreatmentRow[],
  scores: RunScores,
  classes: readonly string[],
  model: ModelRef,
  createdAt = new Date().toISOString(),
  mapping: readonly ChannelUse[] = [],
): string {
  const scoreJson = (s: RunScores['fields']) => ({ n: s.n, correct: s.correct, accuracy: s.n ? s.accuracy : null, confusion: s.confusion });
  const doc = {
    format: 'moa-lens-results',
    version: 1,
    createdAt,
    model: { name: model.name, sha256: model.hash, trained: model.trained },
    classes,
    channelMapping: mapping.map((m) => ({ name: m.token, usedAs: m.channel, files: m.files, decidedBy: m.assignedBy })),
    scores: { fields: scoreJson(scores.fields), treatments: scoreJson(scores.treatments), setApart: scores.setApart },
    fields: fields.map((r) => ({
      plate: r.plate,
      well: r.well,
      site: r.site,
      name: r.name ?? null,
      files: r.files,
      compound: r.compound ?? null,
      concentration: r.concentration ?? null,
      status: r.status,
      predicted: r.predictedLabel ?? null,
      confidence: r.confidence ?? null,
      top3: r.top3?.map((c) => ({ moa: c.label, probability: c.probability })) ?? null,
      probabilities: r.probabilities ? Array.from(r.probabilities) : null,
      trueMoa: r.moa ?? null,
      correct: r.correct ?? null,
      message: r.message ?? null,
      warnings: r.warnings ?? [],
      notes: r.notes ?? [],
      ood: r.ood ? { score: Number.isFinite(r.ood.score) ? r.ood.score : 'inf', threshold: r.ood.threshold, unlikeTrainingData: r.ood.unlike } : null,
    })),
    treatments: treatments.map((t) => ({
      compound: t.compound,
      concentration: t.concentration,
      fields: t.fields,
      fieldsSetApart: t.setApart,
      predicted: t.predictedLabel,
      confidence: t.confidence,
      probabilities: Array.from(t.probabilities),
      trueMoa: t.label === undefined ? null : classes[t.label],
      correct: t.correct ?? null,
      wells: t.wells,
    })),
  };
  return JSON.stringify(doc, null, 2);
}

/** A file name for an export: "moa-lens_<model>_<hash8>_<what>.<ext>". */
export function exportName(model: ModelRef, what: 'fields' | 'treatments' | 'results', ext: 'csv' | 'json'): string {
  const safe = model.name.replace(/[^A-Za-z0-9._-]+/g, '-');
  return `moa-lens_${safe}_${model.hash.slice(0, 8)}_${what}.${ext}`;
}
