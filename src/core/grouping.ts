// Groups per-channel image files into fields (plate, well, site) and assigns DNA / Tubulin / Actin,
// from microscope file-name patterns, channel names, or an explicit user mapping. One sample is one
// channel: a field is complete only when DNA, Tubulin and Actin each come from a channel of their own.

import { CHANNELS, type ChannelName } from './labels.ts';

export interface InputFile {
  name: string;
  /** Relative path as a dropped folder gives it (`Week1/Week1_22123/G10_s1_w1....tif`). */
  path?: string;
  /**
   * The file's own channels, read from its header (src/core/image-probe.ts): one entry per channel
   * (sample or page), its name where the file states one. Absent: not inspected, taken as one channel.
   */
  channelNames?: (string | undefined)[];
}

/** How a channel was assigned: user mapping, microscope channel number, channel word, order, image table, or not at all. */
export type AssignedBy = 'mapping' | 'pattern' | 'word' | 'order' | 'table' | 'none';

export interface ChannelSource {
  file: InputFile;
  /** For multi-channel files: which channel (sample or page) of the file. */
  channelIndex?: number;
  assignedBy: AssignedBy;
  /** The channel's name as the mapping knows it: the name part that decided it (`w2`, `DAPI`, `d0`), or the file's own channel name (`Red`, `channel 4`). */
  token?: string;
}

export type FieldProblemKind = 'missing-channel' | 'too-few-channels' | 'extra-channel' | 'duplicate-channel' | 'unequal-size' | 'assumed-order' | 'missing-file';

export interface FieldProblem {
  fieldId: string;
  kind: FieldProblemKind;
  channel?: ChannelName;
  /** A sentence for the user. */
  message: string;
}

export interface FieldMetadata {
  compound?: string;
  concentration?: number;
  replicate?: number;
  moa?: string;
}

export interface Field {
  id: string;
  /** What names the field for the user when plate, well and site do not: the file name without its channel part (or the file's name). */
  name: string;
  plate?: string;
  well?: string;
  site?: number;
  channels: Partial<Record<ChannelName, ChannelSource>>;
  /** Files or file channels not used as DNA, Tubulin or Actin. */
  extras: ChannelSource[];
  complete: boolean;
  problems: FieldProblem[];
  metadata?: FieldMetadata;
}

export interface GroupingResult {
  fields: Field[];
  unassigned: { file: InputFile; reason: string }[];
  /** Every field's problems in one list. */
  problems: FieldProblem[];
}

/** The user's choices: a channel name (token) -> DNA, Tubulin, Actin, or null for "not used". */
export interface ChannelMapping {
  tokens?: Record<string, ChannelName | null>;
}

export interface GroupingOptions {
  mapping?: ChannelMapping;
}

/** Which naming scheme a file name followed. */
export type NamingScheme =
  | 'imagexpress'
  | 'cellomics'
  | 'operetta'
  | 'cellvoyager'
  | 'incell'
  | 'cytation'
  | 'scanr'
  | 'channel-prefix'
  | 'w-suffix'
  | 'stain-word'
  | 'c-suffix'
  | 'none';

export interface ParsedName {
  /** The name without its channel part: files sharing it (in one folder) form one field. */
  stem: string;
  plate?: string;
  well?: string;
  site?: number;
  /** The channel part as written (`w2`, `DAPI`, `ch1`, `Propidium Iodide`, `DAPI - DAPI`). */
  token?: string;
  /** The channel number the token carries (w2 -> 2), for order. */
  channelIndex?: number;
  /** The stain the token names by itself (DAPI -> DNA; BBBC021's w1/w2/w4), if any. */
  channel?: ChannelName;
  scheme: NamingScheme;
}

const UUID = '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}';
const TIFF_EXTENSION = /\.(ome\.)?tiff?$/i;
/** Marks where the channel part was cut out of a stem. */
const CUT = '\u2022';

