/* maxpool.c — [maxpool] with darknet's geometry: padding defaults to size-1, the window starts
 * at -padding/2, out = (in + padding - size)/stride + 1, cells outside the input never win
 * (so size=2 stride=1 keeps the size, and odd inputs round up like TF "SAME"). */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>

#include "layer.h"
#include "net.h"
#include "pool.h"

typedef struct {
    int size, stride, padding;
} maxpool_p;

static cnn_status maxpool_parse(cnn_layer *l, const cnn_cfg *cfg, cnn_cfg_section *s,
                                cnn_error *err)
{
    maxpool_p *p = calloc(1, sizeof *p);
    if (!p) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    l->p = p;
    cnn_status st;
    if ((st = cnn_cfg_int(cfg, s, "stride", 1, 1, 255, &p->stride, err))) return st;
    if ((st = cnn_cfg_int(cfg, s, "size", p->stride, 1, 255, &p->size, err))) return st;
    if ((st = cnn_cfg_int(cfg, s, "padding", p->size - 1, 0, 255, &p->padding, err))) return st;
    return CNN_OK;
}

static cnn_status maxpool_plan(cnn_layer *l, const cnn_net *net, cnn_error *err)
{
    (void)net;
    const maxpool_p *p = l->p;
    l->out.c = l->in.c;
    l->out.h = (l->in.h + p->padding - p->size) / p->stride + 1;
    l->out.w = (l->in.w + p->padding - p->size) / p->stride + 1;
    if (l->in.h + p->padding < p->size || l->in.w + p->padding < p->size)
        return cnn_fail(err, CNN_ERR_MODEL, "%dx%d pool does not fit a %dx%d input", p->size,
                        p->size, l->in.h, l->in.w);
    l->flops = 0;
    return CNN_OK;
}

/* The common 2x2 stride-2 window starting at 0 (darknet's default padding 1): no bounds tests
 * inside a row; an odd last row/column sees only the cells that exist. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void maxpool_2x2s2(const float *src, int h, int w, float *dst, int oh, int ow)
{
    for (int oy = 0; oy < oh; oy++) {
        const float *r0 = src + (size_t)(2 * oy) * w;
        const float *r1 = 2 * oy + 1 < h ? r0 + w : r0;
        float *d = dst + (size_t)oy * ow;
        const int full = w / 2;
        for (int ox = 0; ox < full; ox++) {
            const float a = r0[2 * ox] > r0[2 * ox + 1] ? r0[2 * ox] : r0[2 * ox + 1];
            const float b = r1[2 * ox] > r1[2 * ox + 1] ? r1[2 * ox] : r1[2 * ox + 1];
            d[ox] = a > b ? a : b;
        }
        if (full < ow) d[full] = r0[w - 1] > r1[w - 1] ? r0[w - 1] : r1[w - 1];
    }
}

/* 2x2 stride 1 starting at 0 (yolov3-tiny's size-keeping pool): the last row and column see
 * only the cells that exist. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void maxpool_2x2s1(const float *src, int h, int w, float *dst, int oh, int ow)
{
    for (int oy = 0; oy < oh; oy++) {
        const float *r0 = src + (size_t)oy * w;
        const float *r1 = oy + 1 < h ? r0 + w : r0;
        float *d = dst + (size_t)oy * ow;
        for (int ox = 0; ox < w - 1; ox++) {
            const float a = r0[ox] > r0[ox + 1] ? r0[ox] : r0[ox + 1];
            const float b = r1[ox] > r1[ox + 1] ? r1[ox] : r1[ox + 1];
            d[ox] = a > b ? a : b;
        }
        if (ow == w) d[w - 1] = r0[w - 1] > r1[w - 1] ? r0[w - 1] : r1[w - 1];
    }
}

static void maxpool_plane(const maxpool_p *p, const float *src, int h, int w, float *dst, int oh,
                          int ow)
{
    if (p->size == 2 && p->padding / 2 == 0 && (p->stride == 2 || p->stride == 1)) {
        if (p->stride == 2) maxpool_2x2s2(src, h, w, dst, oh, ow);
        else maxpool_2x2s1(src, h, w, dst, oh, ow);
        return;
    }
    const int off = -p->padding / 2;
    for (int oy = 0; oy < oh; oy++) {
        for (int ox = 0; ox < ow; ox++) {
            float best = -FLT_MAX;
            for (int ky = 0; ky < p->size; ky++) {
                const int iy = off + oy * p->stride + ky;
                if (iy < 0 || iy >= h) continue;
                for (int kx = 0; kx < p->size; kx++) {
                    const int ix = off + ox * p->stride + kx;
                    if (ix < 0 || ix >= w) continue;
                    const float v = src[iy * w + ix];
                    if (v > best) best = v;
                }
            }
            dst[oy * ow + ox] = best;
        }
    }
}

/* Threads (pool.c): blocks of planes (channels of all images), when the layer is big enough for
 * the hand-off to pay. */
