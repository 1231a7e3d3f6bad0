/* test_threads.c — the thread pool and the layers split across it (pool.c, conv.c, maxpool.c,
 * yolo.c). The pool runs every task exactly once on valid worker ids, job after job, sleeping
 * and waking. A network run at 2, 3 and 4 threads gives the same layer outputs as at 1 thread
 * (within 1e-5 of each layer's largest value) for every way a convolution is split: the direct
 * kernel's bands of rows (stride 1 and 2), the pointwise kernel's pixel ranges and filter
 * blocks, depthwise channels (3x3 stride 1, 5x5 stride 2), GEMM bands with per-thread im2col
 * slices, small maps split into blocks of filters or of columns, groups; batch 1 and 2; and each
 * of those layers really was handed to the helpers. Clones keep their own pools, and two 2-thread clones forwarding at once
 * agree with the original. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "net.h"
#include "pool.h"
#include "testutil.h"

/* ---- the pool ---- */

typedef struct {
    int n_tasks, threads;
    atomic_int *hits;
    atomic_int bad_worker;
} count_ctx;

static void count_task(void *ctx, int task, int worker)
{
    count_ctx *c = ctx;
    if (worker < 0 || worker >= c->threads) atomic_fetch_add(&c->bad_worker, 1);
    atomic_fetch_add(&c->hits[task], 1);
}

START_TEST(test_pool_runs_each_task_once)
{
    static const int thread_counts[] = {1, 2, 3, 5};
    static const int task_counts[] = {0, 1, 2, 3, 7, 64, 1000};
    for (size_t ti = 0; ti < sizeof thread_counts / sizeof thread_counts[0]; ti++) {
        cnn_pool *pool = NULL;
        cnn_error err = {0};
        ck_assert_msg(cnn_pool_create(thread_counts[ti], &pool, &err) == CNN_OK, "%s", err.msg);
        ck_assert_int_eq(cnn_pool_threads(pool), thread_counts[ti]);
        for (int rep = 0; rep < 300; rep++) {
            const int n = task_counts[rep % (sizeof task_counts / sizeof task_counts[0])];
            atomic_int hits[1000];
            for (int i = 0; i < n; i++) atomic_init(&hits[i], 0);
            count_ctx c = {.n_tasks = n, .threads = thread_counts[ti], .hits = hits};
            atomic_init(&c.bad_worker, 0);
            cnn_pool_run(pool, n, count_task, &c);
            /* (assertions outside the loop: each one costs Check a write) */
            int bad = -1;
            for (int i = 0; i < n && bad < 0; i++)
                if (atomic_load(&hits[i]) != 1) bad = i;
            if (bad >= 0)
                ck_abort_msg("threads %d, job %d: task %d of %d ran %d times", thread_counts[ti],
                             rep, bad, n, atomic_load(&hits[bad]));
            if (atomic_load(&c.bad_worker)) ck_abort_msg("a worker id out of range");
        }
        if (thread_counts[ti] > 1) ck_assert_int_gt(cnn_pool_jobs(pool), 0);
        cnn_pool_free(pool);
    }
    cnn_pool_free(NULL);
    ck_assert_int_eq(cnn_pool_threads(NULL), 1);
}
END_TEST

static void add_task(void *ctx, int task, int worker)
{
    (void)worker;
    atomic_fetch_add((atomic_long *)ctx, task + 1);
}

START_TEST(test_pool_many_small_jobs)
{
    /* back-to-back jobs of 2..4 tasks: the hand-off between jobs is where a race would be */
    cnn_pool *pool = NULL;
    cnn_error err = {0};
    ck_assert(cnn_pool_create(3, &pool, &err) == CNN_OK);
    atomic_long sum;
    atomic_init(&sum, 0);
    long want = 0;
    int bad = -1;
    for (int job = 0; job < 20000 && bad < 0; job++) {
        const int n = 2 + job % 3;
        cnn_pool_run(pool, n, add_task, &sum);
        want += (long)n * (n + 1) / 2;
        if (atomic_load(&sum) != want) bad = job;
    }
    if (bad >= 0) ck_abort_msg("job %d: sum %ld, want %ld", bad, atomic_load(&sum), want);
    cnn_pool_free(pool);
}
END_TEST

