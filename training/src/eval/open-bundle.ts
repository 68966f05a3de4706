// A bundle opened to be run on a data root, as `npm run evaluate` and `npm run profile` do: read and verified,
// refused when unverified (unless allowed), its model loaded and its recorded recipe pointed at the data.
import * as tfl from '@tensorflow/tfjs-layers';
import { BundleError, bundleIOHandler, type VerifiedBundle } from '../../../src/core/bundle.ts';
import { readBundleDir } from '../bundle-fs.ts';
import { DEFAULTS, recordedTrainConfig, type TrainConfig } from '../train/config.ts';
import { ModelFileError } from '../util/cli.ts';

export const ALLOW_UNVERIFIED = '--allow-unverified';

export interface OpenedBundle {
  bundle: VerifiedBundle;
  model: tfl.LayersModel;
  /** The bundle's training recipe (defaults where it records none) on `data`, at the bundle's input size. */
  config: TrainConfig;
}

/** `verb` names what is refused ("evaluate", "profile"). */
export async function openBundle(dir: string, data: string, allowUnverified: boolean, verb: string, log: (line: string) => void): Promise<OpenedBundle> {
  const bundle = await readBundleDir(dir).catch((e: unknown) => {
    throw new ModelFileError(`--bundle ${dir}: ${(e as Error).message}`, { cause: e });
  });
  const meta = bundle.metadata;
  log(`bundle: ${bundle.trust.status.toUpperCase()}: ${bundle.trust.detail}`);
  if (bundle.trust.status === 'unverified' && !allowUnverified)
    throw new BundleError(`refusing to ${verb} ${dir}: it is unverified (${bundle.trust.detail}), so its classes and preprocessing may not be what it was trained with. Pass ${ALLOW_UNVERIFIED} to run it anyway.`);
  const model = await tfl.loadLayersModel(bundleIOHandler(bundle));
  log(`model: ${meta.name} (${bundle.hash.slice(0, 12)}), input ${meta.input.height}x${meta.input.width}, binning ${meta.preprocessing.binning}${meta.provenance.trained ? '' : ', UNTRAINED placeholder'}`);
  const recipe = recordedTrainConfig((meta.provenance.recipe ?? {}) as Record<string, unknown>);
  const config: TrainConfig = { ...DEFAULTS, ...recipe, data, out: '', cacheDir: '', inputHeight: meta.input.height, inputWidth: meta.input.width };
  return { bundle, model, config };
}
