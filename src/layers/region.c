/* region.c — [region] (yolov2): logistic on x, y and objectness, softmax over the classes of each
 * anchor and cell. classes=0 is allowed: a detector with objectness only (face-api's
 * TinyFaceDetector), scored by objectness. Extension keys x_nms and x_conf: the model's own NMS
 * and score thresholds, used when the command line does not set them. Training: darknet's
 * region loss (below). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "data.h"
#include "heads.h"
#include "layer.h"
#include "net.h"

static const char *const region_training_keys[] = {
    "jitter", "absolute", "random", "max", "focal_loss", "log", "sqrt", "mask_scale", NULL};

static cnn_status region_parse(cnn_layer *l, const cnn_cfg *cfg, cnn_cfg_section *s,
                               cnn_error *err)
{
    cnn_region_params *p = calloc(1, sizeof *p);
    if (!p) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    l->p = p;
    l->role = CNN_LAYER_REGION;
    cnn_status st;
    int n_anchors;
    if ((st = cnn_cfg_int(cfg, s, "classes", 20, 0, 100000, &p->classes, err))) return st;
    if ((st = cnn_cfg_int(cfg, s, "coords", 4, 4, 4, &p->coords, err))) return st;
    if ((st = cnn_cfg_int(cfg, s, "num", 1, 1, CNN_HEAD_MAX_ANCHORS, &p->num, err))) return st;
    if ((st = cnn_cfg_int(cfg, s, "softmax", 0, 0, 1, &p->softmax, err))) return st;
    if ((st = cnn_cfg_floats(cfg, s, "anchors", p->anchors, 2 * CNN_HEAD_MAX_ANCHORS, &n_anchors,
                             err)))
        return st;
    if ((st = cnn_cfg_float(cfg, s, "thresh", 0.5f, 0, 1, &p->thresh, err)) ||
        (st = cnn_cfg_float(cfg, s, "object_scale", 1, 0, 1000, &p->object_scale, err)) ||
        (st = cnn_cfg_float(cfg, s, "noobject_scale", 1, 0, 1000, &p->noobject_scale, err)) ||
        (st = cnn_cfg_float(cfg, s, "class_scale", 1, 0, 1000, &p->class_scale, err)) ||
        (st = cnn_cfg_float(cfg, s, "coord_scale", 1, 0, 1000, &p->coord_scale, err)) ||
        (st = cnn_cfg_int(cfg, s, "rescore", 0, 0, 1, &p->rescore, err)) ||
        (st = cnn_cfg_int(cfg, s, "bias_match", 0, 0, 1, &p->bias_match, err)))
        return st;
    if ((st = cnn_cfg_float(cfg, s, "x_conf", -1, 0, 1, &p->conf, err))) return st;
    if (!cnn_cfg_find(s, "x_conf")) p->conf = -1;
    if ((st = cnn_cfg_float(cfg, s, "x_nms", -1, 0, 1, &p->nms, err))) return st;
    if (!cnn_cfg_find(s, "x_nms")) p->nms = -1;
    const char *score = cnn_cfg_str(s, "x_score", p->classes ? "class" : "objectness");
    if (strcmp(score, p->classes ? "class" : "objectness") != 0)
        return cnn_cfg_fail_err(err, cfg, s, cnn_cfg_find(s, "x_score"),
                                "must be 'objectness' with classes=0, 'class' otherwise");
    if ((st = cnn_cfg_accept_numbers(cfg, s, region_training_keys, err))) return st;
    if (n_anchors != 2 * p->num)
        return cnn_cfg_fail_err(err, cfg, s, cnn_cfg_find(s, "anchors"),
                                "%d values, but num=%d needs %d (w,h pairs)", n_anchors, p->num,
                                2 * p->num);
    for (int i = 0; i < 2 * p->num; i++) {
        if (!(p->anchors[i] > 0))
            return cnn_cfg_fail_err(err, cfg, s, cnn_cfg_find(s, "anchors"), "anchors must be > 0");
    }
    return CNN_OK;
}

static cnn_status region_plan(cnn_layer *l, const cnn_net *net, cnn_error *err)
{
    const cnn_region_params *p = l->p;
    const int need = p->num * (p->coords + 1 + p->classes);
    if (l->in.c != need)
        return cnn_fail(err, CNN_ERR_MODEL,
                        "input has %d channels but num %d x (coords %d + 1 + classes %d) = %d",
                        l->in.c, p->num, p->coords, p->classes, need);
    l->out = l->in;
    l->n_train_ws = 2 * cnn_shape_size(l->out) * net->batch; /* targets and weights */
    return CNN_OK;
}

