/* upsample.c — [upsample]: nearest-neighbour enlargement by an integer stride. */
#include <stdio.h>
#include <stdlib.h>

#include "layer.h"
#include "net.h"

typedef struct {
    int stride;
} upsample_p;

static cnn_status upsample_parse(cnn_layer *l, const cnn_cfg *cfg, cnn_cfg_section *s,
                                 cnn_error *err)
{
    upsample_p *p = calloc(1, sizeof *p);
    if (!p) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    l->p = p;
    float scale;
    cnn_status st;
    if ((st = cnn_cfg_int(cfg, s, "stride", 2, 1, 64, &p->stride, err))) return st;
    return cnn_cfg_float(cfg, s, "scale", 1, 1, 1, &scale, err);
}

static cnn_status upsample_plan(cnn_layer *l, const cnn_net *net, cnn_error *err)
{
    (void)net, (void)err;
    const upsample_p *p = l->p;
    l->out = (cnn_shape){l->in.c, l->in.h * p->stride, l->in.w * p->stride};
    return CNN_OK;
}

static void upsample_forward(cnn_layer *l, const float *in, cnn_net *net)
{
    const int s = ((const upsample_p *)l->p)->stride;
    const int h = l->in.h, w = l->in.w, ow = l->out.w;
    const int planes = net->batch * l->in.c;
    for (int pl = 0; pl < planes; pl++) {
        const float *src = in + (size_t)pl * h * w;
        float *dst = l->output + (size_t)pl * l->out.h * ow;
        for (int oy = 0; oy < l->out.h; oy++) {
            const float *row = src + (oy / s) * w;
            float *drow = dst + (size_t)oy * ow;
            for (int ox = 0; ox < ow; ox++) drow[ox] = row[ox / s];
        }
    }
}

static void upsample_describe(const cnn_layer *l, char *buf, size_t n)
{
    snprintf(buf, n, "x%d", ((const upsample_p *)l->p)->stride);
}

static void upsample_free(cnn_layer *l) { free(l->p); }

static void upsample_backward(cnn_layer *l, const float *in, float *in_delta, cnn_net *net)
{
    (void)in;
    if (!in_delta) return;
    const int s = ((const upsample_p *)l->p)->stride;
    const int h = l->in.h, w = l->in.w, ow = l->out.w;
    const int planes = net->batch * l->in.c;
    for (int pl = 0; pl < planes; pl++) {
        float *dsrc = in_delta + (size_t)pl * h * w;
        const float *d = l->delta + (size_t)pl * l->out.h * ow;
        for (int oy = 0; oy < l->out.h; oy++)
            for (int ox = 0; ox < ow; ox++) dsrc[(oy / s) * w + ox / s] += d[(size_t)oy * ow + ox];
    }
}

const cnn_layer_ops cnn_upsample_ops = {
    .section = "upsample",
    .type = "upsample",
    .parse = upsample_parse,
    .plan = upsample_plan,
    .forward = upsample_forward,
    .describe = upsample_describe,
    .free = upsample_free,
    .backward = upsample_backward,
};
