// Every trainer CLI's failure handling: error kinds with their exit codes, one message line (the stack only with --verbose), process-level handlers.
import { writeSync } from 'node:fs';
import { MetadataError, TiffDecodeError } from '../../../src/core/errors.ts';
import { BundleError as CoreBundleError } from '../../../src/core/bundle.ts';

/** Exit codes shared by every CLI (documented in each --help and in docs/trainer.md). */
export const EXIT = {
  ok: 0,
  /** A bug or an unexpected failure: the message says so; --verbose prints the stack. */
  internal: 1,
  /** Bad arguments or settings, or an --out that must not be replaced: nothing was done. */
  usage: 2,
  /** Bad data: a metadata CSV, no readable field, a data folder that cannot be read. */
  data: 3,
  /** A model bundle or checkpoint that cannot be used. */
  bundle: 4,
  /** The loss went NaN or above --max-loss. */
  diverged: 5,
  /** MPI failed: mpirun missing, the binding cannot load, a collective failed. */
  mpi: 6,
  /** The MPI watchdog: a collective did not complete in time (a rank hung or died). Set by the binding. */
  watchdog: 124,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit-code table for a CLI's --help; `codes` lists those the CLI can return (0 and 1 always shown). */
export function exitCodesHelp(codes: readonly ExitCode[]): string {
  const text: Record<number, string> = {
    [EXIT.ok]: 'success',
    [EXIT.internal]: 'internal error (a bug: rerun with --verbose for the stack trace)',
    [EXIT.usage]: 'bad arguments or settings (nothing was done)',
    [EXIT.data]: 'bad data (a metadata CSV, no readable field, an unreadable data folder)',
    [EXIT.bundle]: 'a model bundle or checkpoint that cannot be used',
    [EXIT.diverged]: 'training diverged (loss NaN or above --max-loss)',
    [EXIT.mpi]: 'MPI failure (mpirun missing, binding not loadable, a collective failed)',
    [EXIT.watchdog]: 'MPI watchdog: a rank stopped taking part in a collective (hung or dead)',
  };
  const shown = [...new Set([EXIT.ok, EXIT.internal, ...codes])].sort((a, b) => a - b);
  return ['Exit codes:', ...shown.map((code) => `  ${String(code).padStart(3)}  ${text[code]}`), '  --verbose prints the stack trace of a failure (default: one line naming the file and the problem)'].join('\n');
}

/** An error whose kind, hence exit code, is known. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: ExitCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** Bad arguments or settings: exit 2, before any work. */
export class ConfigError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.usage, options);
    this.name = 'ConfigError';
  }
}

/** Bad data: exit 3. */
export class DataError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.data, options);
    this.name = 'DataError';
  }
}

/** A model bundle or checkpoint that cannot be used: exit 4. */
export class ModelFileError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.bundle, options);
    this.name = 'ModelFileError';
  }
}

/** Training diverged: exit 5. */
export class DivergedError extends CliError {
  constructor(message: string) {
    super(message, EXIT.diverged);
    this.name = 'DivergedError';
  }
}

/** MPI failure: exit 6. */
export class MpiError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.mpi, options);
    this.name = 'MpiError';
  }
}

/** The exit code for any thrown value: its kind's, else 1. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof MetadataError || error instanceof TiffDecodeError) return EXIT.data;
  if (error instanceof CoreBundleError) return EXIT.bundle;
  return EXIT.internal;
}

const MAX_MESSAGE = 1000;

/**
 * The one line printed for a failure: the error's message (which names the file and the problem), newlines kept
 * only for usage text of bad arguments, capped in length; an unexpected error is called internal.
 */
export function errorLine(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  const errno = error as NodeJS.ErrnoException;
  const fileSystem = error instanceof Error && typeof errno.code === 'string' && typeof errno.path === 'string' && errno.syscall !== undefined;
  if (fileSystem) {
    // "ENOENT: no such file or directory, open '/x'" -> "/x: no such file or directory (open)"
    const what = message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
    message = `${errno.path}: ${what} (${errno.syscall})`;
  }
  if (!(error instanceof ConfigError)) message = message.replace(/\s*\n\s*/g, ' ');
  if (message.length > MAX_MESSAGE) message = `${message.slice(0, MAX_MESSAGE)}… (${message.length} characters; --verbose prints all)`;
  if (exitCodeFor(error) === EXIT.internal && !fileSystem) {
    const kind = error instanceof Error && error.name && error.name !== 'Error' ? `${error.name}: ` : '';
    return `internal error: ${kind}${message} (rerun with --verbose for the stack trace)`;
  }
  return message;
}

/** The stack of an error and its causes, for --verbose. */
export function errorTrace(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    parts.push(current instanceof Error ? (current.stack ?? `${current.name}: ${current.message}`) : String(current));
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined) parts.push('caused by:');
  }
  return parts.join('\n');
}

interface CliState {
  name: string;
  verbose: boolean;
  /** How a fatal error ends the process (an MPI rank aborts the whole job instead of exiting alone). */
  exit: (code: number) => never;
  /** Prefix of the message line, e.g. "[rank 1] " under MPI. */
  prefix: () => string;
  failing: boolean;
}

const state: CliState = {
  name: 'moa-lens',
  verbose: false,
  exit: (code) => process.exit(code),
  prefix: () => '',
  failing: false,
};

/** Under MPI: end the job through MPI_Abort(code) and name the rank in messages. */
export function setFatalExit(exit: (code: number) => never, prefix: () => string = () => ''): void {
  state.exit = exit;
  state.prefix = prefix;
}

/** True when --verbose was given (or MOA_VERBOSE=1). */
export function verbose(): boolean {
  return state.verbose;
}

/** Prints one line for the failure (the trace with --verbose) and ends the process with the failure's exit code. */
export function fail(error: unknown): never {
  const code = exitCodeFor(error);
  if (state.failing) state.exit(code); // a second failure while reporting the first: just leave
  state.failing = true;
  const line = `${state.prefix()}${state.name}: ${errorLine(error)}\n`;
  // writeSync: the line must be out before process.exit or MPI_Abort ends the process.
  try {
    writeSync(2, state.verbose ? `${line}${errorTrace(error)}\n` : line);
  } catch {
    // stderr closed: nothing more to do
  }
  return state.exit(code);
}

/**
 * Starts a CLI: takes --verbose out of argv (MOA_VERBOSE=1 works too) and routes uncaught exceptions and
 * unhandled rejections through fail(). Returns the arguments left for the CLI's own parser.
 */
export function startCli(name: string, argv: readonly string[] = process.argv.slice(2)): { argv: string[]; verbose: boolean } {
  state.name = name;
  const rest = argv.filter((arg) => arg !== '--verbose');
  state.verbose = rest.length !== argv.length || process.env.MOA_VERBOSE === '1';
  process.on('uncaughtException', (error) => fail(error));
  process.on('unhandledRejection', (reason) => fail(reason));
  return { argv: rest, verbose: state.verbose };
}

/** startCli, then main(argv); a thrown error goes through fail(); main's number (if any) becomes the exit code. */
export async function runCli(name: string, main: (argv: string[]) => Promise<number | void>, argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const started = startCli(name, argv);
  try {
    const code = await main(started.argv);
    if (typeof code === 'number') process.exitCode = code;
  } catch (error) {
    fail(error);
  }
}
