/* test_gemm_conv.c — the BLAS seam and every inference layer against loop nests written here:
 * cnn_gemm and cnn_gemm_ref vs a double-precision triple loop (all transposes, awkward shapes,
 * padded leading dimensions, beta 0 and 1); [convolutional] vs a direct convolution with
 * padding, stride, groups, batch-norm (darknet order and epsilon) and activation; maxpool,
 * upsample, route, shortcut, avgpool, connected, softmax and dropout vs their definitions.
 * Layers are built from cfg text and given seeded random parameters; each layer is compared
 * on the input it actually received (the previous layer's output), so failures are local. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "net.h"
#include "testutil.h"

/* ---- independent references ---- */

static double ref_logistic(double x) { return 1.0 / (1.0 + exp(-x)); }

static double ref_act(double x, cnn_activation a)
{
    switch (a) {
    case CNN_ACT_LINEAR: return x;
    case CNN_ACT_RELU: return x > 0 ? x : 0;
    case CNN_ACT_LEAKY: return x > 0 ? x : 0.1 * x;
    case CNN_ACT_RELU6: return fmin(fmax(x, 0), 6);
    case CNN_ACT_ELU: return x >= 0 ? x : exp(x) - 1;
    case CNN_ACT_SELU: return 1.0507009873554805 * (x >= 0 ? x : 1.6732632423543772 * (exp(x) - 1));
    case CNN_ACT_LOGISTIC: return ref_logistic(x);
    case CNN_ACT_TANH: return tanh(x);
    case CNN_ACT_SWISH: return x * ref_logistic(x);
    case CNN_ACT_MISH: return x * tanh(log1p(exp(x)));
    case CNN_ACT_HARDSWISH: return x * fmin(fmax(x + 3, 0), 6) / 6;
    default: ck_abort_msg("no reference for activation %d", (int)a);
    }
    return 0;
}

/* C (m x n) = alpha op(A) op(B) + beta C0 in double; mag receives, per element, the sum of the
 * magnitudes of the terms (the scale against which rounding error is judged). */
static void ref_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, const float *c0, int ldc, double *out,
                     double *mag)
{
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double s = 0, sa = 0;
            for (int p = 0; p < k; p++) {
                const double av = ta ? a[p * lda + i] : a[i * lda + p];
                const double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += av * bv;
                sa += fabs(av * bv);
            }
            double c = alpha * s, cm = fabs(alpha) * sa;
            if (beta != 0) c += beta * (double)c0[i * ldc + j], cm += fabs(beta * c0[i * ldc + j]);
            out[i * n + j] = c;
            mag[i * n + j] = cm;
        }
    }
}

typedef void (*gemm_fn)(int, int, int, int, int, float, const float *, int, const float *, int,
                        float, float *, int);

static void check_gemm(gemm_fn fn, const char *name, int ta, int tb, int m, int n, int k,
                       int ld_extra, float alpha, float beta, cnn_rng *rng)
{
    const int a_rows = ta ? k : m, a_cols = ta ? m : k;
    const int b_rows = tb ? n : k, b_cols = tb ? k : n;
    const int lda = a_cols + ld_extra, ldb = b_cols + ld_extra, ldc = n + ld_extra;
    float *a = malloc(sizeof(float) * a_rows * lda);
    float *b = malloc(sizeof(float) * b_rows * ldb);
    float *c = malloc(sizeof(float) * m * ldc);
    float *c0 = malloc(sizeof(float) * m * ldc);
    double *want = malloc(sizeof(double) * m * n), *mag = malloc(sizeof(double) * m * n);
    ck_assert(a && b && c && c0 && want && mag);
    tu_fill(a, (size_t)a_rows * lda, rng, -1, 1);
    tu_fill(b, (size_t)b_rows * ldb, rng, -1, 1);
    tu_fill(c0, (size_t)m * ldc, rng, -1, 1);
    if (beta == 0) {
        /* C need not be set when beta is 0 (BLAS): NaN there must not leak into the result */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c0[i * ldc + j] = NAN;
    }
    memcpy(c, c0, sizeof(float) * m * ldc);
    ref_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c0, ldc, want, mag);
    fn(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < ldc; j++) {
            const float got = c[i * ldc + j];
            if (j >= n) {
                ck_assert_msg(memcmp(&got, &c0[i * ldc + j], sizeof got) == 0,
                              "%s ta=%d tb=%d %dx%dx%d: C[%d][%d] beyond n was written", name, ta,
                              tb, m, n, k, i, j);
                continue;
            }
            const double w = want[i * n + j], tol = 1e-5 * mag[i * n + j] + 1e-30;
            ck_assert_msg(fabs(got - w) <= tol,
                          "%s ta=%d tb=%d m=%d n=%d k=%d ld+%d alpha=%g beta=%g: C[%d][%d] = %.9g, "
                          "want %.9g (tol %.3g)",
                          name, ta, tb, m, n, k, ld_extra, alpha, beta, i, j, got, w, tol);
        }
    }
    free(a), free(b), free(c), free(c0), free(want), free(mag);
}

