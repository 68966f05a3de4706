// BBBC021 metadata: a small CSV parser, the image table (one row per field) and the MoA table, and the
// join of the two on compound and numeric concentration. The image table can drive the grouping.

import { MetadataError } from './errors.ts';
import type { Field, FieldProblem, InputFile } from './grouping.ts';
import { isMoaClass, type ChannelName, type MoaClass } from './labels.ts';

/** Parses CSV text: quoted fields with "" escapes and line breaks, LF / CRLF / CR, a leading BOM. Skips blank lines. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const endRow = () => {
    row.push(field);
    if (row.length > 1 || row[0] !== '') rows.push(row);
    row = [];
    field = '';
  };
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' || ch === '\n') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRow();
    } else field += ch;
  }
  if (field !== '' || row.length > 0) endRow();
  return rows;
}

/** One row of BBBC021_v1_image.csv: one field of view with its three channel files. */
export interface ImageTableRow {
  imageNumber?: number;
  files: Record<ChannelName, { fileName: string; pathName: string }>;
  plate: string;
  well: string;
  replicate: number;
  compound: string;
  concentration: number;
}

export interface MoaTableRow {
  compound: string;
  concentration: number;
  moa: MoaClass;
}

function table(text: string, fileName: string, required: string[]): { header: string[]; rows: string[][]; col: (name: string) => number } {
  const all = parseCsv(text);
  if (all.length === 0) throw new MetadataError(fileName, 'empty-table', `"${fileName}" is empty.`);
  const header = all[0].map((h) => h.trim());
  const col = (name: string) => header.indexOf(name);
  const missing = required.filter((name) => col(name) < 0);
  if (missing.length > 0) {
    throw new MetadataError(fileName, 'missing-column', `"${fileName}" lacks the column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`);
  }
  return { header, rows: all.slice(1), col };
}

function numberCell(value: string, fileName: string, row: number, column: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n)) {
    throw new MetadataError(fileName, 'bad-row', `"${fileName}" row ${row}: ${column} "${value}" is not a number.`, row);
  }
  return n;
}

const CHANNEL_COLUMNS: Record<ChannelName, string> = { DNA: 'DAPI', Tubulin: 'Tubulin', Actin: 'Actin' };

/** Parses BBBC021_v1_image.csv (columns Image_FileName_DAPI ... Image_Metadata_Concentration). */
export function parseImageTable(text: string, fileName = 'BBBC021_v1_image.csv'): ImageTableRow[] {
  const fileCols = Object.values(CHANNEL_COLUMNS).flatMap((c) => [`Image_FileName_${c}`, `Image_PathName_${c}`]);
  const required = [...fileCols, 'Image_Metadata_Plate_DAPI', 'Image_Metadata_Well_DAPI', 'Replicate', 'Image_Metadata_Compound', 'Image_Metadata_Concentration'];
  const { rows, col } = table(text, fileName, required);
  return rows.map((cells, i) => {
    const rowNumber = i + 2;
    const cell = (name: string) => cells[col(name)] ?? '';
    const files = Object.fromEntries(
      (Object.entries(CHANNEL_COLUMNS) as [ChannelName, string][]).map(([channel, c]) => [
        channel,
        { fileName: cell(`Image_FileName_${c}`), pathName: cell(`Image_PathName_${c}`) },
      ]),
    ) as ImageTableRow['files'];
    const imageNumber = col('ImageNumber') >= 0 ? Number(cell('ImageNumber')) : undefined;
    return {
      imageNumber: Number.isFinite(imageNumber) ? imageNumber : undefined,
      files,
      plate: cell('Image_Metadata_Plate_DAPI'),
      well: cell('Image_Metadata_Well_DAPI'),
      replicate: numberCell(cell('Replicate'), fileName, rowNumber, 'Replicate'),
      compound: cell('Image_Metadata_Compound'),
      concentration: numberCell(cell('Image_Metadata_Concentration'), fileName, rowNumber, 'Image_Metadata_Concentration'),
    };
  });
}

