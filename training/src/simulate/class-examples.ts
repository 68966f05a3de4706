// One representative field per MoA class (first compound of the class at its top dose): contact sheets and multi-channel demos.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MOA_CLASSES, type MoaClass } from '../../../src/core/labels.ts';
import { compoundSignatures, encodeMultiChannelTiff, type MetadataTables } from './dataset-writer.ts';
import { deriveSeed } from '../util/prng.ts';
import { treatmentPhenotype } from './phenotypes.ts';
import { renderField, type RenderedField } from './render-field.ts';

export interface ClassExample {
  moa: MoaClass;
  compound: string;
  concentration: number;
  field: RenderedField;
}

/** Renders one field per class, in MOA_CLASSES order. */
export function renderClassExamples(tables: MetadataTables, size: { height: number; width: number }, seed = 0): ClassExample[] {
  const signatures = compoundSignatures(tables, seed);
  return MOA_CLASSES.map((moa) => {
    const rows = tables.moaRows.filter((r) => r.moa === moa);
    const compound = rows.map((r) => r.compound).sort()[0];
    const concentration = Math.max(...rows.filter((r) => r.compound === compound).map((r) => r.concentration));
    const phenotype = treatmentPhenotype(signatures.get(compound)!, concentration);
    const field = renderField(phenotype, { ...size, seed: deriveSeed(seed, 'example', moa), plateSeed: deriveSeed(seed, 'example-plate'), focus: 'sharp' });
    return { moa, compound, concentration, field };
  });
}

/** Writes each class example as one 3-channel TIFF, `<class>.tif` under dir; returns the paths. */
export async function writeMultiChannelExamples(examples: ClassExample[], dir: string, layout: 'planar' | 'pages'): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (const ex of examples) {
    const file = path.join(dir, `${ex.moa.replace(/[^A-Za-z0-9]+/g, '_')}.tif`);
    await writeFile(file, encodeMultiChannelTiff(ex.field, layout));
    paths.push(file);
  }
  return paths;
}
