/* conv.c — [convolutional]: im2col + one GEMM per group, a direct loop for depthwise, batch-norm
 * folded into weights and bias at prepare, bias + activation fused into one pass.
 * Parameters in file order: biases[n], [scales[n], mean[n], variance[n]], weights[n][c/g][k][k],
 * [slopes[n] for activation=prelu (our extension; appended so the darknet part is unchanged)]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "im2col.h"
#include "layer.h"
#include "net.h"

#include "conv.h"

/* im2col + GEMM run over bands of output rows whose column block (K x rows*ow floats) fits in
 * about 512 KiB, so the unrolled input is consumed from cache instead of memory (on yolov3-tiny's
 * early layers the whole column matrix would be 10-25 MB), and bias + activation are applied to
 * each band while it is hot... */
#define CONV_BAND_FLOATS (128 * 1024)
/* ...but never fewer columns than this: a GEMM with a narrow N runs far below peak (layers with a
 * deep K and a small map, e.g. 13x13 with K = 4608, keep their whole column matrix). */
#define CONV_BAND_MIN_COLS 1024

static int band_rows(int kk, int oh, int ow)
{
    long rows = CONV_BAND_FLOATS / ((long)kk * ow);
    long min_rows = (CONV_BAND_MIN_COLS + ow - 1) / ow;
    if (rows < min_rows) rows = min_rows;
    return rows > oh ? oh : (int)rows;
}

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
    l->n_fused = p->batch_norm ? n + nw : 0;
    const int depthwise = g == c && g == n;
    const int direct_1x1 = k == 1 && p->stride == 1 && p->pad == 0;
    l->n_workspace = (depthwise || direct_1x1)
                         ? 0
                         : (size_t)(c / g) * k * k * band_rows(c / g * k * k, l->out.h, l->out.w) * l->out.w;
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
    const float *bias = l->params;
    p->slope = l->act == CNN_ACT_PRELU ? l->params + cnn_conv_slope_offset(l) : NULL;
    if (!p->batch_norm) {
        p->b = bias;
        p->w = l->params + n;
        return;
    }
    const float *scale = bias + n, *mean = scale + n, *var = mean + n, *w = var + n;
    float *fb = l->fused, *fw = l->fused + n;
    for (int f = 0; f < n; f++) {
        const float a = scale[f] / sqrtf(var[f] + BN_EPS);
        fb[f] = bias[f] - mean[f] * a;
        for (size_t i = 0; i < per; i++) fw[f * per + i] = w[f * per + i] * a;
    }
    p->b = fb;
    p->w = fw;
}

/* Depthwise (groups == channels == filters): one k x k correlation per channel.
 * in is (c, h, w), out is (c, oh, ow), w is (c, k, k). */
/* Stride 1: each output row accumulates k*k shifted input rows, an axpy over the row that the
 * compiler vectorises (one clone per instruction set); the row's valid x-range is computed once
 * per tap instead of testing every pixel. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void depthwise_s1(const float *in, int c, int h, int w, const float *wt, int k, int pad,
                         float *out, int oh, int ow)
{
    for (int ch = 0; ch < c; ch++) {
        const float *src = in + (size_t)ch * h * w;
        const float *kern = wt + (size_t)ch * k * k;
        for (int oy = 0; oy < oh; oy++) {
            float *restrict dst = out + ((size_t)ch * oh + oy) * ow;
            for (int x = 0; x < ow; x++) dst[x] = 0;
            for (int ky = 0; ky < k; ky++) {
                const int iy = oy - pad + ky;
                if (iy < 0 || iy >= h) continue;
                const float *row = src + (size_t)iy * w;
                for (int kx = 0; kx < k; kx++) {
                    const float wv = kern[ky * k + kx];
                    const int x0 = pad - kx > 0 ? pad - kx : 0;
                    const int x1 = w + pad - kx < ow ? w + pad - kx : ow;
                    const float *restrict s = row + kx - pad;
                    for (int x = x0; x < x1; x++) dst[x] += wv * s[x];
                }
            }
        }
    }
}

static void depthwise_forward(const conv_p *p, const float *in, int c, int h, int w, float *out,
                              int oh, int ow)
{
    const int k = p->size, s = p->stride, pad = p->pad;
    if (s == 1) {
        depthwise_s1(in, c, h, w, p->w, k, pad, out, oh, ow);
        return;
    }
    for (int ch = 0; ch < c; ch++) {
        const float *src = in + (size_t)ch * h * w;
        const float *kern = p->w + (size_t)ch * k * k;
        float *dst = out + (size_t)ch * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                float sum = 0;
                for (int ky = 0; ky < k; ky++) {
                    const int iy = oy * s - pad + ky;
                    if (iy < 0 || iy >= h) continue;
                    for (int kx = 0; kx < k; kx++) {
                        const int ix = ox * s - pad + kx;
                        if (ix < 0 || ix >= w) continue;
                        sum += src[iy * w + ix] * kern[ky * k + kx];
                    }
                }
                dst[oy * ow + ox] = sum;
            }
        }
    }
}

static void conv_forward(cnn_layer *l, const float *in, cnn_net *net)
{
    conv_p *p = l->p;
    const int c = l->in.c, h = l->in.h, w = l->in.w, n = p->filters, g = p->groups, k = p->size;
    const int oh = l->out.h, ow = l->out.w, spatial = oh * ow;
    const int cg = c / g, ng = n / g, kk = cg * k * k;
    const size_t in_size = cnn_shape_size(l->in), out_size = cnn_shape_size(l->out);
    for (int b = 0; b < net->batch; b++) {
        const float *x = in + b * in_size;
        float *y = l->output + b * out_size;
        if (g == c && g == n) {
            depthwise_forward(p, x, c, h, w, y, oh, ow);
        } else {
            const int direct = k == 1 && p->stride == 1 && p->pad == 0;
            const int rows = direct ? oh : band_rows(kk, oh, ow);
            for (int gi = 0; gi < g; gi++) {
                const float *xg = x + (size_t)gi * cg * h * w;
                const float *wg = p->w + (size_t)gi * ng * kk;
                float *yg = y + (size_t)gi * ng * spatial;
                for (int oy0 = 0; oy0 < oh; oy0 += rows) {
                    const int oy1 = oy0 + rows < oh ? oy0 + rows : oh, cols = (oy1 - oy0) * ow;
                    const float *col = xg; /* 1x1 stride 1: the input is the column matrix */
                    if (!direct) {
                        cnn_im2col_rows(xg, cg, h, w, k, p->stride, p->pad, oy0, oy1, net->workspace);
                        col = net->workspace;
                    }
                    cnn_gemm(0, 0, ng, cols, kk, 1.0f, wg, kk, col, cols, 0.0f, yg + (size_t)oy0 * ow,
                             spatial);
                    for (int f = 0; f < ng; f++) {
                        float *yf = yg + (size_t)f * spatial + (size_t)oy0 * ow;
                        const int o = gi * ng + f;
                        if (p->slope) cnn_bias_prelu(yf, p->b + o, p->slope + o, 1, cols);
                        else cnn_bias_activate(yf, p->b + o, 1, cols, l->act);
                    }
                }
            }
            continue;
        }
        if (p->slope) cnn_bias_prelu(y, p->b, p->slope, n, spatial);
        else cnn_bias_activate(y, p->b, n, spatial, l->act);
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
