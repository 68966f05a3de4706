// `npm run export -- --add-ood`: an existing bundle + its data root and split -> a new bundle folder with the OOD check
// and the pixel size, its model.json and weight files copied byte for byte (the source folder is never written).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { bundleIOHandler, completeBundleFiles, sha256Hex, type BundleMetadataInput } from '../../../src/core/bundle.ts';
import { METADATA_FILE } from '../../../src/core/bundle-format.ts';
import { signingKeyFromPem } from '../../../src/core/bundle-trust.ts';
import { MOA_CLASSES } from '../../../src/core/labels.ts';
import { selectBackend } from '../backend/select.ts';
import { readBundleDir, writeBundleDir } from '../bundle-fs.ts';
import { evaluate } from '../eval/evaluate.ts';
import { ConfigError, DEFAULTS, recordedTrainConfig, type TrainConfig } from '../train/config.ts';
import { prepareData } from '../train/data.ts';
import { checkOutFolder } from '../train/paths.ts';
import { ModelFileError } from '../util/cli.ts';
import { SPLIT_KINDS } from '../data/splits.ts';
import { modelPixelSize, OOD_FILE, oodForBundle } from './ood-stats.ts';

export const ADD_OOD_USAGE = `npm run export -- --add-ood --bundle <bundle dir> --data <root> --out <new bundle dir> [--split grouped|loco|nscb|random] [--folds K] [--fold i] [--seed S]
    [--pixel-size <micrometres per field pixel>] [--cache-dir D] [--backend B] [--threads N] [--sign-key <private key file>] [--allow-unverified]
Adds the out-of-distribution check (class statistics of the training fields' features, threshold passing >= 95% of the
held-out fields) and the pixel size to an existing bundle, written as a new bundle folder (--out; never the source).
The split defaults to the one the bundle's provenance records (its recipe's --split/--folds/--fold/--seed); the data root
must be the one it was trained on. --pixel-size defaults to the bundle's own, else BBBC021's (0.32 um, assumed).
An unverified source bundle (neither shipped nor signed) is refused unless --allow-unverified.`;

interface AddOodArgs {
  bundle: string;
  data: string;
  out: string;
  split?: string;
  folds?: number;
  fold?: number;
  seed?: number;
  pixelSize?: number;
  cacheDir?: string;
  backend?: TrainConfig['backend'];
  threads?: number;
  signKey?: string;
  allowUnverified: boolean;
}

const NUMBERS = new Set(['folds', 'fold', 'seed', 'pixel-size', 'threads']);
const STRINGS = new Set(['bundle', 'data', 'out', 'split', 'cache-dir', 'backend', 'sign-key']);

function parseArgs(argv: readonly string[]): AddOodArgs {
  const got: Record<string, string | number | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i].replace(/^--/, '');
    if (flag === 'add-ood' || flag === 'verbose') continue;
    if (flag === 'allow-unverified') {
      got.allowUnverified = true;
      continue;
    }
    if (!argv[i].startsWith('--') || !(NUMBERS.has(flag) || STRINGS.has(flag))) throw new ConfigError(`--add-ood does not take "${argv[i]}".\n${ADD_OOD_USAGE}`);
    const value = argv[++i];
    if (value === undefined || value.startsWith('--')) throw new ConfigError(`--${flag} needs a value.`);
    const key = flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (NUMBERS.has(flag)) {
      const n = Number(value);
      if (!Number.isFinite(n) || (flag !== 'pixel-size' && !Number.isInteger(n)) || n < 0 || (flag === 'pixel-size' && n === 0)) throw new ConfigError(`--${flag} must be a ${flag === 'pixel-size' ? 'positive number' : 'whole number'}, got "${value}".`);
      got[key] = n;
    } else got[key] = value;
  }
  for (const required of ['bundle', 'data', 'out']) if (!got[required]) throw new ConfigError(`--add-ood needs --${required}.\n${ADD_OOD_USAGE}`);
  if (got.split !== undefined && !SPLIT_KINDS.includes(got.split as never)) throw new ConfigError(`--split must be one of ${SPLIT_KINDS.join(', ')}; got "${String(got.split)}".`);
  return { allowUnverified: false, ...got } as unknown as AddOodArgs;
}