/** ImageXpress (BBBC021): `[plate_]<well>_s<site>_w<N>[UUID]`. */
const IMAGEXPRESS = new RegExp(`^(?:(.*)_)?([A-Pa-p]\\d{1,2})_s(\\d+)_w(\\d)(${UUID})?$`);
/** Cellomics / CellProfiler examples: `[plate_]<well>f<field>d<channel>` (MFGTMP_140206180002_A01f00d0). */
const CELLOMICS = /^(?:(.*)_)?([A-Pa-p]\d{2})f(\d+)d(\d+)$/;
/** Operetta / Opera Phenix: `r<row>c<col>f<field>p<plane>-ch<channel>sk<t>fk<n>fl<n>`. */
const OPERETTA = /^r(\d{1,3})c(\d{1,3})f(\d+)p(\d+)-ch(\d+)(.*)$/i;
/** Yokogawa CellVoyager: `<plate>_<well>_T<t>F<field>L<l>A<action>Z<z>C<channel>`. */
const CELLVOYAGER = /^(?:(.*)_)?([A-Pa-p]\d{2})_T(\d+)F(\d+)L(\d+)A(\d+)Z(\d+)C(\d+)$/;
/** GE InCell: `<row> - <col>(fld <field> wv <excitation> - <emission>[ z <z>][ time <t>...])`. */
const INCELL = /^([A-Pa-p]) - (\d{1,2})\(fld (\d+) wv (.+?)((?: z \d+)?(?: time \d+.*)?)\)$/;
/** BioTek Cytation / Gen5: `<well>_<read>_<channel>_<picture>_<channel name>_<image>`. */
const CYTATION = /^([A-Pa-p]\d{1,2})_(\d+)_(\d+)_(\d+)_([^_]+)_(\d+)$/;
/** Olympus scanR: `--W<well>--P<position>--Z<z>--T<t>--<channel name>`. */
const SCANR = /^(.*)--W(\d+)--P(\d+)--Z(\d+)--T(\d+)--(.+)$/;
/** `Channel 1-01-A-01-00`: the channel first, then the well as row and column, the field last. */
const CHANNEL_PREFIX = /^(Channel ?(\d+))(-\d+-([A-Pa-p])-(\d{1,2})-(\d+))$/i;
/** `..._w1_...` or `..._w1` (ImageXpress without site, ExampleStraightenWorms). */
const W_SUFFIX = /^(.*?)_w(\d{1,2})(?:_(.*))?$/;
/** `..._ch1`, `...-c2`, `... C3` at a word boundary. */
const C_SUFFIX = /(^|[_\-. ])(ch|c)(\d{1,2})(?=[_\-. ]|$)/i;

/** Stain words that name DNA, Tubulin or Actin by themselves (case-insensitive). */
export const CHANNEL_WORDS: Record<ChannelName, string[]> = {
  DNA: ['dapi', 'hoechst', 'hoechst 33342', 'dna', 'nuclei', 'nucleus', 'h33342', 'draq5'],
  Tubulin: ['tubulin', 'tub', 'alpha-tubulin'],
  Actin: ['actin', 'f-actin', 'phalloidin', 'phallodin'],
};

/**
 * Other channel names microscopes write into file names (fluorophores, filters, Cell Painting stains,
 * transmitted light). They group files into fields but decide no stain: the user maps them.
 */
export const OTHER_CHANNEL_WORDS = [
  'propidium iodide', 'texas red', 'bright field', 'brightfield', 'phase contrast', 'far red', 'far-red',
  'gfp', 'egfp', 'rfp', 'yfp', 'cfp', 'bfp', 'mcherry', 'cherry', 'tritc', 'fitc', 'cy3', 'cy5', 'cy7',
  'er', 'rna', 'agp', 'mito', 'mitotracker', 'wga', 'syto14', 'concanavalin', 'dic',
  'alexa488', 'alexa 488', 'alexa568', 'alexa 568', 'alexa647', 'alexa 647', 'af488', 'af568', 'af647',
];

/** Colour names of RGB samples: numbered channels in effect. */
const RGB_WORDS = /^(red|green|blue)$/i;

/** Channel names that are not stains (an alpha sample, transmitted light): never assumed by order. */
const NOT_A_STAIN = /^(alpha|bright ?field|phase contrast|dic|bf)$/i;

/** Default meaning of a channel number in ImageXpress names (BBBC021: w1 DAPI, w2 Tubulin, w4 Actin). */
const IMAGEXPRESS_CHANNELS: Record<number, ChannelName> = { 1: 'DNA', 2: 'Tubulin', 4: 'Actin' };

