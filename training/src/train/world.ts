// The data-parallel world: MPI ranks through @moa-lens/mpi when launched by mpirun, else one process.

export interface World {
  rank: number;
  size: number;
  /** Element-wise mean over ranks, in place (sum by allreduce, then divide by world size). */
  allreduceMean(data: Float32Array, label: string): Promise<void>;
  /** Root's buffer copied into every rank's buffer, in place. */
  broadcast(data: Float32Array, root: number, label: string): Promise<void>;
  barrier(label: string): void;
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

/** MPI when this process is an MPI rank of a job with more than one rank, else a world of one. */
export async function createWorld(): Promise<World> {
  const mpi = await import('@moa-lens/mpi');
  if (!mpi.launchedByMpi()) return single;
  if (!mpi.isAvailable()) throw new Error(`Launched by mpirun but the MPI binding cannot load: ${mpi.unavailableReason()}`);
  const level = mpi.init();
  mpi.installAbortOnError();
  const rank = mpi.rank();
  const size = mpi.size();
  return {
    rank,
    size,
    async allreduceMean(data, label) {
      await mpi.allreduceSumAsync(data, { label });
      const inv = 1 / size;
      for (let i = 0; i < data.length; i++) data[i] *= inv;
    },
    async broadcast(data, root, label) {
      await mpi.broadcastAsync(data, root, { label });
    },
    barrier: (label) => mpi.barrier({ label }),
    finalize: () => mpi.finalize(),
    describe: () => `MPI rank ${rank} of ${size} (${mpi.libraryVersion().split('\n')[0]}, thread level ${level})`,
  };
}