/* One anchor's entries, in place: base is (coords + 1 + classes, hw). Logistic and softmax use
 * heads.h's vectorisable e^x; the softmax runs over blocks of 64 pixels at a time so that its
 * loops are along pixels. */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"),
               CNN_OPTIMIZE("no-trapping-math")))
static void region_anchor(const cnn_region_params *p, float *base, size_t hw)
{
    for (size_t i = 0; i < 2 * hw; i++) base[i] = cnn_head_logistic(base[i]);
    float *obj = base + p->coords * hw;
    for (size_t i = 0; i < hw; i++) obj[i] = cnn_head_logistic(obj[i]);
    if (!p->softmax || p->classes == 0) return;
    float *cls = obj + hw;
    for (size_t i0 = 0; i0 < hw; i0 += 64) {
        const size_t n = hw - i0 < 64 ? hw - i0 : 64;
        float mx[64], sum[64];
        for (size_t i = 0; i < n; i++) mx[i] = cls[i0 + i], sum[i] = 0;
        for (int c = 1; c < p->classes; c++)
            for (size_t i = 0; i < n; i++) {
                const float v = cls[c * hw + i0 + i];
                mx[i] = v > mx[i] ? v : mx[i];
            }
        for (int c = 0; c < p->classes; c++)
            for (size_t i = 0; i < n; i++) {
                const float e = cnn_head_exp(cls[c * hw + i0 + i] - mx[i]);
                cls[c * hw + i0 + i] = e;
                sum[i] += e;
            }
        for (int c = 0; c < p->classes; c++)
            for (size_t i = 0; i < n; i++) cls[c * hw + i0 + i] /= sum[i];
    }
}

static void region_forward(cnn_layer *l, const float *in, cnn_net *net)
{
    const cnn_region_params *p = l->p;
    const size_t size = cnn_shape_size(l->out), hw = (size_t)l->out.h * l->out.w;
    const size_t entries = (size_t)(p->coords + 1 + p->classes);
    memcpy(l->output, in, sizeof(float) * size * net->batch);
    for (int b = 0; b < net->batch; b++)
        for (int a = 0; a < p->num; a++) region_anchor(p, l->output + b * size + a * entries * hw, hw);
}

static void region_describe(const cnn_layer *l, char *buf, size_t n)
{
    const cnn_region_params *p = l->p;
    snprintf(buf, n, "%d cls, %d anchors", p->classes, p->num);
}

static void region_free(cnn_layer *l) { free(l->p); }

/* ---- training ----
 * The loss of one image is darknet's (yolov2) region loss; anchors are in grid cells:
 *   every prediction: objectness 0.5 noobject_scale (out - 0)^2 on the logistic output, unless
 *     its box overlaps a truth by IoU > thresh; while net->seen < 12800 images, also a pull
 *     (weight 0.01) of its box towards its anchor centred in its cell;
 *   every truth: in the cell holding its centre, the anchor whose shape matches it best at the
 *     origin (bias_match: the anchor's shape; else the predicted shape) is responsible:
 *       x, y   0.5 s (logistic(in) - (truth.x * w - col))^2,
 *       w, h   0.5 s (in - log(truth.w * w / anchor_w))^2, s = coord_scale (2 - truth.w truth.h);
 *       objectness 0.5 object_scale (out - 1)^2 (rescore: the target is the IoU of the predicted
 *       box with the truth, a constant for the gradient, as in darknet);
 *       classes: softmax=1: cross-entropy of the softmax (class_scale), whose gradient is
 *       darknet's delta; softmax=0: 0.5 class_scale (in - onehot)^2 on the raw values.
 *   A later truth in the same cell and anchor replaces an earlier one.
 * net->loss receives the mean over the batch and l->delta its gradient with respect to the
 * layer's input. Without net->truth there is no loss. With classes=0 only class 0 is usable. */