const ROWS = 'ABCDEFGHIJKLMNOP';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A word as a whole part of a name: bounded by the start, the end or a separator (`_ - . space ( ) [ ]`). */
function wordPattern(word: string): RegExp {
  return new RegExp(`(^|[_\\-. ()\\[\\]])(${escapeRegExp(word).replace(/ /g, '[ _-]?')})(?=[_\\-. ()\\[\\]]|$)`, 'i');
}

const ALL_WORDS: { word: string; channel?: ChannelName; pattern: RegExp }[] = [
  ...CHANNELS.flatMap((channel) => CHANNEL_WORDS[channel].map((word) => ({ word, channel }))),
  ...OTHER_CHANNEL_WORDS.map((word) => ({ word, channel: undefined })),
]
  .sort((a, b) => b.word.length - a.word.length)
  .map((w) => ({ ...w, pattern: wordPattern(w.word) }));

/** Which channel a name or channel label means by its words (DAPI -> DNA ...), if any. */
export function channelFromWords(text: string): { channel: ChannelName; word: string } | undefined {
  for (const w of ALL_WORDS) {
    if (!w.channel) continue;
    const m = w.pattern.exec(text);
    if (m) return { channel: w.channel, word: m[2] };
  }
  return undefined;
}

/** The first stain or channel word in a name, longest first, with where it stands. */
function findStainWord(text: string): { token: string; start: number; channel?: ChannelName } | undefined {
  let best: { token: string; start: number; channel?: ChannelName } | undefined;
  for (const w of ALL_WORDS) {
    const m = w.pattern.exec(text);
    if (!m) continue;
    const start = m.index + m[1].length;
    // Prefer the last channel word in the name (channel parts come late); longer words win a tie.
    if (!best || start > best.start) best = { token: m[2], start, channel: w.channel };
  }
  return best;
}

function wellName(row: string, column: string | number): string {
  return `${row.toUpperCase()}${String(Number(column)).padStart(2, '0')}`;
}

function wellAndPlate(prefix: string): { plate?: string; well?: string } {
  const m = /^(?:(.*)_)?([A-Pa-p]\d{1,2})$/.exec(prefix);
  return m ? { plate: m[1] || undefined, well: wellName(m[2][0], m[2].slice(1)) } : { plate: prefix || undefined };
}

/** A plate/well/site in the rest of a name (`plate1_A01_site2_`, `B02-`), where a generic pattern found the channel. */
function placeIn(rest: string): { plate?: string; well?: string; site?: number } {
  const well = /(?:^|[_\- ])([A-Pa-p])(\d{1,2})(?=[_\- ]|$)/.exec(rest);
  const site = /(?:^|[_\- ])(?:s|site|f|fld|field)(\d+)(?=[_\- ]|$)/i.exec(rest);
  const plate = well ? rest.slice(0, well.index).replace(/[_\- ]+$/, '') : undefined;
  return { plate: plate || undefined, well: well ? wellName(well[1], well[2]) : undefined, site: site ? Number(site[1]) : undefined };
}

/** Cuts `token` at `start` out of `base`, leaving the cut mark. */
function cut(base: string, start: number, length: number): string {
  return base.slice(0, start) + CUT + base.slice(start + length);
}

