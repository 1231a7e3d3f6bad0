/* test_train.c — training: every trainable layer's backward against central finite differences
 * of the training forward, the yolo and region losses (values by hand, gradients by finite
 * differences of net->loss), dropout's masks, and fixed-seed training runs (a classifier and a
 * one-box yolo detector) that must bring their loss down.
 *
 * A gradient check builds a tiny network from cfg text (batch 2-3, so batch-norm has statistics),
 * takes a scalar objective of its last layer's output (a fixed random readout sum(w_i out_i), the
 * softmax cross-entropy, or the detection loss in net->loss), and compares net->grads with
 * (L(p + eps) - L(p - eps)) / 2eps for the parameters of every layer. A layer's input gradient
 * is checked through the parameters of a convolution in front of it. Inputs are resampled until
 * no value sits near a kink (ReLU at 0, a max-pool tie, a detection threshold), where a finite
 * difference means nothing. Gradients are dL/d(x), the optimiser subtracts lr * grad. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "model.h"
#include "net.h"
#include "testutil.h"

#define GC_EPS  1e-3f /* finite-difference step on float parameters */
#define GC_RTOL 2e-2  /* relative tolerance */
#define GC_ATOL 1e-3  /* absolute floor, as a fraction of the layer's largest gradient */

/* ---- objective ---- */

typedef struct {
    const float *readout; /* L += sum(readout_i * out_i) over the last layer's output, or NULL */
    const int *labels;    /* L += mean over the batch of -log p[label] of a softmax output */
} objective;

static size_t out_count(const cnn_net *net, const cnn_layer *l)
{
    return (size_t)net->batch * cnn_shape_size(l->out);
}

static cnn_layer *last_layer(cnn_net *net) { return &net->layers[net->n_layers - 1]; }

/* The objective of the outputs of the last training forward (detection losses are in
 * net->loss). */
static double objective_of_outputs(cnn_net *net, const objective *o)
{
    const cnn_layer *l = last_layer(net);
    double L = net->loss;
    if (o->readout)
        for (size_t i = 0; i < out_count(net, l); i++) L += (double)o->readout[i] * l->output[i];
    if (o->labels) {
        const size_t n = cnn_shape_size(l->out);
        for (int b = 0; b < net->batch; b++)
            L -= log((double)l->output[b * n + o->labels[b]]) / net->batch;
    }
    return L;
}

static double objective_value(cnn_net *net, const objective *o)
{
    cnn_net_forward_train(net);
    return objective_of_outputs(net, o);
}

/* net->grads = dL/d(params), by the library's forward_train + backward. */
static void objective_grads(cnn_net *net, const objective *o)
{
    memset(net->grads, 0, sizeof(float) * net->n_params);
    cnn_net_forward_train(net);
    cnn_layer *l = last_layer(net);
    if (o->readout)
        for (size_t i = 0; i < out_count(net, l); i++) l->delta[i] += o->readout[i];
    if (o->labels) { /* the project's convention: dCE/dlogits = (p - onehot) / batch */
        const size_t n = cnn_shape_size(l->out);
        for (int b = 0; b < net->batch; b++)
            for (size_t k = 0; k < n; k++)
                l->delta[b * n + k] +=
                    (l->output[b * n + k] - ((int)k == o->labels[b])) / net->batch;
    }
    cnn_net_backward(net);
}

/* Compares the gradients of layer li's parameters (every one, or an evenly spread subset of about
 * 150 when there are more) with central differences. Fails naming the worst parameter. */
static void check_layer_grads(cnn_net *net, const objective *o, int li, const char *what)
{
    cnn_layer *l = &net->layers[li];
    const size_t n = l->n_params;
    objective_grads(net, o);
    float *g = malloc(sizeof(float) * n);
    ck_assert_ptr_nonnull(g);
    memcpy(g, l->grad, sizeof(float) * n);
    double gmax = 0;
    for (size_t k = 0; k < n; k++) gmax = fmax(gmax, fabs(g[k]));
    ck_assert_msg(gmax > 0, "%s: layer %d [%s]: every gradient is zero", what, li, l->ops->section);
    const double atol = GC_ATOL * gmax + 1e-6;
    const size_t step = n > 150 ? n / 150 : 1;
    int bad = 0, checked = 0;
    size_t worst = 0;
    double worst_excess = 0, worst_num = 0;
    for (size_t k = step / 2; k < n; k += step) {
        const float orig = l->params[k];
        l->params[k] = orig + GC_EPS;
        const double up = l->params[k], lp = objective_value(net, o);
        l->params[k] = orig - GC_EPS;
        const double dn = l->params[k], lm = objective_value(net, o);
        l->params[k] = orig;
        const double num = (lp - lm) / (up - dn);
        const double err = fabs(num - g[k]), tol = GC_RTOL * fmax(fabs(num), fabs(g[k])) + atol;
        checked++;
        if (!(err <= tol)) {
            if (!bad || err - tol > worst_excess)
                worst = k, worst_excess = err - tol, worst_num = num;
            bad++;
        }
    }
    ck_assert_msg(!bad,
                  "%s: layer %d [%s]: %d of %d parameter gradients differ from finite differences; "
                  "worst: parameter %zu of %zu, analytic %.7g, numeric %.7g",
                  what, li, l->ops->section, bad, checked, worst, n, bad ? g[worst] : 0.0,
                  worst_num);
    free(g);
}

/* Every layer with parameters. */
static void check_all_grads(cnn_net *net, const objective *o, const char *what)
{
    for (int i = 0; i < net->n_layers; i++)
        if (net->layers[i].n_params) check_layer_grads(net, o, i, what);
}

/* Seeded parameters (model.c's He-uniform init, biases and batch-norm near identity), made a
 * little less regular: biases uniform in [-0.5, 0.5], so nothing is symmetric. */
