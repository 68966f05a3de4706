// From dropped files to a run plan: metadata tables read, files grouped into fields, engine inputs, and every problem named.
import { groupChannels, parseFileName, type ChannelMapping, type Field, type InputFile } from '../../core/grouping.ts';
import { CHANNELS, type ChannelName } from '../../core/labels.ts';
import { fieldsFromImageTable, parseImageTable, parseMoaTable, type ImageTableRow, type MoaTableRow } from '../../core/metadata.ts';
import type { FieldInput } from '../../engine/index.ts';
import type { DropProblem, DroppedFile } from './drop.ts';
import type { FieldInfo } from './results.ts';

export interface MetadataTables {
  /** Image tables (one row per field), with the file each came from. */
  image: { path: string; rows: ImageTableRow[] }[];
  moa: { path: string; rows: MoaTableRow[] }[];
  problems: DropProblem[];
}

/** Reads each CSV as a BBBC021 image table or MoA table (decided by its columns); anything else is a problem. */
export function readMetadata(csvs: { path: string; text: string }[]): MetadataTables {
  const out: MetadataTables = { image: [], moa: [], problems: [] };
  for (const { path, text } of csvs) {
    const name = path.split('/').pop() ?? path;
    const header = text.slice(0, 4096).split(/\r?\n/, 1)[0] ?? '';
    try {
      if (/Image_FileName_DAPI/.test(header)) out.image.push({ path, rows: parseImageTable(text, name) });
      else if (/(^|,)\s*"?moa"?\s*(,|$)/i.test(header)) out.moa.push({ path, rows: parseMoaTable(text, name) });
      else
        out.problems.push({
          path,
          message: 'Not a BBBC021 metadata table: expected an image table (Image_FileName_DAPI, ...) or an MoA table (compound, concentration, moa).',
        });
    } catch (err) {
      out.problems.push({ path, message: (err as Error).message });
    }
  }
  return out;
}

/** One line of the channel-mapping review: a name token (or channel number) and the stain it was taken as. */
export interface MappingRow {
  token: string;
  /** Channel number the token carries (w2 -> 2), when it has one; overrides go by number then. */
  index?: number;
  channel: ChannelName | null;
  /** How it was decided: pattern, word, order, table, mapping... */
  assignedBy: string;
  files: number;
}

/** A field ready to classify (input set) or held back (problems set). */
export interface PlannedField {
  info: FieldInfo;
  input?: FieldInput;
  /** Why the field cannot be classified; empty when it can. */
  problems: string[];
  /** Warnings that do not stop it (assumed channel order). */
  warnings: string[];
}

export interface RunPlan {
  fields: PlannedField[];
  /** Files not used for any field, with the reason. */
  unused: DropProblem[];
  mapping: MappingRow[];
  /** Things worth telling the user about the metadata. */
  notes: string[];
}

export interface PlanOptions {
  mapping?: ChannelMapping;
  /** For PNG/JPEG: which of R, G, B (0, 1, 2) holds DNA, Tubulin, Actin. */
  rgbOrder?: [number, number, number];
}

const RGB_EXT = /\.(png|jpe?g)$/i;

function baseName(path: string): string {
  return path.split('/').pop() ?? path;
}

function folderName(path: string): string {
  const parts = path.split('/');
  return parts.length > 1 ? parts[parts.length - 2] : '';
}

/** Table paths are "Week1/Week1_22123"; a dropped plate folder may lack the parents. Align paths of files the table names uniquely. */
function alignToTable(files: DroppedFile[], rows: ImageTableRow[]): Map<string, { input: InputFile; dropped: DroppedFile }> {
  const tablePath = new Map<string, string>();
  for (const r of rows) for (const c of CHANNELS) tablePath.set(r.files[c].fileName, `${r.files[c].pathName}/${r.files[c].fileName}`);
  const count = new Map<string, number>();
  for (const f of files) count.set(baseName(f.path), (count.get(baseName(f.path)) ?? 0) + 1);
  const out = new Map<string, { input: InputFile; dropped: DroppedFile }>();
  for (const f of files) {
    const name = baseName(f.path);
    const path = (count.get(name) === 1 ? tablePath.get(name) : undefined) ?? f.path;
    out.set(path, { input: { name, path }, dropped: f });
  }
  return out;
}

