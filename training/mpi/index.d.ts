// Type declarations of @moa-lens/mpi: the N-API binding over the system MPI.

/** MPI thread support level (MPI_THREAD_SINGLE < FUNNELED < SERIALIZED < MULTIPLE). */
export type ThreadLevel = 'single' | 'funneled' | 'serialized' | 'multiple';

export interface InitOptions {
  /**
   * Level to request of MPI_Init_thread; default: env MOA_MPI_THREAD_LEVEL, else 'multiple'. Below 'serialized'
   * the async collectives run blocking on the JS thread; below 'multiple' the watchdog neither probes peers nor
   * calls MPI_Abort (it prints its diagnosis and exits with code 124).
   */
  threadLevel?: ThreadLevel;
}

export interface CollectiveOptions {
  /**
   * Watchdog: abort the job if this collective has not completed after this many ms. A number >= 0; 0 or
   * Infinity: no watchdog; NaN, negatives and non-numbers throw. Finite values above 1e12 ms are clamped.
   */
  timeoutMs?: number;
  /** Named in watchdog messages, e.g. "step 12"; defaults to the label set by setCollectiveLabel. */
  label?: string;
}

/** True when the addon is built and libmpi loads; does not initialize MPI. */
export function isAvailable(): boolean;
/** Why the addon is unavailable, or null when it loads. */
export function unavailableReason(): string | null;
/** True when this process was started by mpirun/srun as an MPI rank. */
export function launchedByMpi(): boolean;

/**
 * MPI_Init_thread requesting options.threadLevel (else env MOA_MPI_THREAD_LEVEL, else 'multiple'); returns the
 * level granted, possibly lower. Again: returns the granted level, or throws if a different level is requested.
 * After finalize(): throws. A malformed MOA_MPI_TIMEOUT_MS or MOA_MPI_THREAD_LEVEL throws before MPI starts.
 */
export function init(options?: InitOptions): ThreadLevel;
/** The thread level MPI granted, or null before init(). */
export function threadLevel(): ThreadLevel | null;
export function isInitialized(): boolean;
export function rank(): number;
export function size(): number;
/** Rank among the processes sharing this node's memory (MPI_Comm_split_type SHARED). */
export function localRank(): number;
export function localSize(): number;
export function libraryVersion(): string;

/**
 * Default watchdog timeout: setDefaultTimeoutMs, else env MOA_MPI_TIMEOUT_MS (decimal ms or "Infinity"; anything
 * else throws), else 600000 ms.
 */
export function defaultTimeoutMs(): number;
/** Overrides the default watchdog timeout (0 or Infinity: none; NaN/negative throw; null restores env/fallback). */
export function setDefaultTimeoutMs(ms: number | null): void;
/** Label attached to later collectives' watchdog messages unless they pass their own. */
export function setCollectiveLabel(label: string): void;

/** In-place sum over all ranks; blocks the JS thread. Throws if async collectives are still queued. */
export function allreduceSum(data: Float32Array, options?: CollectiveOptions): void;
/**
 * In-place sum over all ranks on the libuv threadpool, serialized behind earlier async collectives. Zero-copy:
 * `data` must not be transferred (detached) before the promise settles. Detached buffers and resizable
 * ArrayBuffers (growable SharedArrayBuffers) throw at the call; a buffer detached later rejects the promise.
 */
export function allreduceSumAsync(data: Float32Array, options?: CollectiveOptions): Promise<void>;
/** Copies root's buffer into every rank's buffer (same length on every rank); blocking. */
export function broadcast(data: Float32Array | Uint8Array, root: number, options?: CollectiveOptions): void;
export function broadcastAsync(data: Float32Array | Uint8Array, root: number, options?: CollectiveOptions): Promise<void>;
export function barrier(options?: CollectiveOptions): void;
/** Resolves when every queued async collective has completed. */
export function drain(): Promise<void>;

/**
 * MPI_Abort(MPI_COMM_WORLD, code): ends every rank of the job. Below thread level 'multiple', with an async
 * collective inside MPI, it exits the process with `code` instead (mpirun then aborts the job).
 */
export function abort(code?: number): never;
/** MPI_Finalize; throws if async collectives are still queued. */
export function finalize(): void;

/** On uncaughtException/unhandledRejection: print "[rank R] <error>" to stderr and abort(1). */
export function installAbortOnError(): void;
