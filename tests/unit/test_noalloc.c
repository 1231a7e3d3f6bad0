/* test_noalloc.c — cnn_net_forward performs no heap allocation. This executable replaces the
 * C allocator (malloc, calloc, realloc, free and the aligned variants), as glibc allows, with
 * wrappers that count calls while a flag is set and forward to glibc's own implementation.
 * After a warm-up forward (OpenBLAS sets up its buffers on first use) the count over a second
 * forward must be zero, for a network with every layer kind and for yolov3-tiny, and with the
 * work split over a pool of helper threads (whose calls are counted too).
 * BLAS runs on one thread here (set explicitly, as CMake also does through the environment):
 * OpenBLAS 0.3.21's threaded sgemm driver mallocs and frees a job array on every call.
 * ASan replaces the allocator itself, so under ASan the test reports that it is skipped. */
#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gemm.h"
#include "model.h"
#include "net.h"
#include "pool.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define NOALLOC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NOALLOC_ASAN 1
#endif
#endif

#ifndef NOALLOC_ASAN

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);
extern void *__libc_valloc(size_t n);
extern void *__libc_pvalloc(size_t n);

static atomic_int counting;
static atomic_long alloc_calls;

static inline void note_call(void)
{
    if (atomic_load_explicit(&counting, memory_order_relaxed))
        atomic_fetch_add_explicit(&alloc_calls, 1, memory_order_relaxed);
}

void *malloc(size_t n)
{
    note_call();
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    note_call();
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    note_call();
    return __libc_realloc(p, n);
}

void free(void *p)
{
    if (p) note_call();
    __libc_free(p);
}

void *memalign(size_t align, size_t n);
void *memalign(size_t align, size_t n)
{
    note_call();
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    note_call();
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    note_call();
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t n)
{
    note_call();
    return __libc_valloc(n);
}

void *pvalloc(size_t n);
void *pvalloc(size_t n)
{
    note_call();
    return __libc_pvalloc(n);
}

static void count_begin(void)
{
    atomic_store(&alloc_calls, 0);
    atomic_store(&counting, 1);
}

static long count_end(void)
{
    atomic_store(&counting, 0);
    return atomic_load(&alloc_calls);
}

/* Every layer kind, batch 2: conv with batch-norm, depthwise, grouped, 1x1, maxpool, shortcut,
 * route (plain and groups/group_id), upsample, dropout, yolo, region, connected, softmax. */
static const char ALL_KINDS[] =
    "[net]\nwidth=32\nheight=32\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n" /* 0 */
    "[convolutional]\nbatch_normalize=1\nfilters=8\ngroups=8\nsize=3\nstride=2\npad=1\n"
    "activation=relu6\n"                                                          /* 1: 8x16x16 */
    "[convolutional]\nfilters=8\ngroups=2\nsize=3\npad=1\nactivation=mish\n"      /* 2 */
    "[maxpool]\nsize=2\nstride=2\n"                                               /* 3: 8x8x8 */
    "[convolutional]\nfilters=8\nsize=1\nactivation=swish\n"                      /* 4 */
    "[shortcut]\nfrom=-2\nactivation=linear\n"                                    /* 5 */
    "[route]\nlayers=-1,-3\n"                                                     /* 6: 16x8x8 */
    "[route]\nlayers=-1\ngroups=2\ngroup_id=1\n"                                  /* 7: 8x8x8 */
    "[upsample]\nstride=2\n"                                                      /* 8: 8x16x16 */
    "[route]\nlayers=-1,2\n"                                                      /* 9: 16x16x16 */
    "[dropout]\nprobability=0.5\n"                                                /* 10 */
    "[convolutional]\nfilters=21\nsize=1\nactivation=linear\n"                    /* 11 */
    "[yolo]\nmask=0,1,2\nanchors=4,6, 8,10, 12,16\nclasses=2\nnum=3\n"            /* 12 */
    "[route]\nlayers=7\n"                                                         /* 13 */
    "[convolutional]\nfilters=14\nsize=1\nactivation=linear\n"                    /* 14 */
    "[region]\nanchors=1,1, 2,2\nclasses=2\ncoords=4\nnum=2\nsoftmax=1\n"          /* 15 */
    "[route]\nlayers=4\n"                                                         /* 16 */
    "[connected]\nbatch_normalize=1\noutput=10\nactivation=leaky\n"               /* 17 */
    "[connected]\noutput=5\nactivation=linear\n"                                  /* 18 */
    "[softmax]\n";                                                                /* 19 */

