// CLI: npm run simulate -- --out <dir> [...]: writes a simulated BBBC021 (real CSVs, simulated TIFFs).

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BBBC021_METADATA_DIR } from './bbbc021-metadata.ts';
import { readMetadataTables, writeSimulatedDataset } from './simulate/dataset-writer.ts';
import { renderClassExamples, writeMultiChannelExamples } from './simulate/class-examples.ts';
import { ConfigError, EXIT, exitCodesHelp, runCli } from './util/cli.ts';
import { formatRealismTable } from './simulate/crop-statistics.ts';
import { REAL_DMSO_CROP_FIGURES, runRealismReport } from './simulate/realism-report.ts';
import { SIMULATOR_VERSION } from './simulate/render-field.ts';

const USAGE = `Usage: npm run simulate -- --out <dir> [options]
       npm run simulate -- --realism-report [--fields <N>] [--seed <S>] [--metadata <dir>]

  --out <dir>                  output root (CSVs at the top, TIFFs under Week<N>/Week<N>_<plate>/)
  --size <H>x<W>               field size (default 1024x1280)
  --plates <p1,p2,...>         only these plates (e.g. Week1_22123); may be repeated
  --fields-per-treatment <N>   at most N fields per compound-concentration
  --dmso-fields <N>            DMSO fields kept with --fields-per-treatment (default 8 x N)
  --compounds-per-class <N>    at most N compounds per MoA class (implies --labelled-only)
  --labelled-only              only fields whose treatment has an MoA label (+ DMSO)
  --seed <S>                   integer seed (default 0)
  --compound-diversity <D>     0..1: how far each compound departs from its class template (default 1: its own
                               mix of the class's features, an off-target share, side effects; 0: the class effect
                               alone, every compound of a class a near copy, as simulator version 1)
  --compression <none|deflate> TIFF compression (default none, as BBBC021)
  --metadata <dir>             folder of the real CSVs (default training/data/bbbc021)
  --multichannel <planar|pages> also write one 3-channel TIFF per class under <out>/multichannel/
  --realism-report             write nothing: render DMSO fields, cut 68x68 crops around the cells and compare
                               their statistics with real BBBC021 DMSO crops (training/data/real-stats/)
  --fields <N>                 DMSO fields the realism report renders (default 24, spread over plates)
  --verbose                    on failure, print the stack trace too
  --help                       this text

${exitCodesHelp([EXIT.usage, EXIT.data])}`;

export interface SimulateCliOptions {
  /** Output root; empty for the realism report, which writes nothing. */
  out: string;
  realismReport: boolean;
  /** DMSO fields of the realism report. */
  reportFields: number;
  height: number;
  width: number;
  plates?: string[];
  fieldsPerTreatment?: number;
  dmsoFields?: number;
  compoundsPerClass?: number;
  labelledOnly: boolean;
  seed: number;
  compoundDiversity: number;
  compression: 'none' | 'deflate';
  metadata: string;
  multichannel?: 'planar' | 'pages';
}

