// Plate maps: parse well names, infer the plate format (96/384/1536) and lay wells out on a grid.

export interface WellPosition {
  /** 0-based row (A = 0) and column (01 = 0). */
  row: number;
  col: number;
}

export interface PlateFormat {
  wells: 96 | 384 | 1536;
  rows: number;
  cols: number;
}

export const PLATE_FORMATS: readonly PlateFormat[] = [
  { wells: 96, rows: 8, cols: 12 },
  { wells: 384, rows: 16, cols: 24 },
  { wells: 1536, rows: 32, cols: 48 },
];

/** Parses "B02", "b2", "P24", "AF48" (rows past Z are AA, AB, ...). Null when it is not a well name. */
export function parseWell(name: string): WellPosition | null {
  const m = /^\s*([A-Za-z]{1,2})\s*0*(\d{1,2})\s*$/.exec(name);
  if (!m) return null;
  const letters = m[1].toUpperCase();
  const row = letters.length === 1 ? letters.charCodeAt(0) - 65 : 26 + (letters.charCodeAt(1) - 65) + 26 * (letters.charCodeAt(0) - 65);
  const col = Number(m[2]) - 1;
  if (col < 0 || row > 31) return null;
  return { row, col };
}

/** Row label for a 0-based row: 0 -> "A", 26 -> "AA". */
export function rowLabel(row: number): string {
  return row < 26 ? String.fromCharCode(65 + row) : String.fromCharCode(64 + Math.floor(row / 26)) + String.fromCharCode(65 + (row % 26));
}

/** Canonical well name: row letters + two-digit column ("B02"). */
export function wellName(pos: WellPosition): string {
  return `${rowLabel(pos.row)}${String(pos.col + 1).padStart(2, '0')}`;
}

/** The smallest standard format that holds every well; null when a well falls outside 1536. */
export function inferFormat(wells: WellPosition[]): PlateFormat | null {
  const maxRow = Math.max(0, ...wells.map((w) => w.row));
  const maxCol = Math.max(0, ...wells.map((w) => w.col));
  return PLATE_FORMATS.find((f) => maxRow < f.rows && maxCol < f.cols) ?? null;
}

/** What the map shows in one well. */
export interface WellSummary {
  well: string;
  /** Predicted class index of the well (mean of its in-distribution fields' probabilities), -1 when none was classified or all were set apart. */
  predicted: number;
  confidence: number;
  /** Fields in the well: classified and failed. */
  fields: number;
  failed: number;
  /** Classified fields unlike the training data (the OOD check): left out of the well's mean, as out of the treatment calls. */
  setApart: number;
  /** Ground truth class index when known. */
  label?: number;
  compound?: string;
  concentration?: number;
}

export interface PlateCell extends WellPosition {
  well: string;
  summary: WellSummary | null;
}

export interface PlateMap {
  plate: string;
  format: PlateFormat;
  rowLabels: string[];
  colLabels: string[];
  /** rows x cols cells, row-major; empty wells have summary null. */
  cells: PlateCell[];
  /** Well names that could not be placed (not a well name). */
  unplaced: string[];
}

/** Lays out one plate's wells on the smallest standard grid that holds them. */
export function layoutPlate(plate: string, wells: WellSummary[]): PlateMap {
  const placed = new Map<string, { pos: WellPosition; summary: WellSummary }>();
  const unplaced: string[] = [];
  for (const w of wells) {
    const pos = parseWell(w.well);
    if (pos) placed.set(wellName(pos), { pos, summary: w });
    else unplaced.push(w.well);
  }
  const format = inferFormat([...placed.values()].map((p) => p.pos)) ?? PLATE_FORMATS[2];
  const cells: PlateCell[] = [];
  for (let row = 0; row < format.rows; row++) {
    for (let col = 0; col < format.cols; col++) {
      const well = wellName({ row, col });
      cells.push({ row, col, well, summary: placed.get(well)?.summary ?? null });
    }
  }
  for (const [name, p] of placed) if (p.pos.row >= format.rows || p.pos.col >= format.cols) unplaced.push(name);
  return {
    plate,
    format,
    rowLabels: Array.from({ length: format.rows }, (_, r) => rowLabel(r)),
    colLabels: Array.from({ length: format.cols }, (_, c) => String(c + 1)),
    cells,
    unplaced,
  };
}

/** The subset of a result row the plate map needs. */
export interface WellField {
  plate: string;
  well: string;
  status: 'pending' | 'ok' | 'failed';
  probabilities?: ArrayLike<number>;
  /** The OOD check's verdict on a classified field; `unlike` fields are not averaged into the well. */
  ood?: { unlike: boolean };
  label?: number;
  compound?: string;
  concentration?: number;
}

/**
 * One map per plate (plates in natural order); each well's class is the argmax of the mean probabilities of its
 * classified fields that are not unlike the training data (those are counted in `setApart`).
 */
export function platesFromFields(fields: readonly WellField[]): PlateMap[] {
  const plates = new Map<string, Map<string, WellField[]>>();
  for (const f of fields) {
    const wells = plates.get(f.plate) ?? new Map<string, WellField[]>();
    plates.set(f.plate, wells);
    const pos = parseWell(f.well);
    const key = pos ? wellName(pos) : f.well;
    wells.set(key, [...(wells.get(key) ?? []), f]);
  }
  const collator = new Intl.Collator('en', { numeric: true });
  return [...plates.keys()].sort(collator.compare).map((plate) => {
    const summaries: WellSummary[] = [...plates.get(plate)!].map(([well, fs]) => {
      const classified = fs.filter((f) => f.status === 'ok' && f.probabilities);
      const ok = classified.filter((f) => f.ood?.unlike !== true);
      let predicted = -1;
      let confidence = 0;
      if (ok.length) {
        const k = ok[0].probabilities!.length;
        const mean = new Float64Array(k);
        for (const f of ok) for (let j = 0; j < k; j++) mean[j] += f.probabilities![j] / ok.length;
        predicted = 0;
        for (let j = 1; j < k; j++) if (mean[j] > mean[predicted]) predicted = j;
        confidence = mean[predicted];
      }
      const first = fs[0];
      return {
        well,
        predicted,
        confidence,
        fields: fs.length,
        failed: fs.filter((f) => f.status === 'failed').length,
        setApart: classified.length - ok.length,
        label: first.label,
        compound: first.compound,
        concentration: first.concentration,
      };
    });
    return layoutPlate(plate, summaries);
  });
}
