/* test_explain.c — the inference-mode gradient behind --explain, checked against finite
 * differences of the INFERENCE function (cnn_net_forward's layer ops, batch-norm folded into
 * the weights), never against the training code it exercises:
 *   - net->frozen forward_train computes what cnn_net_forward computes and leaves the running
 *     statistics alone; a clone accepts cnn_net_grad_alloc but not cnn_net_train_alloc;
 *   - d(logit)/d(output of every layer) of a small classifier with batch-norm in convolutional
 *     (grouped too) and connected layers, maxpool, dropout, mish/leaky/swish/logistic, by central
 *     differences at two step sizes (an element whose two estimates disagree sits on a kink of
 *     leaky or maxpool and is skipped, as caffe's checker does; few may be);
 *   - the Grad-CAM map of cnn_explain_class and cnn_explain_detections (yolo and region heads)
 *     equals the map built from finite-difference gradients, and its peak maps through the
 *     frame to original-image pixels. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "model.h"
#include "net.h"
#include "testutil.h"

static const char *const cls_cfg =
    "[net]\nwidth=9\nheight=9\nchannels=3\n"
    "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=mish\n"
    "[convolutional]\nbatch_normalize=1\nfilters=6\nsize=3\nstride=1\npad=1\ngroups=2\nactivation=leaky\n"
    "[maxpool]\nsize=2\nstride=2\n"
    "[convolutional]\nbatch_normalize=1\nfilters=5\nsize=3\nstride=1\npad=1\nactivation=swish\n"
    "[dropout]\nprobability=0.5\n"
    "[connected]\nbatch_normalize=1\noutput=7\nactivation=logistic\n"
    "[connected]\noutput=4\nactivation=linear\n"
    "[softmax]\n";

static cnn_net *build_random(const char *cfg, uint64_t seed)
{
    cnn_net *net = tu_build(cfg, 1);
    cnn_rng rng = cnn_rng_seed(seed);
    cnn_net_init_random(net, &rng);
    tu_fill(net->input, cnn_shape_size(net->in), &rng, -1, 1);
    return net;
}

static cnn_net *grad_clone(const cnn_net *ref)
{
    cnn_net *x = NULL;
    cnn_error err = {0};
    ck_assert_msg(cnn_net_clone(ref, &x, &err) == CNN_OK, "clone: %s", err.msg);
    ck_assert_msg(cnn_net_grad_alloc(x, &err) == CNN_OK, "grad_alloc: %s", err.msg);
    ck_assert_int_eq(x->frozen, 1);
    memcpy(x->input, ref->input, sizeof(float) * cnn_shape_size(ref->in));
    return x;
}

/* Inference forward of layers k+1.. from layer k's output x; returns value `at` of layer `out`. */
static double infer_from(cnn_net *net, int k, const float *x, int out, size_t at)
{
    memcpy(net->layers[k].output, x, sizeof(float) * cnn_shape_size(net->layers[k].out));
    const float *in = net->layers[k].output;
    for (int i = k + 1; i <= out; i++) {
        cnn_layer *l = &net->layers[i];
        l->ops->forward(l, in, net);
        in = l->output;
    }
    return net->layers[out].output[at];
}

/* Central-difference gradient of value `at` of layer `out` with respect to layer k's output,
 * at the point ref's forward reached (step 2e-3). An element whose one-sided differences at step
 * 4e-3 disagree has a kink (leaky at 0, a maxpool tie) within reach: it is set to NAN and
 * counted. Returns the number of kinks. */
