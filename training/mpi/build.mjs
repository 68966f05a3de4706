// Placeholder build script, replaced by the MPI binding work.
console.log('[@moa-lens/mpi] build pending');
