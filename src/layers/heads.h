/* heads.h — options of the detection heads ([yolo], [region]), shared with detect.c which
 * decodes their outputs. Output layout of both: (anchor, entry, h, w) per batch item, entries
 * x, y, w, h, objectness, class scores; x, y, objectness and classes already activated. */
#ifndef CNN_HEADS_H
#define CNN_HEADS_H

#include <math.h>

#define CNN_HEAD_MAX_ANCHORS 32

/* e^x within 2 ulp of expf for |x| <= 87 (clamped beyond, where logistic and softmax are already
 * 0 or 1 in float), written so that loops over it vectorise: Cephes' expf, 2^n times a degree-6
 * polynomial on [-ln2/2, ln2/2]. NaN gives NaN, as expf does (and never reaches the conversion
 * to int, where it would be undefined). */
static inline __attribute__((always_inline)) float cnn_head_exp(float x0)
{
    const float xc = x0 > 87.0f ? 87.0f : (x0 < -87.0f ? -87.0f : x0); /* NaN stays NaN */
    const int nan = xc != xc;
    const float x = nan ? 0.0f : xc;
    const float t = x * 1.44269504088896341f + 127.5f; /* n + 127 + 0.5, positive */
    const int n = (int)t - 127;                          /* round(x / ln 2) */
    const float r = x - (float)n * 0.693359375f + (float)n * 2.12194440e-4f;
    float q = 1.9875691500e-4f;
    q = q * r + 1.3981999507e-3f;
    q = q * r + 8.3334519073e-3f;
    q = q * r + 4.1665795894e-2f;
    q = q * r + 1.6666665459e-1f;
    q = q * r + 5.0000001201e-1f;
    q = q * r * r + r + 1.0f;
    union {
        int i;
        float f;
    } pow2 = {.i = (n + 127) << 23};
    return nan ? x0 : q * pow2.f;
}

static inline __attribute__((always_inline)) float cnn_head_logistic(float x)
{
    return 1.0f / (1.0f + cnn_head_exp(-x));
}

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
