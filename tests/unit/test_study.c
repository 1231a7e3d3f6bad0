/* test_study.c — what the activation study added to the engine: the leaky_0.01 and prelu
 * activations (values, parsing, prelu only where slopes exist), PReLU's per-channel slopes as
 * parameters (layout in the weights file, roles, initialisation, no weight decay), inference
 * forward against a direct reference, finite-difference checks of every trainable parameter's
 * gradient through prelu and leaky_0.01 layers (with and without batch-norm), the activation
 * statistics of actstats.c on hand-built layers, and the study's generated cfg. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actstats.h"
#include "conv.h"
#include "model.h"
#include "net.h"
#include "study.h"
#include "testutil.h"
#include "train.h"

/* conv prelu with batch-norm -> conv prelu stride 2 -> 1x1 conv leaky_0.01, on 5x5x3 inputs.
 * Parameters by hand: 3 + 9 + 3*3*9 + 3 = 96; 4 + 4*3*9 + 4 = 116; 2 + 2*4 = 10. */
static const char CFG_PRELU[] =
    "[net]\nwidth=5\nheight=5\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=3\nsize=3\nstride=1\npad=1\nactivation=prelu\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=prelu\n"
    "[convolutional]\nfilters=2\nsize=1\nactivation=leaky_0.01\n";
#define CFG_PRELU_PARAMS (96 + 116 + 10)
#define IN_SIZE 75 /* floats per input */

/* the same without batch-norm, so training and inference forward must agree */
static const char CFG_PRELU_NOBN[] =
    "[net]\nwidth=5\nheight=5\nchannels=3\n"
    "[convolutional]\nfilters=3\nsize=3\nstride=1\npad=1\nactivation=prelu\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=leaky_0.01\n";

/* Distinct slopes per channel, one of them negative (PReLU does not constrain the sign). */
static void set_slopes(cnn_net *net)
{
    for (int i = 0; i < net->n_layers; i++) {
        cnn_layer *l = &net->layers[i];
        if (l->act != CNN_ACT_PRELU) continue;
        float *s = l->params + cnn_conv_slope_offset(l);
        for (int c = 0; c < l->out.c; c++) s[c] = 0.35f - 0.2f * c;
    }
    cnn_net_prepare(net);
}

