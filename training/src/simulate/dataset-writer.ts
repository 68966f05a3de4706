// Writes a simulated BBBC021: the real metadata CSVs (all rows or a subset) and every referenced TIFF under Week<N>/Week<N>_<plate>/.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseImageTable, parseMoaTable, treatmentKey, type ImageTableRow, type MoaTableRow } from '../../../src/core/metadata.ts';
import { CHANNELS, type MoaClass } from '../../../src/core/labels.ts';
import { SIMULATED_DATA_MARKER } from '../../../src/core/provenance.ts';
import { IMAGE_TABLE, MOA_TABLE } from '../data/dataset-index.ts';
import { compoundSignature, treatmentPhenotype, type CompoundSignature } from './phenotypes.ts';
import { deriveSeed } from '../util/prng.ts';
import { DataError } from '../util/cli.ts';
import { spreadPick } from '../util/spread-pick.ts';
import { renderField, type RenderedField } from './render-field.ts';
import { encodeTiff16, encodeTiffPages, encodeTiffPlanar, type TiffCompression } from './tiff-writer.ts';

export { IMAGE_TABLE, MOA_TABLE };

/** Which rows of the real image table to simulate. Every filter is optional; none means all 13,200 rows. */
export interface RowSelection {
  /** Plate names as in Image_Metadata_Plate_DAPI (`Week1_22123`). */
  plates?: string[];
  /** Keep only fields whose treatment has an MoA label (the 103 treatments and DMSO). */
  labelledOnly?: boolean;
  /** Keep at most this many compounds per MoA class (alphabetical), DMSO always kept. Implies labelledOnly. */
  compoundsPerClass?: number;
  /** Keep at most this many fields per treatment (compound + concentration), spread evenly over its rows. */
  fieldsPerTreatment?: number;
  /** Fields kept for DMSO when fieldsPerTreatment is set (default 8 x fieldsPerTreatment). */
  dmsoFields?: number;
}

export interface SimulateDatasetOptions extends RowSelection {
  /** Output root; the CSVs go to its top and the TIFFs under Week<N>/Week<N>_<plate>/. */
  outDir: string;
  /** Folder holding the real BBBC021_v1_image.csv and BBBC021_v1_moa.csv (or give `tables`). */
  metadataDir?: string;
  /** The metadata tables themselves, instead of metadataDir. */
  tables?: MetadataTables;
  height?: number;
  width?: number;
  seed?: number;
  /** How far each compound departs from its class template, 0..1 (default 1; see compoundSignature). */
  compoundDiversity?: number;
  compression?: TiffCompression;
  /** Called after each field is written. */
  onField?: (done: number, total: number) => void;
}

export interface SimulatedDatasetSummary {
  outDir: string;
  fields: number;
  files: number;
  plates: string[];
  treatments: number;
  /** Fields per MoA class (unlabelled treatments under 'unlabelled'). */
  fieldsPerClass: Record<string, number>;
  bytesWritten: number;
}

/** The real tables, with each parsed row's raw CSV line so subsets keep the original formatting. */
export interface MetadataTables {
  imageHeader: string;
  imageRows: ImageTableRow[];
  imageLines: string[];
  moaHeader: string;
  moaRows: MoaTableRow[];
  moaLines: string[];
}

/** Reads the two metadata CSVs from a folder (see parseMetadataTables). */
export async function readMetadataTables(metadataDir: string): Promise<MetadataTables> {
  const read = (file: string) => readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new DataError(`${file}: ${error.code === 'ENOENT' ? 'not found' : `cannot be read (${error.message})`}`, { cause: error });
  });
  const imageText = await read(path.join(metadataDir, IMAGE_TABLE));
  const moaText = await read(path.join(metadataDir, MOA_TABLE));
  return parseMetadataTables(imageText, moaText, metadataDir);
}

