/* fuzz_cfg.c — libFuzzer target: the cfg reader and the network planner. Input: cfg text.
 * A cfg that builds (batch 1) and is small (FORWARD_MAX_*) also runs forward with deterministic
 * parameters and input, twice (the network and a clone, which must agree bit for bit), and its
 * detection heads or classifier output are decoded.
 * Allocations over 4 MiB fail here as if memory had run out (fuzz_alloc.c): the library allows
 * networks up to 8 GiB, which would only make the fuzzer slow. */
#include "fuzz_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "detect.h"
#include "gemm.h"
#include "net.h"

/* Under ASan every block over 128 KiB is a fresh mmap, its shadow is written on malloc and
 * free, and it is unmapped again when it leaves the quarantine: a built network costs time in
 * proportion to its size even when it does not run. 4 MiB (four times the largest network
 * that runs forward) still builds networks too large to run, and fails the rest as out of
 * memory, which fuzzes those paths; 16 MiB cost 10 to 35 % of the executions per second. */
#define FUZZ_ALLOC_CAP ((size_t)4 << 20)
/* Which networks run forward. Under ASan + coverage on the 2-core VM of the README, a forward
 * pass costs about 0.5 ns per FLOP (gemm is OpenBLAS, not instrumented), 20 ns per activation
 * element a layer reads or writes, 18 ns per maxpool window cell and 5 ns per byte of planned
 * memory (fresh pages fault on first touch). Every layer kind, head and code path runs forward
 * at a few KiB; bigger networks only make each execution slower, so the bounds below keep a
 * forward pass well under a millisecond for most networks and near 10 ms at worst (it runs
 * twice: the clone). Networks over them are still parsed, planned and allocated. */
#define FORWARD_MAX_BYTES ((size_t)1 << 20)
#define FORWARD_MAX_FLOPS 5e6
#define FORWARD_MAX_ELEMS 2e5
#define MAX_DETS 1024

/* Deterministic values in [lo, hi): darknet-like small weights, positive batch-norm variances. */
static void fill(float *p, size_t n, uint32_t seed, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = lo + (hi - lo) * (float)(seed >> 8) / 16777216.0f;
    }
}

/* Activation elements a forward pass reads and writes, plus the cells maxpool windows visit
 * (maxpool counts 0 FLOPs; a window is up to 255x255). */
static double forward_elems(const cnn_net *net)
{
    double n = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const cnn_layer *l = &net->layers[i];
        n += (double)cnn_shape_size(l->in) + (double)cnn_shape_size(l->out);
        if (strcmp(l->ops->section, "maxpool") == 0) {
            /* the window size is private to maxpool.c; its description is "SxS/stride" */
            char d[64];
            int size = 0, size2 = 0, stride = 0;
            l->ops->describe(l, d, sizeof d);
            FUZZ_CHECK(sscanf(d, "%dx%d/%d", &size, &size2, &stride) == 3 && size > 0,
                       "maxpool description '%s'", d);
            /* per output: the window's rows, and the columns of the rows inside the input */
            double rows = size < l->in.h ? size : l->in.h;
            n += (double)cnn_shape_size(l->out) * size * (1 + rows);
        }
    }
    return n;
}

static void decode_outputs(const cnn_net *net)
{
    size_t cap = cnn_detect_capacity(net);
    if (cap > 0) {
        static cnn_det dets[MAX_DETS];
        cnn_frame fr = {.scale_x = 1, .scale_y = 1, .img_w = net->in.w, .img_h = net->in.h};
        int n = cnn_detect_decode(net, 0, &fr, 0.25f, dets, cap < MAX_DETS ? (int)cap : MAX_DETS);
        FUZZ_CHECK(n >= 0 && n <= MAX_DETS && (size_t)n <= cap, "%d detections, cap %zu", n, cap);
        cnn_det_clip(dets, n, net->in.w, net->in.h);
        for (int i = 0; i < n; i++) {
            const cnn_det *d = &dets[i];
            FUZZ_CHECK(d->x1 >= 0 && d->x1 <= net->in.w && d->x2 >= 0 && d->x2 <= net->in.w &&
                           d->y1 >= 0 && d->y1 <= net->in.h && d->y2 >= 0 && d->y2 <= net->in.h,
                       "clipped box %d: %g %g %g %g", i, d->x1, d->y1, d->x2, d->y2);
        }
        int kept = cnn_nms(dets, n, 0.45f);
        FUZZ_CHECK(kept >= 0 && kept <= n, "nms kept %d of %d", kept, n);
    }
    const cnn_layer *out = cnn_net_output(net);
    if (out->role == CNN_LAYER_SOFTMAX) {
        int idx[5];
        size_t n = cnn_shape_size(out->out);
        int k = cnn_topk(out->output, n > 100000 ? 100000 : (int)n, 5, idx);
        for (int i = 0; i < k; i++) FUZZ_CHECK(idx[i] >= 0 && (size_t)idx[i] < n, "topk index");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        cnn_blas_set_threads(1);
        once = 1;
    }
    cnn_net *net = NULL;
    cnn_error err;
    fuzz_alloc_limit = FUZZ_ALLOC_CAP;
    cnn_status s = cnn_net_build_text((const char *)data, size, "fuzz.cfg", 1, &net, &err);
    if (s != CNN_OK) {
        fuzz_alloc_limit = SIZE_MAX;
        FUZZ_CHECK(net == NULL, "failed build returned a network");
        FUZZ_CHECK(s == CNN_ERR_MODEL || s == CNN_ERR_NOMEM, "status %d: %s", (int)s, err.msg);
        FUZZ_CHECK(err.msg[0], "no error message");
        return 0;
    }
    FUZZ_CHECK(net->n_layers > 0 && net->batch == 1, "built an empty network");
    size_t bytes = cnn_net_memory_bytes(net);
    if (bytes <= FORWARD_MAX_BYTES && net->flops <= FORWARD_MAX_FLOPS &&
        forward_elems(net) <= FORWARD_MAX_ELEMS) {
        fill(net->params, net->n_params, 1, 0.05f, 0.3f);
        cnn_net_prepare(net);
        fill(net->input, cnn_shape_size(net->in), 2, 0.0f, 1.0f);
        cnn_net_forward(net, NULL);
        decode_outputs(net);
        cnn_net *clone = NULL;
        if (cnn_net_clone(net, &clone, &err) == CNN_OK) {
            memcpy(clone->input, net->input, cnn_shape_size(net->in) * sizeof(float));
            cnn_net_forward(clone, NULL);
            for (int i = 0; i < net->n_layers; i++) {
                size_t n = cnn_shape_size(net->layers[i].out);
                FUZZ_CHECK(memcmp(net->layers[i].output, clone->layers[i].output,
                                  n * sizeof(float)) == 0,
                           "layer %d: the clone's output differs", i);
            }
            cnn_net_free(clone);
        }
    }
    fuzz_alloc_limit = SIZE_MAX;
    cnn_net_free(net);
    return 0;
}
