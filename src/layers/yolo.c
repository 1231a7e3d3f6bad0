/* yolo.c — [yolo] (yolov3/v4): logistic on x, y, objectness and classes, x/y scaled by
 * scale_x_y; w, h stay raw for detect.c to exponentiate. Training keys are accepted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heads.h"
#include "layer.h"
#include "net.h"

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

static inline float logistic(float x) { return 1.0f / (1.0f + expf(-x)); }

static void yolo_forward(cnn_layer *l, const float *in, cnn_net *net)
{
    const cnn_yolo_params *p = l->p;
    const size_t size = cnn_shape_size(l->out), hw = (size_t)l->out.h * l->out.w;
    const size_t entries = (size_t)(p->classes + 5);
    const float sc = p->scale_x_y, shift = -0.5f * (sc - 1);
    memcpy(l->output, in, sizeof(float) * size * net->batch);
    for (int b = 0; b < net->batch; b++) {
        for (int a = 0; a < p->n_mask; a++) {
            float *base = l->output + b * size + a * entries * hw;
            for (size_t i = 0; i < 2 * hw; i++) base[i] = logistic(base[i]) * sc + shift;
            for (size_t i = 4 * hw; i < entries * hw; i++) base[i] = logistic(base[i]);
        }
    }
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