static void init_net(cnn_net *net, uint64_t seed)
{
    cnn_rng rng = cnn_rng_seed(seed);
    cnn_net_init_random(net, &rng);
    for (int i = 0; i < net->n_layers; i++) {
        cnn_layer *l = &net->layers[i];
        if (l->n_params) tu_fill(l->params, (size_t)l->out.c, &rng, -0.5f, 0.5f);
    }
    cnn_net_prepare(net);
    tu_fill(net->input, (size_t)net->batch * cnn_shape_size(net->in), &rng, -1, 1);
}

static cnn_net *build_train(const char *text, int batch, uint64_t seed)
{
    cnn_net *net = tu_build(text, batch);
    cnn_error err = {0};
    ck_assert_msg(cnn_net_train_alloc(net, &err) == CNN_OK, "train_alloc: %s", err.msg);
    init_net(net, seed);
    return net;
}

static float *random_readout(const cnn_net *net, uint64_t seed)
{
    const cnn_layer *l = &net->layers[net->n_layers - 1];
    const size_t n = out_count(net, l);
    float *w = malloc(sizeof(float) * n);
    ck_assert_ptr_nonnull(w);
    cnn_rng rng = cnn_rng_seed(seed);
    tu_fill(w, n, &rng, -1, 1);
    return w;
}

/* Gradient check of every parameterised layer under a random readout of the output. */
static void readout_check(const char *text, int batch, uint64_t seed, const char *what)
{
    cnn_net *net = build_train(text, batch, seed);
    float *w = random_readout(net, seed + 1);
    const objective o = {w, NULL};
    check_all_grads(net, &o, what);
    free(w);
    cnn_net_free(net);
}

/* ---- convolution ---- */

typedef struct {
    const char *name;
    int w, h, c;      /* network input */
    const char *opts; /* the convolution under test, after a 3x3 linear convolution of 4 filters */
    int batch;
} conv_case;

static const conv_case conv_cases[] = {
    {"3x3 pad 1", 5, 4, 3, "filters=3\nsize=3\npad=1\nactivation=linear\n", 2},
    {"3x3 pad 1 bn", 5, 4, 3, "filters=3\nsize=3\npad=1\nbatch_normalize=1\nactivation=logistic\n",
     2},
    {"3x3 stride 2 pad 1 bn", 6, 5, 3,
     "filters=3\nsize=3\nstride=2\npad=1\nbatch_normalize=1\nactivation=tanh\n", 3},
    {"3x3 stride 2 no pad", 7, 6, 1, "filters=2\nsize=3\nstride=2\nactivation=linear\n", 2},
    {"3x3 no pad batch 3", 5, 5, 3, "filters=3\nsize=3\nactivation=mish\n", 3},
    {"5x5 padding 2", 6, 5, 1, "filters=2\nsize=5\npadding=2\nactivation=swish\n", 2},
    {"groups 2 bn", 5, 4, 3,
     "filters=4\nsize=3\npad=1\ngroups=2\nbatch_normalize=1\nactivation=linear\n", 2},
    {"groups 2 stride 2", 6, 6, 3,
     "filters=2\nsize=3\nstride=2\npad=1\ngroups=2\nactivation=tanh\n", 2},
    {"depthwise (groups == channels)", 5, 4, 3,
     "filters=4\nsize=3\npad=1\ngroups=4\nactivation=linear\n", 2},
    {"depthwise stride 2 bn", 6, 5, 3,
     "filters=4\nsize=3\nstride=2\npad=1\ngroups=4\nbatch_normalize=1\nactivation=logistic\n", 2},
    {"1x1", 5, 4, 3, "filters=3\nsize=1\nactivation=linear\n", 2},
    {"1x1 bn", 5, 4, 3, "filters=3\nsize=1\nbatch_normalize=1\nactivation=tanh\n", 3},
    {"1x1 stride 2", 5, 5, 3, "filters=3\nsize=1\nstride=2\nactivation=linear\n", 2},
};

START_TEST(test_conv_grads)
{
    const conv_case *cc = &conv_cases[_i];
    char text[1024];
    snprintf(text, sizeof text,
             "[net]\nwidth=%d\nheight=%d\nchannels=%d\n"
             "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=linear\n"
             "[convolutional]\n%s",
             cc->w, cc->h, cc->c, cc->opts);
    readout_check(text, cc->batch, 100 + (uint64_t)_i, cc->name);
}
END_TEST

START_TEST(test_conv_first_layer_bn)
{
    /* batch-norm on the network input: no input gradient wanted (in_delta NULL) */
    readout_check(
        "[net]\nwidth=4\nheight=4\nchannels=3\n"
        "[convolutional]\nfilters=3\nsize=3\npad=1\nbatch_normalize=1\nactivation=linear\n",
        2, 150, "conv bn on the input");
}
END_TEST

/* ---- activations ---- */

/* Points where the activation's derivative jumps (ELU's is continuous but its second is not). */
static int kinks(cnn_activation a, float *k)
{
    switch (a) {
    case CNN_ACT_RELU:
    case CNN_ACT_LEAKY:
    case CNN_ACT_LEAKY_001:
    case CNN_ACT_PRELU:
    case CNN_ACT_ELU:
    case CNN_ACT_SELU: k[0] = 0; return 1;
    case CNN_ACT_RELU6: k[0] = 0, k[1] = 6; return 2;
    case CNN_ACT_HARDSWISH: k[0] = -3, k[1] = 3; return 2;
    default: return 0;
    }
}

