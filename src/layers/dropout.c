/* dropout.c — [dropout]: identity at inference (darknet scales at training time instead). */
#include <string.h>

#include "layer.h"
#include "net.h"

static cnn_status dropout_parse(cnn_layer *l, const cnn_cfg *cfg, cnn_cfg_section *s,
                                cnn_error *err)
{
    (void)l;
    float prob;
    return cnn_cfg_float(cfg, s, "probability", 0.5f, 0.0f, 1.0f, &prob, err);
}

static cnn_status dropout_plan(cnn_layer *l, const cnn_net *net, cnn_error *err)
{
    (void)net, (void)err;
    l->out = l->in;
    return CNN_OK;
}

static void dropout_forward(cnn_layer *l, const float *in, cnn_net *net)
{
    memcpy(l->output, in, sizeof(float) * net->batch * cnn_shape_size(l->in));
}

const cnn_layer_ops cnn_dropout_ops = {
    .section = "dropout",
    .type = "dropout",
    .parse = dropout_parse,
    .plan = dropout_plan,
    .forward = dropout_forward,
};
