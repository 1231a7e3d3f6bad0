/* region.c — [region] (yolov2): logistic on x, y and objectness, softmax over the classes of each
 * anchor and cell. classes=0 is allowed: a detector with objectness only (face-api's
 * TinyFaceDetector), scored by objectness. Extension keys x_nms and x_conf: the model's own NMS
 * and score thresholds, used when the command line does not set them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heads.h"
#include "layer.h"
#include "net.h"

static const char *const region_training_keys[] = {
    "jitter", "rescore", "object_scale", "noobject_scale", "class_scale", "coord_scale",
    "absolute", "random", "bias_match", "max", "focal_loss", "log", "sqrt", "mask_scale", NULL};

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
    float thresh; /* a training key in darknet */
    if ((st = cnn_cfg_float(cfg, s, "thresh", 0.5f, 0, 1, &thresh, err))) return st;
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
    (void)net;
    const cnn_region_params *p = l->p;
    const int need = p->num * (p->coords + 1 + p->classes);
    if (l->in.c != need)
        return cnn_fail(err, CNN_ERR_MODEL,
                        "input has %d channels but num %d x (coords %d + 1 + classes %d) = %d",
                        l->in.c, p->num, p->coords, p->classes, need);
    l->out = l->in;
    return CNN_OK;
}

/* One anchor's entries, in place: base is (coords + 1 + classes, hw). Logistic and softmax use
 * heads.h's vectorisable e^x; the softmax runs over blocks of 64 pixels at a time so that its
 * loops are along pixels. */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"),
               optimize("no-trapping-math")))
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

const cnn_layer_ops cnn_region_ops = {
    .section = "region",
    .type = "region",
    .parse = region_parse,
    .plan = region_plan,
    .forward = region_forward,
    .describe = region_describe,
    .free = region_free,
};
