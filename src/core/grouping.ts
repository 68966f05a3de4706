// Groups per-channel image files into fields (plate, well, site) and assigns DNA / Tubulin / Actin,
// from file-name patterns, channel words, or an explicit user mapping. Problems are reported per field.

import { CHANNELS, type ChannelName } from './labels.ts';

export interface InputFile {
  name: string;
  /** Relative path as a dropped folder gives it (`Week1/Week1_22123/G10_s1_w1....tif`). */
  path?: string;
  /** Channel names read from the file after decoding (multi-channel files); unnamed channels as undefined. */
  channelNames?: (string | undefined)[];
}

/** How a channel was assigned: user mapping, file-name pattern index, channel word, order, table, or a sample of one file. */
export type AssignedBy = 'mapping' | 'pattern' | 'word' | 'order' | 'table' | 'sample';

export interface ChannelSource {
  file: InputFile;
  /** For multi-channel files: which channel (sample or page) of the file. */
  channelIndex?: number;
  assignedBy: AssignedBy;
  /** The token in the name that decided it (`w2`, `DAPI`, `d0`). */
  token?: string;
}

export type FieldProblemKind = 'missing-channel' | 'extra-channel' | 'duplicate-channel' | 'unequal-size' | 'assumed-order' | 'missing-file';

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

/** User overrides: a file-name token or a channel number -> channel, or null to ignore it. */
export interface ChannelMapping {
  tokens?: Record<string, ChannelName | null>;
  indices?: Record<number, ChannelName | null>;
}

export interface GroupingOptions {
  mapping?: ChannelMapping;
}

interface ParsedName {
  /** The name without its channel part: files sharing it (in one folder) form one field. */
  stem: string;
  plate?: string;
  well?: string;
  site?: number;
  channelIndex?: number;
  channel?: ChannelName | null;
  token?: string;
  pattern: 'mapping' | 'imagexpress' | 'w-suffix' | 'cellprofiler-d' | 'c-suffix' | 'word' | 'none';
}

const UUID = '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}';
const TIFF_EXTENSION = /\.(ome\.)?tiff?$/i;
/** BBBC021 / ImageXpress: `[prefix_]<well>_s<site>_w<N><UUID>.tif`. */
const IMAGEXPRESS = new RegExp(`^(?:(.*)_)?([A-Pa-p]\\d{1,2})_s(\\d+)_w(\\d)(${UUID})?$`);
/** `..._w1_...` or `..._w1` (ImageXpress without site, ExampleStraightenWorms). */
const W_SUFFIX = /^(.*?)_w(\d{1,2})(?:_(.*))?$/;
/** CellProfiler ExampleHuman: `<plate>_<well>f<field>d<channel>`. */
const CELLPROFILER_D = /^(?:(.*)_)?([A-Pa-p]\d{2})f(\d+)d(\d+)$/;
/** `..._ch1`, `...-c2`, `... C3` at a word boundary. */
const C_SUFFIX = /(^|[_\-. ])(ch|c)(\d{1,2})(?=[_\-. ]|$)/i;

/** Channel words in names (case-insensitive), by channel. */
export const CHANNEL_WORDS: Record<ChannelName, string[]> = {
  DNA: ['dapi', 'hoechst', 'dna', 'nuclei', 'nucleus', 'h33342'],
  Tubulin: ['tubulin', 'tub'],
  Actin: ['actin', 'phalloidin', 'phallodin'],
};

/** Default meaning of a channel number in ImageXpress names (BBBC021: w1 DAPI, w2 Tubulin, w4 Actin). */
const IMAGEXPRESS_CHANNELS: Record<number, ChannelName> = { 1: 'DNA', 2: 'Tubulin', 4: 'Actin' };

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Which channel a name or channel label means by its words (DAPI -> DNA ...), if any. */
export function channelFromWords(text: string): { channel: ChannelName; word: string } | undefined {
  for (const channel of CHANNELS) {
    for (const word of CHANNEL_WORDS[channel]) {
      const m = new RegExp(`(^|[^a-z])(${word})(?=[^a-z]|$)`, 'i').exec(text);
      if (m) return { channel, word: m[2] };
    }
  }
  return undefined;
}

function wellAndPlate(prefix: string): { plate?: string; well?: string } {
  const m = /^(?:(.*)_)?([A-Pa-p]\d{1,2})$/.exec(prefix);
  return m ? { plate: m[1] || undefined, well: m[2].toUpperCase() } : { plate: prefix || undefined };
}

