// "Adapt to this plate": the user's labels (marked compounds or wells, or an annotation CSV: plate, well or compound,
// MoA) joined with the run's field profiles, a new head fitted on them with its leave-one-compound-out accuracy, and
// the adaptation the engine turns into a bundle.
import type { Adaptation } from '../../core/adapted-bundle.ts';
import { sha256Hex } from '../../core/bundle.ts';
import { csvLine } from '../../core/csv.ts';
import { MOA_CLASSES } from '../../core/labels.ts';
import { leaveCompoundsOut, type HeadExample, type HeadValidation, type LinearHead } from '../../core/logistic-head.ts';
import { parseCsv, treatmentKey } from '../../core/metadata.ts';
import type { FieldRow } from './results.ts';

/** One label: a well (on a plate, or on every plate when none is named) or a compound, and its mechanism. */
export interface Annotation {
  plate?: string;
  well?: string;
  compound?: string;
  moa: string;
}

/** Reads an annotation CSV: a `moa` column and a `compound` or `well` column (with `plate` optional). Errors name the file and row. */
export function parseAnnotations(text: string, fileName: string): Annotation[] {
  const rows = parseCsv(text);
  if (rows.length === 0) throw new Error(`${fileName}: the file is empty.`);
  const header = rows[0].map((h) => h.trim().toLowerCase());
  const col = (name: string) => header.indexOf(name);
  const [plate, well, compound, moa] = [col('plate'), col('well'), col('compound'), col('moa')];
  if (moa < 0 || (well < 0 && compound < 0)) throw new Error(`${fileName}: the header must name a "moa" column and a "compound" or "well" column (and "plate" optionally); it has ${rows[0].join(', ')}.`);
  return rows.slice(1).map((row, i) => {
    const cell = (c: number) => (c >= 0 ? (row[c] ?? '').trim() : '');
    const a: Annotation = { moa: cell(moa) };
    if (cell(plate)) a.plate = cell(plate);
    if (cell(well)) a.well = cell(well).toUpperCase();
    if (cell(compound)) a.compound = cell(compound);
    if (!a.moa) throw new Error(`${fileName} row ${i + 2}: no MoA.`);
    if (!a.well && !a.compound) throw new Error(`${fileName} row ${i + 2}: neither a well nor a compound.`);
    return a;
  });
}

/** The label table as CSV, the text whose sha256 the adapted bundle records. */
export function annotationsCsv(annotations: readonly Annotation[]): string {
  return [csvLine(['plate', 'well', 'compound', 'moa']), ...annotations.map((a) => csvLine([a.plate, a.well, a.compound, a.moa]))].join('\r\n') + '\r\n';
}

/** A field's label: a matching well annotation wins over a compound one. */
function labelOf(row: FieldRow, annotations: readonly Annotation[]): string | undefined {
  const well = annotations.find((a) => a.well !== undefined && a.well === row.well.toUpperCase() && (a.plate === undefined || a.plate === row.plate));
  if (well) return well.moa;
  return annotations.find((a) => a.well === undefined && a.compound !== undefined && a.compound === row.compound)?.moa;
}

/** The classes of a label set: the BBBC021 ones it uses in their canonical order, then the user's own, sorted. */
export function classesOf(names: Iterable<string>): string[] {
  const set = new Set(names);
  const standard = MOA_CLASSES.filter((c) => set.has(c));
  const own = [...set].filter((c) => !(MOA_CLASSES as readonly string[]).includes(c)).sort();
  return [...standard, ...own];
}

export interface LabelledFields {
  classes: string[];
  examples: HeadExample[];
  compounds: number;
}

