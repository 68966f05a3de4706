// The demo plate's recipe re-renders its wells bit for bit as they are in the full simulated dataset, with no access to the full tables.
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDatasetIndex } from '../../training/src/data/index.ts';
import { readMetadataTables } from '../../training/src/simulate/dataset-writer.ts';
import { chooseDemoPlate, writeDemoPlate } from '../../training/src/simulate/demo-plate.ts';
import { BBBC021_METADATA_DIR } from '../fixtures/paths.ts';
import { smallDataset } from './train-helpers.ts';

describe('demo plate', () => {
  it('picks the highest held-out doses per class, renders identical TIFFs from its own rows, and lists every file', async () => {
    const data = await smallDataset({ size: 64, compoundsPerClass: 2, fieldsPerTreatment: 2, seed: 5 });
    const index = await loadDatasetIndex(data);
    // Pretend the first compound of each class (alphabetically) was held out.
    const firstOfClass = new Map<string, string>();
    for (const s of [...index.samples].sort((a, b) => a.compound.localeCompare(b.compound))) if (!firstOfClass.has(s.moa)) firstOfClass.set(s.moa, s.compound);
    const heldOut = index.samples
      .filter((s) => firstOfClass.get(s.moa) === s.compound)
      .map((s) => ({ dnaFile: path.basename(s.files[0]), compound: s.compound, concentration: s.concentration, moa: s.moa }));
    const full = await readMetadataTables(BBBC021_METADATA_DIR);
    const spec = chooseDemoPlate(full, heldOut, { perClass: 2, dmso: 2, seed: 5, height: 64, width: 64, model: 'test', heldOut: 'first compound' });

    const chosen = spec.imageLines.length;
    const classes = new Set(heldOut.map((f) => f.moa));
    expect(chosen).toBeLessThanOrEqual(2 * (classes.size - 1) + 2);
    expect(chosen).toBeGreaterThanOrEqual(classes.size);
    // Per class, the chosen doses are the highest held-out ones.
    for (const moa of classes) {
      if (moa === 'DMSO') continue;
      const doses = [...new Set(heldOut.filter((f) => f.moa === moa).map((f) => f.concentration))].sort((a, b) => b - a).slice(0, 2);
      const inSpec = spec.imageLines.filter((l) => heldOut.some((f) => f.moa === moa && l.includes(f.dnaFile)));
      expect(inSpec.length).toBe(doses.length);
    }

    const out = await mkdtemp(path.join(os.tmpdir(), 'moa-demo-'));
    const specText = JSON.stringify(spec);
    const first = await writeDemoPlate(specText, out);
    expect(first.written).toBe(true);
    expect(first.index.fields).toBe(chosen);
    expect(first.index.files.length).toBe(2 + 3 * chosen);
    for (const file of first.index.files.filter((f) => f.endsWith('.tif'))) {
      const a = await readFile(path.join(out, file));
      const b = await readFile(path.join(data, file));
      expect(a.equals(b), file).toBe(true);
    }
    // The app's view of the folder: the written CSV names exactly the chosen fields.
    const demoIndex = await loadDatasetIndex(out);
    expect(demoIndex.samples.length).toBe(chosen);
    expect(demoIndex.skipped).toEqual([]);
    expect((await writeDemoPlate(specText, out)).written).toBe(false);
    expect((await writeDemoPlate(JSON.stringify({ ...spec, name: 'renamed' }), out)).written).toBe(true);
  });
});
