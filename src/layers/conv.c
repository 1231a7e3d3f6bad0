/* conv.c — [convolutional]: direct kernels for depthwise and thin-K convolutions, im2col + one
 * GEMM per group otherwise; batch-norm folded into weights and bias at prepare; bias + activation
 * applied to each piece of output while it is in cache; the work split over the network's
 * threads (pool.c). Tensors NCHW. Parameters in file order: biases[n], [scales[n], mean[n],
 * variance[n]], weights[n][c/g][k][k], [slopes[n] for activation=prelu (our extension; appended
 * so that the darknet part is unchanged)]. Training: conv_train.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "gemm.h"
#include "im2col.h"
#include "layer.h"
#include "net.h"
#include "pool.h"

#include "conv.h"

/* im2col + GEMM run over bands of output rows whose column block (K x rows*ow floats) fits in
 * about 512 KiB, so the unrolled input is consumed from cache instead of memory (on yolov3-tiny's
 * early layers the whole column matrix would be 10-25 MB), and bias + activation are applied to
 * each band while it is hot... */
#define CONV_BAND_FLOATS (128 * 1024)
/* ...but never fewer columns than this: a GEMM with a narrow N runs far below peak (layers with a
 * deep K and a small map, e.g. 13x13 with K = 4608, keep their whole column matrix). */
#define CONV_BAND_MIN_COLS 1024

/* Batch > 1 on a small map (one band): a GEMM over the column matrices of several images side
 * by side, up to this many columns, instead of one narrow GEMM per image (7x7: N = 49). */
#define CONV_BATCH_COLS 1024

static int band_rows(int kk, int oh, int ow)
{
    long rows = CONV_BAND_FLOATS / ((long)kk * ow);
    long min_rows = (CONV_BAND_MIN_COLS + ow - 1) / ow;
    if (rows < min_rows) rows = min_rows;
    return rows > oh ? oh : (int)rows;
}

/* Which kernel a convolution runs, by its shape alone (so the same at any thread count); see
 * "Direct kernels" below. */
typedef enum { CONV_DEPTHWISE, CONV_DIRECT, CONV_POINTWISE, CONV_GEMM } conv_kind;
static conv_kind conv_kind_of(const cnn_layer *l, const conv_p *p);
static size_t conv_scratch(const cnn_layer *l, const conv_p *p);
static size_t conv_packed_floats(const cnn_layer *l, const conv_p *p);
static void conv_pack(const cnn_layer *l, conv_p *p, float *packed);

static const char *const conv_training_keys[] = {"flipped", "binary", "xnor", "bin_output",
                                                 "antialiasing", "learning_rate", "stopbackward",
                                                 "train_only_bn", NULL};

static cnn_status conv_parse(cnn_layer *l, const cnn_cfg *cfg, cnn_cfg_section *s, cnn_error *err)
{
    conv_p *p = calloc(1, sizeof *p);
    if (!p) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    l->p = p;
    cnn_status st;
    int pad, padding = -1;
    if ((st = cnn_cfg_int(cfg, s, "filters", 1, 1, 1 << 16, &p->filters, err))) return st;
    if ((st = cnn_cfg_int(cfg, s, "size", 1, 1, 255, &p->size, err))) return st;
    if ((st = cnn_cfg_int(cfg, s, "stride", 1, 1, 255, &p->stride, err))) return st;
    if ((st = cnn_cfg_int(cfg, s, "pad", 0, 0, 1, &pad, err))) return st;
    if (cnn_cfg_find(s, "padding") &&
        (st = cnn_cfg_int(cfg, s, "padding", 0, 0, 255, &padding, err)))
        return st;
    if ((st = cnn_cfg_int(cfg, s, "groups", 1, 1, 1 << 16, &p->groups, err))) return st;
    if ((st = cnn_cfg_int(cfg, s, "batch_normalize", 0, 0, 1, &p->batch_norm, err))) return st;
    l->batch_norm = p->batch_norm;
    if ((st = cnn_cfg_int(cfg, s, "dilation", 1, 1, 1, &p->dilation, err))) return st;
    /* darknet: pad=1 means padding = size/2; an explicit padding wins */
    p->pad = padding >= 0 ? padding : (pad ? p->size / 2 : 0);
    const char *act = cnn_cfg_str(s, "activation", "logistic");
    if (cnn_activation_parse(act, &l->act) != 0)
        return cnn_cfg_fail_err(err, cfg, s, cnn_cfg_find(s, "activation"), "unknown activation");
    return cnn_cfg_accept_numbers(cfg, s, conv_training_keys, err);
}

static cnn_status conv_plan(cnn_layer *l, const cnn_net *net, cnn_error *err)
{
    conv_p *p = l->p;
    const int c = l->in.c, n = p->filters, g = p->groups, k = p->size;
    if (c % g || n % g)
        return cnn_fail(err, CNN_ERR_MODEL, "groups=%d must divide input channels %d and filters %d",
                        g, c, n);
    l->out.c = n;
    l->out.h = cnn_conv_out_size(l->in.h, k, p->stride, p->pad);
    l->out.w = cnn_conv_out_size(l->in.w, k, p->stride, p->pad);
    /* C division truncates toward zero, so test the numerator, not the quotient */
    if (l->in.h + 2 * p->pad < k || l->in.w + 2 * p->pad < k)
        return cnn_fail(err, CNN_ERR_MODEL, "%dx%d kernel with padding %d does not fit a %dx%d input",
                        k, k, p->pad, l->in.h, l->in.w);
    const size_t nw = (size_t)n * (c / g) * k * k;
    l->n_params = n + nw + (p->batch_norm ? 3u * n : 0u) + (l->act == CNN_ACT_PRELU ? (size_t)n : 0u);
    /* fused: batch-norm bias, then either the folded weights or the packed ones */
    l->n_fused = (p->batch_norm ? n : 0) +
                 (conv_kind_of(l, p) == CONV_DIRECT || conv_kind_of(l, p) == CONV_POINTWISE
                      ? conv_packed_floats(l, p)
                      : (p->batch_norm ? nw : 0));
    p->batch_chunk = 0;
    const int spatial = l->out.h * l->out.w;
    if (conv_kind_of(l, p) == CONV_GEMM && g == 1 && net->batch > 1 && 2 * spatial <= CONV_BATCH_COLS &&
        band_rows(c * k * k, l->out.h, l->out.w) == l->out.h) {
        /* equal chunks of at most CONV_BATCH_COLS columns */
        const int max_imgs = CONV_BATCH_COLS / spatial, chunks = (net->batch + max_imgs - 1) / max_imgs;
        p->batch_chunk = (net->batch + chunks - 1) / chunks;
    }
    l->n_workspace = conv_scratch(l, p);
    l->flops = 2.0 * nw * l->out.h * l->out.w;
    cnn_conv_plan_train(l, net->batch);
    return CNN_OK;
}

