// `npm run export`: a training checkpoint -> evaluated, quantised browser bundle (for a run that stopped before its end);
// with --add-ood, an existing bundle -> a new one with the OOD check (export/add-ood.ts).
import { readFile } from 'node:fs/promises';
import { signingKeyFromPem } from '../../src/core/bundle-trust.ts';
import { selectBackend } from './backend/select.ts';
import { ADD_OOD_USAGE, addOodToBundle } from './export/add-ood.ts';
import { evaluateAndExport } from './export/finish.ts';
import { checkpointConfig, checkpointModel, findCheckpoint } from './eval/checkpoint-model.ts';
import { ConfigError, DEFAULTS, parseTrainArgs, type TrainConfig } from './train/config.ts';
import { prepareData } from './train/data.ts';
import type { HistoryPoint } from './train/loop.ts';
import { checkOutFolder } from './train/paths.ts';
import { EXIT, exitCodesHelp, fail, startCli } from './util/cli.ts';

const USAGE = `npm run export -- --checkpoint <file or checkpoint folder> [--out <bundle dir>] [--quantize float32|float16|uint8|uint8-per-channel] [--data <root>] [--name N] [--backend B] [--sign-key <private key file>]
Rebuilds the model from the checkpoint's own settings, evaluates it on the same held-out fold and writes the bundle
(default --out: the run's own). A folder means its newest valid checkpoint.
--sign-key signs the bundle (moa-lens.sig.json) with an Ed25519 private key in PKCS #8 PEM (npm run keygen); the app
and npm run evaluate trust it when the public key is in models/trusted-keys.json.
The bundle carries the out-of-distribution check (class statistics of the training fields, threshold from the held-out ones).`;
const OVERRIDABLE: (keyof TrainConfig)[] = ['out', 'quantize', 'data', 'name', 'backend', 'threads', 'cacheDir'];

const { argv } = startCli('export');
if (argv.includes('--help')) {
  console.log(`${USAGE}\n\n${ADD_OOD_USAGE}\n\n--verbose: on failure, print the stack trace too.\n\n${exitCodesHelp([EXIT.usage, EXIT.data, EXIT.bundle])}`);
  process.exit(0);
}
try {
  if (argv.includes('--add-ood')) await addOodToBundle(argv, console.log);
  else await exportCheckpoint();
} catch (e) {
  fail(e);
}

async function exportCheckpoint(): Promise<void> {
  const at = argv.indexOf('--checkpoint');
  if (at < 0 || !argv[at + 1]) throw new ConfigError(`--checkpoint is required.\n${USAGE}`);
  const source = argv[at + 1];
  let rest = [...argv.slice(0, at), ...argv.slice(at + 2)];
  const keyAt = rest.indexOf('--sign-key');
  const keyFile = keyAt >= 0 ? rest[keyAt + 1] : undefined;
  if (keyAt >= 0 && !keyFile) throw new ConfigError('--sign-key needs a private key file.');
  if (keyAt >= 0) rest = [...rest.slice(0, keyAt), ...rest.slice(keyAt + 2)];
  const signer = keyFile
    ? await readFile(keyFile, 'utf8').then(signingKeyFromPem).catch((e: Error) => {
        throw new ConfigError(`--sign-key ${keyFile}: ${e.message}`);
      })
    : undefined;
  const given = parseTrainArgs(rest);
  const changed = (Object.keys(given) as (keyof TrainConfig)[]).filter((k) => given[k] !== DEFAULTS[k]);
  const refused = changed.filter((k) => !OVERRIDABLE.includes(k));
  if (refused.length) throw new ConfigError(`export takes the training settings from the checkpoint; it cannot change ${refused.join(', ')}.`);

  const { file, checkpoint } = await findCheckpoint(source);
  const config = checkpointConfig(checkpoint, Object.fromEntries(changed.map((k) => [k, given[k]])));
  checkOutFolder(config.out); // an existing folder that is not a bundle is refused before any work, never deleted
  console.log(`checkpoint: ${file} (step ${checkpoint.step}, epoch ${checkpoint.epoch})`);

  await selectBackend({ requested: config.backend, threads: config.threads || undefined, log: console.log });
  const data = await prepareData(config);
  const model = checkpointModel(checkpoint, config);
  await evaluateAndExport({
    model,
    data,
    config,
    history: checkpoint.history as HistoryPoint[],
    steps: checkpoint.step,
    worldSize: 1,
    command: `npm run export -- ${argv.join(' ')}`,
    signer,
    log: console.log,
  });
}