/* [avgpool] collapses the spatial dimensions, so it gets a network of its own. */
static const char WITH_AVGPOOL[] =
    "[net]\nwidth=17\nheight=11\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=6\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
    "[avgpool]\n"
    "[connected]\noutput=4\nactivation=linear\n"
    "[softmax]\n";

/* Seeds the parameters and the input, warms up, then counts over a second forward. */
static long allocations_in_forward(cnn_net *net, double *layer_seconds)
{
    cnn_blas_set_threads(1);
    cnn_rng rng = cnn_rng_seed(123);
    cnn_net_init_random(net, &rng);
    tu_fill(net->input, (size_t)net->batch * cnn_shape_size(net->in), &rng, 0, 1);
    cnn_net_forward(net, layer_seconds); /* warm-up */
    count_begin();
    cnn_net_forward(net, layer_seconds);
    return count_end();
}

START_TEST(test_counter_sees_allocations)
{
    /* The counter is live: explicit calls in the flagged region are seen (through volatile
     * pointers, so the compiler cannot elide a malloc/free pair), and so are allocations made
     * inside libc on our behalf (strdup) and by the library (building a network). */
    void *(*volatile m)(size_t) = malloc;
    void (*volatile f)(void *) = free;
    count_begin();
    void *p = m(32);
    f(p);
    ck_assert_int_eq(count_end(), 2);

    count_begin();
    char *s = strdup("counted inside libc");
    long n = count_end();
    free(s);
    ck_assert_msg(n >= 1, "strdup's allocation was not seen (%ld)", n);

    void *q = NULL;
    count_begin();
    int rc = posix_memalign(&q, 64, 100);
    void *r = calloc(3, 5);
    void *r2 = realloc(r, 77);
    long k = count_end();
    free(q);
    free(r2 ? r2 : r);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(k, 3);

    count_begin();
    cnn_net *net = tu_build(ALL_KINDS, 1);
    long b = count_end();
    ck_assert_msg(b > 0, "building a network allocated nothing the counter saw");
    cnn_net_free(net);

    /* nothing is counted outside the flagged region */
    count_begin();
    count_end();
    p = m(8);
    f(p);
    ck_assert_int_eq(atomic_load(&alloc_calls), 0);
}
END_TEST

START_TEST(test_forward_all_kinds)
{
    cnn_net *net = tu_build(ALL_KINDS, 2);
    ck_assert_int_eq(net->n_layers, 20);
    long n = allocations_in_forward(net, NULL);
    ck_assert_msg(n == 0, "cnn_net_forward made %ld allocator calls (every-kind network)", n);
    /* the timed variant too */
    double secs[20];
    count_begin();
    cnn_net_forward(net, secs);
    n = count_end();
    ck_assert_msg(n == 0, "cnn_net_forward with layer timing made %ld allocator calls", n);
    cnn_net_free(net);
}
END_TEST

START_TEST(test_forward_avgpool)
{
    cnn_net *net = tu_build(WITH_AVGPOOL, 3);
    long n = allocations_in_forward(net, NULL);
    ck_assert_msg(n == 0, "cnn_net_forward made %ld allocator calls (avgpool network)", n);
    cnn_net_free(net);
}
END_TEST

START_TEST(test_forward_clone)
{
    cnn_net *net = tu_build(ALL_KINDS, 1);
    cnn_rng rng = cnn_rng_seed(9);
    cnn_net_init_random(net, &rng);
    cnn_net *clone = NULL;
    cnn_error err = {0};
    cnn_blas_set_threads(1);
    ck_assert_msg(cnn_net_clone(net, &clone, &err) == CNN_OK, "%s", err.msg);
    tu_fill(clone->input, cnn_shape_size(clone->in), &rng, 0, 1);
    cnn_net_forward(clone, NULL);
    count_begin();
    cnn_net_forward(clone, NULL);
    long n = count_end();
    ck_assert_msg(n == 0, "forward on a clone made %ld allocator calls", n);
    cnn_net_free(clone);
    cnn_net_free(net);
}
END_TEST