/** Reads plate / well / site / channel from one file name (without folder). */
export function parseFileName(fileName: string): ParsedName {
  const base = fileName.replace(TIFF_EXTENSION, '');
  let m = IMAGEXPRESS.exec(base);
  if (m) {
    const { plate } = wellAndPlate(m[1] ?? '');
    const index = Number(m[4]);
    return {
      stem: `${m[1] ? `${m[1]}_` : ''}${m[2]}_s${m[3]}`,
      plate: m[1] ? (plate ?? m[1]) : undefined,
      well: wellName(m[2][0], m[2].slice(1)),
      site: Number(m[3]),
      channelIndex: index,
      token: `w${m[4]}`,
      channel: IMAGEXPRESS_CHANNELS[index],
      scheme: 'imagexpress',
    };
  }
  m = CELLOMICS.exec(base);
  if (m) {
    return { stem: `${m[1] ? `${m[1]}_` : ''}${m[2]}f${m[3]}`, plate: m[1] || undefined, well: wellName(m[2][0], m[2].slice(1)), site: Number(m[3]), channelIndex: Number(m[4]), token: `d${m[4]}`, scheme: 'cellomics' };
  }
  m = OPERETTA.exec(base);
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= ROWS.length) {
    return {
      stem: `r${m[1]}c${m[2]}f${m[3]}p${m[4]}-${CUT}${m[6]}`,
      well: wellName(ROWS[Number(m[1]) - 1], m[2]),
      site: Number(m[3]),
      channelIndex: Number(m[5]),
      token: `ch${m[5]}`,
      scheme: 'operetta',
    };
  }
  m = CELLVOYAGER.exec(base);
  if (m) {
    return {
      stem: `${m[1] ? `${m[1]}_` : ''}${m[2]}_T${m[3]}F${m[4]}L${m[5]}Z${m[7]}${CUT}`,
      plate: m[1] || undefined,
      well: wellName(m[2][0], m[2].slice(1)),
      site: Number(m[4]),
      channelIndex: Number(m[8]),
      token: `C${m[8]}`,
      scheme: 'cellvoyager',
    };
  }
  m = INCELL.exec(base);
  if (m) {
    const token = m[4].trim();
    return { stem: `${m[1]} - ${m[2]}(fld ${m[3]} wv ${CUT}${m[5]})`, well: wellName(m[1], m[2]), site: Number(m[3]), token, channel: channelFromWords(token)?.channel, scheme: 'incell' };
  }
  m = CYTATION.exec(base);
  if (m) {
    return {
      stem: `${m[1]}_${m[2]}_${CUT}_${m[4]}_${CUT}_${m[6]}`,
      well: wellName(m[1][0], m[1].slice(1)),
      site: Number(m[4]),
      token: m[5],
      channel: channelFromWords(m[5])?.channel,
      scheme: 'cytation',
    };
  }
  m = SCANR.exec(base);
  if (m) {
    return { stem: `${m[1]}--W${m[2]}--P${m[3]}--Z${m[4]}--T${m[5]}--${CUT}`, plate: m[1] || undefined, site: Number(m[3]), token: m[6], channel: channelFromWords(m[6])?.channel, scheme: 'scanr' };
  }
  m = CHANNEL_PREFIX.exec(base);
  if (m) {
    return { stem: `${CUT}${m[3]}`, well: wellName(m[4], m[5]), site: Number(m[6]), channelIndex: Number(m[2]), token: m[1], scheme: 'channel-prefix' };
  }
  m = W_SUFFIX.exec(base);
  if (m) {
    const rest = (m[3] ?? '').replace(new RegExp(`^\\[?${UUID}\\]?$`), '');
    const siteMatch = /(?:^|_)s(\d+)$/.exec(m[1]);
    const prefix = siteMatch ? m[1].slice(0, siteMatch.index) : m[1];
    return { stem: `${m[1]}${rest ? `_${rest}` : ''}`, ...wellAndPlate(prefix), site: siteMatch ? Number(siteMatch[1]) : undefined, channelIndex: Number(m[2]), token: `w${m[2]}`, scheme: 'w-suffix' };
  }
  // A stain word or a chN suffix, whichever comes last (the channel part comes late: `ER_stress_A01_ch1`).
  const word = findStainWord(base);
  m = C_SUFFIX.exec(base);
  if (word && (!m || word.start > m.index)) {
    const stem = cut(base, word.start, word.token.length);
    return { stem, ...placeIn(stem), token: word.token, channel: word.channel, scheme: 'stain-word' };
  }
  if (m) {
    const stem = base.slice(0, m.index) + m[1] + CUT + base.slice(m.index + m[0].length);
    return { stem, ...placeIn(stem), channelIndex: Number(m[3]), token: `${m[2]}${m[3]}`, scheme: 'c-suffix' };
  }
  return { stem: base, ...placeIn(base), scheme: 'none' };
}

