// The cross-validation report: every fold's held-out fields pooled, scored per treatment and per field with 95% intervals.
import { aggregateTreatments, score, type Scores } from '../../../src/core/aggregate.ts';
import { DMSO } from '../../../src/core/labels.ts';
import { formatPercent, formatSeconds } from '../util/format.ts';

/** One held-out field as a fold's training report records it (float weights, before quantisation). */
export interface HeldOutField {
  id: string;
  treatment: string;
  label: number;
  predicted: number;
  probabilities: number[];
}

/** What one finished fold contributes. */
export interface FoldOutcome {
  index: number;
  name: string;
  heldOutCompounds: string[];
  /** Class indices with no field in this fold's training set (NSCB: a class imaged in one week only). */
  classesAbsentFromTraining: number[];
  fields: HeldOutField[];
  steps: number;
  /** Training time the trainer measured. */
  trainSeconds: number;
  /** Wall time of the fold's process(es), every attempt added. */
  wallSeconds: number;
}

export interface Proportion {
  correct: number;
  n: number;
  accuracy: number;
  /** 95% Wilson score interval. */
  low: number;
  high: number;
}

export interface ClassRow {
  moa: string;
  compounds: number;
  treatments: Proportion;
  fields: Proportion;
}

export interface CvReport {
  protocol: string;
  method: string;
  /** Folds the protocol has on this data, and those pooled here. */
  foldsTotal: number;
  foldsPooled: number;
  interval: string;
  treatments: Proportion;
  /** Treatments whose class had a training field in their fold: the published NSCB set (equals `treatments` under loco). */
  treatmentsClassTrained: Proportion;
  labelledFields: Proportion;
  allFields: Proportion;
  dmsoFields: Proportion;
  perClass: ClassRow[];
  classes: string[];
  /** confusion[true][predicted]: labelled treatments, and every field (DMSO included). */
  treatmentConfusion: number[][];
  fieldConfusion: number[][];
  perFold: { index: number; name: string; heldOut: string; fields: Proportion; treatments: Proportion; steps: number; trainSeconds: number; wallSeconds: number }[];
}