START_TEST(test_leaky001_and_prelu_values)
{
    cnn_activation a;
    ck_assert_int_eq(cnn_activation_parse("leaky_0.01", &a), 0);
    ck_assert_int_eq(a, CNN_ACT_LEAKY_001);
    ck_assert_int_eq(cnn_activation_parse("prelu", &a), 0);
    ck_assert_int_eq(a, CNN_ACT_PRELU);
    static const char *const bad[] = {"leaky_0.1", "leaky_0.02", "leaky0.01", "leaky_.01", "PReLU",
                                      "prelu ", "lrelu"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(cnn_activation_parse(bad[i], &a) == -1, "'%s' was accepted", bad[i]);
    ck_assert_float_eq_tol(cnn_activate(-2.0f, CNN_ACT_LEAKY_001), -0.02f, 1e-9f);
    ck_assert_float_eq(cnn_activate(3.0f, CNN_ACT_LEAKY_001), 3.0f);
    ck_assert_float_eq(cnn_activation_grad(-3.0f, CNN_ACT_LEAKY_001), 0.01f);
    /* the scalar prelu is the initial slope; layers use their own slopes */
    ck_assert_float_eq(cnn_activate(-2.0f, CNN_ACT_PRELU), -2.0f * CNN_PRELU_INIT);
    float y[6] = {-2, 1, -1, 3, 0, -4};
    const float bias[2] = {0.5f, -1}, slope[2] = {0.5f, -0.25f};
    cnn_bias_prelu(y, bias, slope, 2, 3); /* channel 0: -1.5 1.5 -0.5; channel 1: 2 -1 -5 */
    const float want[6] = {-0.75f, 1.5f, -0.25f, 2.0f, 0.25f, 1.25f};
    for (int i = 0; i < 6; i++) ck_assert_float_eq_tol(y[i], want[i], 1e-7f);
}
END_TEST

START_TEST(test_prelu_only_in_conv)
{
    cnn_error err;
    ck_assert_int_eq(tu_build_fail("[net]\nwidth=4\nheight=4\nchannels=1\n"
                                   "[connected]\noutput=3\nactivation=prelu\n", 1, &err),
                     CNN_ERR_MODEL);
    tu_assert_msg_has(err.msg, "prelu");
    tu_assert_msg_has(err.msg, "[convolutional] only");
    ck_assert_int_eq(tu_build_fail("[net]\nwidth=4\nheight=4\nchannels=1\n"
                                   "[convolutional]\nfilters=1\nsize=1\nactivation=linear\n"
                                   "[shortcut]\nfrom=-1\nactivation=prelu\n", 1, &err),
                     CNN_ERR_MODEL);
    tu_assert_msg_has(err.msg, "prelu");
    /* an unknown activation is still an error naming the line */
    ck_assert_int_eq(tu_build_fail("[net]\nwidth=4\nheight=4\nchannels=1\n"
                                   "[convolutional]\nfilters=1\nsize=1\nactivation=leaky_0.2\n", 1, &err),
                     CNN_ERR_MODEL);
    tu_assert_msg_has(err.msg, "unknown activation");
    tu_assert_msg_has(err.msg, "t.cfg:8:");
}
END_TEST

START_TEST(test_prelu_layout_roles_init)
{
    cnn_net *net = tu_build(CFG_PRELU, 1);
    ck_assert_uint_eq(net->n_params, CFG_PRELU_PARAMS);
    const cnn_layer *l0 = &net->layers[0], *l1 = &net->layers[1], *l2 = &net->layers[2];
    ck_assert_uint_eq(l0->n_params, 96);
    ck_assert_uint_eq(l1->n_params, 116);
    ck_assert_uint_eq(l2->n_params, 10);
    /* slopes come after everything darknet has: biases, bn, weights */
    ck_assert_uint_eq(cnn_conv_slope_offset(l0), 3 + 9 + 81);
    ck_assert_uint_eq(cnn_conv_slope_offset(l1), 4 + 108);
    unsigned char roles[128];
    l0->ops->param_roles(l0, roles);
    for (int i = 0; i < 6; i++) ck_assert_int_eq(roles[i], CNN_PARAM_BIAS); /* biases, scales */
    for (int i = 6; i < 12; i++) ck_assert_int_eq(roles[i], CNN_PARAM_FIXED);
    for (int i = 12; i < 93; i++) ck_assert_int_eq(roles[i], CNN_PARAM_WEIGHT);
    for (int i = 93; i < 96; i++) ck_assert_int_eq(roles[i], CNN_PARAM_SLOPE);
    l1->ops->param_roles(l1, roles);
    for (int i = 112; i < 116; i++) ck_assert_int_eq(roles[i], CNN_PARAM_SLOPE);
    ck_assert_int_eq(roles[111], CNN_PARAM_WEIGHT);
    l2->ops->param_roles(l2, roles);
    ck_assert_int_eq(roles[9], CNN_PARAM_WEIGHT);
    /* fresh training parameters: slopes at the initial value, bn scale 1, weights random */
    cnn_rng rng = cnn_rng_seed(3);
    cnn_train_init_params(net, &rng);
    for (int c = 0; c < 3; c++) {
        ck_assert_float_eq(l0->params[93 + c], CNN_PRELU_INIT);
        ck_assert_float_eq(l0->params[3 + c], 1.0f); /* bn scale */
        ck_assert_float_eq(l0->params[c], 0.0f);     /* bias */
    }
    for (int c = 0; c < 4; c++) ck_assert_float_eq(l1->params[112 + c], CNN_PRELU_INIT);
    int nonzero = 0;
    for (int i = 12; i < 93; i++) nonzero += l0->params[i] != 0;
    ck_assert_int_gt(nonzero, 75);
    /* seeded test weights give slopes in [0, 0.5) */
    cnn_net_init_random(net, &rng);
    for (int c = 0; c < 4; c++) ck_assert(l1->params[112 + c] >= 0 && l1->params[112 + c] < 0.5f);
    cnn_net_free(net);
}
END_TEST

/* Direct reference of one convolution (no groups) with folded batch-norm and the activation. */
static void ref_conv(const cnn_layer *l, const float *in, double *out, int size, int stride, int pad,
                     int bn)
{
    const int n = l->out.c, c = l->in.c, h = l->in.h, w = l->in.w, oh = l->out.h, ow = l->out.w;
    const float *bias = l->params, *scale = bias + n, *mean = scale + n, *var = mean + n;
    const float *wt = l->params + n * (bn ? 4 : 1);
    const float *slope = l->act == CNN_ACT_PRELU ? l->params + cnn_conv_slope_offset(l) : NULL;
    for (int f = 0; f < n; f++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double z = 0;
                for (int ch = 0; ch < c; ch++)
                    for (int ky = 0; ky < size; ky++)
                        for (int kx = 0; kx < size; kx++) {
                            const int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            z += (double)wt[((f * c + ch) * size + ky) * size + kx] * in[(ch * h + iy) * w + ix];
                        }
                if (bn) z = scale[f] * (z - mean[f]) / sqrt(var[f] + BN_EPS) + bias[f];
                else z += bias[f];
                double y;
                if (slope) y = z > 0 ? z : slope[f] * z;
                else y = cnn_activate((float)z, l->act);
                out[(f * oh + oy) * ow + ox] = y;
            }
}

START_TEST(test_prelu_inference_vs_reference)
{
    cnn_net *net = tu_build(CFG_PRELU, 2);
    cnn_rng rng = cnn_rng_seed(11);
    cnn_net_init_random(net, &rng);
    set_slopes(net);
    tu_fill(net->input, 2 * IN_SIZE, &rng, -1, 1);
    cnn_net_forward(net, NULL);
    const int geo[3][3] = {{3, 1, 1}, {3, 2, 1}, {1, 1, 0}}; /* size, stride, pad */
    for (int b = 0; b < 2; b++) {
        const float *in = net->input + b * IN_SIZE;
        for (int i = 0; i < 3; i++) {
            const cnn_layer *l = &net->layers[i];
            const size_t n = cnn_shape_size(l->out);
            double want[128];
            ref_conv(l, in, want, geo[i][0], geo[i][1], geo[i][2], i == 0);
            char what[64];
            snprintf(what, sizeof what, "layer %d item %d", i, b);
            tu_assert_close(l->output + b * n, want, n, 1e-5, 1e-6, what);
            in = l->output + b * n;
        }
    }
    cnn_net_free(net);
}
END_TEST

START_TEST(test_prelu_train_forward_matches_inference)
{
    cnn_net *net = tu_build(CFG_PRELU_NOBN, 3);
    cnn_error err;
    ck_assert_int_eq(cnn_net_train_alloc(net, &err), CNN_OK);
    cnn_rng rng = cnn_rng_seed(5);
    cnn_net_init_random(net, &rng);
    set_slopes(net);
    tu_fill(net->input, 3 * IN_SIZE, &rng, -1, 1);
    cnn_net_forward(net, NULL);
    const cnn_layer *last = &net->layers[net->n_layers - 1];
    const size_t n = 3 * cnn_shape_size(last->out);
    double *want = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) want[i] = last->output[i];
    cnn_net_forward_train(net);
    tu_assert_close(last->output, want, n, 1e-5, 1e-6, "training forward vs inference forward");
    free(want);
    cnn_net_free(net);
}
END_TEST