size_t cnn_conv_n_weights(const cnn_layer *l)
{
    const conv_p *p = l->p;
    return (size_t)p->filters * (l->in.c / p->groups) * p->size * p->size;
}

size_t cnn_conv_slope_offset(const cnn_layer *l)
{
    const conv_p *p = l->p;
    return (size_t)p->filters * (p->batch_norm ? 4 : 1) + cnn_conv_n_weights(l);
}

static void conv_prepare(cnn_layer *l)
{
    conv_p *p = l->p;
    const int n = p->filters;
    const size_t per = (size_t)(l->in.c / p->groups) * p->size * p->size;
    const int packs = conv_kind_of(l, p) == CONV_DIRECT || conv_kind_of(l, p) == CONV_POINTWISE;
    const float *bias = l->params;
    p->packed = NULL;
    p->slope = l->act == CNN_ACT_PRELU ? l->params + cnn_conv_slope_offset(l) : NULL;
    if (!p->batch_norm) {
        p->b = bias;
        p->w = l->params + n;
    } else {
        const float *scale = bias + n, *mean = scale + n, *var = mean + n, *w = var + n;
        /* in place: the weights in params are scaled once and the folded copy in fused is never
         * written (its pages are never touched, so it costs no memory) */
        const int in_place = !packs && l->fold_in_place, scaled = in_place && l->fold_in_place == 2;
        float *fb = l->fused, *fw = packs ? NULL : in_place ? l->params + 4 * n : l->fused + n;
        for (int f = 0; f < n; f++) {
            const float a = scale[f] / sqrtf(var[f] + BN_EPS);
            fb[f] = bias[f] - mean[f] * a;
            for (size_t i = 0; fw && !scaled && i < per; i++) fw[f * per + i] = w[f * per + i] * a;
        }
        if (in_place) l->fold_in_place = 2;
        p->b = fb;
        p->w = fw;
    }
    if (packs) conv_pack(l, p, l->fused + (p->batch_norm ? n : 0));
}

/* Direct kernels: convolutions without a column matrix. im2col + GEMM writes K = c*k*k copies
 * of the input and reads them back, which costs more than the arithmetic when K is small (the
 * first layers: 27, 144) or the convolution is depthwise. These kernels instead copy each input
 * row once per output row into "phase rows" with its zero padding (for stride 2 split into even
 * and odd columns), so that one tap of 16 consecutive output pixels is one contiguous load:
 * - direct (k > 1, stride 1 or 2, no groups, K small): blocks of FB filters x 16 NX pixels
 *   accumulate in vector registers over all K taps, the weights packed once at prepare,
 *   tap-major within each block of FB filters, so that each is one broadcast; bias and
 *   activation are applied before the store. With AVX-512 FB = 8, NX = 3 (24 of its 32
 *   registers), else FB = 4, NX = 1. Measured against OpenBLAS (docs/BENCHMARKS.md): faster up to
 *   K = 144, and up to K = 576 on maps 64 or more wide; OpenBLAS's packed kernels win on deeper
 *   or narrower layers.
 * - pointwise (1x1, stride 1, unpadded, no groups): the same kernel with the input channels
 *   themselves as the taps (no phase rows); measured faster than OpenBLAS on every 1x1 layer of
 *   the benchmark models, thin or deep (K up to 1024), whose GEMMs are too narrow for its
 *   blocking.
 * - depthwise (groups == channels == filters): one k x k correlation per channel, each input
 *   row copied once: the whole channel at once, or for large maps into a ring of k slots (a
 *   window of k consecutive rows never shares a slot).
 * GCC vector extensions, one clone per instruction set, multiply-adds fused. */
typedef float conv_v16 __attribute__((vector_size(64)));
#define CONV_DIRECT_FB_MAX 8
/* direct for K up to the first, or the second on maps at least CONV_DIRECT_WIDE wide */
#define CONV_DIRECT_MAX_K 160
#define CONV_DIRECT_MAX_K_WIDE 600
#define CONV_DIRECT_WIDE 64
/* floats of scratch that hold one tap pointer */
#define TAP_FLOATS ((sizeof(const float *) + sizeof(float) - 1) / sizeof(float))
/* depthwise kernels up to this size and stride use the phase rows */
#define DEPTHWISE_MAX_K 16
#define DEPTHWISE_MAX_STRIDE 4

static conv_kind conv_kind_of(const cnn_layer *l, const conv_p *p)
{
    const int c = l->in.c, k = p->size, s = p->stride;
    if (p->groups == c && p->groups == p->filters) return CONV_DEPTHWISE;
    const int kk = c * k * k;
    if (p->groups == 1 && k == 1 && s == 1 && p->pad == 0) return CONV_POINTWISE;
    if (p->groups == 1 && k > 1 && (s == 1 || s == 2) &&
        (kk <= CONV_DIRECT_MAX_K || (kk <= CONV_DIRECT_MAX_K_WIDE && l->out.w >= CONV_DIRECT_WIDE)))
        return CONV_DIRECT;
    return CONV_GEMM;
}

/* Filters per register block: DIRECT_FB_V4 with AVX-512, else 4. */
#define DIRECT_FB_V4 8
#define DIRECT_NX_V4 3
static int direct_fb(void) { return CNN_CPU_X86_64_V4() ? DIRECT_FB_V4 : 4; }

static size_t conv_packed_floats(const cnn_layer *l, const conv_p *p)
{
    const size_t n = (size_t)(p->filters + CONV_DIRECT_FB_MAX - 1) / CONV_DIRECT_FB_MAX * CONV_DIRECT_FB_MAX;
    return n * l->in.c * p->size * p->size;
}

/* packed[block][t][f] = weight t of filter block*fb + f (the last block repeats its last
 * filter), batch-norm folded in. */
static void conv_pack(const cnn_layer *l, conv_p *p, float *packed)
{
    const int m = p->filters, K = l->in.c * p->size * p->size, fb = direct_fb();
    const float *w = l->params + m + (p->batch_norm ? 3 * m : 0);
    const float *scale = l->params + m, *var = l->params + 3 * m;
    for (int b0 = 0; b0 < m; b0 += fb)
        for (int f = 0; f < fb; f++) {
            const int fi = b0 + f < m ? b0 + f : m - 1;
            const float a = p->batch_norm ? scale[fi] / sqrtf(var[fi] + BN_EPS) : 1.0f;
            for (int t = 0; t < K; t++) packed[((size_t)b0 * K + (size_t)t * fb) + f] = w[(size_t)fi * K + t] * a;
        }
    p->packed = packed;
    p->packed_fb = fb;
}

