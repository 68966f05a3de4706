// The worker's per-field pipeline on real TIFF bytes with a real (tiny, random-weight) M-CNN: the OOD result on every
// field when the bundle has a check, a warning when a file states a pixel size more than 25% off the model's, and one
// when more than half of a tile is padding.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BundleMetadata } from '../../src/core/bundle-format.ts';
import { CHANNELS, MOA_CLASSES } from '../../src/core/labels.ts';
import { layersPredictBatch } from '../../src/core/layers-predict.ts';
import { buildMcnn } from '../../src/core/mcnn.ts';
import { checkOod, fitOod, oodVector } from '../../src/core/ood.ts';
import { predictField } from '../../src/core/field-pipeline.ts';
import { classifyField, type PipelineModel } from '../../src/engine/pipeline.ts';
import type { FieldSuccess } from '../../src/engine/types.ts';
import { encodeTiff16, encodeTiffPages } from '../../training/src/simulate/tiff-writer.ts';

const metadata = {
  name: 'tiny',
  classes: [...MOA_CLASSES],
  input: { height: 64, width: 64, channels: 3 },
  preprocessing: { version: 1, channels: [...CHANNELS], binning: 2, normalisation: { method: 'percentile', low: 0.1, high: 99.9 } },
  tiling: { minOverlap: 0 },
  pixelSize: { micrometres: 0.32, binning: 2, source: 'test' },
} as unknown as BundleMetadata;

/** A smooth 16-bit plane with a few bright blobs, `seed` moving them. */
function blobs(height: number, width: number, seed: number): Uint16Array {
  const data = new Uint16Array(height * width);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      let v = 500;
      for (let k = 0; k < 5; k++) {
        const cy = ((seed * 37 + k * 53) % height) + 0.5;
        const cx = ((seed * 61 + k * 29) % width) + 0.5;
        v += 3000 * Math.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 40);
      }
      data[y * width + x] = Math.round(v);
    }
  return data;
}

const omeWithPixelSize = (width: number, height: number, micrometres: number) =>
  `<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" UUID="urn:uuid:px" Creator="moa-lens test">` +
  `<Image ID="Image:0" Name="px"><Pixels BigEndian="false" DimensionOrder="XYCZT" ID="Pixels:0" SizeC="1" SizeT="1" SizeX="${width}" SizeY="${height}" SizeZ="1" Type="uint16" ` +
  `PhysicalSizeX="${micrometres}" PhysicalSizeY="${micrometres}"><Channel ID="Channel:0:0" SamplesPerPixel="1"/><TiffData FirstC="0" FirstT="0" FirstZ="0" IFD="0" PlaneCount="1"/></Pixels></Image></OME>`;

function field(id: string, height: number, width: number, seed: number, micrometres?: number) {
  const files = CHANNELS.map((c, i) => {
    const plane = { width, height, data: blobs(height, width, seed + i) };
    const bytes = micrometres === undefined ? encodeTiff16(plane) : encodeTiffPages([plane], { description: omeWithPixelSize(width, height, micrometres) });
    return [c, new Blob([new Uint8Array(bytes)])] as const;
  });
  return { id, channels: Object.fromEntries(files) as Record<(typeof CHANNELS)[number], Blob>, names: Object.fromEntries(CHANNELS.map((c) => [c, `${id}_${c}.ome.tif`])) };
}

let pm: PipelineModel;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const model = buildMcnn({ height: 64, width: 64, widthMultiplier: 0.25, seed: 3 });
  const predictBatch = layersPredictBatch(model, metadata.input);
  // The check fitted on fields of the size and look the model expects.
  const fitted = [];
  for (let k = 0; k < 12; k++) {
    const planes = CHANNELS.map((_, i) => ({ width: 128, height: 128, data: blobs(128, 128, 100 + 3 * k + i) }));
    const p = await predictField(planes, metadata, predictBatch);
    fitted.push({ features: oodVector(p.features, p.inputStatistics), label: k % 4 });
  }
  const { stats } = fitOod(fitted, [fitted[0].features.length - 19, 19]);
  pm = { metadata, predictBatch, batchSize: 4, ood: { ...stats, threshold: 5 } };
});

describe('checks on each field in the worker pipeline', () => {
  it('scores every field against the bundle\'s check, as checkOod does on the same features', async () => {
    const result = (await classifyField(pm, field('ok', 128, 128, 7))) as FieldSuccess;
    expect(result.ok).toBe(true);
    expect(result.ood).toBeDefined();
    expect(result.ood!.threshold).toBe(5);
    expect(result.warnings).toEqual([]);
    const without = (await classifyField({ ...pm, ood: undefined }, field('ok', 128, 128, 7))) as FieldSuccess;
    expect(without.ood).toBeUndefined();
    expect(Array.from(without.features)).toEqual(Array.from(result.features));
  });

  it('warns when the files state a pixel size more than 25% off the model\'s, naming the file; says nothing within 25%', async () => {
    const far = (await classifyField(pm, field('far', 128, 128, 7, 1.3))) as FieldSuccess;
    expect(far.warnings.join(' ')).toMatch(/far_DNA\.ome\.tif \(and 2 more files\) states a pixel size of 1\.3 µm \(ome-xml\); the model was trained on 0\.32 µm pixels: its pixels are 4\.06x larger/);
    const near = (await classifyField(pm, field('near', 128, 128, 7, 0.36))) as FieldSuccess;
    expect(near.warnings).toEqual([]);
  });

  it('warns when more than half of a tile is padding, and the check flags the field', async () => {
    const small = (await classifyField(pm, field('small', 32, 40, 7))) as FieldSuccess;
    expect(small.warnings.join(' ')).toMatch(/The field is 32x40 pixels; the model reads 128x128-pixel tiles \(binning 2\), so 92% of its tile is padding/);
    expect(small.ood).toMatchObject({ unlike: true });
    expect(checkOod(pm.ood!, new Float32Array(pm.ood!.featureSize)).unlike).toBe(true);
  });
});
