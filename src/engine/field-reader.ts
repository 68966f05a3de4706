// Field input -> channel planes in the bundle's channel order: read bytes, sniff the format, decode (TIFF or PNG/JPEG).
import { FieldError, TiffDecodeError } from '../core/errors.ts';
import { checkBeforeReading, DEFAULT_MAX_DECODE_BYTES, decodeTiff, formatFileSize, uniformValue } from '../core/tiff/index.ts';
import type { StatedPixelSize } from '../core/field-checks.ts';
import type { ChannelName } from '../core/labels.ts';
import type { PixelPlane } from '../core/preprocess.ts';
import type { FieldInput, ImageBytes } from './types.ts';

export interface DecodedField {
  planes: PixelPlane[];
  notes: string[];
  /** Things that make the prediction doubtful without stopping it (a blank channel), naming the file. */
  warnings: string[];
  /** Pixel sizes the field's files state (micrometres per pixel), one per file that states one. */
  pixelSizes: StatedPixelSize[];
  readMs: number;
  decodeMs: number;
}

type ImageKind = 'tiff' | 'png' | 'jpeg' | 'unknown';

export function sniffImageKind(bytes: Uint8Array): ImageKind {
  const b = bytes;
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && (b[2] === 42 || b[2] === 43) && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && (b[3] === 42 || b[3] === 43))))
    return 'tiff';
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  return 'unknown';
}

/**
 * The whole file, once its size (and, for a TIFF, its first page's declared size) is known to be within
 * the decode limit: a file above it is refused from a few header bytes, naming its size and the limit.
 */
async function readBytes(source: ImageBytes, name: string): Promise<Uint8Array> {
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  const readSlice = async (offset: number, length: number) => new Uint8Array(await source.slice(offset, offset + length).arrayBuffer());
  try {
    await checkBeforeReading(readSlice, source.size, name, DEFAULT_MAX_DECODE_BYTES);
  } catch (e) {
    if (e instanceof TiffDecodeError) throw new FieldError('read', e.message);
    throw unreadable(source, name, e);
  }
  try {
    return new Uint8Array(await source.arrayBuffer());
  } catch (e) {
    throw unreadable(source, name, e);
  }
}

/** The browser could not read a file it was given (moved, deleted, changed, or more than it can hold). */
function unreadable(source: Blob, name: string, e: unknown): FieldError {
  return new FieldError(
    'read',
    `Cannot read "${name}" (${formatFileSize(source.size)}): the browser refused to read it. ` +
      `It may have been moved, renamed or changed since it was dropped; drop it again. (${(e as Error).name}: ${(e as Error).message})`,
  );
}

/** PNG/JPEG through the browser's decoder: R, G, B planes (8-bit). */
async function decodeBitmap(bytes: Uint8Array, name: string, kind: ImageKind): Promise<PixelPlane[]> {
  if (typeof createImageBitmap !== 'function' || typeof OffscreenCanvas !== 'function')
    throw new FieldError('decode', `"${name}": ${kind.toUpperCase()} decoding needs a browser (createImageBitmap).`);
  const bitmap = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: `image/${kind}` }), {
    colorSpaceConversion: 'none',
    premultiplyAlpha: 'none',
  }).catch((e: Error) => {
    throw new FieldError('decode', `"${name}" is not a readable ${kind.toUpperCase()} image (${e.message}).`);
  });
  const { width, height } = bitmap;
  const ctx = new OffscreenCanvas(width, height).getContext('2d');
  if (!ctx) throw new FieldError('decode', `"${name}": no 2D canvas to decode into.`);
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const planes = [0, 1, 2].map(() => new Uint8Array(width * height));
  for (let i = 0, o = 0; o < width * height; i += 4, o++) {
    planes[0][o] = rgba[i];
    planes[1][o] = rgba[i + 1];
    planes[2][o] = rgba[i + 2];
  }
  return planes.map((data) => ({ width, height, data }));
}

/** All channel planes of one file. */
async function decodeFile(bytes: Uint8Array, name: string, notes: string[], pixelSizes: StatedPixelSize[]): Promise<PixelPlane[]> {
  const kind = sniffImageKind(bytes);
  if (kind === 'tiff') {
    try {
      const image = await decodeTiff(bytes, name);
      notes.push(...image.notes.map((n) => `${name}: ${n}`));
      if (image.pixelSize) pixelSizes.push({ file: name, ...image.pixelSize });
      return image.planes;
    } catch (e) {
      throw new FieldError('decode', (e as Error).message);
    }
  }
  if (kind === 'png' || kind === 'jpeg') return decodeBitmap(bytes, name, kind);
  throw new FieldError('decode', `"${name}" is not a TIFF, PNG or JPEG image.`);
}

function nameOf(source: ImageBytes, fallback: string): string {
  return (source as File).name || fallback;
}