static int fd_grad(cnn_net *ref, int k, int out, size_t at, double *g)
{
    cnn_net_forward(ref, NULL);
    const size_t n = cnn_shape_size(ref->layers[k].out);
    float *x0 = malloc(sizeof(float) * n), *x = malloc(sizeof(float) * n);
    memcpy(x0, ref->layers[k].output, sizeof(float) * n);
    const double f0 = ref->layers[out].output[at];
    int kinks = 0;
    for (size_t i = 0; i < n; i++) {
        double val[2][2]; /* [step][up, down] */
        float xs[2][2];
        for (int s = 0; s < 2; s++) {
            const float h = s ? 2e-3f : 4e-3f;
            xs[s][0] = x0[i] + h, xs[s][1] = x0[i] - h; /* the steps as stored */
            for (int d = 0; d < 2; d++) {
                memcpy(x, x0, sizeof(float) * n);
                x[i] = xs[s][d];
                val[s][d] = infer_from(ref, k, x, out, at);
            }
        }
        const double fwd = (val[0][0] - f0) / ((double)xs[0][0] - x0[i]);
        const double bwd = (f0 - val[0][1]) / ((double)x0[i] - xs[0][1]);
        g[i] = (val[1][0] - val[1][1]) / ((double)xs[1][0] - xs[1][1]);
        if (fabs(fwd - bwd) > 1e-3 + 0.1 * fabs(g[i])) {
            g[i] = NAN;
            kinks++;
        }
    }
    infer_from(ref, k, x0, out, at); /* restore */
    free(x0);
    free(x);
    return kinks;
}

/* got vs finite differences, skipping kinks; at most max_kinks of them. */
static void assert_grad(const float *got, const double *want, size_t n, int kinks, int max_kinks,
                        const char *what)
{
    ck_assert_msg(kinks <= max_kinks, "%s: %d of %zu elements on kinks (at most %d)", what, kinks, n, max_kinks);
    double scale = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(want[i])) scale = fmax(scale, fabs(want[i]));
    ck_assert_msg(scale > 1e-4, "%s: gradient is all zero, nothing checked", what);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(want[i])) continue;
        const double d = fabs(got[i] - want[i]);
        ck_assert_msg(d <= 3e-3 * scale + 2e-2 * fabs(want[i]),
                      "%s: element %zu: backward %.7g, finite differences %.7g (scale %.3g)", what, i,
                      (double)got[i], want[i], scale);
    }
}

START_TEST(test_frozen_forward_is_inference)
{
    cnn_net *ref = build_random(cls_cfg, 1);
    cnn_net_forward(ref, NULL);
    float *params = malloc(sizeof(float) * ref->n_params);
    memcpy(params, ref->params, sizeof(float) * ref->n_params);
    cnn_error err = {0};
    cnn_net *c = NULL;
    ck_assert_int_eq(cnn_net_clone(ref, &c, &err), CNN_OK);
    ck_assert_int_eq(cnn_net_train_alloc(c, &err), CNN_ERR_INTERNAL); /* a clone cannot be trained */
    cnn_net_free(c);
    cnn_net *x = grad_clone(ref);
    for (int rep = 0; rep < 3; rep++) cnn_net_forward_train(x); /* dropout and BN stay inference */
    for (int i = 0; i < ref->n_layers; i++) {
        const size_t n = cnn_shape_size(ref->layers[i].out);
        double *want = malloc(sizeof(double) * n);
        for (size_t k = 0; k < n; k++) want[k] = ref->layers[i].output[k];
        char what[64];
        snprintf(what, sizeof what, "layer %d output", i);
        tu_assert_close(x->layers[i].output, want, n, 1e-4, 1e-5, what);
        free(want);
    }
    ck_assert_msg(memcmp(params, ref->params, sizeof(float) * ref->n_params) == 0,
                  "frozen forward_train changed the parameters (running statistics)");
    free(params);
    cnn_net_free(x);
    cnn_net_free(ref);
}
END_TEST

START_TEST(test_logit_gradient_every_layer)
{
    cnn_net *ref = build_random(cls_cfg, 2);
    cnn_net *x = grad_clone(ref);
    const int last = x->n_layers - 1, logits = last - 1;
    for (int cls = 0; cls < 4; cls += 3) {
        cnn_net_forward_train(x);
        x->layers[last].delta[cls] = 1.0f; /* softmax passes it through: d(logit cls) */
        cnn_net_backward_range(x, last, 1);
        for (int k = 0; k < logits; k++) {
            const size_t n = cnn_shape_size(x->layers[k].out);
            double *g = malloc(sizeof(double) * n);
            const int kinks = fd_grad(ref, k, logits, (size_t)cls, g);
            char what[96];
            snprintf(what, sizeof what, "class %d: d(logit)/d(layer %d [%s] output)", cls, k,
                     x->layers[k].ops->section);
            assert_grad(x->layers[k].delta, g, n, kinks, (int)(n / 10), what);
            free(g);
        }
    }
    cnn_net_free(x);
    cnn_net_free(ref);
}
END_TEST