START_TEST(test_activation_grads)
{
    /* 0: conv 3x3 linear -> 1: conv 1x1 with the activation, weights scaled so the
     * pre-activations z span about -10..10; inputs resampled until z lies on both sides of every
     * kink and nowhere within the margin of one. z = b1 + W1 . y0 is computed here from layer
     * 0's output. */
    const cnn_activation act = (cnn_activation)_i;
    char text[512];
    snprintf(text, sizeof text,
             "[net]\nwidth=4\nheight=4\nchannels=3\n"
             "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=linear\n"
             "[convolutional]\nfilters=3\nsize=1\nactivation=%s\n",
             cnn_activation_name(act));
    cnn_net *net = build_train(text, 2, 200 + (uint64_t)_i);
    cnn_layer *l1 = &net->layers[1];
    cnn_rng rng = cnn_rng_seed(210 + (uint64_t)_i);
    tu_fill(l1->params, 3, &rng, -3, 3);     /* biases */
    tu_fill(l1->params + 3, 9, &rng, -4, 4); /* weights (3 filters x 3 channels) */
    float kk[2];
    const int nk = kinks(act, kk);
    const float margin = 0.05f;
    int tries = 0, near, missed;
    double zmin, zmax;
    do {
        ck_assert_msg(tries++ < 500, "%s: no input crossing every kink without nearing one",
                      cnn_activation_name(act));
        tu_fill(net->input, 2 * 3 * 16, &rng, -1.5f, 1.5f);
        cnn_net_forward_train(net);
        near = 0, zmin = INFINITY, zmax = -INFINITY;
        const float *y0 = net->layers[0].output;
        for (int b = 0; b < 2; b++)
            for (int f = 0; f < 3; f++)
                for (int i = 0; i < 16; i++) {
                    double z = l1->params[f];
                    for (int c = 0; c < 3; c++)
                        z += (double)l1->params[3 + f * 3 + c] * y0[(b * 3 + c) * 16 + i];
                    zmin = fmin(zmin, z), zmax = fmax(zmax, z);
                    for (int k = 0; k < nk; k++) near |= fabs(z - kk[k]) < margin;
                }
        missed = 0;
        for (int k = 0; k < nk; k++) missed |= !(zmin < kk[k] && zmax > kk[k]);
    } while (near || missed);
    float *w = random_readout(net, 220 + (uint64_t)_i);
    const objective o = {w, NULL};
    check_all_grads(net, &o, cnn_activation_name(act));
    free(w);
    cnn_net_free(net);
}
END_TEST

/* ---- pooling, resampling, routing ---- */

/* Smallest gap between the largest and second-largest input of any darknet max-pool window
 * (padding p, origin oy*stride - p/2, cells outside the input ignored). */
static double maxpool_min_gap(const float *in, int planes, int h, int w, int size, int stride,
                              int p, int oh, int ow)
{
    double gap = INFINITY;
    for (int pl = 0; pl < planes; pl++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double m1 = -INFINITY, m2 = -INFINITY;
                for (int y = oy * stride - p / 2; y < oy * stride - p / 2 + size; y++)
                    for (int x = ox * stride - p / 2; x < ox * stride - p / 2 + size; x++) {
                        if (y < 0 || y >= h || x < 0 || x >= w) continue;
                        const double v = in[((size_t)pl * h + y) * w + x];
                        if (v > m1)
                            m2 = m1, m1 = v;
                        else if (v > m2)
                            m2 = v;
                    }
                if (m2 > -INFINITY) gap = fmin(gap, m1 - m2);
            }
    return gap;
}

START_TEST(test_maxpool_grads)
{
    static const struct {
        int w, h, size, stride;
    } cases[] = {{4, 4, 2, 2}, {5, 3, 2, 2}, {4, 3, 3, 1}, {5, 5, 3, 2}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char text[512];
        snprintf(text, sizeof text,
                 "[net]\nwidth=%d\nheight=%d\nchannels=3\n"
                 "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n"
                 "[maxpool]\nsize=%d\nstride=%d\n",
                 cases[c].w, cases[c].h, cases[c].size, cases[c].stride);
        cnn_net *net = build_train(text, 2, 300 + c);
        const cnn_layer *mp = &net->layers[1];
        cnn_rng rng = cnn_rng_seed(310 + c);
        const size_t n_in = (size_t)2 * 3 * cases[c].w * cases[c].h;
        int tries = 0;
        do {
            ck_assert_msg(tries++ < 2000, "maxpool %d/%d: no input without near-ties",
                          cases[c].size, cases[c].stride);
            tu_fill(net->input, n_in, &rng, -1, 1);
            cnn_net_forward_train(net);
        } while (maxpool_min_gap(net->layers[0].output, 4, cases[c].h, cases[c].w, cases[c].size,
                                 cases[c].stride, cases[c].size - 1, mp->out.h, mp->out.w) < 0.01);
        char what[64];
        snprintf(what, sizeof what, "maxpool %d/%d on %dx%d", cases[c].size, cases[c].stride,
                 cases[c].w, cases[c].h);
        float *w = random_readout(net, 320 + c);
        const objective o = {w, NULL};
        check_all_grads(net, &o, what);
        free(w);
        cnn_net_free(net);
    }
}
END_TEST

START_TEST(test_avgpool_grads)
{
    readout_check("[net]\nwidth=5\nheight=3\nchannels=3\n"
                  "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=tanh\n"
                  "[avgpool]\n"
                  "[connected]\noutput=2\nactivation=linear\n",
                  2, 400, "avgpool");
}
END_TEST

START_TEST(test_upsample_grads)
{
    readout_check("[net]\nwidth=3\nheight=2\nchannels=3\n"
                  "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n"
                  "[upsample]\nstride=2\n"
                  "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=tanh\n",
                  2, 410, "upsample");
}
END_TEST

START_TEST(test_route_grads)
{
    /* 0, 1: convolutions; 2: route both (concatenation); 3: route both, group 1 of 2;
     * 4: route 1 alone, group 0 of 3; 5: route 2, 3, 4; 6: a 1x1 convolution mixing all.
     * Layer 0's delta collects from layer 1's backward and from two routes. */
    readout_check("[net]\nwidth=4\nheight=3\nchannels=3\n"
                  "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=linear\n"
                  "[convolutional]\nfilters=6\nsize=1\nactivation=tanh\n"
                  "[route]\nlayers=-2,-1\n"
                  "[route]\nlayers=0,1\ngroups=2\ngroup_id=1\n"
                  "[route]\nlayers=1\ngroups=3\ngroup_id=0\n"
                  "[route]\nlayers=2,3,4\n"
                  "[convolutional]\nfilters=3\nsize=1\nactivation=linear\n",
                  2, 420, "route");
}
END_TEST