/** Reads the bundle, computes the OOD statistics on its data and split, and writes the new bundle folder. */
export async function addOodToBundle(argv: readonly string[], log: (line: string) => void): Promise<void> {
  const args = parseArgs(argv);
  const source = path.resolve(args.bundle);
  const out = path.resolve(args.out);
  if (out === source || out.startsWith(source + path.sep)) throw new ConfigError(`--out ${args.out} is the source bundle or inside it; --add-ood writes a new bundle folder and never changes the source.`);
  checkOutFolder(out);
  const bundle = await readBundleDir(source).catch((e: Error) => {
    throw new ModelFileError(e.message, { cause: e });
  });
  const m = bundle.metadata;
  log(`bundle: ${source} (${m.name}, ${bundle.trust.status}; moa-lens.json sha256 ${bundle.hash})`);
  if (bundle.trust.status === 'unverified' && !args.allowUnverified)
    throw new ModelFileError(`${source} is unverified (${bundle.trust.detail}); add --allow-unverified to add the OOD check to it anyway.`);
  if (m.labelSet !== 'bbbc021-moa') throw new ConfigError(`${source} has its own label set; --add-ood needs a bundle of the BBBC021 MoA classes (the data root's labels).`);
  const signer = args.signKey
    ? await readFile(args.signKey, 'utf8').then(signingKeyFromPem).catch((e: Error) => {
        throw new ConfigError(`--sign-key ${args.signKey}: ${e.message}`);
      })
    : undefined;

  // The split as the bundle's provenance records it, the flags over it.
  const recipe = typeof m.provenance.recipe === 'object' && m.provenance.recipe !== null ? recordedTrainConfig(m.provenance.recipe as Record<string, unknown>) : {};
  const config: TrainConfig = {
    ...DEFAULTS,
    ...recipe,
    data: args.data,
    out,
    cacheDir: args.cacheDir ?? '',
    ...(args.split !== undefined && { split: args.split as TrainConfig['split'] }),
    ...(args.folds !== undefined && { folds: args.folds }),
    ...(args.fold !== undefined && { fold: args.fold }),
    ...(args.seed !== undefined && { seed: args.seed }),
  };
  await selectBackend({ requested: args.backend ?? 'auto', threads: args.threads, log });
  const data = await prepareData(config, m.preprocessing);
  const recorded = m.provenance.metrics as { split?: string; heldOutFields?: number } | undefined;
  log(`split: ${data.split.name}: ${data.split.train.length} training, ${data.split.test.length} held-out fields${recorded?.split ? ` (the bundle records ${recorded.split}, ${recorded.heldOutFields ?? '?'} held out)` : ''}`);
  if (recorded?.heldOutFields !== undefined && recorded.heldOutFields !== data.split.test.length)
    log(`warning: the bundle was evaluated on ${recorded.heldOutFields} held-out fields, this split holds out ${data.split.test.length}: check --data and the split flags.`);

  const model = await tfl.loadLayersModel(bundleIOHandler(bundle));
  const training = await evaluate(model, data.samples, data.split.train, m, MOA_CLASSES.length, data.cache);
  const heldOut = await evaluate(model, data.samples, data.split.test, m, MOA_CLASSES.length, data.cache);
  model.dispose();
  const ood = oodForBundle(training.fields, heldOut.fields, { data: config.data, split: data.split.name });
  log(ood.summary);

  // The model's files byte for byte (checked against the hashes the loader verified), a new moa-lens.json.
  const files = new Map<string, Uint8Array>();
  for (const [name, entry] of Object.entries(m.files)) {
    if (name === m.ood?.file) continue;
    const bytes = new Uint8Array(await readFile(path.join(source, name)));
    if ((await sha256Hex(bytes)) !== entry.sha256) throw new ModelFileError(`${path.join(source, name)} changed while it was read; try again.`);
    files.set(name, bytes);
  }
  files.set(OOD_FILE, ood.bytes);
  const { files: _files, format: _format, version: _version, ...kept } = m;
  const pixelSize = args.pixelSize !== undefined ? modelPixelSize(m.preprocessing.binning, args.pixelSize, 'given to npm run export --add-ood (--pixel-size)') : (m.pixelSize ?? modelPixelSize(m.preprocessing.binning));
  const metadata: BundleMetadataInput = {
    ...kept,
    createdAt: new Date().toISOString(),
    provenance: { ...m.provenance, oodAddedTo: { bundle: bundle.hash, by: `npm run export -- ${argv.join(' ')}` } },
    ood: ood.section,
    pixelSize,
  };
  const written = await completeBundleFiles(files, metadata, signer);
  await writeBundleDir(out, written);
  log(`wrote ${out} (moa-lens.json sha256 ${await sha256Hex(written.get(METADATA_FILE)!)}, ${signer ? `signed by key ${signer.publicKey}` : 'unsigned'})`);
}
