/* detect.c — see detect.h. Head layout: (anchor, entry, h, w), entries x, y, w, h, obj, classes. */
#include "detect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "heads.h"

size_t cnn_detect_capacity(const cnn_net *net)
{
    size_t n = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const cnn_layer *l = &net->layers[i];
        const size_t hw = (size_t)l->out.h * l->out.w;
        if (l->role == CNN_LAYER_YOLO) {
            const cnn_yolo_params *p = l->p;
            n += hw * p->n_mask * p->classes;
        } else if (l->role == CNN_LAYER_REGION) {
            const cnn_region_params *p = l->p;
            n += hw * p->num * (p->classes ? p->classes : 1);
        }
    }
    return n;
}

void cnn_detect_model_thresholds(const cnn_net *net, float *conf, float *nms)
{
    *conf = *nms = -1;
    for (int i = 0; i < net->n_layers; i++) {
        const cnn_layer *l = &net->layers[i];
        if (l->role != CNN_LAYER_REGION) continue;
        *conf = ((const cnn_region_params *)l->p)->conf;
        *nms = ((const cnn_region_params *)l->p)->nms;
    }
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* Box centre/size relative to the network input (0..1) -> original-image corners, unclipped
 * (NMS runs on the unclipped boxes, as darknet and face-api do). */
static void map_box(const cnn_net *net, const cnn_frame *f, float cx, float cy, float bw, float bh,
                    cnn_det *d)
{
    const float nw = (float)net->in.w, nh = (float)net->in.h;
    float x1 = ((cx - bw / 2) * nw - f->off_x) / f->scale_x;
    float x2 = ((cx + bw / 2) * nw - f->off_x) / f->scale_x;
    float y1 = ((cy - bh / 2) * nh - f->off_y) / f->scale_y;
    float y2 = ((cy + bh / 2) * nh - f->off_y) / f->scale_y;
    d->x1 = x1, d->x2 = x2, d->y1 = y1, d->y2 = y2;
}

void cnn_det_clip(cnn_det *dets, int n, int w, int h)
{
    for (int i = 0; i < n; i++) {
        dets[i].x1 = clampf(dets[i].x1, 0, (float)w);
        dets[i].x2 = clampf(dets[i].x2, 0, (float)w);
        dets[i].y1 = clampf(dets[i].y1, 0, (float)h);
        dets[i].y2 = clampf(dets[i].y2, 0, (float)h);
    }
}

int cnn_detect_decode(const cnn_net *net, int b, const cnn_frame *frame, float conf, cnn_det *dets,
                      int cap)
{
    int n = 0;
    for (int li = 0; li < net->n_layers; li++) {
        const cnn_layer *l = &net->layers[li];
        if (l->role != CNN_LAYER_YOLO && l->role != CNN_LAYER_REGION) continue;
        const int lw = l->out.w, lh = l->out.h;
        const size_t hw = (size_t)lw * lh;
        const float *out = l->output + (size_t)b * cnn_shape_size(l->out);
        const int yolo = l->role == CNN_LAYER_YOLO;
        const cnn_yolo_params *yp = l->p;
        const cnn_region_params *rp = l->p;
        const int anchors = yolo ? yp->n_mask : rp->num;
        const int classes = yolo ? yp->classes : rp->classes;
        const int entries = yolo ? classes + 5 : rp->coords + 1 + classes;
        for (int a = 0; a < anchors; a++) {
            const float *e = out + (size_t)a * entries * hw;
            float aw, ah; /* anchor size relative to the network input */
            if (yolo) {
                aw = yp->anchors[2 * yp->mask[a]] / net->in.w;
                ah = yp->anchors[2 * yp->mask[a] + 1] / net->in.h;
            } else {
                aw = rp->anchors[2 * a] / lw;
                ah = rp->anchors[2 * a + 1] / lh;
            }
            for (int row = 0; row < lh; row++) {
                for (int col = 0; col < lw; col++) {
                    const size_t i = (size_t)row * lw + col;
                    const float obj = e[4 * hw + i];
                    if (!(obj > conf)) continue;
                    cnn_det box = {.layer = li, .anchor = a, .cell = (int)i};
                    map_box(net, frame, (col + e[i]) / lw, (row + e[hw + i]) / lh,
                            expf(e[2 * hw + i]) * aw, expf(e[3 * hw + i]) * ah, &box);
                    /* overflowing weights can make a head output inf or NaN: no such box */
                    if (!(isfinite(box.x1) && isfinite(box.y1) && isfinite(box.x2) &&
                          isfinite(box.y2)))
                        continue;
                    if (classes == 0) {
                        if (n >= cap) return n;
                        box.class_id = 0;
                        box.score = obj;
                        dets[n++] = box;
                        continue;
                    }
                    for (int c = 0; c < classes; c++) {
                        const float score = obj * e[(5 + c) * hw + i];
                        if (!(score > conf)) continue;
                        if (n >= cap) return n;
                        box.class_id = c;
                        box.score = score;
                        dets[n++] = box;
                    }
                }
            }
        }
    }
    return n;
}

float cnn_det_iou(const cnn_det *a, const cnn_det *b)
{
    const float iw = fminf(a->x2, b->x2) - fmaxf(a->x1, b->x1);
    const float ih = fminf(a->y2, b->y2) - fmaxf(a->y1, b->y1);
    if (iw <= 0 || ih <= 0) return 0;
    const float inter = iw * ih;
    const float uni = (a->x2 - a->x1) * (a->y2 - a->y1) + (b->x2 - b->x1) * (b->y2 - b->y1) - inter;
    return uni > 0 ? inter / uni : 0;
}

static int by_score_desc(const void *pa, const void *pb)
{
    const cnn_det *a = pa, *b = pb;
    if (a->score != b->score) return a->score < b->score ? 1 : -1;
    return 0;
}

int cnn_nms(cnn_det *dets, int n, float iou)
{
    qsort(dets, (size_t)n, sizeof *dets, by_score_desc);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        int suppressed = 0;
        for (int j = 0; j < kept; j++) {
            if (dets[j].class_id == dets[i].class_id && cnn_det_iou(&dets[j], &dets[i]) > iou) {
                suppressed = 1;
                break;
            }
        }
        if (!suppressed) dets[kept++] = dets[i];
    }
    return kept;
}

int cnn_topk(const float *p, int n, int k, int *idx)
{
    if (k > n) k = n;
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            int taken = 0;
            for (int t = 0; t < j; t++) taken |= idx[t] == i;
            if (!taken && (best < 0 || p[i] > p[best])) best = i;
        }
        idx[j] = best;
    }
    return k;
}