/* sum_i c_i * output_i of the last layer after a training forward, in double */
static double objective(cnn_net *net, const float *c, size_t n)
{
    cnn_net_forward_train(net);
    const float *y = net->layers[net->n_layers - 1].output;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)c[i] * y[i];
    return s;
}

/* which outputs of kinked layers are positive: a parameter whose +-h evaluations differ here
 * crossed a kink, and its finite difference means nothing */
static void kink_pattern(const cnn_net *net, unsigned char *pat)
{
    size_t k = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const cnn_layer *l = &net->layers[i];
        const size_t n = (size_t)net->batch * cnn_shape_size(l->out);
        const int kinked = l->act == CNN_ACT_PRELU || l->act == CNN_ACT_LEAKY_001 || l->act == CNN_ACT_RELU;
        for (size_t j = 0; j < n; j++) pat[k++] = kinked ? l->output[j] > 0 : 0;
    }
}

static void grad_check(const char *cfg, uint64_t seed)
{
    const int batch = 2;
    cnn_net *net = tu_build(cfg, batch);
    cnn_error err;
    ck_assert_int_eq(cnn_net_train_alloc(net, &err), CNN_OK);
    cnn_rng rng = cnn_rng_seed(seed);
    cnn_net_init_random(net, &rng);
    set_slopes(net);
    tu_fill(net->input, (size_t)batch * cnn_shape_size(net->in), &rng, -1, 1);
    cnn_layer *last = &net->layers[net->n_layers - 1];
    const size_t n_out = (size_t)batch * cnn_shape_size(last->out);
    float *c = malloc(sizeof(float) * n_out);
    tu_fill(c, n_out, &rng, -1, 1);
    /* analytic: dL/dy of the last layer is c */
    cnn_net_forward_train(net);
    memcpy(last->delta, c, sizeof(float) * n_out);
    memset(net->grads, 0, sizeof(float) * net->n_params);
    cnn_net_backward(net);
    float *g = malloc(sizeof(float) * net->n_params);
    memcpy(g, net->grads, sizeof(float) * net->n_params);
    unsigned char *roles = malloc(net->n_params), *pa = malloc(net->n_acts), *pb = malloc(net->n_acts);
    for (int i = 0; i < net->n_layers; i++) {
        const cnn_layer *l = &net->layers[i];
        if (l->n_params) l->ops->param_roles(l, roles + (l->params - net->params));
    }
    const float h = 4e-3f;
    int checked = 0, skipped = 0, slopes = 0;
    for (size_t k = 0; k < net->n_params; k++) {
        if (roles[k] == CNN_PARAM_FIXED) continue;
        const float keep = net->params[k];
        net->params[k] = keep + h;
        const double lp = objective(net, c, n_out);
        kink_pattern(net, pa);
        net->params[k] = keep - h;
        const double lm = objective(net, c, n_out);
        kink_pattern(net, pb);
        net->params[k] = keep;
        if (memcmp(pa, pb, net->n_acts) != 0) {
            skipped++;
            continue;
        }
        const double fd = (lp - lm) / (2.0 * h);
        const double tol = 1e-2 * fmax(fabs(fd), fabs(g[k])) + 2e-3;
        ck_assert_msg(fabs(fd - g[k]) <= tol, "param %zu (role %d): backward %.6g, finite difference %.6g",
                      k, roles[k], g[k], fd);
        checked++;
        slopes += roles[k] == CNN_PARAM_SLOPE;
    }
    ck_assert_int_gt(checked, 100);
    /* a +-h step crosses a kink for a few parameters (with batch-norm, one weight moves every
     * value of its channel); those are skipped, and must stay few */
    ck_assert_int_le(skipped * 4, checked);
    int want_slopes = 0;
    for (int i = 0; i < net->n_layers; i++) want_slopes += net->layers[i].act == CNN_ACT_PRELU ? net->layers[i].out.c : 0;
    ck_assert_int_ge(slopes, want_slopes - 1);
    /* PReLU slope gradients are not trivially zero */
    double slope_norm = 0;
    for (size_t k = 0; k < net->n_params; k++) slope_norm += roles[k] == CNN_PARAM_SLOPE ? fabs(g[k]) : 0;
    if (want_slopes) ck_assert(slope_norm > 1e-3);
    free(c), free(g), free(roles), free(pa), free(pb);
    cnn_net_free(net);
}