/* Floats of one phase row for an output row of ow pixels: ow rounded up to 16 plus the taps'
 * reach. */
static int phase_len(int k, int s, int ow) { return (ow + 15) / 16 * 16 + (k - 1) / s + 1; }

/* r[j] = src[j*s + off] for j < len, zero outside [0, w) and everywhere when src is NULL (a row
 * of the padding). */
static void phase_row(float *r, int len, const float *src, int w, int s, int off)
{
    int j0 = off < 0 ? (-off + s - 1) / s : 0, j1 = w - 1 - off < 0 ? 0 : (w - 1 - off) / s + 1;
    if (!src) j1 = 0;
    if (j1 > len) j1 = len;
    if (j0 > j1) j0 = j1;
    memset(r, 0, sizeof(float) * j0);
    if (j1 > j0 && s == 1) memcpy(r + j0, src + j0 + off, sizeof(float) * (j1 - j0)); /* src may be NULL */
    else
        for (int j = j0; j < j1; j++) r[j] = src[j * s + off];
    memset(r + j1, 0, sizeof(float) * (len - j1));
}

/* The s phase rows of input row iy (len floats each) at r; iy may be in the padding. */
static void phase_rows(float *r, int len, const float *plane, int h, int w, int iy, int s, int pad)
{
    const float *src = iy >= 0 && iy < h ? plane + (size_t)iy * w : NULL;
    for (int ph = 0; ph < s; ph++) phase_row(r + (size_t)ph * len, len, src, w, s, ph - pad);
}

/* Bias and these activations are applied in the kernels' registers before the store; the
 * others afterwards over the stored rows (cnn_bias_activate without a bias). */
typedef int conv_i16 __attribute__((vector_size(64)));
static int act_in_kernel(cnn_activation a)
{
    return a == CNN_ACT_LINEAR || a == CNN_ACT_RELU || a == CNN_ACT_LEAKY;
}

/* Bias (or none) and activation over n outputs of filter f: PReLU with the filter's slope. */
static void conv_activate(const cnn_layer *l, const conv_p *p, float *y, const float *bias, int f, int n)
{
    if (p->slope) cnn_bias_prelu(y, bias, p->slope + f, 1, n);
    else cnn_bias_activate(y, bias, 1, n, l->act);
}

/* activations.c's relu and leaky (x > 0 ? x : 0 or 0.1 x) on 16 values, in place, choosing by
 * the sign bit (the same results, but that relu keeps a NaN; a vector compare here crashes
 * GCC 12 in the default clone) */
static inline __attribute__((always_inline)) void act_v16(conv_v16 *v, cnn_activation a)
{
    if (a != CNN_ACT_RELU && a != CNN_ACT_LEAKY) return;
    const conv_i16 neg = (conv_i16)*v >> 31; /* all ones where the sign bit is set */
    const conv_i16 small = a == CNN_ACT_LEAKY ? (conv_i16)(*v * 0.1f) : (conv_i16){0};
    *v = (conv_v16)(((conv_i16)*v & ~neg) | (small & neg));
}

/* acc[f][i] = bias[f] + sum over t of pw[t][f] * taps[t][x + 16 i .. x + 16 i + 15], f < fb,
 * i < nx. */
static inline __attribute__((always_inline)) void direct_acc(const float *const *taps, size_t x,
                                                             int K, const float *pw,
                                                             const float *bias,
                                                             conv_v16 acc[][3], const int fb,
                                                             const int nx)
{
#pragma GCC unroll 16
    for (int f = 0; f < fb; f++)
#pragma GCC unroll 3
        for (int i = 0; i < nx; i++) acc[f][i] = (conv_v16){0} + bias[f];
    const float *w = pw;
    for (int t = 0; t < K; t++, w += fb) {
        conv_v16 v[3];
#pragma GCC unroll 3
        for (int i = 0; i < nx; i++) memcpy(&v[i], taps[t] + x + 16 * i, sizeof v[i]);
#pragma GCC unroll 16
        for (int f = 0; f < fb; f++)
#pragma GCC unroll 3
            for (int i = 0; i < nx; i++) acc[f][i] += w[f] * v[i];
    }
}

/* out[f][x] = act(bias[f] + sum over t of pw[t][f] * taps[t][x0 + x]) for f < nf, x < n (act
 * only if act_in_kernel); out rows ldo apart. taps[t] + x0 must be readable up to n rounded up
 * to 16. Pixels go nx vectors at a time, then one; whole vectors are stored straight from the
 * registers, a last partial one through memory. */
static inline __attribute__((always_inline)) void direct_block(const float *const *taps, size_t x0,
                                                               int K, const float *pw,
                                                               const float *bias,
                                                               cnn_activation act, int nf,
                                                               float *out, size_t ldo, int n,
                                                               const int fb, const int nx)
{
    conv_v16 acc[CONV_DIRECT_FB_MAX][3];
    int x = 0;
    for (; x + 16 * nx <= n; x += 16 * nx) {
        direct_acc(taps, x0 + x, K, pw, bias, acc, fb, nx);
#pragma GCC unroll 16
        for (int f = 0; f < fb; f++)
#pragma GCC unroll 3
            for (int i = 0; i < nx; i++) {
                act_v16(&acc[f][i], act);
                if (f < nf) memcpy(out + f * ldo + x + 16 * i, &acc[f][i], sizeof acc[f][i]);
            }
    }
    for (; x + 16 <= n; x += 16) {
        direct_acc(taps, x0 + x, K, pw, bias, acc, fb, 1);
#pragma GCC unroll 16
        for (int f = 0; f < fb; f++) {
            act_v16(&acc[f][0], act);
            if (f < nf) memcpy(out + f * ldo + x, &acc[f][0], sizeof acc[f][0]);
        }
    }
    if (x < n) {
        direct_acc(taps, x0 + x, K, pw, bias, acc, fb, 1);
        for (int f = 0; f < nf; f++) {
            float part[16];
            act_v16(&acc[f][0], act);
            memcpy(part, &acc[f][0], sizeof part);
            memcpy(out + f * ldo + x, part, sizeof(float) * (n - x));
        }
    }
}