/* Layers large enough to be split across threads (see conv.c): bands, depthwise, 1x1, blocks of
 * filters on a small map, maxpool, yolo. */
static const char THREADED[] =
    "[net]\nwidth=128\nheight=96\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nfilters=16\ngroups=16\nsize=3\nstride=1\npad=1\nactivation=linear\n"
    "[convolutional]\nfilters=32\nsize=1\nstride=1\nactivation=leaky\n"
    "[convolutional]\nfilters=64\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
    "[convolutional]\nfilters=128\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
    "[convolutional]\nfilters=96\nsize=1\nstride=1\nactivation=leaky\n"
    "[convolutional]\nfilters=18\nsize=1\nactivation=linear\n"
    "[yolo]\nmask=0,1,2\nanchors=4,6, 8,10, 12,16\nclasses=1\nnum=3\n";

START_TEST(test_forward_threads)
{
    for (int batch = 1; batch <= 2; batch++) {
        cnn_net *net = tu_build(THREADED, batch);
        cnn_error err = {0};
        ck_assert_msg(cnn_net_set_threads(net, 2, &err) == CNN_OK, "%s", err.msg);
        const long jobs = cnn_pool_jobs(net->pool);
        long n = allocations_in_forward(net, NULL);
        ck_assert_msg(n == 0, "cnn_net_forward at 2 threads made %ld allocator calls", n);
        ck_assert_msg(cnn_pool_jobs(net->pool) > jobs, "no layer was split across threads");
        cnn_net *clone = NULL;
        ck_assert_msg(cnn_net_clone(net, &clone, &err) == CNN_OK, "%s", err.msg);
        n = allocations_in_forward(clone, NULL);
        ck_assert_msg(n == 0, "forward on a 2-thread clone made %ld allocator calls", n);
        cnn_net_free(clone);
        cnn_net_free(net);
    }
}
END_TEST

START_TEST(test_forward_yolov3_tiny)
{
    static const char path[] = "/usr/share/darknet/cfg/yolov3-tiny.cfg";
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "test_noalloc: %s not installed; yolov3-tiny case not run "
                        "(the every-kind network still is)\n", path);
        return;
    }
    cnn_net *net = NULL;
    cnn_error err = {0};
    ck_assert_msg(cnn_net_build(path, 1, &net, &err) == CNN_OK, "%s", err.msg);
    long n = allocations_in_forward(net, NULL);
    ck_assert_msg(n == 0, "cnn_net_forward made %ld allocator calls (yolov3-tiny)", n);
    ck_assert_msg(cnn_net_set_threads(net, 2, &err) == CNN_OK, "%s", err.msg);
    n = allocations_in_forward(net, NULL);
    ck_assert_msg(n == 0, "cnn_net_forward at 2 threads made %ld allocator calls (yolov3-tiny)", n);
    cnn_net_free(net);
}
END_TEST

#else /* NOALLOC_ASAN */

START_TEST(test_skipped_under_asan)
{
    fprintf(stderr, "test_noalloc: SKIPPED under AddressSanitizer, which owns malloc; the "
                    "allocation count runs in the normal (non-sanitized) build\n");
}
END_TEST

#endif

Suite *make_suite(void)
{
    Suite *s = suite_create("noalloc");
    TCase *tc = tcase_create("forward");
#ifndef NOALLOC_ASAN
    tcase_add_test(tc, test_counter_sees_allocations);
    tcase_add_test(tc, test_forward_all_kinds);
    tcase_add_test(tc, test_forward_avgpool);
    tcase_add_test(tc, test_forward_clone);
    tcase_add_test(tc, test_forward_threads);
    tcase_add_test(tc, test_forward_yolov3_tiny);
#else
    tcase_add_test(tc, test_skipped_under_asan);
#endif
    suite_add_tcase(s, tc);
    return s;
}