static int truth_usable(const cnn_box_label *t, int classes)
{
    return t->cls >= 0 && t->cls < (classes ? classes : 1) && t->w > 0 && t->h > 0 &&
           isfinite(t->x) && isfinite(t->y) && isfinite(t->w) && isfinite(t->h);
}

static int cell_of(float f, int n)
{
    const int c = (int)(f * n);
    return c < 0 ? 0 : (c >= n ? n - 1 : c);
}

/* The predicted box of anchor a in cell (row, col), from the activated outputs e of that
 * anchor (the anchor's (entry, h, w) block of one batch item). */
static cnn_head_box region_box(const cnn_layer *l, const float *e, int a, int row, int col)
{
    const cnn_region_params *p = l->p;
    const int lw = l->out.w, lh = l->out.h;
    const size_t hw = (size_t)lw * lh, i = (size_t)row * lw + col;
    return (cnn_head_box){(col + e[i]) / lw, (row + e[hw + i]) / lh,
                          expf(e[2 * hw + i]) * p->anchors[2 * a] / lw,
                          expf(e[3 * hw + i]) * p->anchors[2 * a + 1] / lh};
}

/* Targets and weights of batch item b (laid out like the output; weights zero where there is
 * no term). */
static void region_targets(const cnn_layer *l, const cnn_net *net, int b,
                           const cnn_box_label *truths, int n_truths, float *tg, float *wt)
{
    const cnn_region_params *p = l->p;
    const int lw = l->out.w, lh = l->out.h;
    const size_t hw = (size_t)lw * lh, entries = (size_t)(p->coords + 1 + p->classes);
    const size_t item = b * cnn_shape_size(l->out);
    const float *out = l->output + item;
    tg += item, wt += item;
    for (int a = 0; a < p->num; a++) {
        const float *e = out + a * entries * hw;
        for (int row = 0; row < lh; row++)
            for (int col = 0; col < lw; col++) {
                const size_t at = a * entries * hw + (size_t)row * lw + col;
                const cnn_head_box pred = region_box(l, e, a, row, col);
                float best = 0;
                for (int t = 0; t < n_truths; t++) {
                    const cnn_box_label *tr = &truths[t];
                    if (!truth_usable(tr, p->classes)) continue;
                    const cnn_head_box tb = {tr->x, tr->y, tr->w, tr->h};
                    best = fmaxf(best, cnn_head_box_iou(pred, tb));
                }
                tg[at + 4 * hw] = 0;
                wt[at + 4 * hw] = best > p->thresh ? 0 : p->noobject_scale;
                if (net->seen < 12800) {
                    const float prior[4] = {0.5f, 0.5f, 0, 0};
                    for (int k = 0; k < 4; k++) tg[at + k * hw] = prior[k], wt[at + k * hw] = 0.01f;
                }
            }
    }
    for (int t = 0; t < n_truths; t++) {
        const cnn_box_label *tr = &truths[t];
        if (!truth_usable(tr, p->classes)) continue;
        const int row = cell_of(tr->y, lh), col = cell_of(tr->x, lw);
        const cnn_head_box shape = {0, 0, tr->w, tr->h};
        float best = 0;
        int best_a = 0;
        for (int a = 0; a < p->num; a++) {
            cnn_head_box pred = region_box(l, out + a * entries * hw, a, row, col);
            if (p->bias_match) pred.w = p->anchors[2 * a] / lw, pred.h = p->anchors[2 * a + 1] / lh;
            pred.x = pred.y = 0;
            const float iou = cnn_head_box_iou(pred, shape);
            if (iou > best) best = iou, best_a = a;
        }
        const size_t at = best_a * entries * hw + (size_t)row * lw + col;
        const float s = p->coord_scale * (2 - tr->w * tr->h);
        tg[at] = tr->x * lw - col;
        tg[at + hw] = tr->y * lh - row;
        tg[at + 2 * hw] = logf(tr->w * lw / p->anchors[2 * best_a]);
        tg[at + 3 * hw] = logf(tr->h * lh / p->anchors[2 * best_a + 1]);
        for (int k = 0; k < 4; k++) wt[at + k * hw] = s;
        const cnn_head_box pred = region_box(l, out + best_a * entries * hw, best_a, row, col);
        tg[at + 4 * hw] =
            p->rescore ? cnn_head_box_iou(pred, (cnn_head_box){tr->x, tr->y, tr->w, tr->h}) : 1;
        wt[at + 4 * hw] = p->object_scale;
        for (int c = 0; c < p->classes; c++) {
            tg[at + (5 + c) * hw] = c == tr->cls;
            wt[at + (5 + c) * hw] = p->class_scale;
        }
    }
}

