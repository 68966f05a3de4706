// Sorting and filtering of result tables: stable, missing values last, natural order for names ("B2" < "B10").

export type SortDirection = 'asc' | 'desc';

export interface SortState<K extends string> {
  key: K;
  direction: SortDirection;
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Compares two cell values; undefined/null/NaN compare as "missing". */
export function compareValues(a: unknown, b: unknown): number {
  const missingA = a === undefined || a === null || (typeof a === 'number' && Number.isNaN(a));
  const missingB = b === undefined || b === null || (typeof b === 'number' && Number.isNaN(b));
  if (missingA || missingB) return missingA === missingB ? 0 : missingA ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return collator.compare(String(a), String(b));
}

/**
 * Rows sorted by the value `get` reads for `sort.key`; stable; missing values stay last in both
 * directions; ties broken by `tieBreak` keys in ascending order.
 */
export function sortRows<R, K extends string>(rows: readonly R[], sort: SortState<K>, get: (row: R, key: K) => unknown, tieBreak: K[] = []): R[] {
  const sign = sort.direction === 'asc' ? 1 : -1;
  return rows
    .map((row, i) => ({ row, i }))
    .sort((x, y) => {
      const a = get(x.row, sort.key);
      const b = get(y.row, sort.key);
      const c = compareValues(a, b);
      const missing = a === undefined || a === null || b === undefined || b === null || Number.isNaN(a) || Number.isNaN(b);
      if (c !== 0) return missing ? c : sign * c;
      for (const k of tieBreak) {
        const t = compareValues(get(x.row, k), get(y.row, k));
        if (t !== 0) return t;
      }
      return x.i - y.i;
    })
    .map((x) => x.row);
}

/** The next sort state when a column header is clicked: same key flips, a new key starts ascending. */
export function toggleSort<K extends string>(current: SortState<K>, key: K): SortState<K> {
  return current.key === key ? { key, direction: current.direction === 'asc' ? 'desc' : 'asc' } : { key, direction: 'asc' };
}

/** True when every whitespace-separated term of `query` occurs (case-insensitively) in one of `haystack`. */
export function matchesQuery(query: string, haystack: readonly (string | number | undefined | null)[]): boolean {
  const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!terms.length) return true;
  const text = haystack
    .filter((v) => v !== undefined && v !== null)
    .join('\u0000')
    .toLowerCase();
  return terms.every((t) => text.includes(t));
}