START_TEST(test_grad_prelu_bn) { grad_check(CFG_PRELU, 21); }
END_TEST

START_TEST(test_grad_prelu_leaky001_nobn) { grad_check(CFG_PRELU_NOBN, 22); }
END_TEST

START_TEST(test_grad_leaky001_bn)
{
    grad_check("[net]\nwidth=4\nheight=4\nchannels=3\n"
               "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky_0.01\n"
               "[connected]\noutput=3\nactivation=leaky_0.01\n",
               23);
}
END_TEST

START_TEST(test_prelu_weights_file)
{
    char dir[256], path[300];
    tu_mkdtemp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/p.weights", dir);
    cnn_net *net = tu_build(CFG_PRELU, 1), *back = tu_build(CFG_PRELU, 1);
    cnn_rng rng = cnn_rng_seed(9);
    cnn_net_init_random(net, &rng);
    set_slopes(net);
    cnn_error err;
    ck_assert_int_eq(cnn_net_save_weights(net, path, &err), CNN_OK);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 20 + 4 * CFG_PRELU_PARAMS);
    /* layer 0's slopes are the three floats after its weights: file offset 20 + 4 * 93 */
    FILE *f = fopen(path, "rb");
    float s[3];
    ck_assert(fseek(f, 20 + 4 * 93, SEEK_SET) == 0 && fread(s, 4, 3, f) == 3);
    fclose(f);
    for (int c = 0; c < 3; c++) ck_assert_float_eq(s[c], 0.35f - 0.2f * c);
    ck_assert_int_eq(cnn_net_load_weights(back, path, &err), CNN_OK);
    ck_assert(memcmp(back->params, net->params, sizeof(float) * net->n_params) == 0);
    tu_fill(net->input, IN_SIZE, &rng, -1, 1);
    memcpy(back->input, net->input, sizeof(float) * IN_SIZE);
    cnn_net_forward(net, NULL);
    cnn_net_forward(back, NULL);
    const cnn_layer *a = &net->layers[2], *b = &back->layers[2];
    ck_assert(memcmp(a->output, b->output, sizeof(float) * cnn_shape_size(a->out)) == 0);
    cnn_net_free(net);
    cnn_net_free(back);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(test_prelu_slopes_not_decayed)
{
    /* one SGD step with a large weight decay and no momentum: slopes move by -lr * gradient
     * only, weights by -lr * (gradient + decay * weight) */
    static const char cfg[] = "[net]\nwidth=4\nheight=4\nchannels=1\n"
                              "[convolutional]\nfilters=3\nsize=3\nstride=1\npad=1\nactivation=prelu\n"
                              "[avgpool]\n[connected]\noutput=2\nactivation=linear\n[softmax]\n";
    cnn_net *net = tu_build(cfg, 2);
    cnn_rng rng = cnn_rng_seed(4);
    cnn_train_init_params(net, &rng);
    set_slopes(net);
    float x[32];
    int y[2] = {0, 1};
    tu_fill(x, 32, &rng, -1, 1);
    cnn_dataset ds = {.kind = CNN_DATA_IDX, .n = 2, .c = 1, .h = 4, .w = 4, .n_classes = 2, .x = x, .y = y};
    cnn_train_opts o = {.lr = 0.1f, .momentum = 0, .decay = 0.5f, .policy = CNN_LR_CONSTANT,
                        .max_steps = 1, .seed = 1};
    cnn_trainer *t;
    cnn_error err;
    ck_assert_int_eq(cnn_trainer_new(net, &o, &t, &err), CNN_OK);
    float *before = malloc(sizeof(float) * net->n_params);
    memcpy(before, net->params, sizeof(float) * net->n_params);
    const int idx[2] = {0, 1};
    cnn_trainer_step(t, &ds, idx);
    const cnn_layer *l = &net->layers[0];
    const size_t so = cnn_conv_slope_offset(l);
    for (int c = 0; c < 3; c++) {
        const size_t k = so + c;
        ck_assert_msg(fabsf(net->grads[k]) > 1e-6f, "slope %d has no gradient", c);
        ck_assert_float_eq_tol(net->params[k], before[k] - 0.1f * net->grads[k], 1e-6f);
    }
    const size_t wk = 3 + 4; /* a weight of layer 0 */
    ck_assert_float_eq_tol(net->params[wk], before[wk] - 0.1f * (net->grads[wk] + 0.5f * before[wk]), 1e-6f);
    cnn_trainer_free(t);
    free(before);
    cnn_net_free(net);
}
END_TEST

