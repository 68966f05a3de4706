// The field and treatment tables as shown: which column reads what, the filters, sorted and filtered rows.
import type { FieldRow, TreatmentRow } from './results.ts';
import { matchesQuery, sortRows, type SortState } from './table.ts';

export type FieldColumn = 'plate' | 'well' | 'site' | 'compound' | 'concentration' | 'predicted' | 'confidence' | 'truth' | 'status';
export type TreatmentColumn = 'compound' | 'concentration' | 'fields' | 'predicted' | 'confidence' | 'truth';

/** Which rows to show: a free-text query, one predicted class, and an outcome. */
export interface TableFilter {
  query: string;
  /** Predicted class index, or null for all. */
  predicted: number | null;
  outcome: 'all' | 'ok' | 'failed' | 'correct' | 'wrong';
}

export const NO_FILTER: TableFilter = { query: '', predicted: null, outcome: 'all' };

export function fieldValue(row: FieldRow, key: FieldColumn): unknown {
  switch (key) {
    case 'predicted':
      return row.predictedLabel;
    case 'truth':
      return row.moa;
    case 'status':
      return row.status === 'ok' ? (row.correct === undefined ? 'ok' : row.correct ? 'correct' : 'wrong') : row.status;
    case 'confidence':
      return row.confidence;
    default:
      return row[key];
  }
}

export function treatmentValue(row: TreatmentRow, key: TreatmentColumn, classes: readonly string[]): unknown {
  switch (key) {
    case 'predicted':
      return row.predictedLabel;
    case 'truth':
      return row.label === undefined ? undefined : classes[row.label];
    default:
      return row[key];
  }
}

function outcomeMatches(outcome: TableFilter['outcome'], status: 'pending' | 'ok' | 'failed', correct: boolean | undefined): boolean {
  switch (outcome) {
    case 'all':
      return true;
    case 'ok':
      return status === 'ok';
    case 'failed':
      return status === 'failed';
    case 'correct':
      return correct === true;
    case 'wrong':
      return correct === false;
  }
}

export function viewFields(rows: readonly FieldRow[], filter: TableFilter, sort: SortState<FieldColumn>): FieldRow[] {
  const kept = rows.filter(
    (r) =>
      (filter.predicted === null || r.predicted === filter.predicted) &&
      outcomeMatches(filter.outcome, r.status, r.correct) &&
      matchesQuery(filter.query, [r.plate, r.well, r.site === null ? undefined : `s${r.site}`, r.compound, r.concentration, r.predictedLabel, r.moa, r.message, ...r.files]),
  );
  return sortRows(kept, sort, (r, k) => fieldValue(r, k), ['plate', 'well', 'site']);
}

export function viewTreatments(
  rows: readonly TreatmentRow[],
  filter: TableFilter,
  sort: SortState<TreatmentColumn>,
  classes: readonly string[],
): TreatmentRow[] {
  const kept = rows.filter(
    (r) =>
      (filter.predicted === null || r.predicted === filter.predicted) &&
      outcomeMatches(filter.outcome, 'ok', r.correct) &&
      matchesQuery(filter.query, [r.compound, r.concentration, r.predictedLabel, r.label === undefined ? undefined : classes[r.label], ...r.wells]),
  );
  return sortRows(kept, sort, (r, k) => treatmentValue(r, k, classes), ['compound', 'concentration']);
}