/* The map from finite-difference gradients: alpha_c = mean dT/dA_c, ReLU(sum alpha_c A_c), max 1. */
static void fd_cam(cnn_net *ref, int a, int out, const size_t *at, int n_at, float *cam)
{
    const cnn_layer *l = &ref->layers[a];
    const size_t hw = (size_t)l->out.h * l->out.w, n = cnn_shape_size(l->out);
    double *g = calloc(n, sizeof *g), *gi = malloc(sizeof(double) * n);
    for (int t = 0; t < n_at; t++) {
        const int kinks = fd_grad(ref, a, out, at[t], gi);
        ck_assert_int_eq(kinks, 0);
        for (size_t i = 0; i < n; i++) g[i] += gi[i];
    }
    cnn_net_forward(ref, NULL);
    double mx = 0;
    for (size_t i = 0; i < hw; i++) {
        double v = 0;
        for (int c = 0; c < l->out.c; c++) {
            double alpha = 0;
            for (size_t j = 0; j < hw; j++) alpha += g[c * hw + j];
            v += alpha / hw * l->output[c * hw + i];
        }
        cam[i] = v > 0 ? (float)v : 0;
        mx = fmax(mx, cam[i]);
    }
    ck_assert_msg(mx > 0, "reference map is all zero");
    for (size_t i = 0; i < hw; i++) cam[i] /= (float)mx;
    free(g);
    free(gi);
}

static void assert_cam(const cnn_explanation *e, const float *want, int w, int h)
{
    ck_assert_int_eq(e->ok, 1);
    ck_assert_int_eq(e->gw, w);
    ck_assert_int_eq(e->gh, h);
    float mx = 0;
    size_t arg = 0;
    for (int i = 0; i < w * h; i++) {
        ck_assert_msg(e->cam[i] >= 0 && e->cam[i] <= 1, "map value %g outside [0, 1]", e->cam[i]);
        ck_assert_msg(fabsf(e->cam[i] - want[i]) < 0.02f, "map cell %d: %g, from finite differences %g", i,
                      e->cam[i], want[i]);
        if (e->cam[i] > mx) mx = e->cam[i], arg = (size_t)i;
    }
    ck_assert_float_eq(mx, 1.0f);
    (void)arg;
}

/* x of the vertex of the parabola through (-1, l), (0, c), (1, r), clamped to half a cell */
static double vertex(double l, double c, double r)
{
    const double a = (l + r) / 2 - c, b = (r - l) / 2; /* y = a x^2 + b x + c */
    const double x = a < 0 ? -b / (2 * a) : 0;
    return x < -0.5 ? -0.5 : (x > 0.5 ? 0.5 : x);
}