/** Reads plate / well / site / channel from one file name (without folder). */
export function parseFileName(fileName: string, mapping?: ChannelMapping): ParsedName {
  const base = fileName.replace(TIFF_EXTENSION, '');
  for (const [token, channel] of Object.entries(mapping?.tokens ?? {})) {
    const m = new RegExp(`(^|[^A-Za-z0-9])${escapeRegExp(token)}(?=[^A-Za-z0-9]|$)`, 'i').exec(base) ?? new RegExp(escapeRegExp(token), 'i').exec(base);
    if (m) {
      const start = m.index + (m[1]?.length ?? 0);
      const stem = (base.slice(0, start) + '\u2022' + base.slice(start + token.length)).replace(new RegExp(UUID), '');
      return { ...parseFileName(fileName), stem, channel, token, channelIndex: undefined, pattern: 'mapping' };
    }
  }
  let m = IMAGEXPRESS.exec(base);
  if (m) {
    const { plate } = wellAndPlate(m[1] ?? '');
    return { stem: `${m[1] ? `${m[1]}_` : ''}${m[2]}_s${m[3]}`, plate: m[1] ? plate ?? m[1] : undefined, well: m[2].toUpperCase(), site: Number(m[3]), channelIndex: Number(m[4]), token: `w${m[4]}`, pattern: 'imagexpress' };
  }
  m = CELLPROFILER_D.exec(base);
  if (m) {
    return { stem: `${m[1] ? `${m[1]}_` : ''}${m[2]}f${m[3]}`, plate: m[1] || undefined, well: m[2].toUpperCase(), site: Number(m[3]), channelIndex: Number(m[4]), token: `d${m[4]}`, pattern: 'cellprofiler-d' };
  }
  m = W_SUFFIX.exec(base);
  if (m) {
    const rest = (m[3] ?? '').replace(new RegExp(`^\\[?${UUID}\\]?$`), '');
    const siteMatch = /(?:^|_)s(\d+)$/.exec(m[1]);
    const prefix = siteMatch ? m[1].slice(0, siteMatch.index) : m[1];
    return { stem: `${m[1]}${rest ? `_${rest}` : ''}`, ...wellAndPlate(prefix), site: siteMatch ? Number(siteMatch[1]) : undefined, channelIndex: Number(m[2]), token: `w${m[2]}`, pattern: 'w-suffix' };
  }
  const words = channelFromWords(base);
  if (words) {
    const stem = base.replace(new RegExp(`(^|[^a-z])${words.word}(?=[^a-z]|$)`, 'i'), '$1\u2022');
    return { stem, channel: words.channel, token: words.word, pattern: 'word' };
  }
  m = C_SUFFIX.exec(base);
  if (m) {
    const stem = base.slice(0, m.index) + m[1] + '\u2022' + base.slice(m.index + m[0].length);
    return { stem, channelIndex: Number(m[3]), token: `${m[2]}${m[3]}`, pattern: 'c-suffix' };
  }
  return { stem: base, pattern: 'none' };
}

function folderOf(file: InputFile): string {
  const path = (file.path ?? file.name).replace(/\\/g, '/');
  const cut = path.lastIndexOf('/');
  return cut >= 0 ? path.slice(0, cut) : '';
}

function newField(id: string, parsed: ParsedName, folder: string): Field {
  const folderPlate = folder ? folder.split('/').pop() : undefined;
  return { id, plate: folderPlate || parsed.plate, well: parsed.well, site: parsed.site, channels: {}, extras: [], complete: false, problems: [] };
}

function addProblem(field: Field, kind: FieldProblemKind, message: string, channel?: ChannelName): void {
  field.problems.push({ fieldId: field.id, kind, message, channel });
}

function assign(field: Field, channel: ChannelName, source: ChannelSource): void {
  const existing = field.channels[channel];
  if (existing) {
    addProblem(field, 'duplicate-channel', `Field ${field.id} has two ${channel} images (${existing.file.name} and ${source.file.name}); the first is used.`, channel);
    field.extras.push(source);
    return;
  }
  field.channels[channel] = source;
}

/** Fills channels from numbered members by order when names did not say which is which. */
function assignByOrder(field: Field, pending: { index: number; source: ChannelSource }[]): void {
  const missing = CHANNELS.filter((c) => !field.channels[c]);
  if (pending.length > 0 && pending.length <= missing.length && missing.length > 0) {
    pending.sort((a, b) => a.index - b.index);
    pending.forEach((p, i) => {
      field.channels[missing[i]] = { ...p.source, assignedBy: 'order' };
    });
    addProblem(
      field,
      'assumed-order',
      `Field ${field.id}: the file names do not say which stain each channel is; assumed ${pending.map((p, i) => `${p.source.token ?? `#${p.index}`} = ${missing[i]}`).join(', ')}. Set a channel mapping if this is wrong.`,
    );
  } else {
    for (const p of pending) field.extras.push(p.source);
  }
}

