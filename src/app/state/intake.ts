// From dropped files to a run plan: metadata tables read, files grouped into fields, engine inputs, and every problem named.
import { groupChannels, parseFileName, type AssignedBy, type ChannelMapping, type Field, type FieldProblemKind, type InputFile } from '../../core/grouping.ts';
import { ALPHA, type ImageChannels } from '../../core/image-probe.ts';
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

/** One line of the channel-mapping review: a channel name found in the drop, how many files (or file channels) carry it, and what it is used as. */
export interface MappingRow {
  token: string;
  files: number;
  /** DNA, Tubulin or Actin; null: not used. */
  channel: ChannelName | null;
  /** How that was decided (the user's mapping, a pattern, a stain word, order, the image table, nothing); 'mixed' when fields differ. */
  assignedBy: AssignedBy | 'mixed';
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
  /** Every channel name of the drop, for the mapping table. */
  mapping: MappingRow[];
  /** Things worth telling the user about the metadata. */
  notes: string[];
}

export interface PlanOptions {
  mapping?: ChannelMapping;
  /** For PNG/JPEG: which of R, G, B (0, 1, 2) holds DNA, Tubulin, Actin. */
  rgbOrder?: [number, number, number];
  /**
   * What image files hold (probeImage), by dropped path, or the Error that stopped reading one. A file
   * inspected is planned from its real channels; one that could not be read is listed as not used.
   */
  probes?: ReadonlyMap<string, ImageChannels | Error>;
}

const RGB_EXT = /\.(png|jpe?g)$/i;
const TIFF_EXT = /\.tiff?$/i;

function baseName(path: string): string {
  return path.split('/').pop() ?? path;
}

function folderName(path: string): string {
  const parts = path.split('/');
  return parts.length > 1 ? parts[parts.length - 2] : '';
}

/**
 * Whether a dropped image must be inspected before planning: PNG/JPEG (greyscale or colour) and TIFFs
 * whose name has no channel part (one file may hold one channel or several). Files named per channel
 * (`_w1`, `_DAPI`, `-ch2`) are one channel each and are not read.
 */
export function needsProbe(path: string): boolean {
  const name = baseName(path);
  if (name.startsWith('.')) return false;
  if (RGB_EXT.test(name)) return true;
  return TIFF_EXT.test(name) && parseFileName(name).scheme === 'none';
}

/** Table paths are "Week1/Week1_22123"; a dropped plate folder may lack the parents. Align paths of files the table names uniquely. */
function alignToTable(files: DroppedFile[], rows: ImageTableRow[], probes: PlanOptions['probes']): Map<string, { input: InputFile; dropped: DroppedFile }> {
  const tablePath = new Map<string, string>();
  for (const r of rows) for (const c of CHANNELS) tablePath.set(r.files[c].fileName, `${r.files[c].pathName}/${r.files[c].fileName}`);
  const count = new Map<string, number>();
  for (const f of files) count.set(baseName(f.path), (count.get(baseName(f.path)) ?? 0) + 1);
  const out = new Map<string, { input: InputFile; dropped: DroppedFile }>();
  for (const f of files) {
    const name = baseName(f.path);
    const path = (count.get(name) === 1 ? tablePath.get(name) : undefined) ?? f.path;
    const probe = probes?.get(f.path);
    const channelNames = probe && !(probe instanceof Error) ? probe.channelNames : undefined;
    out.set(path, { input: { name, path, ...(channelNames ? { channelNames } : {}) }, dropped: f });
  }
  return out;
}

