/* shortcut.c — [shortcut]: out = act(previous + layer[from]), shapes equal (residual add). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"
#include "net.h"

typedef struct {
    int from;
} shortcut_p;

static cnn_status shortcut_parse(cnn_layer *l, const cnn_cfg *cfg, cnn_cfg_section *s,
                                 cnn_error *err)
{
    shortcut_p *p = calloc(1, sizeof *p);
    if (!p) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    l->p = p;
    cnn_status st;
    int ref;
    if ((st = cnn_cfg_int(cfg, s, "from", 0, -100000, 100000, &ref, err))) return st;
    if (!cnn_cfg_find(s, "from")) return cnn_cfg_fail_err(err, cfg, s, NULL, "from= is required");
    p->from = cnn_layer_ref(ref, l->index);
    if (p->from < 0)
        return cnn_cfg_fail_err(err, cfg, s, cnn_cfg_find(s, "from"),
                                "does not name an earlier layer (this is layer %d)", l->index);
    const char *act = cnn_cfg_str(s, "activation", "linear");
    if (cnn_activation_parse(act, &l->act) != 0)
        return cnn_cfg_fail_err(err, cfg, s, cnn_cfg_find(s, "activation"), "unknown activation");
    if (l->act == CNN_ACT_PRELU)
        return cnn_cfg_fail_err(err, cfg, s, cnn_cfg_find(s, "activation"),
                                "prelu (learned slopes) is supported in [convolutional] only");
    float alpha, beta;
    if ((st = cnn_cfg_float(cfg, s, "alpha", 1, 1, 1, &alpha, err))) return st;
    if ((st = cnn_cfg_float(cfg, s, "beta", 1, 1, 1, &beta, err))) return st;
    const char *wt = cnn_cfg_str(s, "weights_type", "none");
    if (wt[0] && strcmp(wt, "none") != 0)
        return cnn_cfg_fail_err(err, cfg, s, cnn_cfg_find(s, "weights_type"),
                                "weighted shortcuts are not supported");
    return CNN_OK;
}

static cnn_status shortcut_plan(cnn_layer *l, const cnn_net *net, cnn_error *err)
{
    const shortcut_p *p = l->p;
    const cnn_layer *src = &net->layers[p->from];
    if (src->out.c != l->in.c || src->out.h != l->in.h || src->out.w != l->in.w)
        return cnn_fail(err, CNN_ERR_MODEL, "layer %d is %dx%dx%d but the input is %dx%dx%d",
                        p->from, src->out.c, src->out.h, src->out.w, l->in.c, l->in.h, l->in.w);
    l->out = l->in;
    l->flops = (double)cnn_shape_size(l->in);
    l->n_saved = cnn_shape_size(l->in); /* the sum before the activation */
    return CNN_OK;
}

static void shortcut_forward(cnn_layer *l, const float *in, cnn_net *net)
{
    const shortcut_p *p = l->p;
    const float *other = net->layers[p->from].output;
    const size_t n = (size_t)net->batch * cnn_shape_size(l->out);
    for (size_t i = 0; i < n; i++) l->output[i] = in[i] + other[i];
    cnn_activate_array(l->output, n, l->act);
}

static void shortcut_describe(const cnn_layer *l, char *buf, size_t n)
{
    snprintf(buf, n, "from %d", ((const shortcut_p *)l->p)->from);
}

static void shortcut_free(cnn_layer *l) { free(l->p); }

static void shortcut_forward_train(cnn_layer *l, const float *in, cnn_net *net)
{
    const shortcut_p *p = l->p;
    const float *other = net->layers[p->from].output;
    const size_t n = (size_t)net->batch * cnn_shape_size(l->out);
    for (size_t i = 0; i < n; i++) {
        l->saved[i] = in[i] + other[i];
        l->output[i] = cnn_activate(l->saved[i], l->act);
    }
}

static void shortcut_backward(cnn_layer *l, const float *in, float *in_delta, cnn_net *net)
{
    (void)in;
    const shortcut_p *p = l->p;
    const size_t n = (size_t)net->batch * cnn_shape_size(l->out);
    float *other = net->layers[p->from].delta;
    for (size_t i = 0; i < n; i++) {
        const float d = l->delta[i] * cnn_activation_grad(l->saved[i], l->act);
        if (in_delta) in_delta[i] += d;
        other[i] += d;
    }
}

const cnn_layer_ops cnn_shortcut_ops = {
    .section = "shortcut",
    .type = "shortcut",
    .parse = shortcut_parse,
    .plan = shortcut_plan,
    .forward = shortcut_forward,
    .describe = shortcut_describe,
    .free = shortcut_free,
    .forward_train = shortcut_forward_train,
    .backward = shortcut_backward,
};