/** The run's classified fields that a label covers, as head examples. */
export function labelledFields(rows: readonly FieldRow[], annotations: readonly Annotation[]): LabelledFields {
  const labelled = rows.flatMap((r) => {
    if (r.status !== 'ok' || !r.features) return [];
    const moa = labelOf(r, annotations);
    return moa === undefined ? [] : [{ row: r, moa }];
  });
  const classes = classesOf(labelled.map((l) => l.moa));
  const examples = labelled.map(({ row, moa }) => ({
    features: row.features!,
    label: classes.indexOf(moa),
    compound: row.compound ?? `${row.plate}/${row.well}`,
    treatment: row.compound !== undefined && row.concentration !== undefined ? treatmentKey(row.compound, row.concentration) : `${row.plate}/${row.well}`,
  }));
  return { classes, examples, compounds: new Set(examples.map((e) => e.compound)).size };
}

export interface FittedHead {
  classes: string[];
  head: LinearHead;
  validation: HeadValidation;
  fields: number;
  compounds: number;
  /** Milliseconds the fit and its validation took. */
  ms: number;
}

/** The classes whose labels come from one compound: leaving it out leaves the head no example of its class. */
export function singleCompoundClasses(labelled: LabelledFields): string[] {
  const compounds = labelled.classes.map(() => new Set<string>());
  for (const e of labelled.examples) compounds[e.label].add(e.compound);
  return labelled.classes.filter((_, k) => compounds[k].size === 1);
}

/** Why these labels cannot make a head, or null when they can. */
export function adaptationProblem(labelled: LabelledFields): string | null {
  if (labelled.examples.length === 0) return 'No classified field has a label yet: mark compounds or wells, or load an annotation CSV.';
  if (labelled.classes.length < 2) return `The labels name one class (${labelled.classes[0]}); a classifier needs at least two.`;
  if (labelled.compounds < 2) return 'The labels cover one compound; checking on compounds left out needs at least two.';
  return null;
}

/** Fits the head on the labelled fields and measures it on compounds left out (one a fold, up to MAX_COMPOUND_FOLDS folds). */
export function fitHead(labelled: LabelledFields): FittedHead {
  const problem = adaptationProblem(labelled);
  if (problem) throw new Error(problem);
  const started = performance.now();
  const validation = leaveCompoundsOut(labelled.examples, labelled.classes.length);
  return { classes: labelled.classes, head: validation.head, validation, fields: labelled.examples.length, compounds: labelled.compounds, ms: performance.now() - started };
}

/** The adaptation the engine writes as a bundle, naming the base model and the labels. */
export async function adaptation(fitted: FittedHead, annotations: readonly Annotation[], source: string, baseName: string, createdAt = new Date()): Promise<Adaptation> {
  const labels = annotationsCsv(annotations);
  return {
    name: `${baseName}-adapted-${createdAt.toISOString().slice(0, 19).replace(/[-:T]/g, '')}`,
    createdAt: createdAt.toISOString(),
    classes: fitted.classes,
    head: fitted.head,
    labels: { source, sha256: await sha256Hex(new TextEncoder().encode(labels)), fields: fitted.fields, compounds: fitted.compounds },
    validation: { fields: fitted.validation.fields.accuracy, treatments: fitted.validation.treatments.accuracy, compounds: fitted.validation.compounds, folds: fitted.validation.folds },
  };
}

/** The labels in use: the annotation file's rows, then the compounds marked in the app (a mark overrides nothing the file says of a well). */
export function combinedAnnotations(fromFile: readonly Annotation[], marks: ReadonlyMap<string, string>): Annotation[] {
  return [...fromFile, ...[...marks].filter(([, moa]) => moa !== '').map(([compound, moa]) => ({ compound, moa }))];
}

/** The compounds of a run (classified fields), sorted, with their true MoA when the run has it. */
export function runCompounds(rows: readonly FieldRow[]): { compound: string; fields: number; truth?: string }[] {
  const by = new Map<string, { fields: number; truth?: string }>();
  for (const r of rows) {
    if (r.status !== 'ok' || r.compound === undefined) continue;
    const c = by.get(r.compound) ?? { fields: 0, truth: r.moa };
    c.fields++;
    by.set(r.compound, c);
  }
  return [...by].map(([compound, c]) => ({ compound, ...c })).sort((a, b) => a.compound.localeCompare(b.compound, 'en', { numeric: true }));
}
