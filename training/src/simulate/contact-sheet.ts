// Contact sheet: a centre crop of one half-resolution simulated field per MoA class (DNA blue, Tubulin green, Actin red), labelled; writes docs/contact-sheet.png.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BBBC021_METADATA_DIR } from '../bbbc021-metadata.ts';
import { drawText } from './bitmap-font.ts';
import { renderClassExamples, type ClassExample } from './class-examples.ts';
import { readMetadataTables } from './dataset-writer.ts';
import { encodeRgbPng } from './png-writer.ts';

export interface ContactSheetOptions {
  /** Centre crop of each field shown (default 240 x 300). */
  cropHeight?: number;
  cropWidth?: number;
  columns?: number;
}

/** Composites class examples into one RGB image with a shared display range per channel (0.5th to 99.8th percentile). */
export function composeContactSheet(examples: ClassExample[], options: ContactSheetOptions = {}): { rgb: Uint8Array; width: number; height: number } {
  const ch = options.cropHeight ?? 240;
  const cw = options.cropWidth ?? 300;
  const columns = options.columns ?? 5;
  const label = 34;
  const gap = 4;
  const rows = Math.ceil(examples.length / columns);
  const width = columns * cw + (columns - 1) * gap;
  const height = rows * (ch + label) + (rows - 1) * gap;
  const rgb = new Uint8Array(width * height * 3);
  const range = [0, 1, 2].map((c) => {
    const values = examples.flatMap((e) => Array.from(e.field.planes[c].filter((_, i) => i % 7 === 0))).sort((a, b) => a - b);
    return [values[Math.floor(values.length * 0.005)], values[Math.floor(values.length * 0.998)]];
  });
  examples.forEach((ex, t) => {
    const gx = (t % columns) * (cw + gap);
    const gy = Math.floor(t / columns) * (ch + label + gap);
    const { field } = ex;
    const ox = Math.max(0, Math.floor((field.width - cw) / 2));
    const oy = Math.max(0, Math.floor((field.height - ch) / 2));
    for (let y = 0; y < Math.min(ch, field.height); y++) {
      for (let x = 0; x < Math.min(cw, field.width); x++) {
        const si = (y + oy) * field.width + x + ox;
        const di = ((gy + label + y) * width + gx + x) * 3;
        // Actin -> red, Tubulin -> green, DNA -> blue.
        for (const [c, offset] of [[2, 0], [1, 1], [0, 2]] as const) {
          const [lo, hi] = range[c];
          const v = ((field.planes[c][si] - lo) / (hi - lo)) * 255;
          // 32 display levels per channel: indistinguishable on screen, and keeps the PNG under 1 MB.
          rgb[di + offset] = v < 0 ? 0 : v > 255 ? 248 : Math.round(v) & 0xf8;
        }
      }
    }
    drawText(rgb, width, height, ex.moa, gx + 2, gy + 3, 2, [235, 235, 235]);
    drawText(rgb, width, height, `${ex.compound} ${ex.concentration} UM`, gx + 2, gy + 21, 1, [170, 170, 170]);
  });
  return { rgb, width, height };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const out = process.argv[2] ?? path.join(repoRoot, 'docs/contact-sheet.png');
  const tables = await readMetadataTables(BBBC021_METADATA_DIR);
  const sheet = composeContactSheet(renderClassExamples(tables, { height: 512, width: 640 }, 0));
  const png = encodeRgbPng(sheet.rgb, sheet.width, sheet.height);
  await writeFile(out, png);
  console.log(`Wrote ${out}: ${sheet.width}x${sheet.height}, ${(png.length / 1024).toFixed(0)} KiB`);
}