START_TEST(test_gemm_shapes)
{
    static const int shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 17, 65}, {1, 17, 3},
                                    {16, 1, 9}, {5, 4, 1},  {64, 48, 32}};
    cnn_rng rng = cnn_rng_seed(2024);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int ld = 0; ld <= 3; ld += 3)
                    for (int bi = 0; bi < 2; bi++) {
                        const float beta = (float)bi, alpha = ld ? 0.75f : 1.0f;
                        const int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                        check_gemm(cnn_gemm, "cnn_gemm", ta, tb, m, n, k, ld, alpha, beta, &rng);
                        check_gemm(cnn_gemm_ref, "cnn_gemm_ref", ta, tb, m, n, k, ld, alpha, beta,
                                   &rng);
                    }
}
END_TEST

START_TEST(test_gemm_matches_ref)
{
    /* the optimized and the naive version agree with each other as well as with the test's
     * own loop, on a shape large enough for OpenBLAS to block and vectorize */
    const int m = 37, n = 29, k = 71;
    cnn_rng rng = cnn_rng_seed(77);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
            float *c1 = malloc(sizeof(float) * m * n), *c2 = malloc(sizeof(float) * m * n);
            ck_assert(a && b && c1 && c2);
            tu_fill(a, (size_t)m * k, &rng, -1, 1);
            tu_fill(b, (size_t)k * n, &rng, -1, 1);
            tu_fill(c1, (size_t)m * n, &rng, -1, 1);
            memcpy(c2, c1, sizeof(float) * m * n);
            cnn_gemm(ta, tb, m, n, k, 1, a, ta ? m : k, b, tb ? k : n, 1, c1, n);
            cnn_gemm_ref(ta, tb, m, n, k, 1, a, ta ? m : k, b, tb ? k : n, 1, c2, n);
            double *w = malloc(sizeof(double) * m * n);
            ck_assert_ptr_nonnull(w);
            for (int i = 0; i < m * n; i++) w[i] = c2[i];
            tu_assert_close(c1, w, (size_t)m * n, 1e-5, 1e-5, "cnn_gemm vs cnn_gemm_ref");
            free(a), free(b), free(c1), free(c2), free(w);
        }
}
END_TEST

/* ---- network helpers ---- */

/* Seeded parameters for every layer: uniform in [-1, 1], batch-norm scales and variances in
 * [0.5, 1.5]. Layouts (darknet file order):
 *   convolutional: biases[n], [scales[n], mean[n], variance[n]], weights[n][c/g][k][k]
 *   connected:     biases[n], weights[n][in], [scales[n], mean[n], variance[n]] */
static void randomize(cnn_net *net, uint64_t seed)
{
    cnn_rng rng = cnn_rng_seed(seed);
    for (int i = 0; i < net->n_layers; i++) {
        cnn_layer *l = &net->layers[i];
        if (!l->n_params) continue;
        tu_fill(l->params, l->n_params, &rng, -1, 1);
        const size_t n = (size_t)l->out.c;
        if (!l->batch_norm) continue;
        float *scale;
        if (strcmp(l->ops->section, "connected") == 0)
            scale = l->params + n + n * cnn_shape_size(l->in);
        else
            scale = l->params + n;
        tu_fill(scale, n, &rng, 0.5f, 1.5f);
        tu_fill(scale + 2 * n, n, &rng, 0.5f, 1.5f);
    }
    cnn_net_prepare(net);
    tu_fill(net->input, (size_t)net->batch * cnn_shape_size(net->in), &rng, -1, 1);
}

/* The input layer i received. */
static const float *layer_input(const cnn_net *net, int i)
{
    return i == 0 ? net->input : net->layers[i - 1].output;
}

static void compare_layer(const cnn_net *net, int i, const double *want, const char *what)
{
    const cnn_layer *l = &net->layers[i];
    const size_t n = (size_t)net->batch * cnn_shape_size(l->out);
    tu_assert_close(l->output, want, n, 1e-4, 1e-5 * tu_max_abs(want, n) + 1e-6, what);
}

/* ---- convolution ---- */

typedef struct {
    const char *name;
    int w, h, c;        /* network input */
    int pre;            /* filters of a 1x1 linear conv in front (0: none), to get more channels */
    int filters, size, stride;
    const char *padkey; /* "pad=1", "padding=2" or "" */
    int pad;            /* the resulting padding, as darknet defines it */
    int groups, bn;
    cnn_activation act;
    int batch;
} conv_case;

