/* heads.h — options of the detection heads ([yolo], [region]), shared with detect.c which
 * decodes their outputs. Output layout of both: (anchor, entry, h, w) per batch item, entries
 * x, y, w, h, objectness, class scores; x, y, objectness and classes already activated. */
#ifndef CNN_HEADS_H
#define CNN_HEADS_H

#include <math.h>

#define CNN_HEAD_MAX_ANCHORS 32

typedef struct {
    int classes, num, n_mask;
    int mask[CNN_HEAD_MAX_ANCHORS];
    float anchors[2 * CNN_HEAD_MAX_ANCHORS]; /* (w, h) in network-input pixels */
    float scale_x_y;
    /* training (yolo.c): objectness of a prediction whose best IoU with a truth exceeds
     * ignore_thresh is not penalised; above truth_thresh it becomes a positive for that truth;
     * the normalizers weigh the box, objectness and class terms */
    float ignore_thresh, truth_thresh;
    float iou_normalizer, obj_normalizer, cls_normalizer;
} cnn_yolo_params;

typedef struct {
    int classes, coords, num, softmax;
    float anchors[2 * CNN_HEAD_MAX_ANCHORS]; /* (w, h) in grid cells */
    float nms;  /* x_nms: the model's own NMS threshold, or < 0 to use the caller's */
    float conf; /* x_conf: the model's default score threshold, or < 0 to use the caller's */
    /* training (region.c), darknet's keys: predictions overlapping a truth by more than thresh
     * are not penalised as background; bias_match picks a truth's anchor by the anchor shapes
     * (else by the predicted shapes); rescore makes the objectness target the IoU */
    float thresh;
    float object_scale, noobject_scale, class_scale, coord_scale;
    int rescore, bias_match;
} cnn_region_params;

/* A box as centre and size, in fractions of the network input. */
typedef struct {
    float x, y, w, h;
} cnn_head_box;

/* Intersection over union; 0 for empty or non-finite boxes. */
static inline float cnn_head_box_iou(cnn_head_box a, cnn_head_box b)
{
    const float iw = fminf(a.x + a.w / 2, b.x + b.w / 2) - fmaxf(a.x - a.w / 2, b.x - b.w / 2);
    const float ih = fminf(a.y + a.h / 2, b.y + b.h / 2) - fmaxf(a.y - a.h / 2, b.y - b.h / 2);
    if (!(iw > 0 && ih > 0)) return 0;
    const float inter = iw * ih, uni = a.w * a.h + b.w * b.h - inter;
    return uni > 0 && isfinite(uni) ? inter / uni : 0;
}

#endif