START_TEST(test_shortcut_grads)
{
    static const cnn_activation acts[] = {CNN_ACT_LINEAR, CNN_ACT_LOGISTIC, CNN_ACT_TANH,
                                          CNN_ACT_SWISH};
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        char text[512];
        snprintf(text, sizeof text,
                 "[net]\nwidth=4\nheight=3\nchannels=3\n"
                 "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=linear\n"
                 "[convolutional]\nfilters=3\nsize=1\nactivation=tanh\n"
                 "[shortcut]\nfrom=-2\nactivation=%s\n"
                 "[convolutional]\nfilters=2\nsize=1\nactivation=linear\n",
                 cnn_activation_name(acts[a]));
        char what[64];
        snprintf(what, sizeof what, "shortcut %s", cnn_activation_name(acts[a]));
        readout_check(text, 2, 430 + a, what);
    }
}
END_TEST

/* ---- connected, dropout, softmax ---- */

START_TEST(test_connected_grads)
{
    readout_check("[net]\nwidth=3\nheight=3\nchannels=3\n"
                  "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n"
                  "[connected]\noutput=5\nactivation=tanh\n"
                  "[connected]\noutput=3\nactivation=linear\n",
                  2, 500, "connected");
}
END_TEST

START_TEST(test_connected_bn_grads)
{
    readout_check("[net]\nwidth=3\nheight=3\nchannels=3\n"
                  "[convolutional]\nfilters=2\nsize=3\npad=1\nactivation=linear\n"
                  "[connected]\noutput=5\nbatch_normalize=1\nactivation=logistic\n"
                  "[connected]\noutput=3\nbatch_normalize=1\nactivation=linear\n",
                  3, 510, "connected bn");
}
END_TEST

START_TEST(test_dropout_zero_grads)
{
    /* probability 0 is the identity in training too */
    readout_check("[net]\nwidth=4\nheight=3\nchannels=3\n"
                  "[convolutional]\nfilters=3\nsize=3\npad=1\nactivation=linear\n"
                  "[dropout]\nprobability=0\n"
                  "[connected]\noutput=3\nactivation=linear\n",
                  2, 520, "dropout 0");
}
END_TEST

START_TEST(test_dropout_mask)
{
    /* The mask is redrawn by each training forward; backward must use the same one:
     * dL/d(in) = dL/d(out) * out / in, every ratio 0 or 1 / (1 - p). */
    cnn_net *net = build_train("[net]\nwidth=5\nheight=5\nchannels=3\n"
                               "[convolutional]\nfilters=4\nsize=3\npad=1\nactivation=linear\n"
                               "[dropout]\nprobability=0.4\n"
                               "[connected]\noutput=3\nactivation=linear\n",
                               2, 530);
    float *w = random_readout(net, 531);
    const objective o = {w, NULL};
    const size_t n = 2 * 4 * 25;
    float *first = malloc(sizeof(float) * n);
    ck_assert_ptr_nonnull(first);
    for (int round = 0; round < 2; round++) {
        objective_grads(net, &o);
        const float *in = net->layers[0].output, *out = net->layers[1].output;
        const float *din = net->layers[0].delta, *dout = net->layers[1].delta;
        int dropped = 0;
        for (size_t i = 0; i < n; i++) {
            ck_assert_msg(fabsf(in[i]) > 1e-6f, "input %zu is zero", i);
            const float m = out[i] / in[i];
            ck_assert_msg(m == 0 || fabsf(m - 1 / 0.6f) < 1e-5f, "mask[%zu] = %g", i, m);
            dropped += m == 0;
            ck_assert_msg(fabsf(din[i] - dout[i] * m) <= 1e-6f * (fabsf(dout[i] * m) + 1),
                          "round %d: dL/d(in)[%zu] = %g, want %g * %g", round, i, din[i], dout[i],
                          m);
        }
        ck_assert_msg(dropped > 0.25 * n && dropped < 0.55 * n, "%d of %zu dropped at p = 0.4",
                      dropped, n);
        if (round == 0) {
            memcpy(first, out, sizeof(float) * n);
        } else {
            int same = 0;
            for (size_t i = 0; i < n; i++) same += (first[i] == 0) == (out[i] == 0);
            ck_assert_msg(same < (int)n, "the mask did not change between two training passes");
        }
    }
    /* inference is the identity */
    cnn_net_forward(net, NULL);
    for (size_t i = 0; i < n; i++)
        ck_assert_float_eq(net->layers[1].output[i], net->layers[0].output[i]);
    free(first);
    free(w);
    cnn_net_free(net);
}
END_TEST

START_TEST(test_softmax_ce_grads)
{
    /* L = mean over the batch of -log p[y]; delta of the softmax = (p - onehot) / batch */
    cnn_net *net = build_train(
        "[net]\nwidth=4\nheight=3\nchannels=3\n"
        "[convolutional]\nfilters=3\nsize=3\nstride=2\npad=1\nbatch_normalize=1\nactivation=tanh\n"
        "[connected]\noutput=5\nactivation=linear\n"
        "[softmax]\n",
        3, 540);
    const int labels[3] = {4, 0, 2};
    const objective o = {NULL, labels};
    check_all_grads(net, &o, "softmax cross-entropy");
    cnn_net_free(net);
}
END_TEST

/* ---- detection losses ---- */