/* Direct convolution: out[b][f][oy][ox] = act(bn(sum over c in f's group, ky, kx of
 * in[b][c][oy*s - pad + ky][ox*s - pad + kx] * W[f][c - group start][ky][kx])), zero outside. */
static void ref_conv(const conv_case *cc, int cin, int h, int w, const float *in,
                     const float *params, int oh, int ow, int batch, double *out)
{
    const int n = cc->filters, g = cc->groups, k = cc->size, cg = cin / g, ng = n / g;
    const float *bias = params, *scale = params + n, *mean = params + 2 * n,
                *var = params + 3 * n;
    const float *wts = params + (cc->bn ? 4 * n : n);
    for (int b = 0; b < batch; b++)
        for (int f = 0; f < n; f++) {
            const int c0 = (f / ng) * cg;
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double s = 0;
                    for (int c = 0; c < cg; c++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                const int iy = oy * cc->stride - cc->pad + ky;
                                const int ix = ox * cc->stride - cc->pad + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                s += (double)in[((size_t)(b * cin + c0 + c) * h + iy) * w + ix] *
                                     wts[((size_t)(f * cg + c) * k + ky) * k + kx];
                            }
                    if (cc->bn)
                        s = (s - mean[f]) / sqrt((double)var[f] + 1e-6) * scale[f] + bias[f];
                    else
                        s += bias[f];
                    out[((size_t)(b * n + f) * oh + oy) * ow + ox] = ref_act(s, cc->act);
                }
        }
}

static void run_conv_case(const conv_case *cc, uint64_t seed)
{
    char text[1024];
    int len = snprintf(text, sizeof text, "[net]\nwidth=%d\nheight=%d\nchannels=%d\n", cc->w,
                       cc->h, cc->c);
    if (cc->pre)
        len += snprintf(text + len, sizeof text - len,
                        "[convolutional]\nfilters=%d\nsize=1\nactivation=linear\n", cc->pre);
    snprintf(text + len, sizeof text - len,
             "[convolutional]\nfilters=%d\nsize=%d\nstride=%d\n%s\ngroups=%d\n"
             "batch_normalize=%d\nactivation=%s\n",
             cc->filters, cc->size, cc->stride, cc->padkey, cc->groups, cc->bn,
             cnn_activation_name(cc->act));
    cnn_net *net = tu_build(text, cc->batch);
    randomize(net, seed);
    cnn_net_forward(net, NULL);
    const int li = net->n_layers - 1;
    const cnn_layer *l = &net->layers[li];
    const int cin = cc->pre ? cc->pre : cc->c;
    /* expected geometry, independent of the library's helpers */
    const int oh = (cc->h + 2 * cc->pad - cc->size) / cc->stride + 1;
    const int ow = (cc->w + 2 * cc->pad - cc->size) / cc->stride + 1;
    ck_assert_msg(l->out.c == cc->filters && l->out.h == oh && l->out.w == ow,
                  "%s: output %dx%dx%d, want %dx%dx%d", cc->name, l->out.c, l->out.h, l->out.w,
                  cc->filters, oh, ow);
    ck_assert_uint_eq(l->n_params, (size_t)cc->filters * (cc->bn ? 4 : 1) +
                                       (size_t)cc->filters * (cin / cc->groups) * cc->size * cc->size);
    const size_t n_out = (size_t)cc->batch * cc->filters * oh * ow;
    double *want = malloc(sizeof(double) * n_out);
    ck_assert_ptr_nonnull(want);
    ref_conv(cc, cin, cc->h, cc->w, layer_input(net, li), l->params, oh, ow, cc->batch, want);
    compare_layer(net, li, want, cc->name);
    free(want);
    cnn_net_free(net);
}

