/* maxpool.c — [maxpool] with darknet's geometry: padding defaults to size-1, the window starts
 * at -padding/2, out = (in + padding - size)/stride + 1, cells outside the input never win
 * (so size=2 stride=1 keeps the size, and odd inputs round up like TF "SAME"). */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>

#include "layer.h"
#include "net.h"

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

static void maxpool_forward(cnn_layer *l, const float *in, cnn_net *net)
{
    const maxpool_p *p = l->p;
    const int h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w, off = -p->padding / 2;
    const int planes = net->batch * l->in.c;
    for (int pl = 0; pl < planes; pl++) {
        const float *src = in + (size_t)pl * h * w;
        float *dst = l->output + (size_t)pl * oh * ow;
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
}

static void maxpool_describe(const cnn_layer *l, char *buf, size_t n)
{
    const maxpool_p *p = l->p;
    snprintf(buf, n, "%dx%d/%d", p->size, p->size, p->stride);
}

static void maxpool_free(cnn_layer *l) { free(l->p); }

const cnn_layer_ops cnn_maxpool_ops = {
    .section = "maxpool",
    .type = "max",
    .parse = maxpool_parse,
    .plan = maxpool_plan,
    .forward = maxpool_forward,
    .describe = maxpool_describe,
    .free = maxpool_free,
};
