/* connected.c — [connected]: y = act(W x + b) on the flattened input, one GEMM for the batch.
 * Parameters in file order (darknet): biases[out], weights[out][in], [scales, mean, variance]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
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
    l->batch_norm = p->batch_norm;
    const char *act = cnn_cfg_str(s, "activation", "logistic");
    if (cnn_activation_parse(act, &l->act) != 0)
        return cnn_cfg_fail_err(err, cfg, s, cnn_cfg_find(s, "activation"), "unknown activation");
    if (l->act == CNN_ACT_PRELU)
        return cnn_cfg_fail_err(err, cfg, s, cnn_cfg_find(s, "activation"),
                                "prelu (learned slopes) is supported in [convolutional] only");
    return CNN_OK;
}

static cnn_status connected_plan(cnn_layer *l, const cnn_net *net, cnn_error *err)
{
    (void)err;
    connected_p *p = l->p;
    const size_t in = cnn_shape_size(l->in), nw = in * p->outputs;
    l->out = (cnn_shape){p->outputs, 1, 1};
    l->n_params = p->outputs + nw + (p->batch_norm ? 3u * p->outputs : 0u);
    l->n_fused = p->batch_norm ? p->outputs + nw : 0;
    l->flops = 2.0 * nw;
    /* training: per item z and xhat, plus inv_std (n); scratch for two n x batch transposes */
    l->n_saved = 3u * p->outputs;
    l->n_train_ws = 2u * p->outputs * net->batch;
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

/* ---- training ----
 * saved (batch block) = [z batch x n][xhat n x batch][inv_std n]: z is the pre-activation,
 * batch-norm works on the transposed (n x batch) values so each output's batch is a row. */
static void transpose(const float *src, int rows, int cols, float *dst)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
}

static void connected_forward_train(cnn_layer *l, const float *in, cnn_net *net)
{
    const connected_p *p = l->p;
    const int nin = (int)cnn_shape_size(l->in), n = p->outputs, batch = net->batch;
    const float *bias = l->params, *w = bias + n;
    float *z = l->saved, *xhat = z + (size_t)batch * n, *inv_std = xhat + (size_t)batch * n;
    cnn_gemm(0, 1, batch, n, nin, 1.0f, in, nin, w, nin, 0.0f, z, n);
    if (p->batch_norm) {
        float *scale = (float *)w + (size_t)n * nin, *mean = scale + n, *var = mean + n;
        float *t = net->train_ws, *y = t + (size_t)n * batch;
        transpose(z, batch, n, t);
        if (net->frozen)
            cnn_bn_forward_frozen(t, n, batch, scale, bias, mean, var, xhat, inv_std, y);
        else
            cnn_bn_forward_train(t, n, batch, scale, bias, mean, var, xhat, inv_std, y,
                                 cnn_bn_momentum(net));
        transpose(y, n, batch, z);
    } else {
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < n; o++) z[(size_t)b * n + o] += bias[o];
    }
    for (size_t i = 0; i < (size_t)batch * n; i++) l->output[i] = cnn_activate(z[i], l->act);
}

static void connected_backward(cnn_layer *l, const float *in, float *in_delta, cnn_net *net)
{
    const connected_p *p = l->p;
    const int nin = (int)cnn_shape_size(l->in), n = p->outputs, batch = net->batch;
    const float *w = l->params + n;
    const float *z = l->saved, *xhat = z + (size_t)batch * n, *inv_std = xhat + (size_t)batch * n;
    float *dz = net->train_ws, *t = dz + (size_t)n * batch;
    memcpy(dz, l->delta, sizeof(float) * batch * n);
    cnn_activation_backward(z, dz, (size_t)batch * n, l->act);
    float *dbias = l->grad, *dw = dbias + n;
    if (p->batch_norm) {
        transpose(dz, batch, n, t);
        if (net->frozen)
            cnn_bn_backward_frozen(t, n, batch, w + (size_t)n * nin, xhat, inv_std, dbias,
                                   dw + (size_t)n * nin);
        else
            cnn_bn_backward(t, n, batch, w + (size_t)n * nin, xhat, inv_std, dbias,
                            dw + (size_t)n * nin);
        transpose(t, n, batch, dz);
    } else {
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < n; o++) dbias[o] += dz[(size_t)b * n + o];
    }
    /* dW (n x nin) += dz^T (n x batch) . in (batch x nin); dIn += dz . W */
    cnn_gemm(1, 0, n, nin, batch, 1.0f, dz, n, in, nin, 1.0f, dw, nin);
    if (in_delta) cnn_gemm(0, 0, batch, nin, n, 1.0f, dz, n, w, nin, 1.0f, in_delta, nin);
}

static void connected_param_roles(const cnn_layer *l, unsigned char *roles)
{
    const connected_p *p = l->p;
    const size_t n = p->outputs, nw = n * cnn_shape_size(l->in);
    size_t i = 0;
    for (size_t k = 0; k < n; k++) roles[i++] = CNN_PARAM_BIAS;
    for (size_t k = 0; k < nw; k++) roles[i++] = CNN_PARAM_WEIGHT;
    if (p->batch_norm) {
        for (size_t k = 0; k < n; k++) roles[i++] = CNN_PARAM_BIAS;
        for (size_t k = 0; k < 2 * n; k++) roles[i++] = CNN_PARAM_FIXED;
    }
}

const cnn_layer_ops cnn_connected_ops = {
    .section = "connected",
    .type = "fc",
    .parse = connected_parse,
    .plan = connected_plan,
    .prepare = connected_prepare,
    .forward = connected_forward,
    .describe = connected_describe,
    .free = connected_free,
    .forward_train = connected_forward_train,
    .backward = connected_backward,
    .param_roles = connected_param_roles,
};
