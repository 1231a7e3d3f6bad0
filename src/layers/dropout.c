/* dropout.c — [dropout]: identity at inference (darknet scales at training time instead). */
#include <stdlib.h>
#include <string.h>

#include "layer.h"
#include "net.h"
#include "rng.h"

typedef struct {
    float prob;
    cnn_rng rng;
} dropout_p;

static cnn_status dropout_parse(cnn_layer *l, const cnn_cfg *cfg, cnn_cfg_section *s,
                                cnn_error *err)
{
    dropout_p *p = calloc(1, sizeof *p);
    if (!p) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    l->p = p;
    p->rng = cnn_rng_seed(0x5eed0000u + (unsigned)l->index);
    return cnn_cfg_float(cfg, s, "probability", 0.5f, 0.0f, 0.99f, &p->prob, err);
}

static cnn_status dropout_plan(cnn_layer *l, const cnn_net *net, cnn_error *err)
{
    (void)net, (void)err;
    l->out = l->in;
    l->n_saved = cnn_shape_size(l->in); /* the mask */
    return CNN_OK;
}

static void dropout_forward(cnn_layer *l, const float *in, cnn_net *net)
{
    memcpy(l->output, in, sizeof(float) * net->batch * cnn_shape_size(l->in));
}

/* Training: each value is kept with probability 1 - prob and scaled by 1 / (1 - prob)
 * (inverted dropout, as darknet), so inference is the identity. The mask is kept for backward. */
static void dropout_forward_train(cnn_layer *l, const float *in, cnn_net *net)
{
    dropout_p *p = l->p;
    const size_t n = (size_t)net->batch * cnn_shape_size(l->in);
    const float scale = 1.0f / (1.0f - p->prob);
    for (size_t i = 0; i < n; i++) {
        /* net->frozen (explain.c): the inference function, where dropout is the identity */
        l->saved[i] = net->frozen ? 1.0f : (cnn_rng_uniform(&p->rng) < p->prob ? 0.0f : scale);
        l->output[i] = in[i] * l->saved[i];
    }
}

static void dropout_backward(cnn_layer *l, const float *in, float *in_delta, cnn_net *net)
{
    (void)in;
    if (!in_delta) return;
    const size_t n = (size_t)net->batch * cnn_shape_size(l->in);
    for (size_t i = 0; i < n; i++) in_delta[i] += l->delta[i] * l->saved[i];
}

static void dropout_free(cnn_layer *l) { free(l->p); }

const cnn_layer_ops cnn_dropout_ops = {
    .section = "dropout",
    .type = "dropout",
    .parse = dropout_parse,
    .plan = dropout_plan,
    .forward = dropout_forward,
    .free = dropout_free,
    .forward_train = dropout_forward_train,
    .backward = dropout_backward,
};