/* 1x1 convolution, 3 channels from one input channel in (0, 1): ch0 = x, ch1 = -x - 1 (never
 * positive), ch2 = x - 0.5. */
static cnn_net *stats_net(const char *act)
{
    char cfg[256];
    snprintf(cfg, sizeof cfg, "[net]\nwidth=4\nheight=4\nchannels=1\n"
                              "[convolutional]\nfilters=3\nsize=1\nactivation=%s\n", act);
    cnn_net *net = tu_build(cfg, 2);
    const float p[6] = {0, -1, -0.5f, 1, -1, 1}; /* biases, weights */
    memcpy(net->params, p, sizeof p);
    cnn_net_prepare(net);
    return net;
}

START_TEST(test_actstats_counts)
{
    static const char *const acts[] = {"relu", "leaky_0.01", "tanh", "prelu"};
    for (int ai = 0; ai < 4; ai++) {
        cnn_net *net = stats_net(acts[ai]);
        if (net->layers[0].act == CNN_ACT_PRELU) {
            float *s = net->params + cnn_conv_slope_offset(&net->layers[0]);
            s[0] = s[1] = s[2] = 0.25f;
        }
        cnn_rng rng = cnn_rng_seed(8);
        tu_fill(net->input, 16, &rng, 0.01f, 1);
        for (int i = 16; i < 32; i++) net->input[i] = 0; /* item 1: not added */
        cnn_net_forward(net, NULL);
        cnn_actstats st;
        cnn_error err;
        ck_assert_int_eq(cnn_actstats_init(&st, net, &err), CNN_OK);
        cnn_actstats_add(&st, net, 1);
        int low = 0;
        double sum = 0;
        for (int i = 0; i < 16; i++) {
            const float x = net->input[i];
            low += x - 0.5f <= 0;
            sum += cnn_activate(x, net->layers[0].act) + cnn_activate(-x - 1, net->layers[0].act) +
                   cnn_activate(x - 0.5f, net->layers[0].act);
        }
        const cnn_layer_actstats *l = &st.layers[0];
        ck_assert_int_eq(st.items, 1);
        ck_assert_int_eq(l->values, 48);
        ck_assert_double_eq_tol(cnn_actstats_mean(l), sum / 48, 1e-5);
        ck_assert_int_eq(cnn_actstats_inactive(l), 1); /* ch1, for every activation */
        if (ai == 0) {
            ck_assert_int_eq(l->zeros, 16 + low);
            ck_assert_double_eq_tol(cnn_actstats_sparsity(l), (16.0 + low) / 48, 1e-12);
            ck_assert_int_eq(cnn_actstats_dead(l), 1);
        } else {
            ck_assert_int_eq(l->zeros, 0);
            ck_assert_int_eq(cnn_actstats_dead(l), 0);
        }
        /* item 1 (all-zero input) makes relu's ch0 zero everywhere, but only once added, and
         * it cannot make ch0 dead because item 0 already had positive outputs */
        cnn_actstats_add(&st, net, 2);
        ck_assert_int_eq(st.items, 3);
        ck_assert_int_eq(cnn_actstats_dead(&st.layers[0]), ai == 0 ? 1 : 0);
        cnn_actstats_reset(&st);
        ck_assert_int_eq(st.layers[0].values, 0);
        ck_assert_int_eq(cnn_actstats_dead(&st.layers[0]), 0);
        cnn_actstats_free(&st);
        cnn_net_free(net);
    }
}
END_TEST