/* name, w, h, c, pre, filters, size, stride, padkey, pad, groups, bn, act, batch */
static const conv_case conv_cases[] = {
    {"3x3 pad 1 on 7x5, bn", 7, 5, 3, 0, 4, 3, 1, "pad=1", 1, 1, 1, CNN_ACT_LEAKY, 1},
    {"3x3 stride 2 pad 1 on 7x5", 7, 5, 3, 0, 5, 3, 2, "pad=1", 1, 1, 0, CNN_ACT_LINEAR, 1},
    {"3x3 stride 2 no pad, bn", 7, 5, 3, 0, 2, 3, 2, "", 0, 1, 1, CNN_ACT_LOGISTIC, 2},
    {"3x3 stride 3 pad 1", 7, 5, 3, 0, 3, 3, 3, "pad=1", 1, 1, 0, CNN_ACT_RELU, 1},
    {"1x1 stride 1 (no im2col), bn, batch 3", 7, 5, 3, 6, 4, 1, 1, "", 0, 1, 1, CNN_ACT_MISH, 3},
    {"1x1 pad=1 (darknet: padding 0)", 7, 5, 3, 6, 4, 1, 1, "pad=1", 0, 1, 0, CNN_ACT_LEAKY, 1},
    {"1x1 padding=1 (explicit)", 7, 5, 3, 6, 4, 1, 1, "padding=1", 1, 1, 1, CNN_ACT_LEAKY, 2},
    {"1x1 stride 2", 7, 5, 3, 0, 4, 1, 2, "", 0, 1, 0, CNN_ACT_LINEAR, 2},
    {"3x3 pad 1 batch 3", 7, 5, 3, 0, 8, 3, 1, "pad=1", 1, 1, 0, CNN_ACT_RELU, 3},
    {"5x5 pad=1 (padding 2), bn", 7, 5, 3, 0, 3, 5, 1, "pad=1", 2, 1, 1, CNN_ACT_SWISH, 1},
    {"5x5 stride 2 padding=1", 7, 5, 3, 0, 3, 5, 2, "padding=1", 1, 1, 0, CNN_ACT_TANH, 2},
    {"2x2 pad=1 (even kernel)", 7, 5, 3, 0, 2, 2, 1, "pad=1", 1, 1, 0, CNN_ACT_LINEAR, 1},
    {"groups=2 3x3, bn", 7, 5, 3, 4, 6, 3, 1, "pad=1", 1, 2, 1, CNN_ACT_LEAKY, 1},
    {"groups=4 3x3 stride 2, batch 3", 7, 5, 3, 8, 4, 3, 2, "pad=1", 1, 4, 0, CNN_ACT_LINEAR, 3},
    {"groups=2 1x1 (no im2col)", 7, 5, 3, 4, 6, 1, 1, "", 0, 2, 1, CNN_ACT_LEAKY, 2},
    {"groups == channels, 2 filters each", 7, 5, 3, 0, 6, 3, 1, "pad=1", 1, 3, 0, CNN_ACT_ELU, 1},
    {"depthwise 3x3 stride 1, bn", 7, 5, 3, 5, 5, 3, 1, "pad=1", 1, 5, 1, CNN_ACT_RELU6, 2},
    {"depthwise 3x3 stride 2", 7, 5, 3, 5, 5, 3, 2, "pad=1", 1, 5, 0, CNN_ACT_HARDSWISH, 1},
    {"depthwise 5x5 stride 2, bn, batch 3", 7, 5, 3, 4, 4, 5, 2, "pad=1", 2, 4, 1, CNN_ACT_LEAKY, 3},
    {"depthwise 3x3 no pad", 7, 5, 3, 0, 3, 3, 1, "", 0, 3, 1, CNN_ACT_SELU, 1},
    {"grey input", 6, 6, 1, 0, 3, 3, 1, "pad=1", 1, 1, 1, CNN_ACT_LEAKY, 2},
    {"depthwise 1x1", 7, 5, 3, 0, 3, 1, 1, "", 0, 3, 0, CNN_ACT_LINEAR, 2},
    /* big enough that im2col runs in several row bands (16 + 16 + 5 rows; 24 + 24 + 13 rows) */
    {"banded 3x3 on 300x37, bn", 300, 37, 3, 0, 4, 3, 1, "pad=1", 1, 1, 1, CNN_ACT_LEAKY, 1},
    {"banded groups=2 stride 2 on 301x121, batch 2", 301, 121, 3, 8, 6, 3, 2, "pad=1", 1, 2, 0,
     CNN_ACT_RELU, 2},
    /* conv.c's direct kernel on a wide map with K = 216 (48 + 16 + 6 pixels a row, 5 filters) */
    {"direct K=216 on 70x9, bn, batch 2", 70, 9, 3, 24, 5, 3, 1, "pad=1", 1, 1, 1, CNN_ACT_RELU, 2},
};

START_TEST(test_conv_cases)
{
    run_conv_case(&conv_cases[_i], 1000 + (uint64_t)_i);
}
END_TEST

START_TEST(test_conv_reference_can_fail)
{
    /* The comparison is sensitive: perturbing one weight after prepare must be noticed. */
    const conv_case *cc = &conv_cases[0];
    char text[512];
    snprintf(text, sizeof text,
             "[net]\nwidth=7\nheight=5\nchannels=3\n[convolutional]\nfilters=4\nsize=3\npad=1\n"
             "batch_normalize=1\nactivation=leaky\n");
    cnn_net *net = tu_build(text, 1);
    randomize(net, 5);
    cnn_net_forward(net, NULL);
    const cnn_layer *l = &net->layers[0];
    double *want = malloc(sizeof(double) * cnn_shape_size(l->out));
    ck_assert_ptr_nonnull(want);
    ref_conv(cc, 3, 5, 7, net->input, l->params, 5, 7, 1, want);
    want[17] += 1e-3 * (fabs(want[17]) + 1);
    const size_t n = cnn_shape_size(l->out);
    int differs = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(l->output[i] - want[i]) > 1e-4 * fabs(want[i]) + 1e-5 * tu_max_abs(want, n) + 1e-6)
            differs++;
    ck_assert_int_eq(differs, 1);
    free(want);
    cnn_net_free(net);
}
END_TEST

