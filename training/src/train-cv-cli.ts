// `npm run train:cv`: every fold of a protocol (loco, nscb, grouped) trained in turn, resumable, pooled into one report.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MOA_CLASSES } from '../../src/core/labels.ts';
import { parseCvArgs, type CvArgs } from './cv/args.ts';
import { cvReportMarkdown, poolFolds, type FoldOutcome } from './cv/report.ts';
import { finishedFold, openSweep, planSweep, runFold, saveSweep, type FoldLauncher } from './cv/sweep.ts';
import { parseTrainArgs, validateTrainConfig, type TrainConfig } from './train/config.ts';
import { checkDataRoot } from './train/paths.ts';
import { DataError, EXIT, exitCodesHelp, runCli, verbose } from './util/cli.ts';
import { formatPercent, formatSeconds } from './util/format.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

const HELP = `npm run train:cv -- --split loco|nscb|grouped [--folds K] [--max-folds N | --folds-subset 0,3,5-7]
                      [--np N | --hostfile F] [--threads-per-rank T] [--map-by socket|numa|core] [--mca KEY VALUE]...
                      [--dry-run] [--verbose] -- --data <BBBC021 root> --out <sweep dir> [trainer flags]
Trains every fold of the protocol in turn (docs/trainer.md, "Cross-validation"), fold i into <out>/folds/<i>/model,
through train:cluster when --np or --hostfile is given, else with the plain trainer; then pools the held-out
predictions of all folds into <out>/cv-report.md and <out>/cv-report.json (per-treatment and per-field accuracy
with 95% Wilson intervals, per-class table, confusion matrices, per-fold timing).
  --split loco      one fold per labelled compound (BBBC021: 38), DMSO dealt by plate: the NSC protocol
  --split nscb      as loco, and training also loses the test fields' week (batch) (BBBC021: 47): NSCB
  --split grouped   --folds K round-robin compound folds (default 5); a fold holding no compound is refused
  --max-folds N, --folds-subset LIST   run only these folds (the report then says it is partial)
  --dry-run         print the folds and the command of each, run nothing
Run the same command again to resume: finished folds are skipped, a half-finished fold resumes from its newest
checkpoint (--resume), the report is written when every selected fold is done. The trainer flags are those of
npm run train -- --help, less --split/--folds/--fold/--resume/--checkpoint-dir/--log, which train:cv sets per fold.

${exitCodesHelp([EXIT.usage, EXIT.data, EXIT.diverged, EXIT.mpi, EXIT.watchdog])}
A fold that fails stops the sweep with the fold's own exit code.`;

const PROTOCOL: Record<CvArgs['split'], (folds: number) => string> = {
  loco: (n) => `NSC, leave-one-compound-out (${n} folds)`,
  nscb: (n) => `NSCB, not-same-compound-or-batch (${n} folds)`,
  grouped: (n) => `grouped compound folds (${n} folds; not leave-one-compound-out)`,
};

function launcherFor(args: CvArgs): FoldLauncher {
  const node = [process.execPath, '--import', import.meta.resolve('tsx')];
  const forwarded = verbose() ? ['--verbose'] : [];
  if (args.launcher.length === 0) return { command: [...node, path.join(here, 'train.ts'), ...forwarded], npmCommand: 'npm run train --' };
  return { command: [...node, path.join(here, 'cluster.ts'), ...args.launcher, ...forwarded, '--'], npmCommand: `npm run train:cluster -- ${args.launcher.join(' ')} --` };
}

/** The trainer's own checks on the shared flags, as fold 0 would see them, before any fold starts. */
function checkTrainerFlags(args: CvArgs): TrainConfig {
  const np = Number(args.launcher[args.launcher.indexOf('--np') + 1]);
  const foldFlags = ['--out', path.join(args.out, 'folds', '0', 'model'), '--split', args.split, ...(args.split === 'grouped' ? ['--folds', String(args.folds)] : []), '--fold', '0'];
  const config = validateTrainConfig(parseTrainArgs([...args.trainerArgs, ...foldFlags]), args.launcher.includes('--np') ? np : 1);
  checkDataRoot(config.data);
  return config;
}