static double logistic_d(double x) { return 1 / (1 + exp(-x)); }
static double softplus_d(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

static double iou_d(double ax, double ay, double aw, double ah, double bx, double by, double bw,
                    double bh)
{
    const double iw = fmin(ax + aw / 2, bx + bw / 2) - fmax(ax - aw / 2, bx - bw / 2);
    const double ih = fmin(ay + ah / 2, by + bh / 2) - fmax(ay - ah / 2, by - bh / 2);
    if (iw <= 0 || ih <= 0) return 0;
    return iw * ih / (aw * ah + bw * bh - iw * ih);
}

START_TEST(test_yolo_loss_by_hand)
{
    /* A 2x2 grey input, a 1x1 convolution (head input = bias + weight * pixel per channel) and
     * [yolo], so the grid is 2x2 too; anchors 0.5 and 1.5 px (0.25 and 0.75 of the input; the
     * second is another layer's), 2 classes: entries x y w h obj c0 c1 per cell.
     * Truth A (class 1) at (0.3, 0.7), 0.25 x 0.25: anchor 0, cell (row 1, col 0).
     * Truth B at 0.7, 0.3, 0.7 x 0.7 matches anchor 1, not in this layer: no positive here.
     * Truth C (class 0), 0.2 x 0.3, also anchor 0 in A's cell: its box replaces A's, and the
     * cell's class targets are both 1.
     * The loss and every delta are recomputed here from the definitions. */
    cnn_net *net = build_train("[net]\nwidth=2\nheight=2\nchannels=1\n"
                               "[convolutional]\nfilters=7\nsize=1\nactivation=linear\n"
                               "[yolo]\nmask=0\nanchors=0.5,0.5,1.5,1.5\nnum=2\nclasses=2\n"
                               "ignore_thresh=0.4\nscale_x_y=1.1\niou_normalizer=0.5\n"
                               "obj_normalizer=2\ncls_normalizer=0.7\n",
                               1, 600);
    cnn_rng rng = cnn_rng_seed(601);
    float *bias = net->layers[0].params, *wt = bias + 7;
    tu_fill(bias, 7, &rng, -2, 2);
    tu_fill(wt, 7, &rng, -2, 2);
    tu_fill(net->input, 4, &rng, -1, 1);
    const cnn_box_label boxes[3] = {
        {0.3f, 0.7f, 0.25f, 0.25f, 1}, {0.7f, 0.3f, 0.7f, 0.7f, 0}, {0.35f, 0.65f, 0.2f, 0.3f, 0}};
    const int count = 3;
    const cnn_truth truth = {boxes, &count, 3};
    /* make cell (0, 1) overlap truth B by more than ignore_thresh: a box 0.6 x 0.6 at its centre */
    const int ign = 1;
    net->input[ign] = 0;
    bias[0] = bias[1] = 0;
    bias[2] = bias[3] = (float)log(0.6 * 2 / 0.5);
    net->truth = &truth;
    cnn_net_forward_train(net);
    const float *in = net->layers[0].output, *d = net->layers[1].delta;
    const double sc = 1.1, shift = -0.05;
    double want_loss = 0, want_d[28] = {0};
    for (int i = 0; i < 4; i++) {
        const int row = i / 2, col = i % 2;
        const double x = (col + logistic_d(in[i]) * sc + shift) / 2;
        const double y = (row + logistic_d(in[4 + i]) * sc + shift) / 2;
        const double w = exp(in[8 + i]) * 0.25, h = exp(in[12 + i]) * 0.25;
        double best = 0;
        for (int t = 0; t < 3; t++)
            best = fmax(best, iou_d(x, y, w, h, boxes[t].x, boxes[t].y, boxes[t].w, boxes[t].h));
        if (i == ign)
            ck_assert_msg(best > 0.4, "cell %d overlaps by %g only", i, best);
        else
            ck_assert_msg(fabs(best - 0.4) > 0.02, "cell %d: IoU %g too near the threshold", i,
                          best);
        const double z = in[16 + i];
        if (i == 2) { /* truths A and C: C's box */
            const double s = 0.5 * (2 - 0.2 * 0.3);
            const double t[4] = {0.35 * 2 - 0, 0.65 * 2 - 1, log(0.2 * 2 / 0.5),
                                 log(0.3 * 2 / 0.5)};
            for (int e = 0; e < 2; e++) {
                const double sg = logistic_d(in[e * 4 + i]), r = sg * sc + shift - t[e];
                want_loss += 0.5 * s * r * r;
                want_d[e * 4 + i] = s * r * sc * sg * (1 - sg);
            }
            for (int e = 2; e < 4; e++) {
                const double r = in[e * 4 + i] - t[e];
                want_loss += 0.5 * s * r * r;
                want_d[e * 4 + i] = s * r;
            }
            want_loss += 2 * (softplus_d(z) - z);
            want_d[16 + i] = 2 * (logistic_d(z) - 1);
            for (int c = 0; c < 2; c++) {
                const double zc = in[(5 + c) * 4 + i];
                want_loss += 0.7 * (softplus_d(zc) - zc);
                want_d[(5 + c) * 4 + i] = 0.7 * (logistic_d(zc) - 1);
            }
        } else if (best <= 0.4) {
            want_loss += 2 * softplus_d(z);
            want_d[16 + i] = 2 * logistic_d(z);
        }
    }
    ck_assert_msg(fabs(net->loss - want_loss) <= 1e-5 * want_loss, "loss %.7g, want %.7g",
                  net->loss, want_loss);
    tu_assert_close(d, want_d, 28, 1e-4, 1e-6, "yolo delta");
    /* backward hands the delta on unchanged; without truth there is no loss */
    memset(net->grads, 0, sizeof(float) * net->n_params);
    cnn_net_backward(net);
    tu_assert_close(net->layers[0].delta, want_d, 28, 1e-4, 1e-6, "delta before yolo");
    net->truth = NULL;
    cnn_net_forward_train(net);
    ck_assert_float_eq(net->loss, 0);
    for (int i = 0; i < 28; i++) ck_assert_float_eq(net->layers[1].delta[i], 0);
    cnn_net_free(net);
}
END_TEST

START_TEST(test_region_loss_by_hand)
{
    /* A 2x2 grey input, a 1x1 convolution and [region]: 2x2 grid, anchors 1x1 and 1.6x1.6 cells, 3
     * classes with softmax, bias_match: the truth (0.8, 0.8, 0.4 x 0.4 = 0.8 x 0.8 cells, class 2)
     * goes to anchor 0 in cell (1, 1). net->seen past 12800: no anchor prior. */
    cnn_net *net = build_train("[net]\nwidth=2\nheight=2\nchannels=1\n"
                               "[convolutional]\nfilters=16\nsize=1\nactivation=linear\n"
                               "[region]\nanchors=1,1,1.6,1.6\nnum=2\nclasses=3\ncoords=4\n"
                               "softmax=1\nbias_match=1\nthresh=0.6\nobject_scale=5\n"
                               "noobject_scale=0.5\nclass_scale=2\ncoord_scale=1.5\n",
                               1, 610);
    net->seen = 20000;
    cnn_rng rng = cnn_rng_seed(611);
    tu_fill(net->layers[0].params, 32, &rng, -2, 2);
    tu_fill(net->input, 4, &rng, -1, 1);
    const cnn_box_label box = {0.8f, 0.8f, 0.4f, 0.4f, 2};
    const int count = 1;
    const cnn_truth truth = {&box, &count, 1};
    net->truth = &truth;
    cnn_net_forward_train(net);
    const float *in = net->layers[0].output;
    double want_loss = 0, want_d[64] = {0};
    for (int a = 0; a < 2; a++) {
        const float *e = in + a * 32;
        double *de = want_d + a * 32;
        for (int i = 0; i < 4; i++) {
            const int row = i / 2, col = i % 2;
            const double x = (col + logistic_d(e[i])) / 2, y = (row + logistic_d(e[4 + i])) / 2;
            const double w = exp(e[8 + i]) * (a ? 1.6 : 1) / 2,
                         h = exp(e[12 + i]) * (a ? 1.6 : 1) / 2;
            const double iou = iou_d(x, y, w, h, 0.8, 0.8, 0.4, 0.4);
            ck_assert_msg(fabs(iou - 0.6) > 0.02, "IoU %g too near the threshold", iou);
            const double o = logistic_d(e[16 + i]);
            if (a == 0 && i == 3) {
                const double s = 1.5 * (2 - 0.16);
                const double t[4] = {0.8 * 2 - 1, 0.8 * 2 - 1, log(0.8), log(0.8)};
                for (int k = 0; k < 2; k++) {
                    const double sg = logistic_d(e[k * 4 + i]), r = sg - t[k];
                    want_loss += 0.5 * s * r * r;
                    de[k * 4 + i] = s * r * sg * (1 - sg);
                }
                for (int k = 2; k < 4; k++) {
                    const double r = e[k * 4 + i] - t[k];
                    want_loss += 0.5 * s * r * r;
                    de[k * 4 + i] = s * r;
                }
                want_loss += 0.5 * 5 * (o - 1) * (o - 1);
                de[16 + i] = 5 * (o - 1) * o * (1 - o);
                double mx = -INFINITY, sum = 0;
                for (int c = 0; c < 3; c++) mx = fmax(mx, e[(5 + c) * 4 + i]);
                for (int c = 0; c < 3; c++) sum += exp(e[(5 + c) * 4 + i] - mx);
                want_loss -= 2 * (e[7 * 4 + i] - mx - log(sum));
                for (int c = 0; c < 3; c++)
                    de[(5 + c) * 4 + i] = 2 * (exp(e[(5 + c) * 4 + i] - mx) / sum - (c == 2));
            } else if (iou <= 0.6) {
                want_loss += 0.5 * 0.5 * o * o;
                de[16 + i] = 0.5 * o * o * (1 - o);
            }
        }
    }
    ck_assert_msg(fabs(net->loss - want_loss) <= 1e-5 * want_loss, "loss %.7g, want %.7g",
                  net->loss, want_loss);
    tu_assert_close(net->layers[1].delta, want_d, 64, 1e-4, 1e-6, "region delta");
    cnn_net_free(net);
}
END_TEST

/* A small detector: 8x8 input, conv 3x3/2 -> 4x4, conv 1x1 to the head's channels, head. */
static const char *const yolo_head_net =
    "[net]\nwidth=8\nheight=8\nchannels=3\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nbatch_normalize=1\nactivation=tanh\n"
    "[convolutional]\nfilters=14\nsize=1\nactivation=linear\n"
    "[yolo]\nmask=0,2\nanchors=2,2,3,5,5,4\nnum=3\nclasses=2\n%s";

static const char *const region_head_net =
    "[net]\nwidth=8\nheight=8\nchannels=3\n"
    "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nbatch_normalize=1\nactivation=tanh\n"
    "[convolutional]\nfilters=%d\nsize=1\nactivation=linear\n"
    "[region]\nanchors=0.6,0.6,1.2,1.8,2,1.6\nnum=3\ncoords=4\nclasses=%d\n%s";

/* Three truths per image in network fractions; some share a cell, one has anchor 1 (not in
 * the yolo layer's mask). */
static const cnn_box_label det_boxes[2 * 3] = {
    {0.30f, 0.40f, 0.30f, 0.30f, 1}, {0.70f, 0.65f, 0.60f, 0.45f, 0},
    {0.62f, 0.15f, 0.35f, 0.55f, 1}, {0.55f, 0.55f, 0.25f, 0.25f, 0},
    {0.58f, 0.60f, 0.60f, 0.50f, 1}, {0.1f, 0.9f, 0.2f, 0.15f, 0},
};

/* Smallest distance of any prediction's best IoU with the truths (boxes decoded from the head's
 * output, as detect.c does) from the thresholds t1 and t2; *above receives how many predictions
 * are above t1. anchors are in input fractions. */
static double det_margin(const cnn_net *net, const cnn_layer *l, int n_anchors,
                         const float *anchors_wh, int entries, int count, double t1, double t2,
                         int *above)
{
    const int lw = l->out.w, lh = l->out.h, hw = lw * lh;
    double margin = INFINITY;
    *above = 0;
    for (int b = 0; b < net->batch; b++)
        for (int a = 0; a < n_anchors; a++) {
            const float *e =
                l->output + (size_t)b * cnn_shape_size(l->out) + (size_t)a * entries * hw;
            for (int i = 0; i < hw; i++) {
                const double x = (i % lw + e[i]) / lw, y = (i / lw + e[hw + i]) / lh;
                const double w = exp(e[2 * hw + i]) * anchors_wh[2 * a];
                const double h = exp(e[3 * hw + i]) * anchors_wh[2 * a + 1];
                double best = 0;
                for (int t = 0; t < count; t++) {
                    const cnn_box_label *tr = &det_boxes[b * 3 + t];
                    best = fmax(best, iou_d(x, y, w, h, tr->x, tr->y, tr->w, tr->h));
                }
                margin = fmin(margin, fmin(fabs(best - t1), fabs(best - t2)));
                *above += best > t1;
            }
        }
    return margin;
}

static void yolo_grad_case(const char *name, const char *opts, double ignore, double truth_t,
                           uint64_t seed)
{
    char text[1024];
    snprintf(text, sizeof text, yolo_head_net, opts);
    cnn_net *net = build_train(text, 2, seed);
    const int count[2] = {3, 3};
    const cnn_truth truth = {det_boxes, count, 3};
    net->truth = &truth;
    const float anchors[4] = {2 / 8.0f, 2 / 8.0f, 5 / 8.0f, 4 / 8.0f};
    cnn_rng rng = cnn_rng_seed(seed + 1);
    int tries = 0, above = 0;
    double margin;
    do {
        ck_assert_msg(tries++ < 500, "%s: no input with stable ignore decisions", name);
        tu_fill(net->input, 2 * 3 * 64, &rng, -1, 1);
        cnn_net_forward_train(net);
        margin = det_margin(net, &net->layers[2], 2, anchors, 7, 3, ignore, truth_t, &above);
    } while (margin < 0.02 || above == 0);
    const objective o = {NULL, NULL};
    check_all_grads(net, &o, name);
    cnn_net_free(net);
}

START_TEST(test_yolo_grads)
{
    yolo_grad_case("yolo", "ignore_thresh=0.3\n", 0.3, 1, 700);
    yolo_grad_case("yolo truth_thresh, scale_x_y, normalizers",
                   "ignore_thresh=0.2\ntruth_thresh=0.35\nscale_x_y=1.2\niou_normalizer=0.4\n"
                   "obj_normalizer=1.5\ncls_normalizer=0.6\n",
                   0.2, 0.35, 710);
}
END_TEST

static void region_grad_case(const char *name, const char *opts, int classes, double thresh,
                             uint64_t seed, uint64_t seen)
{
    char text[1024];
    snprintf(text, sizeof text, region_head_net, 3 * (5 + classes), classes, opts);
    cnn_net *net = build_train(text, 2, seed);
    net->seen = seen;
    int count[2] = {3, 3};
    cnn_box_label boxes[6];
    memcpy(boxes, det_boxes, sizeof boxes);
    if (!classes)
        for (int i = 0; i < 6; i++) boxes[i].cls = 0;
    const cnn_truth truth = {boxes, count, 3};
    net->truth = &truth;
    const float anchors[6] = {0.6f / 4, 0.6f / 4, 1.2f / 4, 1.8f / 4, 2 / 4.0f, 1.6f / 4};
    cnn_rng rng = cnn_rng_seed(seed + 1);
    int tries = 0, above = 0;
    double margin;
    do {
        ck_assert_msg(tries++ < 500, "%s: no input with stable decisions", name);
        tu_fill(net->input, 2 * 3 * 64, &rng, -1, 1);
        cnn_net_forward_train(net);
        margin =
            det_margin(net, &net->layers[2], 3, anchors, 5 + classes, 3, thresh, thresh, &above);
        /* without bias_match a truth's anchor is the best predicted shape: keep it clear */
        const cnn_layer *l = &net->layers[2];
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < 3; t++) {
                const cnn_box_label *tr = &boxes[b * 3 + t];
                const int cell = (int)(tr->y * 4) * 4 + (int)(tr->x * 4);
                double i1 = 0, i2 = 0;
                for (int a = 0; a < 3; a++) {
                    const float *e = l->output + (size_t)b * cnn_shape_size(l->out) +
                                     (size_t)a * (5 + classes) * 16;
                    const double iou =
                        iou_d(0, 0, exp(e[32 + cell]) * anchors[2 * a],
                              exp(e[48 + cell]) * anchors[2 * a + 1], 0, 0, tr->w, tr->h);
                    if (iou > i1)
                        i2 = i1, i1 = iou;
                    else if (iou > i2)
                        i2 = iou;
                }
                margin = fmin(margin, i1 - i2);
            }
    } while (margin < 0.02 || above == 0);
    const objective o = {NULL, NULL};
    check_all_grads(net, &o, name);
    cnn_net_free(net);
}

