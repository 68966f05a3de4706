// The field view's picture: channel planes composited additively in colour with per-channel contrast.
import type { PixelArray } from '../../core/preprocess.ts';

export interface Plane {
  width: number;
  height: number;
  data: PixelArray;
}

/** How one channel is drawn: its colour (0..255 per component), the raw values mapped to black and to full colour. */
export interface ChannelDisplay {
  name: string;
  colour: [number, number, number];
  low: number;
  high: number;
  visible: boolean;
}

/** Conventional colours: DNA blue, Tubulin green, Actin red. */
export const CHANNEL_COLOURS: Record<string, [number, number, number]> = {
  DNA: [64, 128, 255],
  Tubulin: [0, 255, 0],
  Actin: [255, 0, 64],
};

/** Value range of a plane: min, max and the given percentiles (estimated from at most `sample` pixels). */
export function planeStats(data: PixelArray, lowPct = 0.5, highPct = 99.8, sample = 65_536): { min: number; max: number; low: number; high: number } {
  const n = data.length;
  if (n === 0) return { min: 0, max: 0, low: 0, high: 0 };
  const step = Math.max(1, Math.floor(n / sample));
  const values = new Float64Array(Math.ceil(n / step));
  let min = Infinity;
  let max = -Infinity;
  let k = 0;
  for (let i = 0; i < n; i += step) {
    const v = data[i];
    values[k++] = v;
  }
  for (let i = 0; i < n; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const sorted = values.subarray(0, k).sort();
  const at = (p: number) => sorted[Math.min(k - 1, Math.max(0, Math.round((p / 100) * (k - 1))))];
  return { min, max, low: at(lowPct), high: at(highPct) };
}

/**
 * Composites planes into RGBA (width*height*4): each visible channel maps [low, high] to [0, 1]
 * (clipped), times its colour; channels add and saturate. All planes must share one size.
 */
export function compositeRGBA(planes: Plane[], displays: ChannelDisplay[], out?: Uint8ClampedArray): Uint8ClampedArray {
  if (!planes.length) throw new Error('Nothing to composite: no channel planes.');
  if (planes.length !== displays.length) throw new Error(`${planes.length} planes but ${displays.length} channel settings.`);
  const { width, height } = planes[0];
  for (const p of planes)
    if (p.width !== width || p.height !== height) throw new Error(`Channel planes differ in size (${p.width}x${p.height} vs ${width}x${height}).`);
  const n = width * height;
  const rgba = out ?? new Uint8ClampedArray(n * 4);
  if (rgba.length !== n * 4) throw new Error(`Output holds ${rgba.length} bytes, expected ${n * 4}.`);
  const acc = new Float32Array(n * 3);
  planes.forEach((plane, c) => {
    const d = displays[c];
    if (!d.visible) return;
    const span = d.high - d.low;
    const inv = span > 0 ? 1 / span : 0;
    const [r, g, b] = d.colour;
    const src = plane.data;
    for (let i = 0; i < n; i++) {
      let t = span > 0 ? (src[i] - d.low) * inv : src[i] >= d.high ? 1 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      acc[3 * i] += t * r;
      acc[3 * i + 1] += t * g;
      acc[3 * i + 2] += t * b;
    }
  });
  for (let i = 0; i < n; i++) {
    rgba[4 * i] = acc[3 * i];
    rgba[4 * i + 1] = acc[3 * i + 1];
    rgba[4 * i + 2] = acc[3 * i + 2];
    rgba[4 * i + 3] = 255;
  }
  return rgba;
}

/** Default display settings for a field's planes: conventional colours and percentile contrast. */
export function defaultDisplays(planes: Plane[], names: readonly string[]): ChannelDisplay[] {
  return planes.map((p, i) => {
    const s = planeStats(p.data);
    const name = names[i] ?? `Channel ${i + 1}`;
    return { name, colour: CHANNEL_COLOURS[name] ?? [255, 255, 255], low: s.low, high: s.high > s.low ? s.high : s.max, visible: true };
  });
}