START_TEST(test_study_cfg)
{
    cnn_study_budget b = {.width = 28, .height = 28, .channels = 1, .classes = 10, .batch = 16,
                          .steps = 50, .lr = 0.05f, .momentum = 0.9f, .decay = 0.0005f, .burn_in = 5,
                          .seed = 1};
    const cnn_study_run_cfg runs[] = {{CNN_ACT_PRELU, 1, 1}, {CNN_ACT_LEAKY_001, 0, 10}, {CNN_ACT_TANH, 0, 1}};
    char dir[256], path[300];
    tu_mkdtemp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/s.cfg", dir);
    for (int r = 0; r < 3; r++) {
        char *text = cnn_study_cfg_text(&runs[r], &b);
        ck_assert_ptr_nonnull(text);
        cnn_net *net = tu_build(text, 16);
        int convs = 0;
        for (int i = 0; i < net->n_layers; i++) {
            const cnn_layer *l = &net->layers[i];
            if (strcmp(l->ops->type, "conv") != 0) continue;
            convs++;
            ck_assert_int_eq(l->act, runs[r].act);
            ck_assert_int_eq(l->batch_norm, runs[r].batch_norm);
        }
        ck_assert_int_eq(convs, 3);
        ck_assert_int_eq(cnn_net_output(net)->out.c, 10);
        tu_write(path, text, strlen(text));
        cnn_train_opts o;
        cnn_error err;
        ck_assert_int_eq(cnn_train_opts_from_cfg(path, &o, &err), CNN_OK);
        ck_assert_float_eq_tol(o.lr, 0.05f * runs[r].lr_factor, 1e-7f);
        ck_assert_int_eq(o.policy, CNN_LR_COSINE);
        ck_assert_int_eq(o.max_steps, 50);
        ck_assert_int_eq(o.burn_in, 5);
        free(text);
        cnn_net_free(net);
    }
    unlink(path);
    rmdir(dir);
    ck_assert_str_eq(cnn_study_act_label(CNN_ACT_LEAKY), "leaky 0.1");
    ck_assert_str_eq(cnn_study_act_label(CNN_ACT_LEAKY_001), "leaky 0.01");
    ck_assert_str_eq(cnn_study_act_label(CNN_ACT_SWISH), "silu");
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("study");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_leaky001_and_prelu_values);
    tcase_add_test(tc, test_prelu_only_in_conv);
    tcase_add_test(tc, test_prelu_layout_roles_init);
    tcase_add_test(tc, test_prelu_inference_vs_reference);
    tcase_add_test(tc, test_prelu_train_forward_matches_inference);
    tcase_add_test(tc, test_grad_prelu_bn);
    tcase_add_test(tc, test_grad_prelu_leaky001_nobn);
    tcase_add_test(tc, test_grad_leaky001_bn);
    tcase_add_test(tc, test_prelu_weights_file);
    tcase_add_test(tc, test_prelu_slopes_not_decayed);
    tcase_add_test(tc, test_actstats_counts);
    tcase_add_test(tc, test_study_cfg);
    suite_add_tcase(s, tc);
    return s;
}