START_TEST(test_region_grads)
{
    region_grad_case("region softmax, anchor prior", "softmax=1\nthresh=0.3\n", 2, 0.3, 800, 0);
    region_grad_case("region scales, bias_match",
                     "softmax=1\nthresh=0.25\nobject_scale=5\nnoobject_scale=0.5\n"
                     "class_scale=2\ncoord_scale=1.5\nbias_match=1\n",
                     2, 0.25, 810, 20000);
    region_grad_case("region without softmax", "softmax=0\nthresh=0.3\n", 2, 0.3, 820, 20000);
    region_grad_case("region objectness only", "thresh=0.3\n", 0, 0.3, 830, 20000);
}
END_TEST

/* ---- training runs ---- */

/* Plain SGD on every parameter (no batch-norm in these nets), then re-derive inference params. */
static void sgd_step(cnn_net *net, float lr)
{
    for (size_t i = 0; i < net->n_params; i++) net->params[i] -= lr * net->grads[i];
    cnn_net_prepare(net);
}

START_TEST(test_train_classifier)
{
    /* 8x8 grey images, class 0 bright in the top half, class 1 in the bottom half, noisy */
    cnn_net *net =
        build_train("[net]\nwidth=8\nheight=8\nchannels=1\n"
                    "[convolutional]\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
                    "[connected]\noutput=2\nactivation=linear\n"
                    "[softmax]\n",
                    8, 900);
    cnn_rng rng = cnn_rng_seed(901);
    int labels[8];
    const objective o = {NULL, labels};
    double first = 0, last = 0;
    for (int step = 0; step < 200; step++) {
        for (int b = 0; b < 8; b++) {
            labels[b] = cnn_rng_uniform(&rng) < 0.5f;
            for (int i = 0; i < 64; i++) {
                const int top = i < 32;
                net->input[b * 64 + i] =
                    (top == !labels[b] ? 0.8f : 0.2f) + 0.3f * (cnn_rng_uniform(&rng) - 0.5f);
            }
        }
        objective_grads(net, &o);
        const double L = objective_of_outputs(net, &o);
        if (step < 10) first += L / 10;
        if (step >= 190) last += L / 10;
        sgd_step(net, 0.1f);
    }
    ck_assert_msg(last * 5 <= first, "classifier loss %.4g -> %.4g: not down 5x", first, last);
    cnn_net_free(net);
}
END_TEST

