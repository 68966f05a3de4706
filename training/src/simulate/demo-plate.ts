// The demo plate: a committed recipe (real CSV rows, seed, size) from which the simulator writes the app's demo TIFFs.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEMO_INDEX_FILE, type DemoIndex } from '../../../src/core/demo-plate.ts';
import { CHANNELS } from '../../../src/core/labels.ts';
import { treatmentKey } from '../../../src/core/metadata.ts';
import { IMAGE_TABLE, MOA_TABLE, parseMetadataTables, writeSimulatedDataset, type MetadataTables } from './dataset-writer.ts';
import { SIMULATOR_VERSION } from './render-field.ts';

/**
 * Everything needed to re-render the demo plate bit for bit, without the full BBBC021 tables: the chosen
 * image-table rows, and every MoA-table row of their compounds (a compound's simulated signature depends
 * on its whole dose series, so the demo fields look exactly as they would in the full simulated dataset).
 */
export interface DemoPlateSpec {
  version: 1;
  name: string;
  description: string;
  /** The bundle whose held-out compounds these wells are. */
  model: string;
  heldOut: string;
  seed: number;
  height: number;
  width: number;
  imageHeader: string;
  imageLines: string[];
  moaHeader: string;
  moaLines: string[];
}

export function specTables(spec: DemoPlateSpec): MetadataTables {
  return parseMetadataTables([spec.imageHeader, ...spec.imageLines].join('\n'), [spec.moaHeader, ...spec.moaLines].join('\n'), `demo plate "${spec.name}"`);
}

/**
 * Writes the demo plate (CSVs, TIFFs, index.json) into outDir; does nothing when index.json already matches the
 * spec rendered by this simulator version (its specSha256 hashes the version line and the spec text, so a new
 * simulator version re-renders the plate).
 */
export async function writeDemoPlate(specText: string, outDir: string, onField?: (done: number, total: number) => void): Promise<{ index: DemoIndex; written: boolean }> {
  const spec = JSON.parse(specText) as DemoPlateSpec;
  if (spec.version !== 1) throw new Error(`demo plate spec version ${spec.version} is not supported (expected 1).`);
  const specSha256 = createHash('sha256').update(`simulator version ${SIMULATOR_VERSION}\n`).update(specText).digest('hex');
  const existing = await readFile(path.join(outDir, DEMO_INDEX_FILE), 'utf8').then((t) => JSON.parse(t) as DemoIndex).catch(() => null);
  if (existing?.specSha256 === specSha256) return { index: existing, written: false };
  const tables = specTables(spec);
  const summary = await writeSimulatedDataset({ outDir, tables, seed: spec.seed, height: spec.height, width: spec.width, onField });
  const files = [IMAGE_TABLE, MOA_TABLE, ...tables.imageRows.flatMap((row) => CHANNELS.map((c) => `${row.files[c].pathName}/${row.files[c].fileName}`))];
  const index: DemoIndex = { specSha256, name: spec.name, description: spec.description, model: spec.model, fields: summary.fields, bytes: summary.bytesWritten, files };
  await writeFile(path.join(outDir, DEMO_INDEX_FILE), JSON.stringify(index, null, 1));
  return { index, written: true };
}

export interface HeldOutField {
  /** DNA file name of the field (unique in BBBC021). */
  dnaFile: string;
  compound: string;
  concentration: number;
  moa: string;
}

/**
 * Picks the demo wells from a model's held-out fields: per MoA class the `perClass` highest concentrations
 * of its held-out compounds (one field each), and `dmso` DMSO fields. The choice never looks at predictions.
 */
export function chooseDemoPlate(full: MetadataTables, heldOut: readonly HeldOutField[], options: { perClass: number; dmso: number; seed: number; height: number; width: number; model: string; heldOut: string }): DemoPlateSpec {
  const byTreatment = new Map<string, HeldOutField[]>();
  for (const f of heldOut) {
    const key = treatmentKey(f.compound, f.concentration);
    byTreatment.set(key, [...(byTreatment.get(key) ?? []), f]);
  }
  const byClass = new Map<string, HeldOutField[][]>();
  for (const fields of byTreatment.values()) byClass.set(fields[0].moa, [...(byClass.get(fields[0].moa) ?? []), fields]);
  const chosen: HeldOutField[] = [];
  for (const [moa, treatments] of [...byClass].sort(([a], [b]) => a.localeCompare(b))) {
    if (moa === 'DMSO') {
      const dmso = treatments.flat().sort((a, b) => a.dnaFile.localeCompare(b.dnaFile));
      for (let k = 0; k < Math.min(options.dmso, dmso.length); k++) chosen.push(dmso[Math.floor(((k + 0.5) * dmso.length) / Math.min(options.dmso, dmso.length))]);
      continue;
    }
    treatments.sort((a, b) => b[0].concentration - a[0].concentration || a[0].compound.localeCompare(b[0].compound));
    for (const fields of treatments.slice(0, options.perClass)) chosen.push([...fields].sort((a, b) => a.dnaFile.localeCompare(b.dnaFile))[0]);
  }
  const rowOf = new Map(full.imageRows.map((r, i) => [r.files.DNA.fileName, i]));
  const rows = chosen.map((f) => {
    const i = rowOf.get(f.dnaFile);
    if (i === undefined) throw new Error(`held-out field ${f.dnaFile} is not in the image table`);
    return i;
  }).sort((a, b) => a - b);
  const compounds = new Set(rows.map((i) => full.imageRows[i].compound));
  return {
    version: 1,
    name: 'MoA Lens demo plate',
    description: `${chosen.length} simulated fields (${CHANNELS.join(', ')}; 16-bit, ${options.height}x${options.width}, BBBC021 names): per MoA class the ${options.perClass} highest concentrations of compounds held out from ${options.model}, and ${options.dmso} DMSO fields.`,
    model: options.model,
    heldOut: options.heldOut,
    seed: options.seed,
    height: options.height,
    width: options.width,
    imageHeader: full.imageHeader,
    imageLines: rows.map((i) => full.imageLines[i]),
    moaHeader: full.moaHeader,
    moaLines: full.moaRows.flatMap((r, i) => (compounds.has(r.compound) ? [full.moaLines[i]] : [])),
  };
}