#define MAXPOOL_THREAD_MIN_FLOATS (64 * 1024)

typedef struct {
    const cnn_layer *l;
    const float *in;
    int block, planes;
} maxpool_job;

static void maxpool_task(void *ctx, int t, int worker)
{
    (void)worker;
    const maxpool_job *j = ctx;
    const cnn_layer *l = j->l;
    const int h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w;
    const int p1 = (t + 1) * j->block < j->planes ? (t + 1) * j->block : j->planes;
    for (int pl = t * j->block; pl < p1; pl++)
        maxpool_plane(l->p, j->in + (size_t)pl * h * w, h, w, l->output + (size_t)pl * oh * ow, oh, ow);
}

static void maxpool_forward(cnn_layer *l, const float *in, cnn_net *net)
{
    const int threads = cnn_pool_threads(net->pool);
    maxpool_job j = {.l = l, .in = in, .planes = net->batch * l->in.c};
    const int parallel = threads > 1 && (size_t)j.planes * l->in.h * l->in.w >= MAXPOOL_THREAD_MIN_FLOATS;
    j.block = parallel ? (j.planes + 4 * threads - 1) / (4 * threads) : j.planes;
    cnn_pool_run(parallel ? net->pool : NULL, (j.planes + j.block - 1) / j.block, maxpool_task, &j);
}

static void maxpool_describe(const cnn_layer *l, char *buf, size_t n)
{
    const maxpool_p *p = l->p;
    snprintf(buf, n, "%dx%d/%d", p->size, p->size, p->stride);
}

static void maxpool_free(cnn_layer *l) { free(l->p); }

/* Backward: the gradient goes to the cell that won the forward max (found again from the
 * input; the first maximum in window order, as forward keeps the first). */
static void maxpool_backward(cnn_layer *l, const float *in, float *in_delta, cnn_net *net)
{
    if (!in_delta) return;
    const maxpool_p *p = l->p;
    const int h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w, off = -p->padding / 2;
    const int planes = net->batch * l->in.c;
    for (int pl = 0; pl < planes; pl++) {
        const float *src = in + (size_t)pl * h * w;
        float *dsrc = in_delta + (size_t)pl * h * w;
        const float *d = l->delta + (size_t)pl * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                float best = -FLT_MAX;
                int arg = -1;
                for (int ky = 0; ky < p->size; ky++) {
                    const int iy = off + oy * p->stride + ky;
                    if (iy < 0 || iy >= h) continue;
                    for (int kx = 0; kx < p->size; kx++) {
                        const int ix = off + ox * p->stride + kx;
                        if (ix < 0 || ix >= w) continue;
                        if (arg < 0 || src[iy * w + ix] > best) best = src[iy * w + ix], arg = iy * w + ix;
                    }
                }
                if (arg >= 0) dsrc[arg] += d[oy * ow + ox];
            }
        }
    }
}

const cnn_layer_ops cnn_maxpool_ops = {
    .section = "maxpool",
    .type = "max",
    .parse = maxpool_parse,
    .plan = maxpool_plan,
    .forward = maxpool_forward,
    .describe = maxpool_describe,
    .free = maxpool_free,
    .backward = maxpool_backward,
};
