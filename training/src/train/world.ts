// The data-parallel world: MPI ranks through @moa-lens/mpi when launched by mpirun, else one process.
import { MpiError, setFatalExit } from '../util/cli.ts';

export interface World {
  rank: number;
  size: number;
  /**
   * Element-wise mean over ranks, in place (sum by allreduce, then divide by world size). timeoutMs: the watchdog's
   * limit for this collective (undefined: the binding's default, MOA_MPI_TIMEOUT_MS or 600 s).
   */
  allreduceMean(data: Float32Array, label: string, timeoutMs?: number): Promise<void>;
  /** Root's buffer copied into every rank's buffer, in place. */
  broadcast(data: Float32Array, root: number, label: string, timeoutMs?: number): Promise<void>;
  barrier(label: string, timeoutMs?: number): void;
  finalize(): void;
  describe(): string;
}

const single: World = {
  rank: 0,
  size: 1,
  allreduceMean: async () => {},
  broadcast: async () => {},
  barrier: () => {},
  finalize: () => {},
  describe: () => 'single process (no MPI)',
};

/** A failed MPI call as an MpiError (exit 6) naming what was being done. */
function mpiFailure(what: string, error: unknown): MpiError {
  return new MpiError(`MPI ${what} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/**
 * MPI when this process is an MPI rank of a job with more than one rank, else a world of one. Under MPI a fatal
 * error (util/cli.ts fail()) prints "[rank R] ..." and ends the whole job with MPI_Abort and its exit code, so the
 * other ranks never wait for this one.
 */
export async function createWorld(): Promise<World> {
  const mpi = await import('@moa-lens/mpi');
  if (!mpi.launchedByMpi()) return single;
  if (!mpi.isAvailable()) throw new MpiError(`Launched by mpirun but the MPI binding cannot load: ${mpi.unavailableReason()}`);
  let level: string;
  try {
    level = mpi.init();
  } catch (error) {
    throw mpiFailure('init', error);
  }
  const rank = mpi.rank();
  const size = mpi.size();
  setFatalExit((code) => mpi.abort(code), () => `[rank ${rank}] `);
  const options = (label: string, timeoutMs: number | undefined) => (timeoutMs === undefined ? { label } : { label, timeoutMs });
  return {
    rank,
    size,
    async allreduceMean(data, label, timeoutMs) {
      await mpi.allreduceSumAsync(data, options(label, timeoutMs)).catch((error: unknown) => {
        throw mpiFailure(`allreduce (${label})`, error);
      });
      const inv = 1 / size;
      for (let i = 0; i < data.length; i++) data[i] *= inv;
    },
    async broadcast(data, root, label, timeoutMs) {
      await mpi.broadcastAsync(data, root, options(label, timeoutMs)).catch((error: unknown) => {
        throw mpiFailure(`broadcast (${label})`, error);
      });
    },
    barrier: (label, timeoutMs) => {
      try {
        mpi.barrier(options(label, timeoutMs));
      } catch (error) {
        throw mpiFailure(`barrier (${label})`, error);
      }
    },
    finalize: () => {
      try {
        mpi.finalize();
      } catch (error) {
        throw mpiFailure('finalize', error);
      }
    },
    describe: () => `MPI rank ${rank} of ${size} (${mpi.libraryVersion().split('\n')[0]}, thread level ${level})`,
  };
}