__attribute__((target("arch=x86-64-v4"), CNN_OPTIMIZE("fp-contract=fast")))
static void direct_block_v4(const float *const *taps, size_t x0, int K, const float *pw,
                            const float *bias, cnn_activation act, int nf, float *out, size_t ldo,
                            int n)
{
    direct_block(taps, x0, K, pw, bias, act, nf, out, ldo, n, DIRECT_FB_V4, DIRECT_NX_V4);
}

__attribute__((target_clones("arch=x86-64-v3", "default"), CNN_OPTIMIZE("fp-contract=fast")))
static void direct_block_any(const float *const *taps, size_t x0, int K, const float *pw,
                             const float *bias, cnn_activation act, int nf, float *out, size_t ldo,
                             int n)
{
    direct_block(taps, x0, K, pw, bias, act, nf, out, ldo, n, 4, 1);
}

/* Filters [f0, f1) of p (f0 a multiple of the block) over rows rows of n pixels, bias and
 * activation included: row r reads
 * taps[t] + r * tap_step and writes out + r * out_step (filter rows ldo apart). taps[t] +
 * r * tap_step must be readable up to n rounded up to 16. Each block of filters runs over all
 * rows, so its packed weights come from cache after the first. */
static void direct_filters(const cnn_layer *l, const conv_p *p, const float *const *taps, int K,
                           int f0, int f1, int rows, size_t tap_step, float *out, size_t out_step,
                           size_t ldo, int n)
{
    const int fb = p->packed_fb;
    for (int b0 = f0; b0 < f1; b0 += fb) {
        const int nf = f1 - b0 < fb ? f1 - b0 : fb;
        const float *pw = p->packed + (size_t)b0 * K;
        float bias[CONV_DIRECT_FB_MAX];
        for (int f = 0; f < fb; f++) bias[f] = p->b[b0 + (f < nf ? f : nf - 1)];
        for (int r = 0; r < rows; r++) {
            float *o = out + r * out_step + b0 * ldo;
            if (fb == DIRECT_FB_V4) direct_block_v4(taps, r * tap_step, K, pw, bias, l->act, nf, o, ldo, n);
            else direct_block_any(taps, r * tap_step, K, pw, bias, l->act, nf, o, ldo, n);
        }
    }
    if (!act_in_kernel(l->act))
        for (int r = 0; r < rows; r++)
            for (int f = f0; f < f1; f++) conv_activate(l, p, out + r * out_step + f * ldo, NULL, f, n);
}

/* Direct: a tile of output rows needs (rows - 1) * s + k input rows of every channel as phase
 * rows; tiles hold about DIRECT_TILE_FLOATS so that they stay in L2 while every block of filters
 * runs over them. */
#define DIRECT_TILE_FLOATS (64 * 1024)

static int direct_tile_rows(const cnn_layer *l, const conv_p *p)
{
    const int s = p->stride, per_row = l->in.c * s * s * phase_len(p->size, s, l->out.w);
    const int rows = DIRECT_TILE_FLOATS / per_row;
    return rows < 1 ? 1 : (rows > l->out.h ? l->out.h : rows);
}

/* Direct: output rows [oy0, oy1) of all filters of one image; x is (c, h, w), y is
 * (n, oh, ow). scratch: the K tap pointers, then the phase rows of a tile: for each channel,
 * (tile - 1) * s + k input rows of s phase rows each (conv_scratch). */
static void direct_rows(const cnn_layer *l, const conv_p *p, const float *x, float *y, int oy0,
                        int oy1, float *scratch)
{
    const int c = l->in.c, h = l->in.h, w = l->in.w, k = p->size, s = p->stride, pad = p->pad;
    const int ow = l->out.w, spatial = l->out.h * ow, K = c * k * k, len = phase_len(k, s, ow);
    const int tile = direct_tile_rows(l, p);
    const float **taps = (const float **)(void *)scratch;
    float *phase = scratch + (size_t)K * TAP_FLOATS;
    for (int ty = oy0; ty < oy1; ty += tile) {
        const int rows = oy1 - ty < tile ? oy1 - ty : tile, in_rows = (rows - 1) * s + k;
        for (int ch = 0; ch < c; ch++) {
            float *cp = phase + (size_t)ch * in_rows * s * len;
            for (int r = 0; r < in_rows; r++)
                phase_rows(cp + (size_t)r * s * len, len, x + (size_t)ch * h * w, h, w,
                           ty * s - pad + r, s, pad);
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                    taps[(ch * k + ky) * k + kx] = cp + ((size_t)ky * s + kx % s) * len + kx / s;
        }
        direct_filters(l, p, taps, K, 0, p->filters, rows, (size_t)s * s * len, y + (size_t)ty * ow, ow,
                       spatial, ow);
    }
}

/* Pointwise: pixels [p0, p1) of filters [f0, f1) of one image; x is (K, spatial), y (n, spatial).
 * The taps are the input channels themselves; a last partial block of 16 is copied into scratch
 * (after the K tap pointers: K x 16 floats) so that no load runs past the input. Steps of
 * CONV_POINTWISE_COLS pixels keep their input in L2 while every block of filters reads it. */
#define CONV_POINTWISE_COLS 480
static void pointwise_cols(const cnn_layer *l, const conv_p *p, const float *x, float *y, int p0,
                           int p1, int f0, int f1, float *scratch)
{
    const int K = l->in.c, spatial = l->out.h * l->out.w;
    const float **taps = (const float **)(void *)scratch;
    float *tail = scratch + (size_t)K * TAP_FLOATS;
    for (int c0 = p0; c0 < p1; c0 += CONV_POINTWISE_COLS) {
        const int c1 = c0 + CONV_POINTWISE_COLS < p1 ? c0 + CONV_POINTWISE_COLS : p1;
        const int full = c1 == spatial ? c0 + (c1 - c0) / 16 * 16 : c1;
        if (full > c0) {
            for (int t = 0; t < K; t++) taps[t] = x + (size_t)t * spatial + c0;
            direct_filters(l, p, taps, K, f0, f1, 1, 0, y + c0, 0, spatial, full - c0);
        }
        if (full < c1) {
            for (int t = 0; t < K; t++) {
                memcpy(tail + t * 16, x + (size_t)t * spatial + full, sizeof(float) * (c1 - full));
                taps[t] = tail + t * 16;
            }
            direct_filters(l, p, taps, K, f0, f1, 1, 0, y + full, 0, spatial, c1 - full);
        }
    }
}

