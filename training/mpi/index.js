// JS face of the MPI addon: lazy loading, a serial queue for collectives, watchdog defaults, abort-on-error.
import { existsSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const addonPath = join(dirname(fileURLToPath(import.meta.url)), 'build', 'mpi.node');
const FALLBACK_TIMEOUT_MS = 600_000;

/** @type {any} */
let addon = null;
/** @type {string | null} */
let addonLoadError = null;
let threadLevel = null;
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

/** MPI_Init_thread requesting MPI_THREAD_MULTIPLE; returns the level granted. Idempotent. */
export function init() {
  threadLevel = native().init();
  return threadLevel;
}

export function isInitialized() {
  return addon !== null && addon.isInitialized();
}

export function rank() { return native().rank(); }
export function size() { return native().size(); }
export function localRank() { return native().localRank(); }
export function localSize() { return native().localSize(); }
export function libraryVersion() { return native().libraryVersion(); }

/** Watchdog timeout used when a collective gets none: setDefaultTimeoutMs > MOA_MPI_TIMEOUT_MS > 600000. 0 disables. */
export function defaultTimeoutMs() {
  if (defaultTimeoutOverride !== null) return defaultTimeoutOverride;
  const fromEnv = process.env.MOA_MPI_TIMEOUT_MS;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    const parsed = Number(fromEnv);
    if (!Number.isFinite(parsed) || parsed < 0) {
      throw new Error(`MOA_MPI_TIMEOUT_MS must be a non-negative number of milliseconds, got "${fromEnv}"`);
    }
    return parsed;
  }
  return FALLBACK_TIMEOUT_MS;
}

export function setDefaultTimeoutMs(ms) {
  if (ms !== null && (!Number.isFinite(ms) || ms < 0)) throw new RangeError('timeout must be >= 0 ms (0 disables)');
  defaultTimeoutOverride = ms;
}

/** Label attached to later collectives' watchdog messages (e.g. "step 12") unless they pass their own. */
export function setCollectiveLabel(label) {
  currentLabel = String(label);
}

function collectiveOptions(options) {
  return {
    timeoutMs: options?.timeoutMs ?? defaultTimeoutMs(),
    label: options?.label ?? currentLabel,
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

/** Collectives may run on the threadpool only when MPI granted at least SERIALIZED. */
function threadpoolAllowed() {
  return threadLevel === 'serialized' || threadLevel === 'multiple';
}

/** In-place sum over all ranks, blocking the JS thread. */
export function allreduceSum(data, options) {
  requireIdleQueue('allreduceSum');
  native().allreduceSum(data, collectiveOptions(options));
}

/** In-place sum over all ranks on the libuv threadpool; queued behind earlier async collectives. */
export function allreduceSumAsync(data, options) {
  const resolved = collectiveOptions(options);
  const mpi = native();
  return enqueue(() => threadpoolAllowed()
    ? mpi.allreduceSumAsync(data, resolved)
    : mpi.allreduceSum(data, resolved));
}

/** Copies root's bytes into every rank's buffer, blocking. */
export function broadcast(data, root, options) {
  requireIdleQueue('broadcast');
  native().broadcast(data, root, collectiveOptions(options));
}

export function broadcastAsync(data, root, options) {
  const resolved = collectiveOptions(options);
  const mpi = native();
  return enqueue(() => threadpoolAllowed()
    ? mpi.broadcastAsync(data, root, resolved)
    : mpi.broadcast(data, root, resolved));
}

export function barrier(options) {
  requireIdleQueue('barrier');
  native().barrier(collectiveOptions(options));
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
