/* Baseline for the binding benchmark: times in-place MPI_Allreduce(SUM, float) per size; prints one JSON line per size on rank 0. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare_doubles(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

/* usage: allreduce_c <iterations> <bytes> [<bytes> ...] */
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (argc < 3) {
    if (rank == 0) fprintf(stderr, "usage: allreduce_c <iterations> <bytes>...\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  int iterations = atoi(argv[1]);
  for (int a = 2; a < argc; a++) {
    long long bytes = atoll(argv[a]);
    int count = (int)(bytes / (long long)sizeof(float));
    float* data = malloc((size_t)count * sizeof(float));
    double* times = malloc((size_t)iterations * sizeof(double));
    if (!data || !times) MPI_Abort(MPI_COMM_WORLD, 3);
    for (int i = 0; i < count; i++) data[i] = 1.0f;
    /* warm-up: first touch, shared-memory segments */
    MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    for (int it = 0; it < iterations; it++) {
      for (int i = 0; i < count; i++) data[i] = 1.0f;
      MPI_Barrier(MPI_COMM_WORLD);
      double start = MPI_Wtime();
      MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      times[it] = (MPI_Wtime() - start) * 1000.0;
    }
    /* slowest rank's time per iteration is the collective's time */
    MPI_Allreduce(MPI_IN_PLACE, times, iterations, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    int correct = 1;
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int i = 0; i < count; i++) if (data[i] != (float)size) { correct = 0; break; }
    if (rank == 0) {
      qsort(times, (size_t)iterations, sizeof(double), compare_doubles);
      printf("RESULT {\"impl\":\"c\",\"bytes\":%lld,\"iterations\":%d,\"medianMs\":%.4f,\"minMs\":%.4f,\"correct\":%s}\n",
             bytes, iterations, times[iterations / 2], times[0], correct ? "true" : "false");
      fflush(stdout);
    }
    free(data);
    free(times);
  }
  MPI_Finalize();
  return 0;
}