/** Parses the two metadata CSVs through the core parser, keeping raw lines (the files have no multi-line cells). */
export function parseMetadataTables(imageText: string, moaText: string, source: string): MetadataTables {
  const lines = (text: string) => text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/).filter((l) => l.trim() !== '');
  const imageAll = lines(imageText);
  const moaAll = lines(moaText);
  // Errors name the file in full when `source` is a folder (a missing column says which CSV to fix).
  const imageRows = parseImageTable(imageText, path.join(source, IMAGE_TABLE));
  const moaRows = parseMoaTable(moaText, path.join(source, MOA_TABLE));
  if (imageAll.length - 1 !== imageRows.length || moaAll.length - 1 !== moaRows.length) {
    throw new Error(`Metadata CSVs in ${source} have cells spanning lines; the simulator copies rows line by line and cannot subset them.`);
  }
  return { imageHeader: imageAll[0], imageRows, imageLines: imageAll.slice(1), moaHeader: moaAll[0], moaRows, moaLines: moaAll.slice(1) };
}

/** Indices of the image-table rows a selection keeps, in table order. Throws on unknown plates. */
export function selectImageRows(tables: MetadataTables, selection: RowSelection): number[] {
  const { imageRows, moaRows } = tables;
  const labels = new Map(moaRows.map((r) => [treatmentKey(r.compound, r.concentration), r.moa]));
  if (selection.plates) {
    const known = new Set(imageRows.map((r) => r.plate));
    const unknown = selection.plates.filter((p) => !known.has(p));
    if (unknown.length) throw new Error(`Unknown plate${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; plates look like ${[...known].slice(0, 3).join(', ')}.`);
  }
  const plates = selection.plates ? new Set(selection.plates) : null;
  let keptCompounds: Set<string> | null = null;
  if (selection.compoundsPerClass !== undefined) {
    const byClass = new Map<MoaClass, Set<string>>();
    for (const r of moaRows) {
      if (!byClass.has(r.moa)) byClass.set(r.moa, new Set());
      byClass.get(r.moa)!.add(r.compound);
    }
    keptCompounds = new Set();
    for (const compounds of byClass.values()) {
      for (const c of [...compounds].sort().slice(0, Math.max(1, selection.compoundsPerClass))) keptCompounds.add(c);
    }
  }
  const labelledOnly = selection.labelledOnly || keptCompounds !== null;
  const byTreatment = new Map<string, number[]>();
  imageRows.forEach((row, i) => {
    if (plates && !plates.has(row.plate)) return;
    const key = treatmentKey(row.compound, row.concentration);
    if (labelledOnly && !labels.has(key)) return;
    if (keptCompounds && !keptCompounds.has(row.compound)) return;
    if (!byTreatment.has(key)) byTreatment.set(key, []);
    byTreatment.get(key)!.push(i);
  });
  const kept: number[] = [];
  for (const [key, rows] of byTreatment) {
    const isDmso = labels.get(key) === 'DMSO';
    const limit = selection.fieldsPerTreatment === undefined ? rows.length : isDmso ? (selection.dmsoFields ?? 8 * selection.fieldsPerTreatment) : selection.fieldsPerTreatment;
    kept.push(...spreadPick(rows, limit));
  }
  return kept.sort((a, b) => a - b);
}

/** Per-compound signatures: labelled compounds use their labelled doses; others get a weak unlabelled signature. */
export function compoundSignatures(tables: MetadataTables, seed: number, diversity = 1): Map<string, CompoundSignature> {
  const moaOf = new Map<string, MoaClass>();
  const doses = new Map<string, number[]>();
  for (const r of tables.moaRows) {
    moaOf.set(r.compound, r.moa);
    doses.set(r.compound, [...(doses.get(r.compound) ?? []), r.concentration]);
  }
  for (const r of tables.imageRows) if (!moaOf.has(r.compound)) doses.set(r.compound, [...(doses.get(r.compound) ?? []), r.concentration]);
  const out = new Map<string, CompoundSignature>();
  for (const [compound, list] of doses) out.set(compound, compoundSignature(compound, moaOf.get(compound) ?? null, list, seed, diversity));
  return out;
}