/** The 95% Wilson score interval of `correct` successes in `n` trials (n = 0: [0, 1]). */
export function wilsonInterval(correct: number, n: number, z = 1.959963984540054): [number, number] {
  if (n === 0) return [0, 1];
  const p = correct / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

function proportion(s: Pick<Scores, 'correct' | 'n'>): Proportion {
  const [low, high] = wilsonInterval(s.correct, s.n);
  return { correct: s.correct, n: s.n, accuracy: s.n ? s.correct / s.n : NaN, low, high };
}

const INTERVAL = 'Wilson score intervals (95%), each treatment or field counted as an independent trial; fields of one treatment are correlated, so the per-field interval is optimistic';

/**
 * Pools the folds: fields as they are, treatments as the mean of their fields' probabilities across every fold that
 * tested them (as the app and the trainer aggregate), then argmax. DMSO is a class for fields but not a treatment of
 * the NSC/NSCB count (Ljosa et al. 2013 score the 103 compound treatments).
 */
export function poolFolds(folds: readonly FoldOutcome[], options: { classes: readonly string[]; protocol: string; method: string; foldsTotal: number }): CvReport {
  const { classes } = options;
  const dmso = classes.indexOf(DMSO);
  const all = folds.flatMap((f) => f.fields);
  const labelled = all.filter((f) => f.label !== dmso);
  const untrainable = new Set(folds.flatMap((f) => f.fields.filter((x) => f.classesAbsentFromTraining.includes(x.label)).map((x) => x.treatment)));
  const treatments = aggregateTreatments(labelled);
  const treatmentScores = score(treatments, classes.length);
  const fieldScores = score(all, classes.length);
  const compoundsOf = (label: number) => new Set(labelled.filter((f) => f.label === label).map((f) => f.treatment.slice(0, f.treatment.lastIndexOf('@')))).size;
  const perClass: ClassRow[] = [];
  classes.forEach((moa, k) => {
    const fields = all.filter((f) => f.label === k);
    if (fields.length === 0) return;
    const ts = treatments.filter((t) => t.label === k);
    perClass.push({
      moa,
      compounds: k === dmso ? 1 : compoundsOf(k),
      treatments: proportion({ correct: ts.filter((t) => t.predicted === k).length, n: k === dmso ? 0 : ts.length }),
      fields: proportion({ correct: fields.filter((f) => f.predicted === k).length, n: fields.length }),
    });
  });
  return {
    protocol: options.protocol,
    method: options.method,
    foldsTotal: options.foldsTotal,
    foldsPooled: folds.length,
    interval: INTERVAL,
    treatments: proportion(treatmentScores),
    treatmentsClassTrained: proportion(score(treatments.filter((t) => !untrainable.has(t.treatment)), classes.length)),
    labelledFields: proportion(score(labelled, classes.length)),
    allFields: proportion(fieldScores),
    dmsoFields: proportion(score(all.filter((f) => f.label === dmso), classes.length)),
    perClass,
    classes: [...classes],
    treatmentConfusion: treatmentScores.confusion,
    fieldConfusion: fieldScores.confusion,
    perFold: folds.map((f) => {
      const fl = f.fields.filter((x) => x.label !== dmso);
      return {
        index: f.index,
        name: f.name,
        heldOut: f.heldOutCompounds.join(', '),
        fields: proportion(score(f.fields, classes.length)),
        treatments: proportion(score(aggregateTreatments(fl), classes.length)),
        steps: f.steps,
        trainSeconds: f.trainSeconds,
        wallSeconds: f.wallSeconds,
      };
    }),
  };
}

const pct = (p: Proportion) => (p.n ? formatPercent(p.accuracy) : '-');
const ci = (p: Proportion) => (p.n ? `${formatPercent(p.low)}–${formatPercent(p.high)}` : '-');
const frac = (p: Proportion) => `${p.correct}/${p.n}`;
const esc = (s: string) => s.replace(/\|/g, '\\|');

function confusionTable(matrix: number[][], classes: readonly string[], rows: number[]): string[] {
  const head = `| true \\ predicted | ${classes.map((_, j) => `${j + 1}`).join(' | ')} | recall |`;
  const lines = [`Columns: ${classes.map((c, j) => `${j + 1} ${c}`).join(', ')}.`, '', head, `|---|${classes.map(() => '---:').join('|')}|---:|`];
  for (const i of rows) {
    const total = matrix[i].reduce((a, b) => a + b, 0);
    if (total === 0) continue;
    lines.push(`| ${i + 1}. ${esc(classes[i])} | ${matrix[i].map((v, j) => (v ? (i === j ? `**${v}**` : `${v}`) : '·')).join(' | ')} | ${formatPercent(matrix[i][i] / total)} |`);
  }
  return lines;
}

/** The report as Markdown: the headline table laid out as in Ljosa et al. 2013 (method x protocol), then the details. */
export function cvReportMarkdown(r: CvReport): string {
  const partial = r.foldsPooled < r.foldsTotal ? ` **Partial sweep: ${r.foldsPooled} of ${r.foldsTotal} folds**; the numbers cover only the held-out fields of these folds.` : '';
  const dmso = r.classes.indexOf(DMSO);
  const showTrained = r.treatmentsClassTrained.n !== r.treatments.n;
  const lines = [
    `# Cross-validation: ${r.protocol}`,
    '',
    `${r.foldsPooled} folds pooled.${partial} Held-out predictions of each fold's float32 weights, pooled over folds; a treatment is the mean of its fields' probabilities, then argmax. ${r.interval}.`,
    '',
    '## Accuracy',
    '',
    '| Method | Protocol | Treatments | Accuracy | 95% CI |',
    '|---|---|---:|---:|---|',
    `| ${esc(r.method)} | ${esc(r.protocol)} | ${r.treatments.n} | ${pct(r.treatments)} | ${ci(r.treatments)} |`,
    ...(showTrained ? [`| ${esc(r.method)} | ${esc(r.protocol)}, treatments whose class had a training compound in their fold | ${r.treatmentsClassTrained.n} | ${pct(r.treatmentsClassTrained)} | ${ci(r.treatmentsClassTrained)} |`] : []),
    '',
    '| level | correct | accuracy | 95% CI |',
    '|---|---:|---:|---|',
    `| treatments (compound-concentration, DMSO aside) | ${frac(r.treatments)} | ${pct(r.treatments)} | ${ci(r.treatments)} |`,
    ...(showTrained ? [`| treatments whose class had a training compound in their fold | ${frac(r.treatmentsClassTrained)} | ${pct(r.treatmentsClassTrained)} | ${ci(r.treatmentsClassTrained)} |`] : []),
    `| fields, DMSO aside | ${frac(r.labelledFields)} | ${pct(r.labelledFields)} | ${ci(r.labelledFields)} |`,
    `| fields, DMSO included | ${frac(r.allFields)} | ${pct(r.allFields)} | ${ci(r.allFields)} |`,
    `| DMSO fields called DMSO | ${frac(r.dmsoFields)} | ${pct(r.dmsoFields)} | ${ci(r.dmsoFields)} |`,
    '',
    '## Per class',
    '',
    '| MoA | compounds | treatments correct | treatment accuracy | fields correct | field accuracy (95% CI) |',
    '|---|---:|---:|---:|---:|---|',
    ...r.perClass.map((c) => `| ${esc(c.moa)} | ${c.compounds} | ${c.treatments.n ? frac(c.treatments) : '-'} | ${pct(c.treatments)} | ${frac(c.fields)} | ${pct(c.fields)} (${ci(c.fields)}) |`),
    '',
    '## Confusion, treatments (rows: true class, columns: predicted class by number)',
    '',
    ...confusionTable(r.treatmentConfusion, r.classes, r.classes.map((_, i) => i).filter((i) => i !== dmso)),
    '',
    '## Confusion, fields (DMSO included)',
    '',
    ...confusionTable(r.fieldConfusion, r.classes, r.classes.map((_, i) => i)),
    '',
    '## Folds',
    '',
    '| fold | held out | fields | field accuracy | treatments | treatment accuracy | steps | training | wall |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
    ...r.perFold.map((f) => `| ${f.index} | ${esc(f.heldOut || f.name)} | ${f.fields.n} | ${pct(f.fields)} | ${f.treatments.n} | ${pct(f.treatments)} | ${f.steps} | ${formatSeconds(f.trainSeconds)} | ${formatSeconds(f.wallSeconds)} |`),
    `| all | | ${r.allFields.n} | ${pct(r.allFields)} | ${r.treatments.n} | ${pct(r.treatments)} | ${r.perFold.reduce((a, f) => a + f.steps, 0)} | ${formatSeconds(r.perFold.reduce((a, f) => a + f.trainSeconds, 0))} | ${formatSeconds(r.perFold.reduce((a, f) => a + f.wallSeconds, 0))} |`,
    '',
  ];
  return lines.join('\n');
}
