/* testutil.h — small helpers shared by the unit tests: building networks from cfg text,
 * seeded random fills, tolerance checks that report the worst element, and temporary files.
 * Header-only (static functions); every helper fails the current Check test on error. */
#ifndef CNN_TESTUTIL_H
#define CNN_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "rng.h"

/* Builds a network from cfg text; fails the test with the library's message on error. */
static inline cnn_net *tu_build(const char *text, int batch)
{
    cnn_net *net = NULL;
    cnn_error err = {0};
    cnn_status st = cnn_net_build_text(text, strlen(text), "t.cfg", batch, &net, &err);
    ck_assert_msg(st == CNN_OK, "build failed (%d): %s\n--- cfg ---\n%s", (int)st, err.msg, text);
    ck_assert_ptr_nonnull(net);
    return net;
}

/* Builds and expects failure; returns the status, err holds the message. Never leaks. */
static inline cnn_status tu_build_fail(const char *text, int batch, cnn_error *err)
{
    cnn_net *net = NULL;
    memset(err, 0, sizeof *err);
    cnn_status st = cnn_net_build_text(text, strlen(text), "t.cfg", batch, &net, err);
    if (st == CNN_OK) cnn_net_free(net);
    else ck_assert_msg(net == NULL, "a failed build must not return a network");
    return st;
}

/* Uniform in [lo, hi). */
static inline void tu_fill(float *x, size_t n, cnn_rng *r, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * cnn_rng_uniform(r);
}

/* Checks |got - want| <= rtol * |want| + atol element-wise; reports the worst violation. */
static inline void tu_assert_close(const float *got, const double *want, size_t n, double rtol,
                                   double atol, const char *what)
{
    size_t worst = 0;
    double worst_excess = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - want[i]);
        const double tol = rtol * fabs(want[i]) + atol;
        if (!(d <= tol)) { /* also catches NaN */
            const double excess = isnan(d) ? INFINITY : d - tol;
            if (!bad || excess > worst_excess) worst = i, worst_excess = excess;
            bad++;
        }
    }
    ck_assert_msg(!bad, "%s: %d of %zu values differ; worst at %zu: got %.9g want %.9g", what, bad,
                  n, worst, bad ? (double)got[worst] : 0.0, bad ? want[worst] : 0.0);
}

static inline double tu_max_abs(const double *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

/* A fresh temporary directory (removed with tu_rmdir); path written to buf. */
static inline void tu_mkdtemp(char *buf, size_t n)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, n, "%s/cnnunit.XXXXXX", base && *base ? base : "/tmp");
    ck_assert_msg(mkdtemp(buf) != NULL, "mkdtemp(%s) failed", buf);
}

static inline void tu_write(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_msg(n == 0 || fwrite(buf, 1, n, f) == n, "short write to %s", path);
    ck_assert_msg(fclose(f) == 0, "close failed on %s", path);
}

/* Whether the message contains needle; the assertion names both. */
#define tu_assert_msg_has(msg, needle)                                                        \
    ck_assert_msg(strstr((msg), (needle)) != NULL, "message \"%s\" lacks \"%s\"", (msg), (needle))

#endif