START_TEST(test_class_map)
{
    cnn_net *ref = build_random(cls_cfg, 3);
    cnn_explainer *xp = NULL;
    cnn_error err = {0};
    ck_assert_msg(cnn_explainer_create(ref, -1, &xp, &err) == CNN_OK, "%s", err.msg);
    const int a = cnn_explain_layer(ref, ref->n_layers - 1);
    ck_assert_int_eq(a, 3); /* the swish conv at 5x5 (layer 1 is leaky but earlier) */
    /* a 90 x 45 image stretched to 9 x 9: x_orig = x_net * 10, y_orig = x_net * 5 */
    const cnn_frame f = {.scale_x = 0.1f, .scale_y = 0.2f, .off_x = 0, .off_y = 0, .img_w = 90, .img_h = 45};
    cnn_explanation e;
    for (int cls = 0; cls < 4; cls++) {
        cnn_explain_class(xp, ref->input, cls, &f, &e);
        ck_assert_int_eq(e.layer, a);
        ck_assert_int_eq(e.class_id, cls);
        ck_assert_int_eq(e.head, -1);
        const size_t at = (size_t)cls;
        float want[25];
        fd_cam(ref, a, ref->n_layers - 2, &at, 1, want);
        assert_cam(&e, want, 5, 5);
        int arg = 0;
        for (int i = 0; i < 25; i++)
            if (e.cam[i] > e.cam[arg]) arg = i;
        /* the largest cell, moved towards its larger neighbour by the parabola's vertex; a cell
         * spans 9/5 network pixels; then through the frame */
        const int cx = arg % 5, cy = arg / 5;
        double dx = 0, dy = 0;
        if (cx > 0 && cx < 4) dx = vertex(e.cam[arg - 1], e.cam[arg], e.cam[arg + 1]);
        if (cy > 0 && cy < 4) dy = vertex(e.cam[arg - 5], e.cam[arg], e.cam[arg + 5]);
        ck_assert(fabs(dx) <= 0.5 && fabs(dy) <= 0.5);
        ck_assert_float_eq_tol(e.peak_x, (cx + 0.5 + dx) * 9 / 5 * 10, 1e-3);
        ck_assert_float_eq_tol(e.peak_y, (cy + 0.5 + dy) * 9 / 5 * 5, 1e-3);
    }
    cnn_explain_class(xp, ref->input, 99, &f, &e); /* no such class: nothing explained */
    ck_assert_int_eq(e.ok, 0);
    ck_assert_int_eq(e.layer, -1);
    cnn_explainer_free(xp);
    cnn_net_free(ref);
}
END_TEST

static void check_head(const char *cfg, int entries, int obj)
{
    cnn_net *ref = build_random(cfg, 4);
    cnn_explainer *xp = NULL;
    cnn_error err = {0};
    ck_assert_msg(cnn_explainer_create(ref, -1, &xp, &err) == CNN_OK, "%s", err.msg);
    const int head = ref->n_layers - 1, a = cnn_explain_layer(ref, head);
    ck_assert_int_eq(a, 1); /* the leaky conv, not the linear 1x1 head conv */
    const cnn_layer *hl = &ref->layers[head];
    const size_t hw = (size_t)hl->out.h * hl->out.w;
    /* two detections of the head: (anchor 1, cell 5, class 1) and (anchor 0, cell 12, class 0),
     * and one claiming another layer, which must be ignored */
    const cnn_det dets[3] = {{.class_id = 1, .score = 0.9f, .layer = head, .anchor = 1, .cell = 5},
                             {.class_id = 0, .score = 0.8f, .layer = head, .anchor = 0, .cell = 12},
                             {.class_id = 0, .score = 0.7f, .layer = 0, .anchor = 0, .cell = 0}};
    const size_t at[4] = {(size_t)(1 * entries + obj) * hw + 5, (size_t)(1 * entries + obj + 1 + 1) * hw + 5,
                          (size_t)(0 * entries + obj) * hw + 12, (size_t)(0 * entries + obj + 1 + 0) * hw + 12};
    const cnn_frame f = {.scale_x = 1, .scale_y = 1, .img_w = 16, .img_h = 16};
    cnn_explanation e;
    cnn_explain_detections(xp, ref->input, dets, 3, &f, &e);
    ck_assert_int_eq(e.head, head);
    ck_assert_int_eq(e.layer, a);
    float want[64];
    fd_cam(ref, a, head - 1, at, 4, want);
    assert_cam(&e, want, 8, 8);
    cnn_explain_detections(xp, ref->input, dets, 0, &f, &e); /* nothing detected */
    ck_assert_int_eq(e.ok, 0);
    ck_assert_int_eq(e.layer, -1);
    cnn_explainer_free(xp);
    cnn_net_free(ref);
}

START_TEST(test_region_map)
{
    check_head("[net]\nwidth=16\nheight=16\nchannels=3\n"
               "[convolutional]\nbatch_normalize=1\nfilters=6\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
               "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
               "[convolutional]\nfilters=16\nsize=1\nstride=1\nactivation=linear\n"
               "[region]\nclasses=3\ncoords=4\nnum=2\nsoftmax=1\nanchors=1,1,2,2\n",
               8, 4);
}
END_TEST