function fieldInfo(field: Field, files: string[]): FieldInfo {
  return {
    id: field.id,
    name: field.name,
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

/** One row per channel name of the grouped fields: its file count and what it is used as (the most common use when fields differ). */
function mappingRows(fields: Field[]): MappingRow[] {
  const uses = new Map<string, { files: number; byUse: Map<string, { channel: ChannelName | null; assignedBy: AssignedBy; n: number }> }>();
  const add = (token: string, channel: ChannelName | null, assignedBy: AssignedBy) => {
    const entry = uses.get(token) ?? { files: 0, byUse: new Map() };
    entry.files++;
    const key = `${channel}`;
    const use = entry.byUse.get(key) ?? { channel, assignedBy, n: 0 };
    use.n++;
    entry.byUse.set(key, use);
    uses.set(token, entry);
  };
  for (const f of fields) {
    for (const c of CHANNELS) {
      const s = f.channels[c];
      if (s?.assignedBy === 'table') add(`${c} column of the image table`, c, 'table');
      else if (s?.token) add(s.token, c, s.assignedBy);
    }
    for (const s of f.extras) if (s.token) add(s.token, null, s.assignedBy);
  }
  const collator = new Intl.Collator('en', { numeric: true });
  return [...uses]
    .map(([token, { files, byUse }]) => {
      const ranked = [...byUse.values()].sort((a, b) => b.n - a.n);
      return { token, files, channel: ranked[0].channel, assignedBy: ranked.length > 1 ? ('mixed' as const) : ranked[0].assignedBy };
    })
    .sort((a, b) => collator.compare(a.token, b.token));
}

/** How a mapping row was decided, in words for the review table. */
export function decidedBy(row: MappingRow): string {
  switch (row.assignedBy) {
    case 'mapping':
      return 'your choice (remembered for these channel names)';
    case 'pattern':
      return 'channel number (BBBC021: w1 DNA, w2 Tubulin, w4 Actin)';
    case 'word':
      return 'the stain name';
    case 'order':
      return 'assumed from order — please check';
    case 'table':
      return 'metadata table';
    case 'mixed':
      return 'differs between fields — please choose';
    default:
      return 'not a DNA, Tubulin or Actin name — please choose';
  }
}

/** A new mapping that sends the channel name `token` to `channel` (null: not used), keeping earlier choices. */
export function remap(mapping: ChannelMapping, token: string, channel: ChannelName | null): ChannelMapping {
  return { ...mapping, tokens: { ...mapping.tokens, [token]: channel } };
}

const BLOCKING: readonly FieldProblemKind[] = ['missing-channel', 'too-few-channels', 'missing-file', 'unequal-size'];

/**
 * Plans a run: with an image table, its rows whose files were dropped become fields (metadata and,
 * with the MoA table, ground truth attached); images the table does not name are grouped by file
 * name. PNG/JPEG files are one field each (R, G, B as `rgbOrder` says). A field is ready only when
 * DNA, Tubulin and Actin each come from a real channel; the others are kept with their problems so
 * the review says what is wrong with each before anything runs.
 */
export function planRun(images: DroppedFile[], tables: MetadataTables, options: PlanOptions = {}, channels: readonly ChannelName[] = CHANNELS): RunPlan {
  const plan: RunPlan = { fields: [], unused: [], mapping: [], notes: [] };
  const imageRows = tables.image.flatMap((t) => t.rows);
  const moaRows = tables.moa.flatMap((t) => t.rows);
  if (moaRows.length && !imageRows.length)
    plan.notes.push('An MoA table was given without the image table; drop BBBC021_v1_image.csv too to attach compounds and ground truth.');

  const unreadable = (f: DroppedFile) => {
    const probe = options.probes?.get(f.path);
    if (!(probe instanceof Error)) return false;
    plan.unused.push({ path: f.path, message: probe.message });
    return true;
  };
  const readable = images.filter((f) => !unreadable(f));
  const rgb = readable.filter((f) => RGB_EXT.test(f.path));
  const tiffs = readable.filter((f) => !RGB_EXT.test(f.path));
  const byInput = alignToTable(tiffs, imageRows, options.probes);
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
    const blocking = field.problems.filter((p) => BLOCKING.includes(p.kind));
    const warnings = field.problems.filter((p) => !blocking.includes(p)).map((p) => p.message);
    if (field.complete && !blocking.length) plan.fields.push({ info, input: inputFor(field, fileOf, channels), problems: [], warnings });
    else plan.fields.push({ info, problems: blocking.length ? blocking.map((p) => p.message) : [`Field ${field.id} is incomplete.`], warnings });
  }

  const order = options.rgbOrder ?? [0, 1, 2];
  for (const f of rgb) {
    const name = baseName(f.path);
    const m = /(?:^|[_\- ])([A-Pa-p]\d{1,2})(?:[_\- ]s(\d+))?(?=[_\-. ])/.exec(name);
    const info: FieldInfo = { id: f.path, name, plate: folderName(f.path), well: m ? m[1].toUpperCase() : '', site: m?.[2] ? Number(m[2]) : null, files: [f.path] };
    const probe = options.probes?.get(f.path);
    if (probe && !(probe instanceof Error) && probe.channelNames.filter((c) => c !== ALPHA).length < CHANNELS.length) {
      const problem = `Field ${f.path} has one channel (${name} is a greyscale image); DNA, Tubulin and Actin must each come from a channel of its own. It is not classified.`;
      plan.fields.push({ info, problems: [problem], warnings: [] });
      continue;
    }
    plan.fields.push({ info, input: { id: f.path, file: f.file, name, channelOrder: channels.map((c) => order[CHANNELS.indexOf(c)]) }, problems: [], warnings: [] });
  }

  plan.mapping = mappingRows(grouped);
  return plan;
}