/** The user's choice for a channel name: exact spelling first, then ignoring case. */
function mapped(mapping: ChannelMapping | undefined, token: string | undefined): ChannelName | null | undefined {
  if (!token || !mapping?.tokens) return undefined;
  if (token in mapping.tokens) return mapping.tokens[token];
  const lower = token.toLowerCase();
  for (const [key, value] of Object.entries(mapping.tokens)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

function folderOf(file: InputFile): string {
  const path = (file.path ?? file.name).replace(/\\/g, '/');
  const at = path.lastIndexOf('/');
  return at >= 0 ? path.slice(0, at) : '';
}

function newField(id: string, parsed: ParsedName, folder: string, name: string): Field {
  const folderPlate = folder ? folder.split('/').pop() : undefined;
  return { id, name, plate: folderPlate || parsed.plate, well: parsed.well, site: parsed.site, channels: {}, extras: [], complete: false, problems: [] };
}

function addProblem(field: Field, kind: FieldProblemKind, message: string, channel?: ChannelName): void {
  field.problems.push({ fieldId: field.id, kind, message, channel });
}

/** The field as messages name it: its folder and name, the channel part shown as `*`. */
function title(field: Field): string {
  return field.id.replace(/\u2022/g, '*');
}

function describe(source: ChannelSource): string {
  return source.channelIndex !== undefined ? `${source.file.name} (${source.token ?? `channel ${source.channelIndex + 1}`})` : source.file.name;
}

function assign(field: Field, channel: ChannelName, source: ChannelSource): void {
  const existing = field.channels[channel];
  if (existing) {
    addProblem(field, 'duplicate-channel', `Field ${title(field)} has two ${channel} images (${describe(existing)} and ${describe(source)}); the first is used.`, channel);
    field.extras.push({ ...source, assignedBy: 'none' });
    return;
  }
  field.channels[channel] = source;
}

/** A channel that names no stain and was not mapped: kept for order, or set aside. */
interface Pending {
  order: number;
  source: ChannelSource;
}

/**
 * Fills the missing channels from unnamed, numbered channels by their order, only when there are
 * exactly as many of them as channels missing (w1 w2 w3 -> DNA Tubulin Actin); otherwise none is guessed.
 */
function assignByOrder(field: Field, pending: Pending[]): void {
  const missing = CHANNELS.filter((c) => !field.channels[c]);
  const candidates = pending.filter((p) => !NOT_A_STAIN.test(p.source.token ?? ''));
  const setAside = pending.filter((p) => !candidates.includes(p));
  if (candidates.length > 0 && candidates.length === missing.length) {
    candidates.sort((a, b) => a.order - b.order);
    candidates.forEach((p, i) => (field.channels[missing[i]] = { ...p.source, assignedBy: 'order' }));
    addProblem(
      field,
      'assumed-order',
      `Field ${title(field)}: the names do not say which stain each channel is; assumed ${candidates.map((p, i) => `${p.source.token ?? `#${p.order}`} = ${missing[i]}`).join(', ')}. Set the channel mapping if this is wrong.`,
    );
  } else setAside.push(...candidates);
  for (const p of setAside) field.extras.push({ ...p.source, assignedBy: 'none' });
}

const NATURAL = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** "DNA", "Tubulin or Actin", "DNA, Tubulin or Actin". */
function orList(items: readonly string[]): string {
  return items.length > 1 ? `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}` : (items[0] ?? '');
}

function finish(field: Field): void {
  const sources = [...CHANNELS.map((c) => field.channels[c]).filter((s): s is ChannelSource => s !== undefined), ...field.extras];
  const missing = CHANNELS.filter((c) => !field.channels[c]);
  if (sources.length <= 1 && missing.length > 0) {
    addProblem(
      field,
      'too-few-channels',
      `Field ${title(field)} has ${sources.length ? `one channel (${describe(sources[0])})` : 'no channel in use'}; DNA, Tubulin and Actin must each come from a channel of its own (no ${orList(missing)} image). It is not classified.`,
    );
  } else {
    const names = sources.map((s) => s.token ?? s.file.name).sort(NATURAL.compare).join(', ');
    for (const channel of missing) addProblem(field, 'missing-channel', `Field ${title(field)} has no ${channel} image: none of its channels (${names}) is mapped to ${channel}.`, channel);
  }
  for (const extra of field.extras) {
    if (extra.assignedBy === 'none' && !field.problems.some((p) => p.kind === 'duplicate-channel' && p.message.includes(describe(extra))))
      addProblem(field, 'extra-channel', `Field ${title(field)}: ${describe(extra)}${extra.token && extra.channelIndex === undefined ? ` (${extra.token})` : ''} is not DNA, Tubulin or Actin and is not used.`);
  }
  field.complete = missing.length === 0;
  if (sources.length > 0 && sources.every((s) => s.file === sources[0].file)) field.name = sources[0].file.name;
}

/**
 * Where one channel of a field goes: the user's mapping, then the stain its name says, else (numbered
 * channels only: `order` set) pending for order; a named stain that is none of the three is not used.
 */
function place(field: Field, pending: Pending[], source: ChannelSource, order: number | undefined, named: ChannelName | undefined, namedBy: AssignedBy, mapping?: ChannelMapping): void {
  const choice = mapped(mapping, source.token);
  if (choice === null) field.extras.push({ ...source, assignedBy: 'mapping' });
  else if (choice) assign(field, choice, { ...source, assignedBy: 'mapping' });
  else if (named) assign(field, named, { ...source, assignedBy: namedBy });
  else if (order !== undefined) pending.push({ order, source });
  else field.extras.push(source);
}

/** A file with several channels of its own (known from its header), or with no channel part in its name, is one field. */
function singleFileField(file: InputFile, id: string, parsed: ParsedName, folder: string, mapping?: ChannelMapping): Field {
  const field = newField(id, parsed, folder, file.name);
  const names = file.channelNames ?? [parsed.token];
  const pending: Pending[] = [];
  names.forEach((label, index) => {
    const token = label ?? (names.length > 1 ? `channel ${index + 1}` : parsed.token);
    const source: ChannelSource = { file, channelIndex: names.length > 1 ? index : undefined, assignedBy: 'none', token };
    // Unnamed samples and colour names (Red, Green, Blue) may be taken in order; a stated stain name is never guessed.
    const numbered = label === undefined || RGB_WORDS.test(label) || NOT_A_STAIN.test(label);
    place(field, pending, source, numbered ? index : undefined, label ? channelFromWords(label)?.channel : parsed.channel, 'word', mapping);
  });
  assignByOrder(field, pending);
  finish(field);
  return field;
}

/**
 * Groups files into fields. Files of one field share a folder and a name up to the channel part.
 * A file that holds several channels (its `channelNames`) or whose name has no channel part is a field by itself.
 */
export function groupChannels(files: InputFile[], options: GroupingOptions = {}): GroupingResult {
  const { mapping } = options;
  const unassigned: GroupingResult['unassigned'] = [];
  const fieldsById = new Map<string, Field>();
  const pendingById = new Map<string, Pending[]>();
  for (const file of files) {
    if (!TIFF_EXTENSION.test(file.name) || file.name.startsWith('.')) {
      unassigned.push({ file, reason: 'not a TIFF image' });
      continue;
    }
    const folder = folderOf(file);
    const parsed = parseFileName(file.name);
    const multiChannel = (file.channelNames?.length ?? 1) > 1;
    if (multiChannel || parsed.scheme === 'none') {
      const id = folder ? `${folder}/${file.name}` : file.name;
      fieldsById.set(id, singleFileField(file, id, parsed, folder, mapping));
      continue;
    }
    const id = folder ? `${folder}/${parsed.stem}` : parsed.stem;
    let field = fieldsById.get(id);
    if (!field) {
      field = newField(id, parsed, folder, parsed.stem.replace(/\u2022/g, '*'));
      fieldsById.set(id, field);
      pendingById.set(id, []);
    }
    const source: ChannelSource = { file, assignedBy: 'none', token: parsed.token };
    place(field, pendingById.get(id)!, source, parsed.channelIndex, parsed.channel, parsed.scheme === 'imagexpress' ? 'pattern' : 'word', mapping);
  }
  for (const [id, pending] of pendingById) {
    const field = fieldsById.get(id)!;
    assignByOrder(field, pending);
    finish(field);
  }
  const fields = [...fieldsById.values()];
  return { fields, unassigned, problems: fields.flatMap((f) => f.problems) };
}

/** Every channel name (token) of the grouped fields with how many files (or file channels) carry it, in natural order. */
export function channelTokens(fields: readonly Field[]): { token: string; files: number }[] {
  const counts = new Map<string, number>();
  for (const f of fields) {
    for (const s of [...CHANNELS.map((c) => f.channels[c]), ...f.extras]) {
      if (!s || s.assignedBy === 'table' || !s.token) continue;
      counts.set(s.token, (counts.get(s.token) ?? 0) + 1);
    }
  }
  return [...counts].map(([token, files]) => ({ token, files })).sort((a, b) => NATURAL.compare(a.token, b.token));
}
