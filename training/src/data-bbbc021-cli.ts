// CLI: npm run data:bbbc021 -- --out <dir> [...]: downloads the real BBBC021 (metadata CSVs and the plates' image
// zips from the Broad Bioimage Benchmark Collection or a mirror) into the layout `npm run train -- --data` reads.

import path from 'node:path';
import { mkdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { BBBC021_METADATA_DIR } from './bbbc021-metadata.ts';
import {
  ASSUMED_ZIP_BYTES,
  BBBC021_BASE_URL,
  checkFields,
  DOWNLOAD_DIR,
  downloadPlates,
  placeMetadata,
  planPlates,
  readChecksums,
  recordChecksums,
  ZIP_CHECKSUMS,
  type PlateOutcome,
} from './data/download/bbbc021-download.ts';
import { TransferProgress } from './data/download/progress.ts';
import { ConfigError, DataError, EXIT, exitCodesHelp, runCli, verbose } from './util/cli.ts';
import { formatBytes } from './util/format.ts';

const USAGE = `Usage: npm run data:bbbc021 -- --out <dir> [options]

Downloads BBBC021 (55 plates, one zip of 0.75-0.85 GB each, about 44 GB) into <dir>: the metadata CSVs at the
top and each plate's TIFFs where BBBC021_v1_image.csv says (Week<N>/Week<N>_<plate>/), ready for
npm run train -- --data <dir>. Reruns skip finished plates and resume a half-downloaded zip.

  --out <dir>              the data root (created if needed)
  --base-url <url>         where the zips are (default ${BBBC021_BASE_URL}; a lab mirror with the same file names)
  --plates <p1,p2,...>     only these plates (e.g. Week1_22123); may be repeated
  --labelled-only          only the 3,848 fields with an MoA label (DMSO included); they lie on all 55 plates, so
                           every zip is still downloaded, but only their files are unpacked (29% of the fields)
  --concurrency <N>        plates downloaded at once (default 2)
  --retries <N>            retries of a request that failed without progress: network errors, stalls, HTTP 5xx
                           (default 5; waits --backoff, doubling each time); HTTP 404 is reported as missing
  --backoff <seconds>      the first retry's wait (default 1)
  --timeout <seconds>      give up on a connection that sends nothing for this long (default 60)
  --sha256 <file>          expected sha256 of the zips, sha256sum format (each run writes <dir>/${ZIP_CHECKSUMS})
  --keep-zips              keep the zips in <dir>/${DOWNLOAD_DIR}/ after unpacking (default: deleted)
  --metadata <dir>         folder of the metadata CSVs (default training/data/bbbc021, the vendored copy)
  --progress-every <s>     period of the progress line when stderr is not a terminal (default 10)
  --verbose                each resume and skip; on failure, the stack trace too
  --help                   this text

Exit 0 when every selected field has its three files; otherwise the summary lists what is missing, exit 3.

${exitCodesHelp([EXIT.usage, EXIT.data])}`;

export interface DataCliOptions {
  out: string;
  baseUrl: string;
  plates?: string[];
  labelledOnly: boolean;
  concurrency: number;
  retries: number;
  backoffSeconds: number;
  timeoutSeconds: number;
  sha256File?: string;
  keepZips: boolean;
  metadata: string;
  progressEverySeconds: number;
}

const VALUE_FLAGS = ['--out', '--base-url', '--plates', '--concurrency', '--retries', '--backoff', '--timeout', '--sha256', '--metadata', '--progress-every'];

/** Parses CLI arguments; throws an Error whose message names the bad flag. */
export function parseDataArgs(argv: string[]): DataCliOptions | 'help' {
  const opts: Partial<DataCliOptions> = {};
  let labelledOnly = false;
  let keepZips = false;
  const count = (flag: string, value: string, min: number) => {
    if (!/^\d+$/.test(value) || Number(value) < min) throw new Error(`${flag} needs an integer of at least ${min}, got "${value}"`);
    return Number(value);
  };
  const seconds = (flag: string, value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a number of seconds, got "${value}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--help' || flag === '-h') return 'help';
    if (flag === '--labelled-only') {
      labelledOnly = true;
      continue;
    }
    if (flag === '--keep-zips') {
      keepZips = true;
      continue;
    }
    if (!flag.startsWith('--')) throw new Error(`Unexpected argument "${flag}"`);
    if (!VALUE_FLAGS.includes(flag)) throw new Error(`Unknown flag ${flag}`);
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new Error(`${flag} needs a value`);
    i++;
    switch (flag) {
      case '--out': opts.out = value; break;
      case '--base-url': {
        let url: URL;
        try {
          url = new URL(value);
        } catch {
          throw new Error(`--base-url needs an http or https URL, got "${value}"`);
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--base-url needs an http or https URL, got "${value}"`);
        opts.baseUrl = url.toString().endsWith('/') ? url.toString() : `${url.toString()}/`;
        break;
      }
      case '--plates': opts.plates = [...(opts.plates ?? []), ...value.split(',').map((p) => p.trim()).filter(Boolean)]; break;
      case '--concurrency': opts.concurrency = count(flag, value, 1); break;
      case '--retries': opts.retries = count(flag, value, 0); break;
      case '--backoff': opts.backoffSeconds = seconds(flag, value); break;
      case '--timeout': opts.timeoutSeconds = seconds(flag, value); break;
      case '--sha256': opts.sha256File = value; break;
      case '--metadata': opts.metadata = value; break;
      case '--progress-every': opts.progressEverySeconds = seconds(flag, value); break;
    }
  }
  if (!opts.out) throw new Error('--out <dir> is required');
  if (opts.timeoutSeconds === 0) throw new Error('--timeout needs a positive number of seconds');
  return {
    out: opts.out,
    baseUrl: opts.baseUrl ?? BBBC021_BASE_URL,
    plates: opts.plates,
    labelledOnly,
    concurrency: opts.concurrency ?? 2,
    retries: opts.retries ?? 5,
    backoffSeconds: opts.backoffSeconds ?? 1,
    timeoutSeconds: opts.timeoutSeconds ?? 60,
    sha256File: opts.sha256File,
    keepZips,
    metadata: opts.metadata ?? BBBC021_METADATA_DIR,
    progressEverySeconds: opts.progressEverySeconds ?? 10,
  };
}

function describe(outcome: PlateOutcome): string {
  switch (outcome.status) {
    case 'complete': return 'complete (an earlier run)';
    case 'present': return 'present (its files were already there)';
    case 'downloaded': {
      const resumed = outcome.resumedAt?.length ? `, resumed at byte ${outcome.resumedAt.join(', ')}` : '';
      const requests = outcome.attempts && outcome.attempts > 1 ? `, ${outcome.attempts} requests` : '';
      return `downloaded ${formatBytes(outcome.zipBytes ?? 0)}${requests}${resumed}, every CRC-32 checked${outcome.sha256Matched ? ', sha256 as expected' : ''}`;
    }
    case 'missing': return `MISSING: ${outcome.error}`;
    case 'failed': return `FAILED: ${outcome.error}`;
  }
}

async function main(argv: string[]): Promise<number> {
  let opts: DataCliOptions | 'help';
  try {
    opts = parseDataArgs(argv);
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (opts === 'help') {
    console.log(USAGE);
    return EXIT.ok;
  }
  const out = path.resolve(opts.out);
  const outStat = await stat(out).catch(() => undefined);
  if (outStat && !outStat.isDirectory()) throw new ConfigError(`--out ${out} exists and is not a folder`);
  const checksums = opts.sha256File ? await readChecksums(opts.sha256File) : undefined;
  const plans = await planPlates(opts.metadata, { plates: opts.plates, labelledOnly: opts.labelledOnly });
  const fieldCount = plans.reduce((sum, plan) => sum + plan.fields.length, 0);
  try {
    await mkdir(out, { recursive: true });
  } catch (error) {
    throw new DataError(`--out ${out}: cannot be created (${(error as Error).message})`, { cause: error });
  }
  for (const note of await placeMetadata(opts.metadata, out)) console.error(`data:bbbc021: ${note}`);
  console.log(`data:bbbc021: ${plans.length} plate${plans.length === 1 ? '' : 's'}, ${fieldCount} ${opts.labelledOnly ? 'labelled ' : ''}fields, from ${opts.baseUrl} into ${out}`);

  const started = performance.now();
  const progress = new TransferProgress(plans.map((plan) => plan.plate), {
    write: (text) => process.stderr.write(text),
    tty: process.stderr.isTTY === true,
    plainEveryMs: Math.max(100, opts.progressEverySeconds * 1000),
    assumedItemBytes: ASSUMED_ZIP_BYTES,
  });
  progress.start();
  let outcomes: PlateOutcome[];
  try {
    outcomes = await downloadPlates(plans, {
      out,
      baseUrl: opts.baseUrl,
      selection: { labelledOnly: opts.labelledOnly },
      concurrency: opts.concurrency,
      keepZips: opts.keepZips,
      checksums,
      transfer: { retries: opts.retries, backoffMs: opts.backoffSeconds * 1000, idleTimeoutMs: opts.timeoutSeconds * 1000 },
      progress,
      verbose: verbose(),
    });
  } finally {
    progress.stop();
  }
  await recordChecksums(out, outcomes);
  const check = await checkFields(out, plans);
  const seconds = (performance.now() - started) / 1000;

  const width = Math.max(...plans.map((plan) => plan.plate.length));
  for (const outcome of outcomes) console.log(`  ${outcome.plate.padEnd(width)}  ${describe(outcome)}`);
  const downloaded = outcomes.filter((o) => o.status === 'downloaded');
  const bytes = downloaded.reduce((sum, o) => sum + (o.zipBytes ?? 0), 0);
  console.log(`Downloaded ${downloaded.length} plate${downloaded.length === 1 ? '' : 's'} (${formatBytes(bytes)}) in ${seconds.toFixed(1)} s; skipped ${outcomes.filter((o) => o.status === 'complete' || o.status === 'present').length} already there`);
  console.log(`Check: ${check.present} of ${check.fields} ${opts.labelledOnly ? 'labelled ' : ''}fields have their 3 files`);
  if (check.missing.length === 0) return EXIT.ok;
  console.log(`Missing: ${check.missing.reduce((sum, m) => sum + m.fields, 0)} fields on ${check.missing.length} plate${check.missing.length === 1 ? '' : 's'}:`);
  for (const missing of check.missing) console.log(`  ${missing.plate.padEnd(width)}  ${missing.fields} fields (e.g. ${missing.examples.join(', ')})`);
  console.log('Rerun the same command to fetch what is missing (finished plates are skipped, half-downloaded zips resumed).');
  return EXIT.data;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runCli('data:bbbc021', main);
}