function finish(field: Field): void {
  for (const channel of CHANNELS) {
    if (!field.channels[channel]) addProblem(field, 'missing-channel', `Field ${field.id} has no ${channel} image.`, channel);
  }
  for (const extra of field.extras) {
    if (!field.problems.some((p) => p.kind === 'duplicate-channel' && p.message.includes(extra.file.name))) {
      addProblem(field, 'extra-channel', `Field ${field.id}: ${extra.file.name}${extra.channelIndex !== undefined ? ` (channel ${extra.channelIndex})` : ''} is not DNA, Tubulin or Actin and is not used.`);
    }
  }
  field.complete = CHANNELS.every((c) => field.channels[c]);
}

/** A file with several channels of its own (known after decoding, or with no channel token in its name) is one field. */
function singleFileField(file: InputFile, id: string, parsed: ParsedName, folder: string, mapping?: ChannelMapping): Field {
  const field = newField(id, parsed, folder);
  const names = file.channelNames ?? [];
  const pending: { index: number; source: ChannelSource }[] = [];
  names.forEach((label, index) => {
    const mapped = mapping?.indices?.[index];
    if (mapped === null) return;
    if (mapped) return assign(field, mapped, { file, channelIndex: index, assignedBy: 'mapping' });
    const byWord = label ? (mapping?.tokens?.[label] ?? channelFromWords(label)?.channel) : undefined;
    if (byWord) return assign(field, byWord, { file, channelIndex: index, assignedBy: 'word', token: label });
    pending.push({ index, source: { file, channelIndex: index, assignedBy: 'sample', token: label } });
  });
  assignByOrder(field, pending);
  finish(field);
  return field;
}

/**
 * Groups files into fields. Files of one field share a folder and a name up to the channel part.
 * A file whose name has no channel part is a field by itself (its channels come from `channelNames`).
 */
export function groupChannels(files: InputFile[], options: GroupingOptions = {}): GroupingResult {
  const { mapping } = options;
  const unassigned: GroupingResult['unassigned'] = [];
  const fieldsById = new Map<string, Field>();
  const pendingById = new Map<string, { index: number; source: ChannelSource }[]>();
  for (const file of files) {
    if (!TIFF_EXTENSION.test(file.name) || file.name.startsWith('.')) {
      unassigned.push({ file, reason: 'not a TIFF image' });
      continue;
    }
    const folder = folderOf(file);
    const parsed = parseFileName(file.name, mapping);
    const id = folder ? `${folder}/${parsed.stem}` : parsed.stem;
    if ((file.channelNames && file.channelNames.length > 1) || parsed.pattern === 'none') {
      if (fieldsById.has(id)) {
        unassigned.push({ file, reason: `same field name as another file (${id})` });
        continue;
      }
      const channelNames = file.channelNames ?? [undefined, undefined, undefined];
      fieldsById.set(id, singleFileField({ ...file, channelNames }, id, parsed, folder, mapping));
      continue;
    }
    let field = fieldsById.get(id);
    if (!field) {
      field = newField(id, parsed, folder);
      fieldsById.set(id, field);
      pendingById.set(id, []);
    }
    const source: ChannelSource = { file, assignedBy: 'pattern', token: parsed.token };
    if (parsed.channel === null) continue; // the user asked to ignore this token
    if (parsed.channel) {
      assign(field, parsed.channel, { ...source, assignedBy: parsed.pattern === 'mapping' ? 'mapping' : 'word' });
      continue;
    }
    const index = parsed.channelIndex ?? 0;
    const userChannel = mapping?.indices?.[index];
    if (userChannel === null) continue;
    if (userChannel) assign(field, userChannel, { ...source, assignedBy: 'mapping' });
    else if (parsed.pattern === 'imagexpress' && IMAGEXPRESS_CHANNELS[index]) assign(field, IMAGEXPRESS_CHANNELS[index], source);
    else pendingById.get(id)?.push({ index, source });
  }
  for (const [id, pending] of pendingById) {
    const field = fieldsById.get(id)!;
    assignByOrder(field, pending);
    finish(field);
  }
  const fields = [...fieldsById.values()];
  return { fields, unassigned, problems: fields.flatMap((f) => f.problems) };
}
