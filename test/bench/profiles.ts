// Profiles benchmark: what the second output (the penultimate-layer features) costs the forward pass, and how long
// the Map view's analysis (DMSO z-scores, PCA, clustering, nearest neighbours) and "Adapt to this plate" (the head
// fit and its leave-one-compound-out check) take for a 384-well plate. WASM backend in Node, the shipped model.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { bundleIOHandler } from '../../src/core/bundle.ts';
import { withFeatures } from '../../src/core/layers-predict.ts';
import { fitLogisticHead, leaveCompoundsOut, type HeadExample } from '../../src/core/logistic-head.ts';
import { analyseProfiles } from '../../src/core/profile-map.ts';
import type { FieldProfile } from '../../src/core/profiles.ts';
import { selectBackend } from '../../training/src/backend/select.ts';
import { readBundleDir } from '../../training/src/bundle-fs.ts';
import { Rng } from '../../training/src/util/prng.ts';
import { loadSummary, machineSummary } from './machine.ts';

const REPO = path.resolve(import.meta.dirname, '..', '..');

async function readAll(outputs: tf.Tensor | tf.Tensor[]): Promise<void> {
  const list = Array.isArray(outputs) ? outputs : [outputs];
  await Promise.all(list.map((t) => t.data()));
  for (const t of list) t.dispose();
}

/** Milliseconds `run` takes. */
async function time(run: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

/** A plate's worth of synthetic fields: `treatments` treatments of `classes` classes, `sites` fields each, 4 plates, DMSO included. */
function syntheticPlate(treatments: number, sites: number, width: number, classes: number): FieldProfile[] {
  const rng = new Rng(18);
  const centres = Array.from({ length: classes }, () => Array.from({ length: width }, () => Math.max(0, rng.normal())));
  const fields: FieldProfile[] = [];
  for (let t = 0; t < treatments; t++) {
    const label = t % classes;
    for (let s = 0; s < sites; s++)
      fields.push({ id: `${t}/${s}`, plate: `Week${1 + (t % 4)}_${t % 4}`, compound: label === classes - 1 ? 'DMSO' : `c${Math.floor(t / 3)}`, concentration: t % 3, features: Float32Array.from(centres[label], (v) => Math.max(0, v + 0.5 * rng.normal())), label });
  }
  return fields;
}

export async function benchProfiles(): Promise<void> {
  await selectBackend({ requested: 'wasm', log: null });
  const bundle = await readBundleDir(path.join(REPO, 'models/mcnn-sim-v1'));
  const model = await tfl.loadLayersModel(bundleIOHandler(bundle));
  const both = withFeatures(model);
  const { height, width } = bundle.metadata.input;
  const batch = 8;
  const x = tf.randomUniform([batch, height, width, 3], 0, 1, 'float32', 1);
  await readAll(model.predict(x) as tf.Tensor);
  await readAll(both.predict(x) as tf.Tensor[]);
  const rounds = 15;
  // Interleaved so that load on the machine hits both alike.
  const plain: number[] = [];
  const withF: number[] = [];
  for (let r = 0; r < rounds; r++) {
    plain.push(await time(() => readAll(model.predict(x) as tf.Tensor)));
    withF.push(await time(() => readAll(both.predict(x) as tf.Tensor[])));
  }
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
  const [p, f] = [med(plain) / batch, med(withF) / batch];
  // Each round's pair ran back to back, so its ratio cancels most of the machine's load swings.
  const ratio = med(plain.map((ms, i) => withF[i] / ms));
  console.log(`machine: ${machineSummary()}; ${loadSummary()}`);
  console.log(`forward, ${bundle.metadata.name} ${height}x${width}, batch ${batch}, WASM (Node), median of ${rounds}:`);
  console.log(`  probabilities only          ${p.toFixed(1)} ms/tile`);
  console.log(`  probabilities + features    ${f.toFixed(1)} ms/tile  (median of the rounds' ratios ${ratio.toFixed(3)}; the ${both.outputs[0].shape[1]}-wide features read back as well)`);
  x.dispose();

  // Wall time on a loaded machine says little: CPU time (single-threaded JS) is what one idle core would take.
  const measure = <T>(run: () => T): { value: T; wallMs: number; cpuMs: number } => {
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    const value = run();
    const used = process.cpuUsage(cpu);
    return { value, wallMs: performance.now() - t0, cpuMs: (used.user + used.system) / 1000 };
  };
  const ms = (m: { wallMs: number; cpuMs: number }) => `${m.cpuMs.toFixed(0)} ms CPU (${m.wallMs.toFixed(0)} ms wall)`;
  const fields = syntheticPlate(384, 4, 256, 13);
  const analysis = measure(() => analyseProfiles(fields, () => ({ predicted: 0, confidence: 0.5 })));
  console.log(`Map view analysis, 384 treatments x 4 fields x 256 features (DMSO z-scores, PCA, average-linkage clustering, NSC/NSCB 1-NN): ${ms(analysis)} (NSC ${(analysis.value.nsc.accuracy * 100).toFixed(0)}% on the synthetic plate)`);
  const examples: HeadExample[] = fields.map((fp) => ({ features: fp.features, label: fp.label!, compound: fp.compound, treatment: `${fp.compound}@${fp.concentration}` }));
  const fit = measure(() => fitLogisticHead(examples, 13));
  const check = measure(() => leaveCompoundsOut(examples, 13));
  console.log(`Adapt, 1536 labelled fields x 256 features, 13 classes: head fit ${ms(fit)}; compounds check (${check.value.compounds} compounds in ${check.value.folds} folds, its own full fit included) ${ms(check)}`);
}
