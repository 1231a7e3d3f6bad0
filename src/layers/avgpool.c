/* avgpool.c — [avgpool]: global average over each channel, (c, h, w) -> (c, 1, 1). */
#include "layer.h"
#include "net.h"

static cnn_status avgpool_parse(cnn_layer *l, const cnn_cfg *cfg, cnn_cfg_section *s,
                                cnn_error *err)
{
    (void)l, (void)cfg, (void)s, (void)err;
    return CNN_OK;
}

static cnn_status avgpool_plan(cnn_layer *l, const cnn_net *net, cnn_error *err)
{
    (void)net, (void)err;
    l->out = (cnn_shape){l->in.c, 1, 1};
    l->flops = (double)cnn_shape_size(l->in);
    return CNN_OK;
}

static void avgpool_forward(cnn_layer *l, const float *in, cnn_net *net)
{
    const int spatial = l->in.h * l->in.w, planes = net->batch * l->in.c;
    for (int pl = 0; pl < planes; pl++) {
        const float *src = in + (size_t)pl * spatial;
        float sum = 0;
        for (int i = 0; i < spatial; i++) sum += src[i];
        l->output[pl] = sum / spatial;
    }
}

static void avgpool_backward(cnn_layer *l, const float *in, float *in_delta, cnn_net *net)
{
    (void)in;
    if (!in_delta) return;
    const int spatial = l->in.h * l->in.w, planes = net->batch * l->in.c;
    for (int pl = 0; pl < planes; pl++) {
        const float d = l->delta[pl] / spatial;
        float *dst = in_delta + (size_t)pl * spatial;
        for (int i = 0; i < spatial; i++) dst[i] += d;
    }
}

const cnn_layer_ops cnn_avgpool_ops = {
    .section = "avgpool",
    .type = "avg",
    .parse = avgpool_parse,
    .plan = avgpool_plan,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
};
