/* yolo.c — [yolo] (yolov3/v4): logistic on x, y, objectness and classes, x/y scaled by
 * scale_x_y; w, h stay raw for detect.c to exponentiate. Training: darknet's yolo loss (below);
 * other darknet training keys are accepted and ignored. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "data.h"
#include "heads.h"
#include "layer.h"
#include "net.h"
#include "pool.h"

static const char *const yolo_training_keys[] = {
    "jitter", "random", "iou_thresh", "max_delta", "beta_nms", "resize", "focal_loss",
    "label_smooth_eps", "counters_per_class", "objectness_smooth", "max", "uc_normalizer",
    "track_history_size", "sim_thresh", "dets_for_track", "dets_for_show", "track_ciou_norm",
    "embedding_layer", "iou_thresh_kind", "nms_kind", "iou_loss", "rescore", NULL};
static const char *const yolo_text_keys[] = {"nms_kind", "iou_loss", "iou_thresh_kind", NULL};

static cnn_status yolo_parse(cnn_layer *l, const cnn_cfg *cfg, cnn_cfg_section *s, cnn_error *err)
{
    cnn_yolo_params *p = calloc(1, sizeof *p);
    if (!p) return cnn_fail(err, CNN_ERR_NOMEM, "out of memory");
    l->p = p;
    l->role = CNN_LAYER_YOLO;
    cnn_status st;
    int n_anchors, new_coords;
    if ((st = cnn_cfg_int(cfg, s, "classes", 20, 1, 100000, &p->classes, err))) return st;
    if ((st = cnn_cfg_int(cfg, s, "num", 1, 1, CNN_HEAD_MAX_ANCHORS, &p->num, err))) return st;
    if ((st = cnn_cfg_ints(cfg, s, "mask", p->mask, CNN_HEAD_MAX_ANCHORS, &p->n_mask, err))) return st;
    if ((st = cnn_cfg_floats(cfg, s, "anchors", p->anchors, 2 * CNN_HEAD_MAX_ANCHORS, &n_anchors,
                             err)))
        return st;
    if ((st = cnn_cfg_float(cfg, s, "scale_x_y", 1, 0.5f, 4, &p->scale_x_y, err))) return st;
    if ((st = cnn_cfg_int(cfg, s, "new_coords", 0, 0, 0, &new_coords, err))) return st;
    if ((st = cnn_cfg_float(cfg, s, "ignore_thresh", 0.5f, 0, 1, &p->ignore_thresh, err)) ||
        (st = cnn_cfg_float(cfg, s, "truth_thresh", 1, 0, 1, &p->truth_thresh, err)) ||
        (st = cnn_cfg_float(cfg, s, "iou_normalizer", 1, 0, 1000, &p->iou_normalizer, err)) ||
        (st = cnn_cfg_float(cfg, s, "obj_normalizer", 1, 0, 1000, &p->obj_normalizer, err)) ||
        (st = cnn_cfg_float(cfg, s, "cls_normalizer", 1, 0, 1000, &p->cls_normalizer, err)))
        return st;
    cnn_cfg_accept_any(s, yolo_text_keys);
    if ((st = cnn_cfg_accept_numbers(cfg, s, yolo_training_keys, err))) return st;
    if (n_anchors != 2 * p->num)
        return cnn_cfg_fail_err(err, cfg, s, cnn_cfg_find(s, "anchors"),
                                "%d values, but num=%d needs %d (w,h pairs)", n_anchors, p->num,
                                2 * p->num);
    if (p->n_mask == 0) {
        p->n_mask = p->num;
        for (int i = 0; i < p->num; i++) p->mask[i] = i;
    }
    for (int i = 0; i < p->n_mask; i++) {
        if (p->mask[i] < 0 || p->mask[i] >= p->num)
            return cnn_cfg_fail_err(err, cfg, s, cnn_cfg_find(s, "mask"),
                                    "index %d is outside the %d anchors", p->mask[i], p->num);
    }
    for (int i = 0; i < 2 * p->num; i++) {
        if (!(p->anchors[i] > 0))
            return cnn_cfg_fail_err(err, cfg, s, cnn_cfg_find(s, "anchors"), "anchors must be > 0");
    }
    return CNN_OK;
}

static cnn_status yolo_plan(cnn_layer *l, const cnn_net *net, cnn_error *err)
{
    const cnn_yolo_params *p = l->p;
    const int need = p->n_mask * (p->classes + 5);
    if (l->in.c != need)
        return cnn_fail(err, CNN_ERR_MODEL,
                        "input has %d channels but %d masks x (classes %d + 5) = %d; set the "
                        "previous [convolutional] filters=%d",
                        l->in.c, p->n_mask, p->classes, need, need);
    l->out = l->in;
    l->n_train_ws = 2 * cnn_shape_size(l->out) * net->batch; /* targets and weights */
    return CNN_OK;
}