function fieldInfo(field: Field, files: string[]): FieldInfo {
  return {
    id: field.id,
    plate: field.plate ?? '',
    well: field.well ?? '',
    site: field.site ?? null,
    files,
    compound: field.metadata?.compound,
    concentration: field.metadata?.concentration,
    moa: field.metadata?.moa,
  };
}

/** The engine input for a complete grouped field: one file per channel, or one multi-channel file with its channel order. */
function inputFor(field: Field, fileOf: (f: InputFile) => File, channels: readonly ChannelName[]): FieldInput {
  const sources = channels.map((c) => field.channels[c]!);
  const sameFile = sources.every((s) => s.file === sources[0].file && s.channelIndex !== undefined);
  if (sameFile) return { id: field.id, file: fileOf(sources[0].file), name: sources[0].file.name, channelOrder: sources.map((s) => s.channelIndex!) };
  const record = {} as Record<ChannelName, File>;
  const names: Partial<Record<ChannelName, string>> = {};
  for (const c of CHANNELS) {
    record[c] = fileOf(field.channels[c]!.file);
    names[c] = field.channels[c]!.file.name;
  }
  return { id: field.id, channels: record, names };
}

function mappingRows(fields: Field[]): MappingRow[] {
  const rows = new Map<string, MappingRow>();
  const add = (token: string, channel: ChannelName | null, assignedBy: string, fileName: string, channelIndex?: number) => {
    const key = `${token}\u0000${channel}`;
    const row = rows.get(key);
    if (row) row.files++;
    else {
      const parsedIndex = channelIndex ?? parseFileName(fileName).channelIndex;
      rows.set(key, { token, index: parsedIndex, channel, assignedBy, files: 1 });
    }
  };
  for (const f of fields) {
    for (const c of CHANNELS) {
      const s = f.channels[c];
      if (s) add(s.assignedBy === 'table' ? `${c} column of the image table` : (s.token ?? (s.channelIndex !== undefined ? `channel ${s.channelIndex + 1}` : s.file.name)), c, s.assignedBy, s.file.name, s.channelIndex);
    }
    for (const s of f.extras) add(s.token ?? (s.channelIndex !== undefined ? `channel ${s.channelIndex + 1}` : s.file.name), null, s.assignedBy, s.file.name, s.channelIndex);
  }
  const collator = new Intl.Collator('en', { numeric: true });
  return [...rows.values()].sort((a, b) => collator.compare(a.token, b.token));
}

/** A new mapping that sends `row`'s token (by channel number when it has one) to `channel`, keeping earlier overrides. */
export function remap(mapping: ChannelMapping, row: MappingRow, channel: ChannelName | null): ChannelMapping {
  if (row.index !== undefined) return { ...mapping, indices: { ...mapping.indices, [row.index]: channel } };
  return { ...mapping, tokens: { ...mapping.tokens, [row.token]: channel } };
}

/**
 * Plans a run: with an image table, its rows whose files were dropped become fields (metadata and,
 * with the MoA table, ground truth attached); images the table does not name are grouped by file
 * name. PNG/JPEG files are one field each (R, G, B as `rgbOrder` says). Incomplete fields are kept
 * with their problems so the results can say what is wrong with each.
 */
