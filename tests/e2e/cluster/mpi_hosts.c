/* mpi_hosts: each rank prints "rank R of S on HOST", then all ranks check an MPI_Allreduce.
 *
 * Used by the cluster tests to show that ranks really run on different hosts (network
 * namespaces with their own hostnames) and that messages cross between them: the sum of
 * (rank + 1) over all ranks must be S (S + 1) / 2, and every rank must also receive the
 * number of distinct hosts, which rank 0 prints as "hosts: N". Exit code 0 only if the
 * reduction is right on every rank.
 *
 * `--bytes N` adds an MPI_Allreduce of N bytes of doubles, so a test can see that much traffic
 * on the links between hosts. Other arguments are ignored: the tests also start it in place of
 * wafermill (`mpi_hosts run --config FILE`). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { host_len = 256 };

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  char host[host_len] = {0};
  gethostname(host, host_len - 1);
  printf("rank %d of %d on %s\n", rank, size, host);
  fflush(stdout);

  /* Sum of rank + 1: S (S + 1) / 2 when every rank's contribution arrives. */
  long contribution = rank + 1, total = 0;
  MPI_Allreduce(&contribution, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  int ok = total == (long)size * (size + 1) / 2;

  /* Distinct hosts: gather every name on every rank (this crosses hosts too), count unique. */
  char names[size][host_len];
  MPI_Allgather(host, host_len, MPI_CHAR, names, host_len, MPI_CHAR, MPI_COMM_WORLD);
  int distinct = 0;
  for (int i = 0; i < size; ++i) {
    int seen = 0;
    for (int j = 0; j < i && !seen; ++j) seen = strcmp(names[i], names[j]) == 0;
    distinct += !seen;
  }

  /* Optional payload: every element sums to S (S + 1) / 2 as above. */
  long payload_bytes = 0;
  for (int i = 1; i + 1 < argc; ++i)
    if (strcmp(argv[i], "--bytes") == 0) payload_bytes = atol(argv[i + 1]);
  long count = payload_bytes / (long)sizeof(double);
  if (count > 0) {
    double *send = malloc((size_t)count * sizeof(double));
    double *recv = malloc((size_t)count * sizeof(double));
    if (!send || !recv) MPI_Abort(MPI_COMM_WORLD, 2);
    for (long i = 0; i < count; ++i) send[i] = rank + 1;
    MPI_Allreduce(send, recv, (int)count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    for (long i = 0; i < count; ++i) ok = ok && recv[i] == (double)size * (size + 1) / 2;
    free(send);
    free(recv);
  }

  int all_ok = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  if (rank == 0) {
    printf("allreduce: %s (sum %ld, expected %ld)\n", all_ok ? "ok" : "WRONG", total,
           (long)size * (size + 1) / 2);
    printf("hosts: %d\n", distinct);
    if (count > 0) printf("payload: %ld bytes reduced\n", count * (long)sizeof(double));
  }
  MPI_Finalize();
  return all_ok ? 0 : 1;
}
