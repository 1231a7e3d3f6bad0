/* softmax.c — [softmax]: softmax over all values of each batch item (a classifier's output),
 * computed in a numerically stable way (max subtracted). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"
#include "net.h"

static cnn_status softmax_parse(cnn_layer *l, const cnn_cfg *cfg, cnn_cfg_section *s,
                                cnn_error *err)
{
    int groups;
    float temperature;
    cnn_status st;
    if ((st = cnn_cfg_int(cfg, s, "groups", 1, 1, 1, &groups, err))) return st;
    if ((st = cnn_cfg_float(cfg, s, "temperature", 1, 1, 1, &temperature, err))) return st;
    l->role = CNN_LAYER_SOFTMAX;
    return CNN_OK;
}

static cnn_status softmax_plan(cnn_layer *l, const cnn_net *net, cnn_error *err)
{
    (void)net, (void)err;
    l->out = l->in;
    return CNN_OK;
}

void cnn_softmax(const float *x, int n, float *y)
{
    float mx = x[0];
    for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    float sum = 0;
    for (int i = 0; i < n; i++) {
        y[i] = expf(x[i] - mx);
        sum += y[i];
    }
    for (int i = 0; i < n; i++) y[i] /= sum;
}

static void softmax_forward(cnn_layer *l, const float *in, cnn_net *net)
{
    const int n = (int)cnn_shape_size(l->in);
    for (int b = 0; b < net->batch; b++) cnn_softmax(in + (size_t)b * n, n, l->output + (size_t)b * n);
}

/* Training: softmax is trained only as the last layer with the cross-entropy loss (train.c),
 * whose gradient with respect to the softmax's input is p - onehot; train.c writes that into
 * this layer's delta, and backward passes it on unchanged (darknet does the same). */
static void softmax_backward(cnn_layer *l, const float *in, float *in_delta, cnn_net *net)
{
    (void)in;
    if (!in_delta) return;
    const size_t n = (size_t)net->batch * cnn_shape_size(l->in);
    for (size_t i = 0; i < n; i++) in_delta[i] += l->delta[i];
}

const cnn_layer_ops cnn_softmax_ops = {
    .section = "softmax",
    .type = "softmax",
    .parse = softmax_parse,
    .plan = softmax_plan,
    .forward = softmax_forward,
    .backward = softmax_backward,
};
