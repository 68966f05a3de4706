// Realism report: renders DMSO fields, cuts 68x68 crops around the simulator's own cell centres and compares their
// statistics with the vendored real BBBC021 DMSO figures (npm run simulate -- --realism-report).

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { treatmentKey } from '../../../src/core/metadata.ts';
import { DataError } from '../util/cli.ts';
import { spreadPick } from '../util/spread-pick.ts';
import { compareWithReal, CropStatisticsAccumulator, cutCrop, type CropStatistics, type RealCropFigures, type RealismRow } from './crop-statistics.ts';
import { compoundSignatures, readMetadataTables, renderTableRow } from './dataset-writer.ts';

/** The real figures, vendored with their provenance. */
export const REAL_DMSO_CROP_FIGURES = fileURLToPath(new URL('../../data/real-stats/BBBC021-DMSO-crops.json', import.meta.url));

/** Reads and checks the real figures file. */
export async function readRealFigures(file = REAL_DMSO_CROP_FIGURES): Promise<RealCropFigures> {
  let figures: RealCropFigures;
  try {
    figures = JSON.parse(await readFile(file, 'utf8')) as RealCropFigures;
  } catch (error) {
    throw new DataError(`${file}: cannot read the real statistics (${(error as Error).message})`, { cause: error });
  }
  for (const channel of ['DNA', 'Tubulin', 'Actin'] as const) {
    if (figures.pixelQuantiles?.[channel]?.length !== 9 || !figures.background?.[channel] || !figures.bright?.[channel]) {
      throw new DataError(`${file}: ${channel} needs 9 pixel quantiles, a background and a bright spread`);
    }
  }
  return figures;
}

export interface RealismReportOptions {
  metadataDir: string;
  /** DMSO fields rendered (spread over the table's DMSO rows, hence over plates). */
  fields: number;
  seed: number;
  height?: number;
  width?: number;
  realFigures?: string;
}

export interface RealismReport {
  fields: number;
  plates: number;
  cells: number;
  stats: CropStatistics;
  rows: RealismRow[];
  renderSeconds: number;
}

/** Renders `fields` DMSO fields at full size and compares their cell-centred crops with the real figures. */
export async function runRealismReport(options: RealismReportOptions): Promise<RealismReport> {
  const real = await readRealFigures(options.realFigures);
  const tables = await readMetadataTables(options.metadataDir);
  const dmso = new Set(tables.moaRows.filter((r) => r.moa === 'DMSO').map((r) => treatmentKey(r.compound, r.concentration)));
  const rows = spreadPick(tables.imageRows.filter((r) => dmso.has(treatmentKey(r.compound, r.concentration))), options.fields);
  const signatures = compoundSignatures(tables, options.seed);
  const size = { height: options.height ?? 1024, width: options.width ?? 1280 };
  const accumulator = new CropStatisticsAccumulator();
  let cells = 0;
  let renderSeconds = 0;
  for (const row of rows) {
    const started = performance.now();
    const field = renderTableRow(row, signatures.get(row.compound)!, size, options.seed);
    renderSeconds += (performance.now() - started) / 1000;
    cells += field.cellCount;
    for (const centre of field.cellCentres) {
      const crop = cutCrop(field.planes, field.width, field.height, centre.x, centre.y);
      if (crop) accumulator.add(crop);
    }
  }
  const stats = accumulator.result();
  return { fields: rows.length, plates: new Set(rows.map((r) => r.plate)).size, cells, stats, rows: compareWithReal(stats, real), renderSeconds };
}