/** Renders the field of one image-table row (deterministic in seed, plate, well, site and treatment). */
export function renderTableRow(row: ImageTableRow, signature: CompoundSignature, size: { height: number; width: number }, seed: number): RenderedField {
  const phenotype = treatmentPhenotype(signature, row.concentration);
  return renderField(phenotype, {
    height: size.height,
    width: size.width,
    seed: deriveSeed(seed, row.plate, row.well, row.files.DNA.fileName),
    plateSeed: deriveSeed(seed, row.plate),
  });
}

/** Writes a simulated dataset in the BBBC021 layout and returns what was written. */
export async function writeSimulatedDataset(options: SimulateDatasetOptions): Promise<SimulatedDatasetSummary> {
  const height = options.height ?? 1024;
  const width = options.width ?? 1280;
  const seed = options.seed ?? 0;
  if (!options.tables && !options.metadataDir) throw new Error('writeSimulatedDataset needs metadataDir or tables.');
  const tables = options.tables ?? (await readMetadataTables(options.metadataDir!));
  const selected = selectImageRows(tables, options);
  if (selected.length === 0) throw new Error('The selection keeps no fields; check --plates and the other filters.');
  const signatures = compoundSignatures(tables, seed, options.compoundDiversity);
  const labels = new Map(tables.moaRows.map((r) => [treatmentKey(r.compound, r.concentration), r.moa]));
  await mkdir(options.outDir, { recursive: true });

  const keptTreatments = new Set(selected.map((i) => treatmentKey(tables.imageRows[i].compound, tables.imageRows[i].concentration)));
  const moaLines = tables.moaRows.flatMap((r, i) => (keptTreatments.has(treatmentKey(r.compound, r.concentration)) ? [tables.moaLines[i]] : []));
  let bytesWritten = 0;
  const write = async (file: string, data: Uint8Array | string) => {
    await writeFile(file, data);
    bytesWritten += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  };
  await write(path.join(options.outDir, IMAGE_TABLE), [tables.imageHeader, ...selected.map((i) => tables.imageLines[i])].join('\n') + '\n');
  await write(path.join(options.outDir, MOA_TABLE), [tables.moaHeader, ...moaLines].join('\n') + '\n');

  const fieldsPerClass: Record<string, number> = {};
  const folders = new Set<string>();
  let files = 0;
  for (let k = 0; k < selected.length; k++) {
    const row = tables.imageRows[selected[k]];
    const field = renderTableRow(row, signatures.get(row.compound)!, { height, width }, seed);
    for (let c = 0; c < CHANNELS.length; c++) {
      const { fileName, pathName } = row.files[CHANNELS[c]];
      const folder = path.join(options.outDir, pathName);
      if (!folders.has(folder)) {
        await mkdir(folder, { recursive: true });
        folders.add(folder);
      }
      await write(path.join(folder, fileName), encodeTiff16({ width, height, data: field.planes[c] }, { compression: options.compression }));
      files++;
    }
    const moa = labels.get(treatmentKey(row.compound, row.concentration)) ?? 'unlabelled';
    fieldsPerClass[moa] = (fieldsPerClass[moa] ?? 0) + 1;
    options.onField?.(k + 1, selected.length);
  }
  // Marks the root as simulated: a model trained on it says so in its bundle's provenance (and the app on its results).
  await writeFile(path.join(options.outDir, SIMULATED_DATA_MARKER), JSON.stringify({ simulated: true, seed, height, width, fields: selected.length }, null, 1) + '\n');
  return {
    outDir: options.outDir,
    fields: selected.length,
    files,
    plates: [...new Set(selected.map((i) => tables.imageRows[i].plate))].sort(),
    treatments: keptTreatments.size,
    fieldsPerClass,
    bytesWritten,
  };
}

/** One field as a single 3-channel TIFF (DNA, Tubulin, Actin): one planar page, or three pages named by PageName. */
export function encodeMultiChannelTiff(field: RenderedField, layout: 'planar' | 'pages' = 'planar', compression: TiffCompression = 'deflate'): Uint8Array {
  const planes = field.planes.map((data) => ({ width: field.width, height: field.height, data }));
  return layout === 'planar' ? encodeTiffPlanar(planes, { compression }) : encodeTiffPages(planes, { compression, pageNames: [...CHANNELS] });
}
