// Reads unsigned samples whose width is not a whole number of bytes (1, 2, 4, 10, 12, 14 bits ...).
//
// geotiff unpacks each strip or tile correctly but then addresses sample s of a chunky pixel at byte
// s * bits / 8 of the unpacked block (1.5 bytes for 12-bit data), so every sample after the first
// comes out wrong. Here the unpacked blocks are taken from geotiff and placed into planes directly.

import { getDecoder, type GeoTIFFImage } from 'geotiff';
import type { PageSummary } from './structure.ts';

type UnpackedArray = Uint8Array | Uint16Array | Uint32Array;

function arrayFor(bits: number, length: number): UnpackedArray {
  if (bits <= 8) return new Uint8Array(length);
  if (bits <= 16) return new Uint16Array(length);
  return new Uint32Array(length);
}

function viewOf(bits: number, buffer: ArrayBufferLike): UnpackedArray {
  if (bits <= 8) return new Uint8Array(buffer);
  if (bits <= 16) return new Uint16Array(buffer);
  return new Uint32Array(buffer);
}

/** One plane per sample for a page with non-byte-aligned unsigned samples. */
export async function readPackedSamples(image: GeoTIFFImage, page: PageSummary): Promise<UnpackedArray[]> {
  const { width, height, samplesPerPixel: spp, blockWidth, blockHeight, planarConfiguration } = page;
  const bits = page.bitsPerSample[0];
  const decoder = await getDecoder(page.compression, {
    tileWidth: blockWidth,
    tileHeight: blockHeight,
    planarConfiguration,
    bitsPerSample: page.bitsPerSample,
    predictor: 1,
  });
  const planes = Array.from({ length: spp }, () => arrayFor(bits, width * height));
  const across = Math.ceil(width / blockWidth);
  const down = Math.ceil(height / blockHeight);
  const sampleBlocks = planarConfiguration === 2 ? spp : 1;
  for (let sampleBlock = 0; sampleBlock < sampleBlocks; sampleBlock++) {
    for (let by = 0; by < down; by++) {
      for (let bx = 0; bx < across; bx++) {
        const tile = await image.getTileOrStrip(bx, by, sampleBlock, decoder);
        const values = viewOf(bits, tile.data);
        const rows = Math.min(blockHeight, height - by * blockHeight);
        const cols = Math.min(blockWidth, width - bx * blockWidth);
        const perPixel = planarConfiguration === 2 ? 1 : spp;
        if (values.length < (rows - 1) * blockWidth * perPixel + cols * perPixel) {
          throw new RangeError(`block ${bx},${by} decoded to ${values.length} values`);
        }
        for (let y = 0; y < rows; y++) {
          const outRow = (by * blockHeight + y) * width + bx * blockWidth;
          const inRow = y * blockWidth * perPixel;
          if (planarConfiguration === 2) {
            planes[sampleBlock].set(values.subarray(inRow, inRow + cols), outRow);
          } else {
            for (let x = 0; x < cols; x++) {
              for (let s = 0; s < spp; s++) planes[s][outRow + x] = values[inRow + x * spp + s];
            }
          }
        }
      }
    }
  }
  return planes;
}