/** Parses BBBC021_v1_moa.csv (compound, concentration, moa). Unknown MoA names are an error. */
export function parseMoaTable(text: string, fileName = 'BBBC021_v1_moa.csv'): MoaTableRow[] {
  const { rows, col } = table(text, fileName, ['compound', 'concentration', 'moa']);
  return rows.map((cells, i) => {
    const moa = (cells[col('moa')] ?? '').trim();
    if (!isMoaClass(moa)) throw new MetadataError(fileName, 'bad-row', `"${fileName}" row ${i + 2}: unknown mechanism of action "${moa}".`, i + 2);
    return {
      compound: (cells[col('compound')] ?? '').trim(),
      concentration: numberCell(cells[col('concentration')] ?? '', fileName, i + 2, 'concentration'),
      moa,
    };
  });
}

/** Key of a treatment: compound and concentration compared as numbers ("3", "3.0" and "3.000000" agree). */
export function treatmentKey(compound: string, concentration: number | string): string {
  return `${compound.trim()}@${Number(concentration)}`;
}

/** The MoA of each treatment in the table, by treatmentKey. */
export function moaLookup(moaRows: MoaTableRow[]): Map<string, MoaClass> {
  return new Map(moaRows.map((r) => [treatmentKey(r.compound, r.concentration), r.moa]));
}

function stemOf(fileName: string): string {
  return fileName.replace(/_w\d[0-9A-Fa-f-]*\.tiff?$/i, '').replace(/\.tiff?$/i, '');
}

/**
 * One field per image-table row, channels from its file columns, metadata and (when `moaRows` is given)
 * the MoA label attached. With `files` (a dropped folder), each channel file is looked up by folder and
 * name, and a file that is absent is reported as 'missing-file' on that field.
 */
export function fieldsFromImageTable(rows: ImageTableRow[], moaRows?: MoaTableRow[], files?: InputFile[]): { fields: Field[]; problems: FieldProblem[] } {
  const labels = moaRows ? moaLookup(moaRows) : undefined;
  const available = files ? new Map(files.map((f) => [normalisePath(f.path ?? f.name), f])) : undefined;
  const byName = files ? new Map(files.map((f) => [f.name, f])) : undefined;
  const fields = rows.map((row): Field => {
    const dna = row.files.DNA;
    const id = `${dna.pathName}/${stemOf(dna.fileName)}`;
    const site = /_s(\d+)_w/.exec(dna.fileName);
    const field: Field = {
      id,
      name: stemOf(dna.fileName),
      plate: row.plate,
      well: row.well,
      site: site ? Number(site[1]) : undefined,
      channels: {},
      extras: [],
      complete: true,
      problems: [],
      metadata: { compound: row.compound, concentration: row.concentration, replicate: row.replicate, moa: labels?.get(treatmentKey(row.compound, row.concentration)) },
    };
    for (const channel of Object.keys(row.files) as ChannelName[]) {
      const { fileName, pathName } = row.files[channel];
      const path = `${pathName}/${fileName}`;
      const file = available ? available.get(normalisePath(path)) ?? findBySuffix(byName!, fileName, pathName) : { name: fileName, path };
      if (!file) {
        field.problems.push({ fieldId: id, kind: 'missing-file', channel, message: `Field ${id}: the ${channel} image ${path} named in the table is not among the files.` });
        field.complete = false;
        continue;
      }
      field.channels[channel] = { file, assignedBy: 'table' };
    }
    return field;
  });
  return { fields, problems: fields.flatMap((f) => f.problems) };
}

function normalisePath(path: string): string {
  return path.replace(/\\/g, '/').replace(/^\.?\//, '');
}

/** A dropped folder may add a parent folder above `Week1/...`: accept a path that ends with the table's path. */
function findBySuffix(byName: Map<string, InputFile>, fileName: string, pathName: string): InputFile | undefined {
  const file = byName.get(fileName);
  if (!file) return undefined;
  return normalisePath(file.path ?? file.name).endsWith(`${pathName}/${fileName}`) ? file : undefined;
}