/* ---- pooling and resampling ---- */

/* darknet maxpool: padding p (default size-1), window origin oy*stride - p/2, output
 * (in + p - size)/stride + 1, cells outside the input ignored. */
static void ref_maxpool(const float *in, int planes, int h, int w, int size, int stride, int p,
                        int oh, int ow, double *out)
{
    for (int pl = 0; pl < planes; pl++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double m = -INFINITY;
                for (int y = oy * stride - p / 2; y < oy * stride - p / 2 + size; y++)
                    for (int x = ox * stride - p / 2; x < ox * stride - p / 2 + size; x++)
                        if (y >= 0 && y < h && x >= 0 && x < w)
                            m = fmax(m, in[((size_t)pl * h + y) * w + x]);
                out[((size_t)pl * oh + oy) * ow + ox] = m;
            }
}

START_TEST(test_maxpool_hand_values)
{
    /* 3x3 plane with values -1..-9 (row-major), so padding never wins */
    static const struct {
        const char *opts;
        int oh, ow;
        float want[9];
    } cases[] = {
        /* size 2 stride 2: padding 1, windows start at 0 and 2; the last holds one cell */
        {"size=2\nstride=2\n", 2, 2, {-1, -3, -7, -9}},
        /* size 2 stride 1: output keeps 3x3; right/bottom windows are clipped */
        {"size=2\nstride=1\n", 3, 3, {-1, -2, -3, -4, -5, -6, -7, -8, -9}},
        /* size 3 stride 2: padding 2, windows start at -1 and 1 */
        {"size=3\nstride=2\n", 2, 2, {-1, -2, -4, -5}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char text[256];
        snprintf(text, sizeof text, "[net]\nwidth=3\nheight=3\nchannels=1\n[maxpool]\n%s",
                 cases[c].opts);
        cnn_net *net = tu_build(text, 1);
        for (int i = 0; i < 9; i++) net->input[i] = (float)-(i + 1);
        cnn_net_forward(net, NULL);
        const cnn_layer *l = &net->layers[0];
        ck_assert_int_eq(l->out.h, cases[c].oh);
        ck_assert_int_eq(l->out.w, cases[c].ow);
        for (int i = 0; i < cases[c].oh * cases[c].ow; i++)
            ck_assert_msg(l->output[i] == cases[c].want[i], "%s: out[%d] = %g, want %g",
                          cases[c].opts, i, l->output[i], cases[c].want[i]);
        /* positive values 1..9: the maxima move to the bottom-right of each window */
        for (int i = 0; i < 9; i++) net->input[i] = (float)(i + 1);
        cnn_net_forward(net, NULL);
        if (c == 0) {
            const float pos[4] = {5, 6, 8, 9};
            for (int i = 0; i < 4; i++) ck_assert_float_eq(l->output[i], pos[i]);
        }
        cnn_net_free(net);
    }
}
END_TEST

START_TEST(test_maxpool_random)
{
    static const struct {
        int size, stride, padding; /* padding < 0: darknet default */
    } cases[] = {{2, 2, -1}, {2, 1, -1}, {3, 2, -1}, {3, 1, -1}, {3, 3, 0}, {5, 2, 4}, {1, 1, -1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char text[512], pad[32] = "";
        if (cases[c].padding >= 0) snprintf(pad, sizeof pad, "padding=%d\n", cases[c].padding);
        snprintf(text, sizeof text,
                 "[net]\nwidth=7\nheight=5\nchannels=3\n[convolutional]\nfilters=4\nsize=1\n"
                 "activation=linear\n[maxpool]\nsize=%d\nstride=%d\n%s",
                 cases[c].size, cases[c].stride, pad);
        cnn_net *net = tu_build(text, 2);
        randomize(net, 300 + c);
        cnn_net_forward(net, NULL);
        const int p = cases[c].padding >= 0 ? cases[c].padding : cases[c].size - 1;
        const int oh = (5 + p - cases[c].size) / cases[c].stride + 1;
        const int ow = (7 + p - cases[c].size) / cases[c].stride + 1;
        const cnn_layer *l = &net->layers[1];
        ck_assert_msg(l->out.h == oh && l->out.w == ow && l->out.c == 4,
                      "maxpool %d/%d: out %dx%dx%d, want 4x%dx%d", cases[c].size, cases[c].stride,
                      l->out.c, l->out.h, l->out.w, oh, ow);
        double *want = malloc(sizeof(double) * 2 * 4 * oh * ow);
        ck_assert_ptr_nonnull(want);
        ref_maxpool(layer_input(net, 1), 2 * 4, 5, 7, cases[c].size, cases[c].stride, p, oh, ow,
                    want);
        char what[64];
        snprintf(what, sizeof what, "maxpool size %d stride %d", cases[c].size, cases[c].stride);
        compare_layer(net, 1, want, what);
        free(want);
        cnn_net_free(net);
    }
}
END_TEST

START_TEST(test_upsample)
{
    for (int s = 1; s <= 3; s++) {
        char text[256];
        snprintf(text, sizeof text,
                 "[net]\nwidth=7\nheight=5\nchannels=3\n[convolutional]\nfilters=2\nsize=1\n"
                 "activation=linear\n[upsample]\nstride=%d\n",
                 s);
        cnn_net *net = tu_build(text, 2);
        randomize(net, 400 + s);
        cnn_net_forward(net, NULL);
        const cnn_layer *l = &net->layers[1];
        ck_assert_int_eq(l->out.h, 5 * s);
        ck_assert_int_eq(l->out.w, 7 * s);
        const float *in = layer_input(net, 1);
        double *want = malloc(sizeof(double) * 2 * 2 * 35 * s * s);
        ck_assert_ptr_nonnull(want);
        for (int pl = 0; pl < 4; pl++)
            for (int y = 0; y < 5 * s; y++)
                for (int x = 0; x < 7 * s; x++)
                    want[((size_t)pl * 5 * s + y) * 7 * s + x] = in[(pl * 5 + y / s) * 7 + x / s];
        compare_layer(net, 1, want, "upsample");
        free(want);
        cnn_net_free(net);
    }
}
END_TEST

START_TEST(test_avgpool)
{
    cnn_net *net = tu_build("[net]\nwidth=7\nheight=5\nchannels=3\n[convolutional]\nfilters=4\n"
                            "size=3\npad=1\nactivation=leaky\n[avgpool]\n",
                            3);
    randomize(net, 500);
    cnn_net_forward(net, NULL);
    const cnn_layer *l = &net->layers[1];
    ck_assert_int_eq(l->out.c, 4);
    ck_assert_int_eq(l->out.h, 1);
    ck_assert_int_eq(l->out.w, 1);
    const float *in = layer_input(net, 1);
    double want[12];
    for (int pl = 0; pl < 12; pl++) {
        double s = 0;
        for (int i = 0; i < 35; i++) s += in[pl * 35 + i];
        want[pl] = s / 35;
    }
    compare_layer(net, 1, want, "avgpool");
    cnn_net_free(net);
}
END_TEST

/* ---- route and shortcut ---- */

START_TEST(test_route)
{
    /* 0: conv 4 ch, 1: conv 6 ch, 2: route 0,1 (10 ch), 3: route 0,1 groups=2 group_id=1
     * (ch 2-3 of layer 0, ch 3-5 of layer 1), 4: route 1 groups=3 group_id=0 (ch 0-1),
     * 5: route -5 (identity of layer 0) */
    cnn_net *net = tu_build("[net]\nwidth=7\nheight=5\nchannels=3\n"
                            "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=leaky\n"
                            "[convolutional]\nfilters=6\nsize=1\nactivation=linear\n"
                            "[route]\nlayers=-2,-1\n"
                            "[route]\nlayers=0,1\ngroups=2\ngroup_id=1\n"
                            "[route]\nlayers=1\ngroups=3\ngroup_id=0\n"
                            "[route]\nlayers=-5\n",
                            2);
    randomize(net, 600);
    cnn_net_forward(net, NULL);
    const int hw = 35, B = 2;
    const float *l0 = net->layers[0].output, *l1 = net->layers[1].output;
    static const struct {
        int layer, n;
        int src[2], c0[2], nc[2]; /* per source: layer, first channel, channels */
    } cases[] = {
        {2, 2, {0, 1}, {0, 0}, {4, 6}},
        {3, 2, {0, 1}, {2, 3}, {2, 3}},
        {4, 1, {1, 0}, {0, 0}, {2, 0}},
        {5, 1, {0, 0}, {0, 0}, {4, 0}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const cnn_layer *l = &net->layers[cases[c].layer];
        int total = 0;
        for (int s = 0; s < cases[c].n; s++) total += cases[c].nc[s];
        ck_assert_int_eq(l->out.c, total);
        double *want = malloc(sizeof(double) * B * total * hw);
        ck_assert_ptr_nonnull(want);
        for (int b = 0; b < B; b++) {
            int oc = 0;
            for (int s = 0; s < cases[c].n; s++) {
                const float *src = cases[c].src[s] == 0 ? l0 : l1;
                const int src_c = cases[c].src[s] == 0 ? 4 : 6;
                for (int ch = 0; ch < cases[c].nc[s]; ch++, oc++)
                    for (int i = 0; i < hw; i++)
                        want[((size_t)b * total + oc) * hw + i] =
                            src[((size_t)b * src_c + cases[c].c0[s] + ch) * hw + i];
            }
        }
        char what[32];
        snprintf(what, sizeof what, "route layer %d", cases[c].layer);
        compare_layer(net, cases[c].layer, want, what);
        free(want);
    }
    cnn_net_free(net);
}
END_TEST

START_TEST(test_shortcut)
{
    static const cnn_activation acts[] = {CNN_ACT_LINEAR, CNN_ACT_LEAKY, CNN_ACT_LOGISTIC};
    for (size_t a = 0; a < 3; a++) {
        char text[512];
        snprintf(text, sizeof text,
                 "[net]\nwidth=7\nheight=5\nchannels=3\n"
                 "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=leaky\n"
                 "[convolutional]\nfilters=3\nsize=1\nactivation=linear\n"
                 "[shortcut]\nfrom=-2\nactivation=%s\n",
                 cnn_activation_name(acts[a]));
        cnn_net *net = tu_build(text, 2);
        randomize(net, 700 + a);
        cnn_net_forward(net, NULL);
        const size_t n = 2 * 3 * 35;
        double *want = malloc(sizeof(double) * n);
        ck_assert_ptr_nonnull(want);
        for (size_t i = 0; i < n; i++)
            want[i] = ref_act((double)net->layers[1].output[i] + net->layers[0].output[i], acts[a]);
        compare_layer(net, 2, want, cnn_activation_name(acts[a]));
        free(want);
        cnn_net_free(net);
    }
}
END_TEST

/* ---- connected, softmax, dropout ---- */

/* y[b][o] = act(bn(sum_i W[o][i] x[b][i])), darknet order: biases, weights, [scales, mean, var] */
static void ref_connected(const float *x, int batch, int nin, int nout, int bn, cnn_activation act,
                          const float *params, double *out)
{
    const float *bias = params, *w = params + nout, *scale = w + (size_t)nout * nin,
                *mean = scale + nout, *var = mean + nout;
    for (int b = 0; b < batch; b++)
        for (int o = 0; o < nout; o++) {
            double s = 0;
            for (int i = 0; i < nin; i++) s += (double)w[(size_t)o * nin + i] * x[(size_t)b * nin + i];
            if (bn) s = (s - mean[o]) / sqrt((double)var[o] + 1e-6) * scale[o];
            out[b * nout + o] = ref_act(s + bias[o], act);
        }
}

static void ref_softmax(const float *x, int batch, int n, double *out)
{
    for (int b = 0; b < batch; b++) {
        double m = -INFINITY, s = 0;
        for (int i = 0; i < n; i++) m = fmax(m, x[b * n + i]);
        for (int i = 0; i < n; i++) s += exp((double)x[b * n + i] - m);
        for (int i = 0; i < n; i++) out[b * n + i] = exp((double)x[b * n + i] - m) / s;
    }
}

START_TEST(test_connected_softmax)
{
    /* 0: conv (4x5x7) -> 1: connected 6 (leaky) -> 2: connected 5 bn (linear) -> 3: dropout
     * -> 4: softmax */
    cnn_net *net = tu_build("[net]\nwidth=7\nheight=5\nchannels=3\n"
                            "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
                            "[connected]\noutput=6\nactivation=leaky\n"
                            "[connected]\noutput=5\nbatch_normalize=1\nactivation=linear\n"
                            "[dropout]\nprobability=0.3\n"
                            "[softmax]\ngroups=1\n",
                            3);
    ck_assert_uint_eq(net->layers[1].n_params, 6 + 6 * 140);
    ck_assert_uint_eq(net->layers[2].n_params, 5 + 5 * 6 + 3 * 5);
    randomize(net, 800);
    cnn_net_forward(net, NULL);
    double want[3 * 6];
    ref_connected(layer_input(net, 1), 3, 140, 6, 0, CNN_ACT_LEAKY, net->layers[1].params, want);
    compare_layer(net, 1, want, "connected 6 leaky");
    ref_connected(layer_input(net, 2), 3, 6, 5, 1, CNN_ACT_LINEAR, net->layers[2].params, want);
    compare_layer(net, 2, want, "connected 5 bn");
    for (int i = 0; i < 15; i++) want[i] = net->layers[2].output[i];
    compare_layer(net, 3, want, "dropout");
    ref_softmax(layer_input(net, 4), 3, 5, want);
    compare_layer(net, 4, want, "softmax");
    for (int b = 0; b < 3; b++) {
        double s = 0;
        for (int i = 0; i < 5; i++) s += net->layers[4].output[b * 5 + i];
        ck_assert_double_eq_tol(s, 1.0, 1e-5);
    }
    cnn_net_free(net);
}
END_TEST

START_TEST(test_connected_on_input_bn)
{
    cnn_net *net = tu_build("[net]\nwidth=4\nheight=3\nchannels=3\n"
                            "[connected]\noutput=7\nbatch_normalize=1\nactivation=logistic\n",
                            2);
    randomize(net, 810);
    cnn_net_forward(net, NULL);
    double want[14];
    ref_connected(net->input, 2, 36, 7, 1, CNN_ACT_LOGISTIC, net->layers[0].params, want);
    compare_layer(net, 0, want, "connected bn on the input");
    cnn_net_free(net);
}
END_TEST

START_TEST(test_softmax_spatial_and_large)
{
    /* softmax over all c*h*w values of each item, with logits large enough to overflow expf
     * without the max subtraction */
    cnn_net *net = tu_build("[net]\nwidth=2\nheight=2\nchannels=3\n[softmax]\n", 2);
    cnn_rng rng = cnn_rng_seed(900);
    tu_fill(net->input, 24, &rng, -3, 3);
    net->input[5] = 120.0f;
    net->input[13] = 95.0f;
    cnn_net_forward(net, NULL);
    double want[24];
    ref_softmax(net->input, 2, 12, want);
    compare_layer(net, 0, want, "softmax");
    cnn_net_free(net);
}
END_TEST

START_TEST(test_bn_epsilon)
{
    /* Variances near zero make darknet's epsilon (1e-6) visible: 1/sqrt(1e-6 + 1e-6) differs
     * from 1/sqrt(1e-6 + 1e-5) by a factor of 2.3. One zero variance must stay finite. */
    const conv_case cc = {"bn epsilon", 7, 5, 3, 0, 4, 3, 1, "pad=1", 1, 1, 1, CNN_ACT_LINEAR, 1};
    cnn_net *net = tu_build("[net]\nwidth=7\nheight=5\nchannels=3\n"
                            "[convolutional]\nfilters=4\nsize=3\npad=1\nbatch_normalize=1\n"
                            "activation=linear\n"
                            "[connected]\noutput=3\nbatch_normalize=1\nactivation=linear\n",
                            1);
    randomize(net, 950);
    float *var = net->layers[0].params + 3 * 4;
    const float tiny[4] = {0.0f, 1e-6f, 3e-6f, 1e-5f};
    memcpy(var, tiny, sizeof tiny);
    /* connected: biases 3, weights 3 x 140, scales 3, mean 3, variance 3 */
    float *cvar = net->layers[1].params + 3 + 3 * 140 + 6;
    memcpy(cvar, tiny + 1, 3 * sizeof(float));
    /* scale the means down so the normalized values stay moderate */
    for (int i = 0; i < 4; i++) net->layers[0].params[8 + i] *= 1e-3f;
    cnn_net_prepare(net);
    cnn_net_forward(net, NULL);
    double want[140];
    ref_conv(&cc, 3, 5, 7, net->input, net->layers[0].params, 5, 7, 1, want);
    compare_layer(net, 0, want, "conv bn with tiny variances");
    ref_connected(layer_input(net, 1), 1, 140, 3, 1, CNN_ACT_LINEAR, net->layers[1].params, want);
    compare_layer(net, 1, want, "connected bn with tiny variances");
    cnn_net_free(net);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("gemm_conv");
    TCase *tc = tcase_create("gemm");
    tcase_add_test(tc, test_gemm_shapes);
    tcase_add_test(tc, test_gemm_matches_ref);
    suite_add_tcase(s, tc);

    tc = tcase_create("conv");
    tcase_add_loop_test(tc, test_conv_cases, 0, (int)(sizeof conv_cases / sizeof conv_cases[0]));
    tcase_add_test(tc, test_conv_reference_can_fail);
    suite_add_tcase(s, tc);

    tc = tcase_create("layers");
    tcase_add_test(tc, test_maxpool_hand_values);
    tcase_add_test(tc, test_maxpool_random);
    tcase_add_test(tc, test_upsample);
    tcase_add_test(tc, test_avgpool);
    tcase_add_test(tc, test_route);
    tcase_add_test(tc, test_shortcut);
    tcase_add_test(tc, test_connected_softmax);
    tcase_add_test(tc, test_connected_on_input_bn);
    tcase_add_test(tc, test_softmax_spatial_and_large);
    tcase_add_test(tc, test_bn_epsilon);
    suite_add_tcase(s, tc);
    return s;
}