async function main(argv: string[]): Promise<number | void> {
  if (argv.includes('--help') && !argv.slice(0, argv.indexOf('--help')).includes('--')) {
    console.log(HELP);
    return;
  }
  const args = parseCvArgs(argv);
  const config = checkTrainerFlags(args);
  const plan = await planSweep(args);
  const { state, resumed } = await openSweep(args, plan);
  const launcher = launcherFor(args);
  const protocol = PROTOCOL[args.split](plan.folds.length);
  const selection = plan.selected.length === plan.folds.length ? 'all' : `${plan.selected.length} (${plan.selected.map((f) => f.index).join(', ')})`;
  console.log(`train:cv: ${protocol} on ${args.data}; running ${selection} of ${plan.folds.length} folds into ${args.out}${resumed ? ' (resuming: finished folds are skipped)' : ''}`);
  console.log(`train:cv: each fold: ${launcher.npmCommand} ${args.trainerArgs.join(' ')} --out ${path.join(args.out, 'folds', '<i>', 'model')} --split ${args.split}${args.split === 'grouped' ? ` --folds ${args.folds}` : ''} --fold <i> --resume`);
  if (args.dryRun) {
    for (const f of plan.selected) console.log(`  fold ${f.index}: ${f.name}: ${f.testFields} held-out fields (${f.heldOutCompounds.join(', ') || 'DMSO only'})${f.classesAbsentFromTraining.length ? `; no training field of ${f.classesAbsentFromTraining.map((k) => MOA_CLASSES[k]).join(', ')}` : ''}`);
    return;
  }
  await saveSweep(args.out, state);

  const outcomes: FoldOutcome[] = [];
  for (const [k, fold] of plan.selected.entries()) {
    const prefix = `[fold ${fold.index}]`;
    const run = (state.runs[fold.index] ??= { name: fold.name, attempts: 0, wallSeconds: 0, done: false });
    let outcome = await finishedFold(fold, run.wallSeconds);
    if (outcome) {
      console.log(`train:cv: fold ${fold.index} (${fold.name}) done, skipped (${k + 1}/${plan.selected.length})`);
    } else {
      console.log(`train:cv: fold ${fold.index} (${fold.name}): ${fold.testFields} held-out fields; ${k + 1}/${plan.selected.length}${run.attempts ? `, attempt ${run.attempts + 1}: resuming from its newest checkpoint` : ''}`);
      run.attempts++;
      await saveSweep(args.out, state);
      const started = performance.now();
      const code = await runFold(fold, args, launcher, prefix);
      run.wallSeconds += (performance.now() - started) / 1000;
      await saveSweep(args.out, state);
      if (code !== 0) {
        console.error(`train:cv: fold ${fold.index} (${fold.name}) failed with exit code ${code}; its log: ${path.join(fold.dir, 'train.log')}. Run the same command again to resume the sweep.`);
        return code;
      }
      outcome = await finishedFold(fold, run.wallSeconds);
      if (!outcome) throw new DataError(`fold ${fold.index} (${fold.name}) ended without writing ${path.join(fold.dir, 'model.report.json')}`);
      console.log(`train:cv: fold ${fold.index} done in ${formatSeconds(run.wallSeconds)}`);
    }
    run.done = true;
    await saveSweep(args.out, state);
    outcomes.push(outcome);
  }

  const method = `M-CNN ${config.inputHeight}x${config.inputWidth}, width x${config.widthMultiplier}, ${config.recipe === 'none' ? 'project defaults' : `recipe ${config.recipe}`}`;
  const report = poolFolds(outcomes, { classes: MOA_CLASSES, protocol, method, foldsTotal: plan.folds.length });
  const base = path.join(args.out, 'cv-report');
  await writeFile(`${base}.json`, JSON.stringify({ report, command: `npm run train:cv -- ${argv.join(' ')}`, folds: outcomes }, null, 1));
  await writeFile(`${base}.md`, cvReportMarkdown(report));
  const t = report.treatments;
  const f = report.labelledFields;
  console.log(`train:cv: ${protocol}, ${report.foldsPooled} folds pooled: treatment accuracy ${formatPercent(t.accuracy)} of ${t.n} (95% CI ${formatPercent(t.low)}-${formatPercent(t.high)}); field accuracy ${formatPercent(f.accuracy)} of ${f.n} (DMSO aside); report ${base}.md`);
}

await runCli('train:cv', main);