static void region_forward_train(cnn_layer *l, const float *in, cnn_net *net)
{
    region_forward(l, in, net);
    const cnn_truth *truth = net->truth;
    if (!truth) return;
    const cnn_region_params *p = l->p;
    const size_t size = cnn_shape_size(l->out), hw = (size_t)l->out.h * l->out.w;
    const size_t entries = (size_t)(p->coords + 1 + p->classes), total = size * net->batch;
    float *tg = net->train_ws, *wt = tg + total;
    memset(wt, 0, sizeof(float) * total);
    for (int b = 0; b < net->batch; b++) {
        const int n = truth->count[b] < truth->max_boxes ? truth->count[b] : truth->max_boxes;
        region_targets(l, net, b, truth->boxes + (size_t)b * truth->max_boxes, n, tg, wt);
    }
    const float inv_batch = 1.0f / net->batch;
    double loss = 0;
    for (size_t k = 0; k < total; k++) {
        const size_t e = k / hw % entries;
        const float w = wt[k], z = in[k], o = l->output[k], t = tg[k];
        float d = 0;
        if (w != 0 && (e < 2 || e == 4)) { /* squared error on logistic(z) */
            const float r = o - t;
            loss += 0.5 * w * r * r;
            d = w * r * o * (1 - o);
        } else if (w != 0 && (e < 4 || !p->softmax)) { /* squared error on the raw value */
            const float r = z - t;
            loss += 0.5 * w * r * r;
            d = w * r;
        } else if (w != 0 && t != 0) { /* softmax cross-entropy: -w log p[target] */
            const size_t first = k - (e - 5) * hw; /* class 0 of this cell */
            float mx = in[first];
            for (int c = 1; c < p->classes; c++) mx = fmaxf(mx, in[first + c * hw]);
            double sum = 0;
            for (int c = 0; c < p->classes; c++) sum += exp((double)in[first + c * hw] - mx);
            loss -= w * t * ((double)z - mx - log(sum));
            d = w * (o - t);
        } else if (w != 0) { /* the other classes of that softmax */
            d = w * o;
        }
        l->delta[k] = d * inv_batch;
    }
    net->loss += (float)(loss * inv_batch);
}

/* l->delta is already with respect to the input (forward_train). */
static void region_backward(cnn_layer *l, const float *in, float *in_delta, cnn_net *net)
{
    (void)in;
    if (!in_delta) return;
    const size_t n = cnn_shape_size(l->out) * net->batch;
    for (size_t i = 0; i < n; i++) in_delta[i] += l->delta[i];
}

const cnn_layer_ops cnn_region_ops = {
    .section = "region",
    .type = "region",
    .parse = region_parse,
    .plan = region_plan,
    .forward = region_forward,
    .describe = region_describe,
    .free = region_free,
    .forward_train = region_forward_train,
    .backward = region_backward,
};