START_TEST(test_yolo_map)
{
    check_head("[net]\nwidth=16\nheight=16\nchannels=3\n"
               "[convolutional]\nbatch_normalize=1\nfilters=6\nsize=3\nstride=2\npad=1\nactivation=leaky\n"
               "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\nstride=1\npad=1\nactivation=leaky\n"
               "[convolutional]\nfilters=14\nsize=1\nstride=1\nactivation=linear\n"
               "[yolo]\nclasses=2\nnum=2\nmask=0,1\nanchors=4,4,8,8\n",
               7, 4);
}
END_TEST

START_TEST(test_jet_and_overlay)
{
    uint8_t c[3];
    cnn_jet(0, c);
    ck_assert(c[2] > 100 && c[0] == 0); /* cold: blue */
    cnn_jet(1, c);
    ck_assert(c[0] > 100 && c[2] == 0); /* hot: red */
    /* a 2x2 map with one hot cell over a grey 40x20 image letterboxed (top-left) into 8x8:
     * scale 0.2, the image covers network rows 0..4 */
    float cam[4] = {0, 1, 0, 0};
    cnn_explanation e = {.ok = 1, .gw = 2, .gh = 2, .net_w = 8, .net_h = 8, .cam = cam};
    const cnn_frame f = {.scale_x = 0.2f, .scale_y = 0.2f, .img_w = 40, .img_h = 20};
    cnn_rgb8 img = {0};
    cnn_error err = {0};
    ck_assert_int_eq(cnn_rgb8_alloc(&img, 40, 20, &err), CNN_OK);
    memset(img.px, 128, 40 * 20 * 3);
    cnn_explain_overlay(&img, &e, &f, 0.5f);
    const uint8_t *tr = img.px + (0 * 40 + 39) * 3, *tl = img.px + (0 * 40 + 0) * 3;
    ck_assert_msg(tr[0] > tr[2], "top right (over the hot cell) is red: %d %d %d", tr[0], tr[1], tr[2]);
    ck_assert_msg(tl[2] > tl[0], "top left is blue: %d %d %d", tl[0], tl[1], tl[2]);
    e.ok = 0; /* no map: untouched */
    memset(img.px, 128, 40 * 20 * 3);
    cnn_explain_overlay(&img, &e, &f, 0.5f);
    for (int i = 0; i < 40 * 20 * 3; i++) ck_assert_int_eq(img.px[i], 128);
    cnn_rgb8_free(&img);
}
END_TEST

START_TEST(test_create_errors)
{
    cnn_error err = {0};
    cnn_explainer *xp = NULL;
    /* no convolutional layer with a spatial output before the softmax */
    cnn_net *net = tu_build("[net]\nwidth=4\nheight=4\nchannels=1\n[connected]\noutput=3\n[softmax]\n", 1);
    ck_assert_int_eq(cnn_explainer_create(net, -1, &xp, &err), CNN_ERR_MODEL);
    tu_assert_msg_has(err.msg, "no [convolutional] layer");
    ck_assert_ptr_null(xp);
    cnn_net_free(net);
    /* no output to explain */
    net = tu_build("[net]\nwidth=4\nheight=4\nchannels=1\n[convolutional]\nfilters=2\nsize=1\nactivation=relu\n", 1);
    ck_assert_int_eq(cnn_explainer_create(net, -1, &xp, &err), CNN_ERR_MODEL);
    tu_assert_msg_has(err.msg, "[softmax] or detection-head");
    cnn_net_free(net);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("explain");
    TCase *tc = tcase_create("explain");
    tcase_add_test(tc, test_frozen_forward_is_inference);
    tcase_add_test(tc, test_logit_gradient_every_layer);
    tcase_add_test(tc, test_class_map);
    tcase_add_test(tc, test_region_map);
    tcase_add_test(tc, test_yolo_map);
    tcase_add_test(tc, test_jet_and_overlay);
    tcase_add_test(tc, test_create_errors);
    suite_add_tcase(s, tc);
    return s;
}