/* B 16x16 grey images, each with one bright square of 3-6 px on a noisy background; its box
 * (class 0) goes to boxes[b]. */
static void square_images(float *x, cnn_box_label *boxes, int B, cnn_rng *rng)
{
    for (int b = 0; b < B; b++) {
        const int s = 3 + (int)(cnn_rng_uniform(rng) * 4);
        const int x0 = (int)(cnn_rng_uniform(rng) * (17 - s)),
                  y0 = (int)(cnn_rng_uniform(rng) * (17 - s));
        for (int y = 0; y < 16; y++)
            for (int c = 0; c < 16; c++) {
                const int in = c >= x0 && c < x0 + s && y >= y0 && y < y0 + s;
                x[b * 256 + y * 16 + c] = (in ? 0.9f : 0.1f) + 0.1f * (cnn_rng_uniform(rng) - 0.5f);
            }
        boxes[b] =
            (cnn_box_label){(x0 + s / 2.0f) / 16, (y0 + s / 2.0f) / 16, s / 16.0f, s / 16.0f, 0};
    }
}

START_TEST(test_train_yolo)
{
    /* one box per image, one class, a 4x4 grid with one 5x5 anchor: the loss must fall, and
     * afterwards (inference path) the most confident box must find the square */
    enum { B = 4 };
    cnn_net *net =
        build_train("[net]\nwidth=16\nheight=16\nchannels=1\n"
                    "[convolutional]\nfilters=8\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
                    "[convolutional]\nfilters=16\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
                    "[convolutional]\nfilters=6\nsize=1\nactivation=linear\n"
                    "[yolo]\nmask=0\nanchors=5,5\nnum=1\nclasses=1\n",
                    B, 910);
    cnn_rng rng = cnn_rng_seed(911);
    cnn_box_label boxes[B];
    const int count[B] = {1, 1, 1, 1};
    const cnn_truth truth = {boxes, count, 1};
    net->truth = &truth;
    double first = 0, last = 0;
    for (int step = 0; step < 300; step++) {
        square_images(net->input, boxes, B, &rng);
        memset(net->grads, 0, sizeof(float) * net->n_params);
        cnn_net_forward_train(net);
        cnn_net_backward(net);
        if (step < 20) first += net->loss / 20;
        if (step >= 280) last += net->loss / 20;
        sgd_step(net, 0.05f);
    }
    ck_assert_msg(last * 2 <= first, "yolo loss %.4g -> %.4g: not halved", first, last);
    const cnn_layer *l = &net->layers[3];
    double mean_iou = 0;
    int hits = 0;
    for (int round = 0; round < 5; round++) {
        square_images(net->input, boxes, B, &rng);
        cnn_net_forward(net, NULL);
        for (int b = 0; b < B; b++) {
            const float *e = l->output + b * 6 * 16;
            int best = 0;
            for (int i = 1; i < 16; i++) best = e[64 + i] > e[64 + best] ? i : best;
            const double iou = iou_d((best % 4 + e[best]) / 4, (best / 4 + e[16 + best]) / 4,
                                     exp(e[32 + best]) * 5 / 16, exp(e[48 + best]) * 5 / 16,
                                     boxes[b].x, boxes[b].y, boxes[b].w, boxes[b].h);
            mean_iou += iou / (5 * B);
            hits += best == (int)(boxes[b].y * 4) * 4 + (int)(boxes[b].x * 4);
        }
    }
    /* (other seeds: 15-20 hits, IoU 0.50-0.65; an untrained net: about 1 hit, IoU near 0) */
    ck_assert_msg(hits >= 14 && mean_iou > 0.4,
                  "after training, the most confident cell holds the square's centre in %d of "
                  "20 images, IoU %.3g on average",
                  hits, mean_iou);
    cnn_net_free(net);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("layers");
    tcase_add_loop_test(tc, test_conv_grads, 0, (int)(sizeof conv_cases / sizeof conv_cases[0]));
    tcase_add_test(tc, test_conv_first_layer_bn);
    tcase_add_loop_test(tc, test_activation_grads, 0, CNN_ACT_COUNT);
    tcase_add_test(tc, test_maxpool_grads);
    tcase_add_test(tc, test_avgpool_grads);
    tcase_add_test(tc, test_upsample_grads);
    tcase_add_test(tc, test_route_grads);
    tcase_add_test(tc, test_shortcut_grads);
    tcase_add_test(tc, test_connected_grads);
    tcase_add_test(tc, test_connected_bn_grads);
    tcase_add_test(tc, test_dropout_zero_grads);
    tcase_add_test(tc, test_dropout_mask);
    tcase_add_test(tc, test_softmax_ce_grads);
    suite_add_tcase(s, tc);

    tc = tcase_create("detection");
    tcase_add_test(tc, test_yolo_loss_by_hand);
    tcase_add_test(tc, test_region_loss_by_hand);
    tcase_add_test(tc, test_yolo_grads);
    tcase_add_test(tc, test_region_grads);
    suite_add_tcase(s, tc);

    tc = tcase_create("runs");
    tcase_add_test(tc, test_train_classifier);
    tcase_add_test(tc, test_train_yolo);
    suite_add_tcase(s, tc);
    return s;
}