/* Output rows [0, oh) of one channel: out[oy][x] = act(bias + sum over t of wt[t] *
 * taps[t][oy * row_step + x]) (act only if act_in_kernel). The (row, 16 pixels) units are taken
 * four at a time, four independent accumulators, so narrow rows (13, 10 pixels) keep the
 * multiply-add units as busy as wide ones. */
static inline __attribute__((always_inline)) void depthwise_body(const float *const *taps,
                                                                 size_t row_step, const float *wt,
                                                                 int kk, float bias,
                                                                 cnn_activation act, float *out,
                                                                 int oh, int ow)
{
    const int nb = (ow + 15) / 16, units = oh * nb;
    for (int u = 0; u < units; u += 4) {
        size_t off[4];
        float *dst[4];
        int cnt[4];
        for (int i = 0; i < 4; i++) {
            const int ui = u + i < units ? u + i : units - 1, oy = ui / nb, x = ui % nb * 16;
            off[i] = oy * row_step + x;
            dst[i] = out + (size_t)oy * ow + x;
            cnt[i] = u + i < units ? (ow - x < 16 ? ow - x : 16) : 0;
        }
        conv_v16 a0 = (conv_v16){0} + bias, a1 = a0, a2 = a0, a3 = a0;
        for (int t = 0; t < kk; t++) {
            const float *src = taps[t];
            conv_v16 v0, v1, v2, v3;
            memcpy(&v0, src + off[0], sizeof v0);
            memcpy(&v1, src + off[1], sizeof v1);
            memcpy(&v2, src + off[2], sizeof v2);
            memcpy(&v3, src + off[3], sizeof v3);
            a0 += wt[t] * v0, a1 += wt[t] * v1, a2 += wt[t] * v2, a3 += wt[t] * v3;
        }
        act_v16(&a0, act), act_v16(&a1, act), act_v16(&a2, act), act_v16(&a3, act);
        if (cnt[0] + cnt[1] + cnt[2] + cnt[3] == 64) { /* fixed-size copies: plain stores */
            memcpy(dst[0], &a0, sizeof a0);
            memcpy(dst[1], &a1, sizeof a1);
            memcpy(dst[2], &a2, sizeof a2);
            memcpy(dst[3], &a3, sizeof a3);
        } else {
            memcpy(dst[0], &a0, sizeof(float) * cnt[0]);
            memcpy(dst[1], &a1, sizeof(float) * cnt[1]);
            memcpy(dst[2], &a2, sizeof(float) * cnt[2]);
            memcpy(dst[3], &a3, sizeof(float) * cnt[3]);
        }
    }
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"),
               CNN_OPTIMIZE("fp-contract=fast")))
static void depthwise_kernel(const float *const *taps, size_t row_step, const float *wt, int kk,
                             float bias, cnn_activation act, float *out, int oh, int ow)
{
    depthwise_body(taps, row_step, wt, kk, bias, act, out, oh, ow);
}

/* A channel's phase rows are built whole when they fit in this many floats (then one kernel
 * call and one epilogue per channel); larger maps keep k input rows in a ring instead. */
#define DEPTHWISE_PLANE_FLOATS (32 * 1024)

static size_t depthwise_plane_floats(int k, int s, int oh, int ow)
{
    return (size_t)((oh - 1) * s + k) * s * phase_len(k, s, ow);
}

static size_t depthwise_scratch(int k, int s, int oh, int ow)
{
    if (k > DEPTHWISE_MAX_K || s > DEPTHWISE_MAX_STRIDE) return 0;
    const size_t plane = depthwise_plane_floats(k, s, oh, ow);
    return plane <= DEPTHWISE_PLANE_FLOATS ? plane : (size_t)k * s * phase_len(k, s, ow);
}

/* Kernels larger than DEPTHWISE_MAX_K or strides over DEPTHWISE_MAX_STRIDE: per output row,
 * an axpy of each tap's valid input range. */
static void depthwise_generic(const conv_p *p, const float *in, int ch, int h, int w, float *dst,
                              int oh, int ow)
{
    const int k = p->size, s = p->stride, pad = p->pad;
    const float *src = in + (size_t)ch * h * w, *kern = p->w + (size_t)ch * k * k;
    for (int oy = 0; oy < oh; oy++, dst += ow) {
        for (int x = 0; x < ow; x++) dst[x] = 0;
        for (int ky = 0; ky < k; ky++) {
            const int iy = oy * s - pad + ky;
            if (iy < 0 || iy >= h) continue;
            const float *row = src + (size_t)iy * w;
            for (int kx = 0; kx < k; kx++) {
                /* valid x: 0 <= x*s + kx - pad < w */
                const int x0 = pad - kx > 0 ? (pad - kx + s - 1) / s : 0;
                const int x1e = (w - 1 + pad - kx) / s + 1;
                const int x1 = w - 1 + pad - kx < 0 ? 0 : (x1e < ow ? x1e : ow);
                for (int x = x0; x < x1; x++) dst[x] += kern[ky * k + kx] * row[x * s + kx - pad];
            }
        }
    }
}

/* Depthwise: channels [c0, c1) of one image, bias and activation included; in is (c, h, w),
 * out (c, oh, ow), p->w (c, k, k). */
static void depthwise_channels(const cnn_layer *l, const conv_p *p, const float *in, int c0,
                               int c1, float *out, float *scratch)
{
    const int h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w, k = p->size, s = p->stride;
    const int pad = p->pad, kk = k * k, len = phase_len(k, s, ow);
    const int whole = depthwise_plane_floats(k, s, oh, ow) <= DEPTHWISE_PLANE_FLOATS;
    const float *taps[DEPTHWISE_MAX_K * DEPTHWISE_MAX_K];
    for (int ch = c0; ch < c1; ch++) {
        float *dst = out + (size_t)ch * oh * ow;
        const float *plane = in + (size_t)ch * h * w, *wt = p->w + (size_t)ch * kk;
        if (!depthwise_scratch(k, s, oh, ow)) {
            depthwise_generic(p, in, ch, h, w, dst, oh, ow);
            conv_activate(l, p, dst, p->b + ch, ch, oh * ow);
        } else if (whole) {
            for (int r = 0; r < (oh - 1) * s + k; r++)
                phase_rows(scratch + (size_t)r * s * len, len, plane, h, w, r - pad, s, pad);
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                    taps[ky * k + kx] = scratch + ((size_t)ky * s + kx % s) * len + kx / s;
            depthwise_kernel(taps, (size_t)s * s * len, wt, kk, p->b[ch], l->act, dst, oh, ow);
        } else {
            int filled = -pad - 1; /* the last input row copied into the ring */
            for (int oy = 0; oy < oh; oy++) {
                for (int ky = 0; ky < k; ky++) {
                    const int iy = oy * s - pad + ky;
                    float *rows = scratch + (size_t)((iy + pad) % k) * s * len;
                    if (iy > filled) {
                        phase_rows(rows, len, plane, h, w, iy, s, pad);
                        filled = iy;
                    }
                    for (int kx = 0; kx < k; kx++) taps[ky * k + kx] = rows + (size_t)(kx % s) * len + kx / s;
                }
                depthwise_kernel(taps, 0, wt, kk, p->b[ch], l->act, dst + (size_t)oy * ow, 1, ow);
            }
        }
        if (depthwise_scratch(k, s, oh, ow) && !act_in_kernel(l->act))
            conv_activate(l, p, dst, NULL, ch, oh * ow);
    }
}