/** Parses CLI arguments; throws an Error whose message names the bad flag. */
export function parseSimulateArgs(argv: string[]): SimulateCliOptions | 'help' {
  const opts: Partial<SimulateCliOptions> & { labelledOnly: boolean; realismReport: boolean } = { labelledOnly: false, realismReport: false };
  const positiveInt = (flag: string, v: string) => {
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`${flag} needs a positive integer, got "${v}"`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--help' || flag === '-h') return 'help';
    if (flag === '--labelled-only') {
      opts.labelledOnly = true;
      continue;
    }
    if (flag === '--realism-report') {
      opts.realismReport = true;
      continue;
    }
    const value = argv[i + 1];
    if (!flag.startsWith('--')) throw new Error(`Unexpected argument "${flag}"`);
    if (value === undefined || value.startsWith('--')) throw new Error(`${flag} needs a value`);
    i++;
    switch (flag) {
      case '--out': opts.out = value; break;
      case '--size': {
        const m = /^(\d+)x(\d+)$/i.exec(value);
        if (!m || Number(m[1]) < 8 || Number(m[2]) < 8) throw new Error(`--size needs HxW with both at least 8 (e.g. 256x320), got "${value}"`);
        opts.height = Number(m[1]);
        opts.width = Number(m[2]);
        break;
      }
      case '--plates': opts.plates = [...(opts.plates ?? []), ...value.split(',').map((p) => p.trim()).filter(Boolean)]; break;
      case '--fields-per-treatment': opts.fieldsPerTreatment = positiveInt(flag, value); break;
      case '--dmso-fields': opts.dmsoFields = positiveInt(flag, value); break;
      case '--fields': opts.reportFields = positiveInt(flag, value); break;
      case '--compounds-per-class': opts.compoundsPerClass = positiveInt(flag, value); break;
      case '--seed':
        if (!/^-?\d+$/.test(value)) throw new Error(`--seed needs an integer, got "${value}"`);
        opts.seed = Number(value);
        break;
      case '--compound-diversity': {
        const d = Number(value);
        if (value.trim() === '' || !(d >= 0 && d <= 1)) throw new Error(`--compound-diversity needs a number from 0 to 1, got "${value}"`);
        opts.compoundDiversity = d;
        break;
      }
      case '--compression':
        if (value !== 'none' && value !== 'deflate') throw new Error(`--compression is none or deflate, got "${value}"`);
        opts.compression = value;
        break;
      case '--metadata': opts.metadata = value; break;
      case '--multichannel':
        if (value !== 'planar' && value !== 'pages') throw new Error(`--multichannel is planar or pages, got "${value}"`);
        opts.multichannel = value;
        break;
      default: throw new Error(`Unknown flag ${flag}`);
    }
  }
  if (!opts.out && !opts.realismReport) throw new Error('--out <dir> is required');
  return {
    out: opts.out ?? '',
    realismReport: opts.realismReport,
    reportFields: opts.reportFields ?? 24,
    height: opts.height ?? 1024,
    width: opts.width ?? 1280,
    plates: opts.plates,
    fieldsPerTreatment: opts.fieldsPerTreatment,
    dmsoFields: opts.dmsoFields,
    compoundsPerClass: opts.compoundsPerClass,
    labelledOnly: opts.labelledOnly,
    seed: opts.seed ?? 0,
    compoundDiversity: opts.compoundDiversity ?? 1,
    compression: opts.compression ?? 'none',
    metadata: opts.metadata ?? BBBC021_METADATA_DIR,
    multichannel: opts.multichannel,
  };
}

async function main(argv: string[]): Promise<void> {
  let opts: SimulateCliOptions | 'help';
  try {
    opts = parseSimulateArgs(argv);
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (opts === 'help') {
    console.log(USAGE);
    return;
  }
  if (opts.realismReport) {
    const report = await runRealismReport({ metadataDir: opts.metadata, fields: opts.reportFields, seed: opts.seed });
    console.log(`Simulator version ${SIMULATOR_VERSION}: ${report.fields} DMSO fields of ${report.plates} plates at 1024x1280 (seed ${opts.seed}, ${report.cells} cells, ${report.stats.crops} crops of 68x68 inside the fields; rendering ${report.renderSeconds.toFixed(1)} s) against real BBBC021 DMSO crops (${REAL_DMSO_CROP_FIGURES}):\n`);
    console.log(formatRealismTable(report.rows));
    return;
  }
  const started = performance.now();
  let lastReport = 0;
  const summary = await writeSimulatedDataset({
    outDir: opts.out,
    metadataDir: opts.metadata,
    height: opts.height,
    width: opts.width,
    seed: opts.seed,
    compoundDiversity: opts.compoundDiversity,
    compression: opts.compression,
    plates: opts.plates,
    labelledOnly: opts.labelledOnly,
    compoundsPerClass: opts.compoundsPerClass,
    fieldsPerTreatment: opts.fieldsPerTreatment,
    dmsoFields: opts.dmsoFields,
    onField: (done, total) => {
      const now = performance.now();
      if (now - lastReport > 2000 || done === total) {
        lastReport = now;
        process.stderr.write(`\rsimulate: ${done}/${total} fields`);
      }
    },
  });
  process.stderr.write('\n');
  const seconds = (performance.now() - started) / 1000;
  console.log(`Simulator version ${SIMULATOR_VERSION}. Wrote ${summary.fields} fields (${summary.files} TIFFs, ${summary.treatments} treatments, ${summary.plates.length} plates, ${(summary.bytesWritten / 1e6).toFixed(1)} MB) to ${summary.outDir} in ${seconds.toFixed(1)} s`);
  console.log(Object.entries(summary.fieldsPerClass).map(([k, v]) => `  ${k}: ${v}`).join('\n'));
  if (opts.multichannel) {
    const tables = await readMetadataTables(opts.metadata);
    const paths = await writeMultiChannelExamples(renderClassExamples(tables, { height: opts.height, width: opts.width }, opts.seed), path.join(opts.out, 'multichannel'), opts.multichannel);
    console.log(`Wrote ${paths.length} 3-channel TIFFs (${opts.multichannel}) under ${path.join(opts.out, 'multichannel')}`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runCli('simulate', main);
}
