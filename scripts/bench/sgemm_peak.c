/* sgemm_peak.c — this machine's single-precision GEMM rate with OpenBLAS, for scripts/bench-peers.
 *
 * build: cc -O2 sgemm_peak.c $(pkg-config --cflags --libs openblas) -o sgemm_peak
 * usage: sgemm_peak N THREADS REPS
 *
 * Times REPS calls of C = A.B (N x N x N, row-major, no transposes) after two warm-up calls and
 * prints one JSON line: the best and median GFLOP/s (2*N^3 flops per call), the OpenBLAS kernel
 * family (openblas_get_corename: choose it with OPENBLAS_CORETYPE in the environment, as cnndemo
 * does) and the OpenBLAS build configuration. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);
extern void openblas_set_num_threads(int);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: sgemm_peak N THREADS REPS\n");
        return 2;
    }
    const int n = atoi(argv[1]), threads = atoi(argv[2]), reps = atoi(argv[3]);
    if (n < 16 || threads < 1 || reps < 1) return 2;
    openblas_set_num_threads(threads);
    const size_t nn = (size_t)n * n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    double *t = malloc(reps * sizeof *t);
    if (!a || !b || !c || !t) return 1;
    for (size_t i = 0; i < nn; i++) {
        a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        b[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
        c[i] = 0;
    }
    for (int i = 0; i < 2; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    for (int i = 0; i < reps; i++) {
        double s = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t[i] = now() - s;
    }
    qsort(t, reps, sizeof *t, cmp);
    const double flop = 2.0 * n * n * (double)n;
    printf("{\"n\": %d, \"threads\": %d, \"reps\": %d, \"gflops_best\": %.2f, \"gflops_median\": %.2f, "
           "\"corename\": \"%s\", \"config\": \"%s\", \"check\": %.4f}\n",
           n, threads, reps, flop / t[0] / 1e9, flop / t[reps / 2] / 1e9, openblas_get_corename(),
           openblas_get_config(), (double)c[nn / 2 + 1]);
    free(a), free(b), free(c), free(t);
    return 0;
}