/* Floats of scratch one thread needs for l (l->n_workspace), a multiple of 16. */
static size_t conv_scratch(const cnn_layer *l, const conv_p *p)
{
    const int c = l->in.c, g = p->groups, k = p->size, s = p->stride;
    const int oh = l->out.h, ow = l->out.w, kk = c / g * k * k;
    const size_t taps = (size_t)kk * TAP_FLOATS;
    size_t n = 0;
    switch (conv_kind_of(l, p)) {
    case CONV_DEPTHWISE: n = depthwise_scratch(k, s, oh, ow); break;
    case CONV_DIRECT:
        n = taps + (size_t)c * ((direct_tile_rows(l, p) - 1) * s + k) * s * phase_len(k, s, ow);
        break;
    case CONV_POINTWISE: n = taps + (size_t)c * 16; break;
    case CONV_GEMM: /* 1x1 stride 1: the input is the column matrix */
        if (p->batch_chunk) { /* one image unrolled, the chunk's column matrix, its output */
            const size_t cols = (size_t)p->batch_chunk * oh * ow;
            n = (size_t)kk * oh * ow + (size_t)kk * cols + (size_t)p->filters * cols;
        } else if (k > 1 || s > 1 || p->pad > 0)
            n = (size_t)kk * band_rows(kk, oh, ow) * ow;
        break;
    }
    return (n + 15) / 16 * 16; /* each thread's slice starts on a cache line */
}

/* Threads (design in pool.c). A convolution is cut into tasks that each compute their own
 * part of the output, bias and activation included (applied while it is in cache):
 * - direct: bands of output rows of an image; pointwise: ranges of pixels; depthwise: blocks of
 *   channels;
 * - im2col + GEMM (1-thread sgemm per task), by the shape of the map:
 *   - bands: (image, group, band of output rows) tasks, each unrolling its band into its own
 *     slice of the workspace (net->workspace holds l->n_workspace floats per thread). Used when
 *     the map has at least as many cache-sized bands as there are threads; the band count is
 *     rounded up to a multiple of the thread count so that the bands are equal.
 *   - small map (one band): unrolled once (tasks over channels), then the GEMM is split into
 *     blocks of filters (deep layers on 13x13: the weights are the larger operand) or of
 *     columns (the column matrix is).
 * Layers with too little work for the hand-off to pay run on the calling thread. The direct
 * kernels compute an output element the same way whichever task it falls in, so their result
 * does not depend on the thread count (sgemm may round differently on a narrower block). */
#define CONV_THREAD_MIN_MACS (256 * 1024)
#define DEPTHWISE_THREAD_MIN_MACS (32 * 1024)
#define CONV_IM2COL_SPLIT_FLOATS (128 * 1024)
/* Tasks per thread where the split is free to choose: more than one, so that a core slowed by
 * another process hands work to the other. */
#define CONV_TASKS_PER_THREAD 4
/* GEMM blocks per thread on a small map: one, since each block re-reads one whole operand and
 * narrower GEMMs run slower (measured: 1 beat 2 and 4 on yolov3-tiny's 13x13 and 26x26 layers). */
#define CONV_MBLOCKS_PER_THREAD 1
/* A depthwise task's output: about this many floats, so it stays in L2 until the next layer. */
#define DEPTHWISE_TASK_FLOATS (32 * 1024)

typedef struct {
    const cnn_layer *l;
    const conv_p *p;
    const float *in;   /* (batch, c, h, w) */
    float *ws;         /* net->workspace */
    size_t ws_slice;   /* floats per thread */
    int direct;        /* GEMM of a 1x1 stride 1: the input is the column matrix */
    int rows, n_bands; /* rows per band, bands per map (or per image) */
    int cols;          /* pointwise, small-map GEMM: pixels per task */
    int m_block;       /* pointwise, small-map GEMM: filters per task */
    int n_franges;     /* pointwise: ranges of filters */
    int c_block;       /* depthwise and im2col: channels per task */
    int b, gi;         /* small-map GEMM: the image and group being computed */
    int batch;         /* images in the batch (conv_batch_task) */
} conv_job;

static float *worker_scratch(const conv_job *j, int worker)
{
    return j->ws + (size_t)worker * j->ws_slice;
}

static void conv_epilogue(const conv_job *j, float *yg, int gi, int f0, int f1, int off, int cols)
{
    const int ng = j->p->filters / j->p->groups, spatial = j->l->out.h * j->l->out.w;
    for (int f = f0; f < f1; f++)
        conv_activate(j->l, j->p, yg + (size_t)f * spatial + off, j->p->b + gi * ng + f, gi * ng + f, cols);
}

static void conv_band_task(void *ctx, int t, int worker)
{
    const conv_job *j = ctx;
    const cnn_layer *l = j->l;
    const conv_p *p = j->p;
    const int c = l->in.c, h = l->in.h, w = l->in.w, g = p->groups, k = p->size;
    const int oh = l->out.h, ow = l->out.w, spatial = oh * ow;
    const int cg = c / g, ng = p->filters / g, kk = cg * k * k;
    const int band = t % j->n_bands, gi = t / j->n_bands % g, b = t / j->n_bands / g;
    const int oy0 = band * j->rows, oy1 = oy0 + j->rows < oh ? oy0 + j->rows : oh;
    const int cols = (oy1 - oy0) * ow;
    if (cols <= 0) return;
    const float *xg = j->in + b * cnn_shape_size(l->in) + (size_t)gi * cg * h * w;
    float *yg = l->output + b * cnn_shape_size(l->out) + (size_t)gi * ng * spatial;
    const float *col = xg + (size_t)oy0 * ow;
    int ldb = spatial;
    if (!j->direct) {
        float *ws = worker_scratch(j, worker);
        cnn_im2col_rows(xg, cg, h, w, k, p->stride, p->pad, oy0, oy1, ws);
        col = ws;
        ldb = cols;
    }
    cnn_gemm(0, 0, ng, cols, kk, 1.0f, p->w + (size_t)gi * ng * kk, kk, col, ldb, 0.0f,
             yg + (size_t)oy0 * ow, spatial);
    conv_epilogue(j, yg, gi, 0, ng, oy0 * ow, cols);
}

