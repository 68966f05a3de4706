// JS face of the MPI addon: lazy loading, a serial queue for collectives, watchdog defaults, abort-on-error.
import { existsSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const addonPath = join(dirname(fileURLToPath(import.meta.url)), 'build', 'mpi.node');
const FALLBACK_TIMEOUT_MS = 600_000;
const THREAD_LEVELS = ['single', 'funneled', 'serialized', 'multiple'];

/** @type {any} */
let addon = null;
/** @type {string | null} */
let addonLoadError = null;
let defaultTimeoutOverride = null;
let currentLabel = '';
let queueTail = Promise.resolve();
let queuedCollectives = 0;

function tryLoad() {
  if (addon || addonLoadError) return addon;
  if (!existsSync(addonPath)) {
    addonLoadError = `the MPI addon is not built (${addonPath} is missing): install openmpi-bin libopenmpi-dev, ` +
      'then run `npm ci` or `node training/mpi/build.mjs`';
    return null;
  }
  try {
    addon = createRequire(import.meta.url)(addonPath);
  } catch (error) {
    addonLoadError = `the MPI addon failed to load (${addonPath}): ${error instanceof Error ? error.message : String(error)}`;
  }
  return addon;
}

function native() {
  const loaded = tryLoad();
  if (!loaded) throw new Error(`@moa-lens/mpi: ${addonLoadError}`);
  return loaded;
}

/** True when the addon is built and libmpi loads; does not initialize MPI. */
export function isAvailable() {
  return tryLoad() !== null;
}

/** Why the addon is unavailable, or null when it loads. */
export function unavailableReason() {
  tryLoad();
  return addon ? null : addonLoadError;
}

// Judged at import: a singleton MPI_Init (no mpirun) sets OMPI_* variables in this process itself.
const startedByLauncher = ['OMPI_COMM_WORLD_SIZE', 'PMIX_RANK', 'PMI_RANK'].some((name) => process.env[name] !== undefined);

/** True when launched by mpirun/srun as an MPI rank (from the environment seen when this module loaded). */
export function launchedByMpi() {
  return startedByLauncher;
}

/** The thread level to request: options.threadLevel, else env MOA_MPI_THREAD_LEVEL, else undefined (multiple). */
function requestedThreadLevel(options) {
  if (options !== undefined && options !== null && typeof options !== 'object') {
    throw new TypeError('init(options): options must be an object like { threadLevel: "serialized" }');
  }
  const fromOptions = options?.threadLevel;
  if (fromOptions !== undefined && fromOptions !== null) {
    if (!THREAD_LEVELS.includes(fromOptions)) {
      throw new TypeError(`init(): threadLevel must be one of ${THREAD_LEVELS.join(', ')}, got ${describeValue(fromOptions)}`);
    }
    return fromOptions;
  }
  const fromEnv = process.env.MOA_MPI_THREAD_LEVEL?.trim();
  if (fromEnv) {
    if (!THREAD_LEVELS.includes(fromEnv)) {
      throw new TypeError(`MOA_MPI_THREAD_LEVEL must be one of ${THREAD_LEVELS.join(', ')}, got "${process.env.MOA_MPI_THREAD_LEVEL}"`);
    }
    return fromEnv;
  }
  return undefined;
}

/**
 * MPI_Init_thread requesting options.threadLevel (else env MOA_MPI_THREAD_LEVEL, else 'multiple'); returns the
 * level granted, which the collectives and the watchdog then follow. Again: returns the granted level
 * (idempotent) unless a different level is requested, which throws. After finalize(): throws.
 */
export function init(options) {
  const requested = requestedThreadLevel(options);
  defaultTimeoutMs(); // a malformed MOA_MPI_TIMEOUT_MS fails here, before MPI starts, not at the first collective
  return native().init(requested);
}

/** The thread level MPI granted, or null before init(). */
export function threadLevel() {
  return addon === null ? null : addon.threadLevel();
}

export function isInitialized() {
  return addon !== null && addon.isInitialized();
}

export function rank() { return native().rank(); }
export function size() { return native().size(); }
export function localRank() { return native().localRank(); }
export function localSize() { return native().localSize(); }
export function libraryVersion() { return native().libraryVersion(); }

function describeValue(value) {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'bigint' ? `${value}n` : String(value);
}

/**
 * The one rule for watchdog times, here and in the addon: a number >= 0; 0 and Infinity mean no watchdog;
 * NaN, negatives and non-numbers are refused. Finite values above 1e12 ms (~31.7 years) are clamped by the addon.
 */
function checkTimeoutMs(value, what) {
  if (typeof value !== 'number') {
    throw new TypeError(`${what} must be a number >= 0 (0 or Infinity: no watchdog), got ${typeof value} ${describeValue(value)}`);
  }
  if (Number.isNaN(value) || value < 0) {
    throw new RangeError(`${what} must be a number >= 0 (0 or Infinity: no watchdog), got ${value}`);
  }
  return value;
}

// Plain decimal milliseconds ("600000", "2500.5", "1e6"); not "0x10", "1_000", "10s" or "" (which Number() takes).
const DECIMAL_MS = /^(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

function timeoutFromEnv(text) {
  const trimmed = text.trim();
  if (/^(?:inf|infinity)$/i.test(trimmed)) return Number.POSITIVE_INFINITY;
  if (!DECIMAL_MS.test(trimmed)) {
    throw new RangeError('MOA_MPI_TIMEOUT_MS must be a non-negative number of milliseconds ' +
      `(decimal digits; 0 or Infinity: no watchdog), got "${text}"`);
  }
  return Number(trimmed);
}

/**
 * Watchdog timeout used when a collective gets none: setDefaultTimeoutMs > MOA_MPI_TIMEOUT_MS > 600000.
 * 0 or Infinity: no watchdog. A malformed MOA_MPI_TIMEOUT_MS throws (init() checks it first).
 */
export function defaultTimeoutMs() {
  if (defaultTimeoutOverride !== null) return defaultTimeoutOverride;
  const fromEnv = process.env.MOA_MPI_TIMEOUT_MS;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return timeoutFromEnv(fromEnv);
  return FALLBACK_TIMEOUT_MS;
}

/** Overrides the default watchdog time (0 or Infinity: no watchdog); null restores env/fallback. */
export function setDefaultTimeoutMs(ms) {
  defaultTimeoutOverride = ms === null ? null : checkTimeoutMs(ms, 'setDefaultTimeoutMs(ms): ms');
}

/** Label attached to later collectives' watchdog messages (e.g. "step 12") unless they pass their own. */
export function setCollectiveLabel(label) {
  currentLabel = String(label);
}

/** Checks a collective's options at the call (async ones included, before queueing) and fills in the defaults. */
function collectiveOptions(options, name) {
  if (options !== undefined && options !== null && typeof options !== 'object') {
    throw new TypeError(`${name}: options must be an object like { timeoutMs, label }, got ${describeValue(options)}`);
  }
  const timeoutMs = options?.timeoutMs ?? null;
  const label = options?.label ?? currentLabel;
  if (typeof label !== 'string') throw new TypeError(`${name}: label must be a string, got ${describeValue(label)}`);
  return {
    timeoutMs: timeoutMs === null ? defaultTimeoutMs() : checkTimeoutMs(timeoutMs, 'timeoutMs'),
    label,
  };
}

function requireIdleQueue(name) {
  if (queuedCollectives > 0) {
    throw new Error(`${name}: ${queuedCollectives} async collective(s) still queued; await them before a blocking collective`);
  }
}

/** Appends a collective to the serial queue: one in flight, in submission order. */
function enqueue(run) {
  queuedCollectives += 1;
  const result = queueTail.then(run);
  queueTail = result.then(
    () => { queuedCollectives -= 1; },
    () => { queuedCollectives -= 1; },
  );
  return result;
}

/** Collectives may run on the threadpool only when MPI granted at least SERIALIZED (the addon refuses otherwise). */
function threadpoolAllowed(mpi) {
  const level = mpi.threadLevel();
  return level === 'serialized' || level === 'multiple';
}

/** In-place sum over all ranks, blocking the JS thread. */
export function allreduceSum(data, options) {
  requireIdleQueue('allreduceSum');
  const resolved = collectiveOptions(options, 'allreduceSum');
  native().allreduceSum(data, resolved);
}

/**
 * In-place sum over all ranks on the libuv threadpool; queued behind earlier async collectives. Zero-copy: MPI
 * uses `data`'s memory until the promise settles; do not transfer its buffer before then. Bad arguments
 * (detached or resizable buffers included) throw here; a buffer detached while queued rejects the promise.
 */
export function allreduceSumAsync(data, options) {
  const resolved = collectiveOptions(options, 'allreduceSumAsync');
  const mpi = native();
  mpi.checkBuffer('allreduceSumAsync', data, true);
  return enqueue(() => threadpoolAllowed(mpi)
    ? mpi.allreduceSumAsync(data, resolved)
    : mpi.allreduceSum(data, resolved));
}

/** Copies root's bytes into every rank's buffer, blocking. */
export function broadcast(data, root, options) {
  requireIdleQueue('broadcast');
  const resolved = collectiveOptions(options, 'broadcast');
  native().broadcast(data, root, resolved);
}

/** broadcast on the libuv threadpool, queued like allreduceSumAsync (same buffer rules). */
export function broadcastAsync(data, root, options) {
  const resolved = collectiveOptions(options, 'broadcastAsync');
  const mpi = native();
  mpi.checkBuffer('broadcastAsync', data, false);
  return enqueue(() => threadpoolAllowed(mpi)
    ? mpi.broadcastAsync(data, root, resolved)
    : mpi.broadcast(data, root, resolved));
}

export function barrier(options) {
  requireIdleQueue('barrier');
  const resolved = collectiveOptions(options, 'barrier');
  native().barrier(resolved);
}

/** Resolves once every queued async collective has finished. */
export function drain() {
  return queueTail;
}

/** MPI_Abort(MPI_COMM_WORLD, code): ends every rank of the job. Exits the process when MPI is not running. */
export function abort(code = 1) {
  const loaded = tryLoad();
  if (loaded) loaded.abort(code);
  process.exit(code);
}

export function finalize() {
  requireIdleQueue('finalize');
  if (addon) addon.finalize();
}

function rankForMessages() {
  if (isInitialized()) return String(addon.rank());
  const env = process.env;
  return env.OMPI_COMM_WORLD_RANK ?? env.PMIX_RANK ?? env.PMI_RANK ?? '?';
}

let abortOnErrorInstalled = false;

/** On uncaughtException/unhandledRejection: print "[rank R] <error>" and abort the whole job with code 1. */
export function installAbortOnError() {
  if (abortOnErrorInstalled) return;
  abortOnErrorInstalled = true;
  const handler = (error) => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    writeSync(2, `[rank ${rankForMessages()}] ${text}\n`);
    abort(1);
  };
  process.on('uncaughtException', handler);
  process.on('unhandledRejection', handler);
}
