/* yolo.c — [yolo] (yolov3/v4): logistic on x, y, objectness and classes, x/y scaled by
 * scale_x_y; w, h stay raw for detect.c to exponentiate. Training keys are accepted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heads.h"
#include "layer.h"
#include "net.h"
#include "pool.h"

static const char *const yolo_training_keys[] = {
    "jitter", "ignore_thresh", "truth_thresh", "random", "iou_thresh", "cls_normalizer",
    "iou_normalizer", "obj_normalizer", "max_delta", "beta_nms", "resize", "focal_loss",
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
    (void)net;
    const cnn_yolo_params *p = l->p;
    const int need = p->n_mask * (p->classes + 5);
    if (l->in.c != need)
        return cnn_fail(err, CNN_ERR_MODEL,
                        "input has %d channels but %d masks x (classes %d + 5) = %d; set the "
                        "previous [convolutional] filters=%d",
                        l->in.c, p->n_mask, p->classes, need, need);
    l->out = l->in;
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
               optimize("no-trapping-math")))
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

const cnn_layer_ops cnn_yolo_ops = {
    .section = "yolo",
    .type = "yolo",
    .parse = yolo_parse,
    .plan = yolo_plan,
    .forward = yolo_forward,
    .describe = yolo_describe,
    .free = yolo_free,
};