/* Threads (pool.c): tasks of YOLO_TASK_FLOATS, when there are several. */
#define YOLO_TASK_FLOATS (16 * 1024)

typedef struct {
    const cnn_layer *l;
    const float *in;
    size_t chunk, total;
} yolo_job;

/* Elements [i0, i1) of the (batch, anchors, classes + 5, h, w) output. */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"),
               CNN_OPTIMIZE("no-trapping-math")))
static void yolo_range(const cnn_yolo_params *p, size_t hw, const float *in, float *out, size_t i0,
                       size_t i1)
{
    const size_t entries = (size_t)(p->classes + 5), per_anchor = entries * hw;
    const float sc = p->scale_x_y, shift = -0.5f * (sc - 1);
    while (i0 < i1) {
        /* the run of elements of one kind (x/y, w/h, the rest) that i0 starts */
        const size_t e = i0 % per_anchor, base = i0 - e;
        const size_t end = e < 2 * hw ? 2 * hw : (e < 4 * hw ? 4 * hw : per_anchor);
        const size_t stop = base + end < i1 ? base + end : i1;
        if (e < 2 * hw)
            for (size_t i = i0; i < stop; i++) out[i] = cnn_head_logistic(in[i]) * sc + shift;
        else if (e < 4 * hw)
            memcpy(out + i0, in + i0, sizeof(float) * (stop - i0));
        else
            for (size_t i = i0; i < stop; i++) out[i] = cnn_head_logistic(in[i]);
        i0 = stop;
    }
}

static void yolo_task(void *ctx, int t, int worker)
{
    (void)worker;
    const yolo_job *j = ctx;
    const size_t i0 = (size_t)t * j->chunk, i1 = i0 + j->chunk < j->total ? i0 + j->chunk : j->total;
    yolo_range(j->l->p, (size_t)j->l->out.h * j->l->out.w, j->in, j->l->output, i0, i1);
}

static void yolo_forward(cnn_layer *l, const float *in, cnn_net *net)
{
    yolo_job j = {.l = l, .in = in, .chunk = YOLO_TASK_FLOATS};
    j.total = cnn_shape_size(l->out) * net->batch;
    cnn_pool_run(net->pool, (int)((j.total + j.chunk - 1) / j.chunk), yolo_task, &j);
}

static void yolo_describe(const cnn_layer *l, char *buf, size_t n)
{
    const cnn_yolo_params *p = l->p;
    snprintf(buf, n, "%d cls, %d anchors", p->classes, p->n_mask);
}

static void yolo_free(cnn_layer *l) { free(l->p); }