/* Images [t * chunk, ...) of a small-map GEMM (p->batch_chunk): each image unrolled and its
 * column matrix copied next to the others', one GEMM for all, then each image's outputs copied
 * out with bias and activation. */
static void conv_batch_task(void *ctx, int t, int worker)
{
    const conv_job *j = ctx;
    const cnn_layer *l = j->l;
    const conv_p *p = j->p;
    const int c = l->in.c, k = p->size, m = p->filters, kk = c * k * k, spatial = l->out.h * l->out.w;
    const int b0 = t * p->batch_chunk, b1 = b0 + p->batch_chunk < j->batch ? b0 + p->batch_chunk : j->batch;
    const size_t cols = (size_t)(b1 - b0) * spatial;
    float *one = worker_scratch(j, worker), *col = one + (size_t)kk * spatial, *y = col + (size_t)kk * cols;
    for (int b = b0; b < b1; b++) {
        const float *xb = j->in + b * cnn_shape_size(l->in);
        float *dst = col + (size_t)(b - b0) * spatial;
        if (k == 1 && p->stride == 1 && p->pad == 0) {
            for (int r = 0; r < kk; r++) memcpy(dst + r * cols, xb + (size_t)r * spatial, sizeof(float) * spatial);
        } else {
            cnn_im2col_rows(xb, c, l->in.h, l->in.w, k, p->stride, p->pad, 0, l->out.h, one);
            for (int r = 0; r < kk; r++) memcpy(dst + r * cols, one + (size_t)r * spatial, sizeof(float) * spatial);
        }
    }
    cnn_gemm(0, 0, m, (int)cols, kk, 1.0f, p->w, kk, col, (int)cols, 0.0f, y, (int)cols);
    for (int b = b0; b < b1; b++) {
        float *yb = l->output + b * cnn_shape_size(l->out);
        for (int f = 0; f < m; f++) {
            memcpy(yb + (size_t)f * spatial, y + (size_t)f * cols + (size_t)(b - b0) * spatial,
                   sizeof(float) * spatial);
            conv_activate(l, p, yb + (size_t)f * spatial, p->b + f, f, spatial);
        }
    }
}

static void conv_im2col_task(void *ctx, int t, int worker)
{
    (void)worker;
    const conv_job *j = ctx;
    const cnn_layer *l = j->l;
    const conv_p *p = j->p;
    const int h = l->in.h, w = l->in.w, cg = l->in.c / p->groups, k = p->size;
    const int c0 = t * j->c_block, c1 = c0 + j->c_block < cg ? c0 + j->c_block : cg;
    const float *xg = j->in + j->b * cnn_shape_size(l->in) + ((size_t)j->gi * cg + c0) * h * w;
    cnn_im2col_rows(xg, c1 - c0, h, w, k, p->stride, p->pad, 0, l->out.h,
                    j->ws + (size_t)c0 * k * k * l->out.h * l->out.w);
}

/* One block of the small-map GEMM: filters [f0, f1) x columns [c0, c1) of image b, group gi. */
static void conv_gemm_block_task(void *ctx, int t, int worker)
{
    (void)worker;
    const conv_job *j = ctx;
    const cnn_layer *l = j->l;
    const conv_p *p = j->p;
    const int g = p->groups, cg = l->in.c / g, ng = p->filters / g, kk = cg * p->size * p->size;
    const int spatial = l->out.h * l->out.w, n_cb = (spatial + j->cols - 1) / j->cols;
    const int f0 = t / n_cb * j->m_block, f1 = f0 + j->m_block < ng ? f0 + j->m_block : ng;
    const int c0 = t % n_cb * j->cols, c1 = c0 + j->cols < spatial ? c0 + j->cols : spatial;
    const float *col = j->direct ? j->in + j->b * cnn_shape_size(l->in) + (size_t)j->gi * cg * spatial
                                 : j->ws;
    float *yg = l->output + j->b * cnn_shape_size(l->out) + (size_t)j->gi * ng * spatial;
    cnn_gemm(0, 0, f1 - f0, c1 - c0, kk, 1.0f, p->w + ((size_t)j->gi * ng + f0) * kk, kk, col + c0,
             spatial, 0.0f, yg + (size_t)f0 * spatial + c0, spatial);
    conv_epilogue(j, yg, j->gi, f0, f1, c0, c1 - c0);
}

static void conv_direct_task(void *ctx, int t, int worker)
{
    const conv_job *j = ctx;
    const cnn_layer *l = j->l;
    const int band = t % j->n_bands, b = t / j->n_bands, oh = l->out.h;
    const int oy0 = band * j->rows, oy1 = oy0 + j->rows < oh ? oy0 + j->rows : oh;
    if (oy0 < oy1)
        direct_rows(l, j->p, j->in + b * cnn_shape_size(l->in), l->output + b * cnn_shape_size(l->out),
                    oy0, oy1, worker_scratch(j, worker));
}

static void conv_pointwise_task(void *ctx, int t, int worker)
{
    const conv_job *j = ctx;
    const cnn_layer *l = j->l;
    const int spatial = l->out.h * l->out.w, m = j->p->filters, per_image = j->n_bands * j->n_franges;
    const int b = t / per_image, band = t % per_image / j->n_franges, fr = t % j->n_franges;
    const int p0 = band * j->cols, p1 = p0 + j->cols < spatial ? p0 + j->cols : spatial;
    const int f0 = fr * j->m_block, f1 = f0 + j->m_block < m ? f0 + j->m_block : m;
    if (p0 < p1 && f0 < f1)
        pointwise_cols(l, j->p, j->in + b * cnn_shape_size(l->in), l->output + b * cnn_shape_size(l->out),
                       p0, p1, f0, f1, worker_scratch(j, worker));
}

static void depthwise_task(void *ctx, int t, int worker)
{
    const conv_job *j = ctx;
    const cnn_layer *l = j->l;
    const int c = l->in.c, b = t / j->n_bands, c0 = t % j->n_bands * j->c_block;
    const int c1 = c0 + j->c_block < c ? c0 + j->c_block : c;
    depthwise_channels(l, j->p, j->in + b * cnn_shape_size(l->in), c0, c1,
                       l->output + b * cnn_shape_size(l->out), worker_scratch(j, worker));
}