export function planRun(images: DroppedFile[], tables: MetadataTables, options: PlanOptions = {}, channels: readonly ChannelName[] = CHANNELS): RunPlan {
  const plan: RunPlan = { fields: [], unused: [], mapping: [], notes: [] };
  const imageRows = tables.image.flatMap((t) => t.rows);
  const moaRows = tables.moa.flatMap((t) => t.rows);
  if (moaRows.length && !imageRows.length)
    plan.notes.push('An MoA table was given without the image table; drop BBBC021_v1_image.csv too to attach compounds and ground truth.');

  const rgb = images.filter((f) => RGB_EXT.test(f.path));
  const tiffs = images.filter((f) => !RGB_EXT.test(f.path));
  const byInput = alignToTable(tiffs, imageRows);
  // Grouping may copy InputFile objects: look dropped files up by path.
  const fileOf = (f: InputFile) => {
    const d = byInput.get(f.path ?? f.name);
    if (!d) throw new Error(`Internal: no dropped file for ${f.path ?? f.name}.`);
    return d.dropped.file;
  };
  const pathOf = (f: InputFile) => byInput.get(f.path ?? f.name)?.dropped.path ?? f.path ?? f.name;
  const grouped: Field[] = [];
  let rest = [...byInput.values()].map((v) => v.input);

  if (imageRows.length) {
    const fromTable = fieldsFromImageTable(imageRows, moaRows.length ? moaRows : undefined, rest);
    const used = new Set<string>();
    let withoutFiles = 0;
    for (const f of fromTable.fields) {
      const found = CHANNELS.filter((c) => f.channels[c]);
      if (!found.length) {
        withoutFiles++;
        continue;
      }
      for (const c of found) used.add(f.channels[c]!.file.path ?? f.channels[c]!.file.name);
      grouped.push(f);
    }
    rest = rest.filter((f) => !used.has(f.path ?? f.name));
    if (withoutFiles) plan.notes.push(`${withoutFiles} field(s) of the image table have none of their files here; they are left out.`);
    if (moaRows.length) {
      const unlabelled = grouped.filter((f) => f.metadata && f.metadata.moa === undefined).length;
      if (unlabelled) plan.notes.push(`${unlabelled} field(s) have a treatment the MoA table does not list; they have no ground truth.`);
    }
  }
  if (rest.length) {
    const g = groupChannels(rest, { mapping: options.mapping });
    grouped.push(...g.fields);
    for (const u of g.unassigned) plan.unused.push({ path: pathOf(u.file), message: `Not used: ${u.reason}.` });
  }

  for (const field of grouped) {
    const files = [...CHANNELS.map((c) => field.channels[c]?.file), ...field.extras.map((e) => e.file)]
      .filter((f): f is InputFile => f !== undefined)
      .map(pathOf);
    const info = fieldInfo(field, [...new Set(files)]);
    const blocking = field.problems.filter((p) => p.kind === 'missing-channel' || p.kind === 'missing-file' || p.kind === 'unequal-size');
    const warnings = field.problems.filter((p) => !blocking.includes(p)).map((p) => p.message);
    if (field.complete && !blocking.length) plan.fields.push({ info, input: inputFor(field, fileOf, channels), problems: [], warnings });
    else plan.fields.push({ info, problems: blocking.length ? blocking.map((p) => p.message) : [`Field ${field.id} is incomplete.`], warnings });
  }

  const order = options.rgbOrder ?? [0, 1, 2];
  for (const f of rgb) {
    const name = baseName(f.path);
    const m = /(?:^|[_\- ])([A-Pa-p]\d{1,2})(?:[_\- ]s(\d+))?(?=[_\-. ])/.exec(name);
    plan.fields.push({
      info: { id: f.path, plate: folderName(f.path), well: m ? m[1].toUpperCase() : '', site: m?.[2] ? Number(m[2]) : null, files: [f.path] },
      input: { id: f.path, file: f.file, name, channelOrder: channels.map((c) => order[CHANNELS.indexOf(c)]) },
      problems: [],
      warnings: [],
    });
  }

  plan.mapping = mappingRows(grouped);
  return plan;
}