/** A warning for a plane that holds no image (every pixel one value): a dropped channel or a damaged file, not a reason to stop. */
function blankPlaneWarning(plane: PixelPlane, what: string, channel: ChannelName): string | undefined {
  const value = uniformValue(plane.data);
  if (value === undefined) return undefined;
  const content = value === 0 ? 'every pixel is 0' : `every pixel has the value ${value}`;
  return `${what}, used as ${channel}, is blank (${content}): the prediction does not rest on a real ${channel} image.`;
}

/**
 * One image standing for two channels (a greyscale picture saved as RGB, a palette expanded to three planes,
 * or one picture saved twice under two channel names): one sample is one channel, so the field is refused.
 * Blank planes are left to the warning.
 */
function copiedChannel(planes: PixelPlane[], sources: string[], channels: readonly ChannelName[]): string | undefined {
  for (let i = 0; i < planes.length; i++) {
    for (let j = i + 1; j < planes.length; j++) {
      const a = planes[i].data;
      const b = planes[j].data;
      if (a.length !== b.length || uniformValue(a) !== undefined) continue;
      let same = true;
      for (let k = 0; k < a.length && same; k++) same = a[k] === b[k];
      if (same)
        return `${sources[i]} (as ${channels[i]}) and ${sources[j]} (as ${channels[j]}) are the same image: one stain cannot stand for two channels, so the field is not classified. DNA, Tubulin and Actin must each come from a channel of its own.`;
    }
  }
  return undefined;
}

/** Reads and decodes one field into planes ordered as `channels` (the bundle's channel order). */
export async function readField(field: FieldInput, channels: readonly ChannelName[]): Promise<DecodedField> {
  const decoded = await readFieldPlanes(field, channels);
  // From files only: one multi-channel file, or one file per channel (the same picture saved as w1 and w2).
  const copy = 'planes' in field ? undefined : copiedChannel(decoded.planes, decoded.sources, channels);
  if (copy) throw new FieldError('decode', copy);
  const warnings = decoded.planes.flatMap((plane, i) => blankPlaneWarning(plane, decoded.sources[i], channels[i]) ?? []);
  return { planes: decoded.planes, notes: decoded.notes, warnings, pixelSizes: decoded.pixelSizes, readMs: decoded.readMs, decodeMs: decoded.decodeMs };
}

/** The field's planes with, per plane, the words naming where it came from ("a.tif", "channel 2 of a.tif"). */
async function readFieldPlanes(field: FieldInput, channels: readonly ChannelName[]): Promise<Omit<DecodedField, 'warnings'> & { sources: string[] }> {
  const notes: string[] = [];
  const pixelSizes: StatedPixelSize[] = [];
  let readMs = 0;
  let decodeMs = 0;
  if ('planes' in field) {
    if (field.planes.length !== channels.length) throw new FieldError('decode', `Field ${field.id} has ${field.planes.length} planes; the model needs ${channels.length}.`);
    return { planes: field.planes, notes, pixelSizes, readMs, decodeMs, sources: channels.map((c) => `the ${c} plane of field ${field.id}`) };
  }
  if ('file' in field) {
    const name = field.name ?? nameOf(field.file, field.id);
    let t = performance.now();
    const bytes = await readBytes(field.file, name);
    readMs = performance.now() - t;
    t = performance.now();
    const all = await decodeFile(bytes, name, notes, pixelSizes);
    decodeMs = performance.now() - t;
    const order = field.channelOrder ?? channels.map((_, i) => i);
    if (order.length !== channels.length) throw new FieldError('decode', `channelOrder for "${name}" names ${order.length} channels; the model needs ${channels.length}.`);
    const planes = order.map((index, i) => {
      const plane = all[index];
      if (!plane) throw new FieldError('decode', `"${name}" has ${all.length} channel(s); channel ${index} (for ${channels[i]}) does not exist.`);
      return plane;
    });
    return { planes, notes, pixelSizes, readMs, decodeMs, sources: order.map((index) => `channel ${index + 1} of "${name}"`) };
  }
  const sources: string[] = [];
  const planes: PixelPlane[] = [];
  for (const channel of channels) {
    const source = field.channels[channel];
    const name = field.names?.[channel] ?? (source ? nameOf(source, `${field.id} ${channel}`) : channel);
    if (!source) throw new FieldError('read', `Field ${field.id} has no ${channel} image.`);
    let t = performance.now();
    const bytes = await readBytes(source, name);
    readMs += performance.now() - t;
    t = performance.now();
    const decoded = await decodeFile(bytes, name, notes, pixelSizes);
    decodeMs += performance.now() - t;
    if (decoded.length > 1) notes.push(`${name}: holds ${decoded.length} channels; the first is used as ${channel}.`);
    planes.push(decoded[0]);
    sources.push(`"${name}"`);
  }
  return { planes, notes, pixelSizes, readMs, decodeMs, sources };
}