static int ceil_div(long a, long b) { return (int)((a + b - 1) / b); }

static void conv_forward(cnn_layer *l, const float *in, cnn_net *net)
{
    conv_p *p = l->p;
    const int c = l->in.c, n = p->filters, g = p->groups, k = p->size;
    const int oh = l->out.h, ow = l->out.w, spatial = oh * ow;
    const int cg = c / g, ng = n / g, kk = cg * k * k, batch = net->batch;
    const int threads = cnn_pool_threads(net->pool);
    conv_job j = {.l = l, .p = p, .in = in, .ws = net->workspace, .ws_slice = l->n_workspace};
    const double macs = (double)batch * n * kk * spatial;
    const int parallel = threads > 1 && macs >= CONV_THREAD_MIN_MACS;
    const int per_image = parallel ? ceil_div(CONV_TASKS_PER_THREAD * threads, batch) : 1;
    switch (conv_kind_of(l, p)) {
    case CONV_DEPTHWISE: {
        /* blocks of channels whose output stays in L2; at least two blocks per thread */
        const int split = threads > 1 && macs >= DEPTHWISE_THREAD_MIN_MACS;
        j.c_block = ceil_div(DEPTHWISE_TASK_FLOATS, spatial);
        if (split && batch * ceil_div(c, j.c_block) < 2 * threads)
            j.c_block = ceil_div(c, ceil_div(2 * threads, batch));
        if (j.c_block > c) j.c_block = c;
        j.n_bands = ceil_div(c, j.c_block);
        cnn_pool_run(split ? net->pool : NULL, batch * j.n_bands, depthwise_task, &j);
        return;
    }
    case CONV_DIRECT:
        j.rows = ceil_div(oh, per_image);
        j.n_bands = ceil_div(oh, j.rows);
        cnn_pool_run(parallel ? net->pool : NULL, batch * j.n_bands, conv_direct_task, &j);
        return;
    case CONV_POINTWISE:
        if (parallel && (n > spatial || spatial < 64 * per_image)) {
            /* more filters than pixels, or a small map (20x20 and smaller): blocks of filters over
             * the whole map, so each task reads only its share of the weights */
            j.m_block = ceil_div(ceil_div(n, p->packed_fb), threads * CONV_MBLOCKS_PER_THREAD) * p->packed_fb;
            j.cols = spatial;
        } else {
            j.m_block = n;
            j.cols = ceil_div(ceil_div(spatial, per_image), 16) * 16;
        }
        j.n_bands = ceil_div(spatial, j.cols);
        j.n_franges = ceil_div(n, j.m_block);
        cnn_pool_run(parallel ? net->pool : NULL, batch * j.n_bands * j.n_franges, conv_pointwise_task, &j);
        return;
    case CONV_GEMM: break;
    }
    if (p->batch_chunk && batch > 1) {
        j.batch = batch;
        cnn_pool_run(parallel ? net->pool : NULL, ceil_div(batch, p->batch_chunk), conv_batch_task, &j);
        return;
    }
    j.direct = k == 1 && p->stride == 1 && p->pad == 0;
    const int rows1 = j.direct ? oh : band_rows(kk, oh, ow);
    const int bands1 = ceil_div(oh, rows1);
    if (!parallel) {
        j.rows = rows1, j.n_bands = bands1;
        cnn_pool_run(NULL, batch * g * bands1, conv_band_task, &j);
        return;
    }
    const int direct_bands = j.direct && spatial >= 4 * 1024;
    if (bands1 * batch * g >= threads || direct_bands) {
        /* equal bands, as many as the cache size asks for, rounded up to a multiple of the
         * thread count (1x1 on a large map: CONV_TASKS_PER_THREAD bands per thread) */
        int want = direct_bands ? CONV_TASKS_PER_THREAD * threads : bands1 * batch * g;
        want = ceil_div(want, threads) * threads;
        const int per_map = ceil_div(want, batch * g);
        j.rows = ceil_div(oh, per_map);
        j.n_bands = ceil_div(oh, j.rows);
        cnn_pool_run(net->pool, batch * g * j.n_bands, conv_band_task, &j);
        return;
    }
    /* one band: the whole column matrix (it fits: band_rows gave the whole map) is unrolled
     * once, then the GEMM is split along the dimension whose blocks re-read less: blocks of
     * filters each read all of the column matrix (K x spatial), blocks of columns all of the
     * weights (filters x K) */
    const int by_filters = ng > spatial, blocks = threads * CONV_MBLOCKS_PER_THREAD;
    j.m_block = by_filters ? ceil_div(ceil_div(ng, blocks), 16) * 16 : ng;
    j.cols = by_filters ? spatial : ceil_div(ceil_div(spatial, blocks), 16) * 16;
    j.c_block = ceil_div(cg, 2 * threads);
    for (j.b = 0; j.b < batch; j.b++) {
        for (j.gi = 0; j.gi < g; j.gi++) {
            if (!j.direct) /* unrolling a small matrix is not worth a hand-off */
                cnn_pool_run((size_t)kk * spatial >= CONV_IM2COL_SPLIT_FLOATS ? net->pool : NULL,
                             ceil_div(cg, j.c_block), conv_im2col_task, &j);
            cnn_pool_run(net->pool, ceil_div(ng, j.m_block) * ceil_div(spatial, j.cols),
                         conv_gemm_block_task, &j);
        }
    }
}

static void conv_describe(const cnn_layer *l, char *buf, size_t n)
{
    const conv_p *p = l->p;
    int len = snprintf(buf, n, "%d %dx%d/%d", p->filters, p->size, p->size, p->stride);
    if (p->groups > 1 && len > 0 && (size_t)len < n) len += snprintf(buf + len, n - len, " g%d", p->groups);
    if (p->batch_norm && len > 0 && (size_t)len < n) snprintf(buf + len, n - len, " bn");
}

static void conv_free(cnn_layer *l)
{
    free(l->p);
    l->p = NULL;
}

const cnn_layer_ops cnn_conv_ops = {
    .section = "convolutional",
    .type = "conv",
    .parse = conv_parse,
    .plan = conv_plan,
    .prepare = conv_prepare,
    .forward = conv_forward,
    .describe = conv_describe,
    .free = conv_free,
    .forward_train = cnn_conv_forward_train,
    .backward = cnn_conv_backward,
    .param_roles = cnn_conv_param_roles,
};