/* ---- training ----
 * The loss of one image is darknet's yolo loss with squared-error box terms (iou_loss=mse):
 *   every prediction: objectness cross-entropy towards 0 (weight obj_normalizer), unless its
 *     box overlaps a truth by IoU > ignore_thresh (then no objectness term), or by more than
 *     truth_thresh (then it is a positive for that truth, as below);
 *   every truth: the anchor whose shape matches it best at the origin, among all `num` anchors;
 *     if this layer owns it (mask), the prediction of that anchor in the cell holding the truth
 *     centre is a positive:
 *       x, y   0.5 s (out - (truth.x * w - col))^2 on the scaled logistic output,
 *       w, h   0.5 s (in - log(truth.w * net_w / anchor_w))^2 on the raw value,
 *              s = iou_normalizer * (2 - truth.w * truth.h) (small boxes weigh more);
 *       objectness cross-entropy towards 1 (obj_normalizer); each class cross-entropy towards
 *       one-hot (cls_normalizer; truths of several classes in one cell give several ones).
 * Cross-entropy on a logistic output gives darknet's delta (target - out) with respect to the
 * raw input, up to the sign. net->loss receives the mean over the batch and l->delta its
 * gradient with respect to the layer's input (darknet's delta negated, divided by the batch).
 * Without net->truth there is no loss. Boxes with a class outside [0, classes) or an empty
 * size are ignored, like darknet's. */

static int truth_usable(const cnn_box_label *t, int classes)
{
    return t->cls >= 0 && t->cls < classes && t->w > 0 && t->h > 0 && isfinite(t->x) &&
           isfinite(t->y) && isfinite(t->w) && isfinite(t->h);
}

static int cell_of(float f, int n)
{
    const int c = (int)(f * n);
    return c < 0 ? 0 : (c >= n ? n - 1 : c);
}

static float softplus(float z) { return z > 0 ? z + log1pf(expf(-z)) : log1pf(expf(z)); }

/* Makes prediction (b, anchor slot a, row, col) responsible for truth t: writes its targets
 * and weights into tg, wt (both laid out like the output). */
static void yolo_assign(const cnn_layer *l, const cnn_net *net, int b, int a, int row, int col,
                        const cnn_box_label *t, float *tg, float *wt)
{
    const cnn_yolo_params *p = l->p;
    const size_t hw = (size_t)l->out.h * l->out.w, entries = (size_t)(p->classes + 5);
    const size_t at = b * cnn_shape_size(l->out) + a * entries * hw + (size_t)row * l->out.w + col;
    const int an = p->mask[a];
    const float s = p->iou_normalizer * (2 - t->w * t->h);
    tg += at, wt += at;
    tg[0] = t->x * l->out.w - col;
    tg[hw] = t->y * l->out.h - row;
    tg[2 * hw] = logf(t->w * net->in.w / p->anchors[2 * an]);
    tg[3 * hw] = logf(t->h * net->in.h / p->anchors[2 * an + 1]);
    for (int e = 0; e < 4; e++) wt[e * hw] = s;
    if (tg[4 * hw] != 1) { /* first truth of this prediction: classes start from all-zero */
        for (int c = 0; c < p->classes; c++) {
            tg[(5 + c) * hw] = 0;
            wt[(5 + c) * hw] = p->cls_normalizer;
        }
    }
    tg[4 * hw] = 1;
    wt[4 * hw] = p->obj_normalizer;
    tg[(5 + t->cls) * hw] = 1;
}

