/* connected.c — [connected]: y = act(W x + b) on the flattened input, one GEMM for the batch.
 * Parameters in file order (darknet): biases[out], weights[out][in], [scales, mean, variance]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gemm.h"
#include "layer.h"
#include "net.h"

typedef struct {
    int outputs, batch_norm;
    const float *w, *b;
} connected_p;

static cnn_status connected_parse(cnn_layer *l, const cnn_cfg *cfg, cnn_cfg_section *s,
                                  cnn_error *err)
{
    connected_p *p = calloc(1, sizeof *p);
    if (!p) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    l->p = p;
    cnn_status st;
    if ((st = cnn_cfg_int(cfg, s, "output", 1, 1, 1 << 24, &p->outputs, err))) return st;
    if ((st = cnn_cfg_int(cfg, s, "batch_normalize", 0, 0, 1, &p->batch_norm, err))) return st;
    const char *act = cnn_cfg_str(s, "activation", "logistic");
    if (cnn_activation_parse(act, &l->act) != 0)
        return cnn_cfg_fail_err(err, cfg, s, cnn_cfg_find(s, "activation"), "unknown activation");
    return CNN_OK;
}

static cnn_status connected_plan(cnn_layer *l, const cnn_net *net, cnn_error *err)
{
    (void)net, (void)err;
    connected_p *p = l->p;
    const size_t in = cnn_shape_size(l->in), nw = in * p->outputs;
    l->out = (cnn_shape){p->outputs, 1, 1};
    l->n_params = p->outputs + nw + (p->batch_norm ? 3u * p->outputs : 0u);
    l->n_fused = p->batch_norm ? p->outputs + nw : 0;
    l->flops = 2.0 * nw;
    return CNN_OK;
}

static void connected_prepare(cnn_layer *l)
{
    connected_p *p = l->p;
    const int n = p->outputs;
    const size_t in = cnn_shape_size(l->in);
    const float *bias = l->params, *w = l->params + n;
    if (!p->batch_norm) {
        p->b = bias;
        p->w = w;
        return;
    }
    const float *scale = w + (size_t)n * in, *mean = scale + n, *var = mean + n;
    float *fb = l->fused, *fw = l->fused + n;
    for (int o = 0; o < n; o++) {
        const float a = scale[o] / sqrtf(var[o] + 0.000001f);
        fb[o] = bias[o] - mean[o] * a;
        for (size_t i = 0; i < in; i++) fw[o * in + i] = w[o * in + i] * a;
    }
    p->b = fb;
    p->w = fw;
}

static void connected_forward(cnn_layer *l, const float *in, cnn_net *net)
{
    const connected_p *p = l->p;
    const int nin = (int)cnn_shape_size(l->in), n = p->outputs;
    /* out (batch, n) = in (batch, nin) . W^T, W is (n, nin) */
    cnn_gemm(0, 1, net->batch, n, nin, 1.0f, in, nin, p->w, nin, 0.0f, l->output, n);
    for (int b = 0; b < net->batch; b++) cnn_bias_activate(l->output + (size_t)b * n, p->b, n, 1, l->act);
}

static void connected_describe(const cnn_layer *l, char *buf, size_t n)
{
    const connected_p *p = l->p;
    snprintf(buf, n, "%d%s", p->outputs, p->batch_norm ? " bn" : "");
}

static void connected_free(cnn_layer *l) { free(l->p); }

const cnn_layer_ops cnn_connected_ops = {
    .section = "connected",
    .type = "fc",
    .parse = connected_parse,
    .plan = connected_plan,
    .prepare = connected_prepare,
    .forward = connected_forward,
    .describe = connected_describe,
    .free = connected_free,
};