static void sleepy_task(void *ctx, int task, int worker)
{
    (void)worker;
    /* long enough that waiting threads stop spinning and sleep on the condition variables */
    if (task == 0) {
        struct timespec ts = {0, 3 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_fetch_add((atomic_int *)ctx, 1);
}

START_TEST(test_pool_sleeps_and_wakes)
{
    cnn_pool *pool = NULL;
    cnn_error err = {0};
    ck_assert(cnn_pool_create(3, &pool, &err) == CNN_OK);
    for (int rep = 0; rep < 20; rep++) {
        atomic_int n;
        atomic_init(&n, 0);
        cnn_pool_run(pool, 4, sleepy_task, &n);
        ck_assert_int_eq(atomic_load(&n), 4);
        if (rep % 5 == 0) { /* idle long enough for the helpers to go to sleep */
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    cnn_pool_free(pool);
    ck_assert_int_eq(cnn_pool_create(0, &pool, &err), CNN_ERR_USAGE);
    ck_assert_ptr_null(pool);
}
END_TEST

/* ---- networks at several thread counts ---- */

/* Each convolution is large enough to be split (see the thresholds in conv.c). */
static const char MIXED[] =
    "[net]\nwidth=96\nheight=80\nchannels=3\n"
    /* 0: direct kernel (K = 27), bands of output rows */
    "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    /* 1: depthwise 3x3 stride 1, blocks of channels */
    "[convolutional]\nbatch_normalize=1\nfilters=16\ngroups=16\nsize=3\nstride=1\npad=1\n"
    "activation=relu6\n"
    /* 2: pointwise kernel (1x1, K = 16), ranges of pixels */
    "[convolutional]\nfilters=72\nsize=1\nstride=1\nactivation=leaky\n"
    /* 3: pointwise, K = 72, an activation applied after the kernel */
    "[convolutional]\nfilters=72\nsize=1\nstride=1\nactivation=swish\n"
    /* 4: K = 648: im2col + GEMM in bands of rows, each thread its own slice of workspace */
    "[convolutional]\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=linear\n"
    /* 5: depthwise 5x5 stride 2 -> 16x40x48 */
    "[convolutional]\nfilters=16\ngroups=16\nsize=5\nstride=2\npad=1\nactivation=linear\n"
    /* 6: direct kernel at stride 2 (K = 144) -> 64x20x24 */
    "[convolutional]\nbatch_normalize=1\nfilters=64\nsize=3\nstride=2\npad=1\nactivation=mish\n"
    /* 7: a small map (one band), K = 576, fewer filters than pixels: unrolled once, blocks of
     * columns */
    "[convolutional]\nfilters=32\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    /* 8: maxpool 2x2/2 -> 32x10x12 */
    "[maxpool]\nsize=2\nstride=2\n"
    /* 9: small map, K = 288, more filters than pixels: blocks of filters */
    "[convolutional]\nfilters=200\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    /* 10: pointwise on a small map (K = 200, more filters than pixels): blocks of filters */
    "[convolutional]\nfilters=160\nsize=1\nstride=1\nactivation=logistic\n"
    /* 11: groups=2 on the small map: a task per group */
    "[convolutional]\nfilters=64\ngroups=2\nsize=3\nstride=1\npad=1\nactivation=relu\n"
    /* 12: maxpool 2x2/1 keeps the size */
    "[maxpool]\nsize=2\nstride=1\n"
    "[convolutional]\nfilters=18\nsize=1\nactivation=linear\n"
    "[yolo]\nmask=0,1,2\nanchors=4,6, 8,10, 12,16\nclasses=1\nnum=3\n";

/* Layers of MIXED whose work must reach the helpers at 2 threads (batch 1). */
static const int SPLIT_LAYERS[] = {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11};

static float *forward_copy(cnn_net *net)
{
    cnn_net_forward(net, NULL);
    float *out = malloc(sizeof(float) * net->n_acts);
    ck_assert_ptr_nonnull(out);
    memcpy(out, net->acts, sizeof(float) * net->n_acts);
    return out;
}

static void assert_same_layers(const cnn_net *net, const float *want, const float *got,
                               const char *what)
{
    size_t off = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const cnn_layer *l = &net->layers[i];
        const size_t n = (size_t)net->batch * cnn_shape_size(l->out);
        double scale = 0;
        for (size_t k = 0; k < n; k++) scale = fabs(want[off + k]) > scale ? fabs(want[off + k]) : scale;
        size_t worst = 0;
        double worst_d = -1;
        for (size_t k = 0; k < n; k++) {
            const double d = fabs((double)got[off + k] - want[off + k]);
            if (!(d <= worst_d)) worst_d = d, worst = k;
        }
        ck_assert_msg(worst_d <= 1e-5 * scale + 1e-30,
                      "%s: layer %d [%s]: element %zu is %.9g, %.9g at 1 thread (|diff| %.3g, "
                      "layer max %.3g)",
                      what, i, l->ops->section, worst, (double)got[off + worst], (double)want[off + worst],
                      worst_d, scale);
        off += n;
    }
}

static cnn_net *seeded_net(const char *text, int batch)
{
    cnn_net *net = tu_build(text, batch);
    cnn_rng rng = cnn_rng_seed(31);
    cnn_net_init_random(net, &rng);
    tu_fill(net->input, (size_t)batch * cnn_shape_size(net->in), &rng, 0, 1);
    return net;
}

static void check_thread_counts(int batch)
{
    cnn_net *net = seeded_net(MIXED, batch);
    cnn_error err = {0};
    float *want = forward_copy(net);
    char what[64];
    for (int t = 2; t <= 4; t++) {
        ck_assert_msg(cnn_net_set_threads(net, t, &err) == CNN_OK, "%s", err.msg);
        ck_assert_int_eq(net->threads, t);
        float *got = forward_copy(net);
        snprintf(what, sizeof what, "batch %d, %d threads", batch, t);
        assert_same_layers(net, want, got, what);
        free(got);
        got = forward_copy(net); /* and again: nothing depends on the previous forward */
        assert_same_layers(net, want, got, what);
        free(got);
    }
    ck_assert(cnn_net_set_threads(net, 1, &err) == CNN_OK);
    ck_assert_ptr_null(net->pool);
    float *got = forward_copy(net);
    assert_same_layers(net, want, got, "back to 1 thread");
    free(got);
    ck_assert_int_eq(cnn_net_set_threads(net, 0, &err), CNN_ERR_USAGE);
    ck_assert_int_eq(cnn_net_set_threads(net, CNN_NET_MAX_THREADS + 1, &err), CNN_ERR_USAGE);
    free(want);
    cnn_net_free(net);
}

START_TEST(test_threads_same_output)
{
    check_thread_counts(1);
}
END_TEST

START_TEST(test_threads_same_output_batch2)
{
    check_thread_counts(2);
}
END_TEST

START_TEST(test_each_layer_is_split)
{
    /* a prefix of MIXED ending at each listed layer; the helpers must have been given at least
     * one job by that layer alone */
    cnn_net *full = seeded_net(MIXED, 1);
    cnn_error err = {0};
    ck_assert(cnn_net_set_threads(full, 2, &err) == CNN_OK);
    for (size_t s = 0; s < sizeof SPLIT_LAYERS / sizeof SPLIT_LAYERS[0]; s++) {
        const int li = SPLIT_LAYERS[s];
        const float *in = li ? full->layers[li - 1].output : full->input;
        const long before = cnn_pool_jobs(full->pool);
        full->layers[li].ops->forward(&full->layers[li], in, full);
        ck_assert_msg(cnn_pool_jobs(full->pool) > before, "layer %d ran on one thread only", li);
    }
    cnn_net_free(full);
}
END_TEST

typedef struct {
    cnn_net *net;
    float *out;
} clone_run;

static void *run_clone(void *arg)
{
    clone_run *r = arg;
    for (int i = 0; i < 3; i++) cnn_net_forward(r->net, NULL);
    r->out = malloc(sizeof(float) * r->net->n_acts);
    if (r->out) memcpy(r->out, r->net->acts, sizeof(float) * r->net->n_acts);
    return NULL;
}

START_TEST(test_clones_keep_their_pools)
{
    cnn_net *net = seeded_net(MIXED, 1);
    cnn_error err = {0};
    float *want = forward_copy(net);
    ck_assert(cnn_net_set_threads(net, 2, &err) == CNN_OK);
    clone_run runs[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        runs[i].out = NULL;
        ck_assert_msg(cnn_net_clone(net, &runs[i].net, &err) == CNN_OK, "%s", err.msg);
        ck_assert_int_eq(runs[i].net->threads, 2);
        ck_assert_ptr_nonnull(runs[i].net->pool);
        ck_assert_ptr_ne(runs[i].net->pool, net->pool);
        memcpy(runs[i].net->input, net->input, sizeof(float) * cnn_shape_size(net->in));
    }
    for (int i = 0; i < 2; i++) ck_assert_int_eq(pthread_create(&th[i], NULL, run_clone, &runs[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        ck_assert_ptr_nonnull(runs[i].out);
        assert_same_layers(net, want, runs[i].out, "clone at 2 threads, two clones at once");
        free(runs[i].out);
        cnn_net_free(runs[i].net);
    }
    free(want);
    cnn_net_free(net);
}
END_TEST

/* Batch 2 gives each image the outputs it gets alone (batch 1): small-map GEMM layers (7, 9)
 * run both images' column matrices as one GEMM at batch 2 (conv.c, CONV_BATCH_COLS). */
START_TEST(test_batch_equals_single)
{
    cnn_net *two = seeded_net(MIXED, 2), *one = seeded_net(MIXED, 1);
    for (int i = 0; i < two->n_layers; i++)
        ck_assert(memcmp(two->layers[i].params, one->layers[i].params,
                         sizeof(float) * two->layers[i].n_params) == 0);
    cnn_net_forward(two, NULL);
    const size_t n_in = cnn_shape_size(one->in);
    for (int b = 0; b < 2; b++) {
        memcpy(one->input, two->input + b * n_in, sizeof(float) * n_in);
        cnn_net_forward(one, NULL);
        for (int i = 0; i < one->n_layers; i++) {
            const size_t n = cnn_shape_size(one->layers[i].out);
            const float *want = one->layers[i].output, *got = two->layers[i].output + b * n;
            double scale = 0, worst = 0;
            for (size_t k = 0; k < n; k++) {
                scale = fabs(want[k]) > scale ? fabs(want[k]) : scale;
                const double d = fabs((double)got[k] - want[k]);
                worst = !(d <= worst) ? d : worst;
            }
            ck_assert_msg(worst <= 1e-5 * scale + 1e-30, "image %d, layer %d [%s]: |diff| %.3g, layer max %.3g", b,
                          i, one->layers[i].ops->section, worst, scale);
        }
    }
    cnn_net_free(one);
    cnn_net_free(two);
}
END_TEST

/* cnn_net_fold_in_place: batch-norm folded into params instead of a copy, on the GEMM and
 * depthwise paths (the packed kernels keep their own copy), with PReLU; same outputs as the
 * ordinary fold, also after loading again; saving is refused. */
static const char FOLD[] =
    "[net]\nwidth=20\nheight=16\nchannels=3\n"
    "[convolutional]\nfilters=24\nsize=1\nstride=1\nactivation=leaky\n" /* pointwise, no bn */
    "[convolutional]\nbatch_normalize=1\nfilters=16\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
    "[convolutional]\nbatch_normalize=1\nfilters=16\ngroups=16\nsize=3\nstride=1\npad=1\nactivation=relu\n"
    "[convolutional]\nbatch_normalize=1\nfilters=24\nsize=1\nstride=1\nactivation=linear\n"
    "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=2\npad=1\nactivation=prelu\n"
    "[connected]\nbatch_normalize=1\noutput=5\nactivation=linear\n";

START_TEST(test_fold_in_place)
{
    cnn_net *ref = seeded_net(FOLD, 2);
    char path[] = "/tmp/cnndemo-test-fold-XXXXXX";
    const int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    cnn_error err = {0};
    ck_assert_msg(cnn_net_save_weights(ref, path, &err) == CNN_OK, "%s", err.msg);
    float *want = forward_copy(ref);

    cnn_net *net = tu_build(FOLD, 2);
    cnn_net_fold_in_place(net);
    for (int round = 0; round < 2; round++) { /* loading again folds the fresh values again */
        ck_assert_msg(cnn_net_load_weights(net, path, &err) == CNN_OK, "%s", err.msg);
        memcpy(net->input, ref->input, sizeof(float) * 2 * cnn_shape_size(net->in));
        float *got = forward_copy(net);
        assert_same_layers(net, want, got, round ? "folded in place, loaded again" : "folded in place");
        free(got);
    }
    /* the GEMM and depthwise layers' weights in params are the folded ones now */
    for (int i = 1; i < 3; i++) {
        const cnn_layer *a = &ref->layers[i], *b = &net->layers[i];
        ck_assert_int_eq(b->fold_in_place, 2);
        ck_assert(memcmp(a->params, b->params, sizeof(float) * a->n_params) != 0);
    }
    ck_assert_int_eq(net->layers[3].fold_in_place, 1); /* pointwise: packed copy, params kept */
    ck_assert(memcmp(ref->layers[3].params, net->layers[3].params,
                     sizeof(float) * ref->layers[3].n_params) == 0);
    ck_assert_int_eq(cnn_net_save_weights(net, path, &err), CNN_ERR_USAGE);
    unlink(path);
    free(want);
    cnn_net_free(net);
    cnn_net_free(ref);
}
END_TEST

START_TEST(test_yolov3_tiny_threads)
{
    static const char path[] = "/usr/share/darknet/cfg/yolov3-tiny.cfg";
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "test_threads: %s not installed; yolov3-tiny case not run\n", path);
        return;
    }
    cnn_net *net = NULL;
    cnn_error err = {0};
    ck_assert_msg(cnn_net_build(path, 1, &net, &err) == CNN_OK, "%s", err.msg);
    cnn_rng rng = cnn_rng_seed(5);
    cnn_net_init_random(net, &rng);
    tu_fill(net->input, cnn_shape_size(net->in), &rng, 0, 1);
    float *want = forward_copy(net);
    ck_assert(cnn_net_set_threads(net, 2, &err) == CNN_OK);
    float *got = forward_copy(net);
    assert_same_layers(net, want, got, "yolov3-tiny at 2 threads");
    free(got);
    free(want);
    cnn_net_free(net);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_add_test(tc, test_pool_runs_each_task_once);
    tcase_add_test(tc, test_pool_many_small_jobs);
    tcase_add_test(tc, test_pool_sleeps_and_wakes);
    tcase_add_test(tc, test_threads_same_output);
    tcase_add_test(tc, test_threads_same_output_batch2);
    tcase_add_test(tc, test_each_layer_is_split);
    tcase_add_test(tc, test_clones_keep_their_pools);
    tcase_add_test(tc, test_yolov3_tiny_threads);
    tcase_add_test(tc, test_fold_in_place);
    tcase_add_test(tc, test_batch_equals_single);
    suite_add_tcase(s, tc);
    return s;
}