/* Targets and weights of batch item b (weights zero where there is no term). */
static void yolo_targets(const cnn_layer *l, const cnn_net *net, int b, const cnn_box_label *truths,
                         int n_truths, float *tg, float *wt)
{
    const cnn_yolo_params *p = l->p;
    const int lw = l->out.w, lh = l->out.h;
    const size_t hw = (size_t)lw * lh, entries = (size_t)(p->classes + 5);
    const float *out = l->output + b * cnn_shape_size(l->out);
    for (int a = 0; a < p->n_mask; a++) {
        const float *e = out + a * entries * hw;
        const float aw = p->anchors[2 * p->mask[a]] / net->in.w;
        const float ah = p->anchors[2 * p->mask[a] + 1] / net->in.h;
        for (int row = 0; row < lh; row++)
            for (int col = 0; col < lw; col++) {
                const size_t i = (size_t)row * lw + col;
                const cnn_head_box pred = {(col + e[i]) / lw, (row + e[hw + i]) / lh,
                                           expf(e[2 * hw + i]) * aw, expf(e[3 * hw + i]) * ah};
                float best = 0;
                int best_t = -1;
                for (int t = 0; t < n_truths; t++) {
                    const cnn_box_label *tr = &truths[t];
                    if (!truth_usable(tr, p->classes)) continue;
                    const cnn_head_box tb = {tr->x, tr->y, tr->w, tr->h};
                    const float iou = cnn_head_box_iou(pred, tb);
                    if (iou > best) best = iou, best_t = t;
                }
                const size_t at = b * cnn_shape_size(l->out) + a * entries * hw + i;
                tg[at + 4 * hw] = 0;
                wt[at + 4 * hw] = best > p->ignore_thresh ? 0 : p->obj_normalizer;
                if (best > p->truth_thresh)
                    yolo_assign(l, net, b, a, row, col, &truths[best_t], tg, wt);
            }
    }
    for (int t = 0; t < n_truths; t++) {
        const cnn_box_label *tr = &truths[t];
        if (!truth_usable(tr, p->classes)) continue;
        const cnn_head_box shape = {0, 0, tr->w, tr->h};
        float best = 0;
        int best_n = 0;
        for (int n = 0; n < p->num; n++) {
            const cnn_head_box anchor = {0, 0, p->anchors[2 * n] / net->in.w,
                                         p->anchors[2 * n + 1] / net->in.h};
            const float iou = cnn_head_box_iou(anchor, shape);
            if (iou > best) best = iou, best_n = n;
        }
        for (int a = 0; a < p->n_mask; a++) {
            if (p->mask[a] != best_n) continue;
            yolo_assign(l, net, b, a, cell_of(tr->y, lh), cell_of(tr->x, lw), tr, tg, wt);
        }
    }
}

static void yolo_forward_train(cnn_layer *l, const float *in, cnn_net *net)
{
    yolo_forward(l, in, net);
    const cnn_truth *truth = net->truth;
    if (!truth) return;
    const cnn_yolo_params *p = l->p;
    const size_t size = cnn_shape_size(l->out), hw = (size_t)l->out.h * l->out.w;
    const size_t entries = (size_t)(p->classes + 5), total = size * net->batch;
    float *tg = net->train_ws, *wt = tg + total;
    memset(wt, 0, sizeof(float) * total);
    for (int b = 0; b < net->batch; b++) {
        const int n = truth->count[b] < truth->max_boxes ? truth->count[b] : truth->max_boxes;
        yolo_targets(l, net, b, truth->boxes + (size_t)b * truth->max_boxes, n, tg, wt);
    }
    const float sc = p->scale_x_y, inv_batch = 1.0f / net->batch;
    double loss = 0;
    for (size_t k = 0; k < total; k++) {
        const float w = wt[k], z = in[k], o = l->output[k], t = tg[k];
        const size_t e = k / hw % entries;
        float d = 0;
        if (w != 0 && e < 2) { /* squared error on sc * logistic(z) + shift */
            const float s = cnn_head_logistic(z), r = o - t;
            loss += 0.5 * w * r * r;
            d = w * r * sc * s * (1 - s);
        } else if (w != 0 && e < 4) { /* squared error on the raw log-size */
            const float r = z - t;
            loss += 0.5 * w * r * r;
            d = w * r;
        } else if (w != 0) { /* cross-entropy of logistic(z) against t */
            loss += w * (softplus(z) - t * z);
            d = w * (o - t);
        }
        l->delta[k] = d * inv_batch;
    }
    net->loss += (float)(loss * inv_batch);
}

/* l->delta is already with respect to the input (forward_train). */
static void yolo_backward(cnn_layer *l, const float *in, float *in_delta, cnn_net *net)
{
    (void)in;
    if (!in_delta) return;
    const size_t n = cnn_shape_size(l->out) * net->batch;
    for (size_t i = 0; i < n; i++) in_delta[i] += l->delta[i];
}

const cnn_layer_ops cnn_yolo_ops = {
    .section = "yolo",
    .type = "yolo",
    .parse = yolo_parse,
    .plan = yolo_plan,
    .forward = yolo_forward,
    .describe = yolo_describe,
    .free = yolo_free,
    .forward_train = yolo_forward_train,
    .backward = yolo_backward,
};
