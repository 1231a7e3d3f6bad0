/* metrics.h — accuracy metrics for `cnndemo val`, as pure functions over plain arrays (no I/O,
 * no globals, no state between calls): confusion matrix -> per-class precision / recall / F1,
 * top-k hits, sensitivity / specificity, ROC AUC (Mann-Whitney), and COCO-style average
 * precision for detection (greedy matching, precision envelope, 101-point interpolation).
 * Undefined values (a ratio with nothing to count) are NaN unless a comment says otherwise. */
#ifndef CNN_METRICS_H
#define CNN_METRICS_H

#include "status.h"

/* ---- classification ---- */

/* Rank of class `truth` among p[0..k): the classes placed before it in cnn_topk's order
 * (higher value, or equal value and a lower id). truth is in the top n when the rank is < n. */
int cnn_metric_rank(const float *p, int k, int truth);

typedef struct {
    long long support;   /* samples whose true class this is (row sum) */
    long long predicted; /* samples predicted as this class (column sum) */
    long long tp;
    double precision;    /* tp / predicted; 0 when nothing was predicted as this class */
    double recall;       /* tp / support; 0 when the class has no samples */
    double f1;           /* 2PR / (P + R); 0 when P + R = 0 */
} cnn_class_prf;

/* cm is (k, k) row-major: cm[t * k + p] = samples of true class t predicted as p.
 * Fills out[0..k). */
void cnn_metric_prf(const long long *cm, int k, cnn_class_prf *out);

/* Unweighted means over the classes that occur (support > 0 or predicted > 0), as
 * scikit-learn's average="macro" does. Returns how many classes were averaged (all three are
 * NaN when none). */
int cnn_metric_macro(const cnn_class_prf *c, int k, double *precision, double *recall,
                     double *f1);

/* Two classes, cm (2, 2), `positive` is 0 or 1: sensitivity = TP / (TP + FN) (recall of the
 * positive class), specificity = TN / (TN + FP) (recall of the negative class). */
void cnn_metric_binary(const long long *cm, int positive, double *sensitivity,
                       double *specificity);

typedef struct {
    float score;  /* e.g. the positive class's probability */
    int positive; /* 1 for a positive sample, 0 for a negative one */
} cnn_scored;

/* ROC AUC: the probability that a random positive scores above a random negative, ties counted
 * 1/2 — the Mann-Whitney U statistic over P·N, from mid-ranks. Sorts items in place. NaN when
 * there is no positive or no negative. */
double cnn_metric_auc(cnn_scored *items, int n);

/* ---- detection ---- */

typedef struct {
    int image, class_id;
    float score;          /* detections only */
    float x1, y1, x2, y2; /* corners, in any unit shared by detections and ground truth */
} cnn_eval_box;

/* IoU of two boxes in double precision; 0 when either has no area or they do not overlap. */
double cnn_eval_iou(const cnn_eval_box *a, const cnn_eval_box *b);

typedef struct {
    int n_gt;          /* ground-truth boxes of the class */
    int n_det;         /* detections of the class */
    int tp;            /* detections matched to a ground-truth box */
    double ap;         /* 101-point interpolated AP; 0 without detections, NaN when n_gt == 0 */
    int pr_det, pr_tp; /* the same counted only over detections with score > pr_conf */
    double precision;  /* pr_tp / pr_det (NaN when pr_det == 0) */
    double recall;     /* pr_tp / n_gt (NaN when n_gt == 0) */
} cnn_ap_result;

/* Average precision of class `class_id` at one IoU threshold, COCO style: its detections in
 * descending score (equal scores keep their order in dets), each matched to the unmatched
 * ground-truth box of the same class and image with the highest IoU, if that IoU is >= iou_thr
 * (a second detection of an already matched box is a false positive); precision made
 * non-increasing from the right (the envelope); AP = mean over recall r = 0, 0.01, ..., 1 of the
 * envelope at the first point whose recall reaches r (0 when none does). Recall is compared
 * exactly, as integers (100·tp >= i·n_gt), not in floating point.
 * Entries of other classes are ignored. Fails only for lack of memory. */
cnn_status cnn_metric_ap(const cnn_eval_box *dets, int n_dets, const cnn_eval_box *gts, int n_gts,
                         int class_id, double iou_thr, float pr_conf, cnn_ap_result *out,
                         cnn_error *err);

#define CNN_COCO_IOUS 10 /* IoU 0.50, 0.55, ..., 0.95 */

/* IoU threshold i of the COCO range, i in [0, CNN_COCO_IOUS): (50 + 5i) / 100. */
double cnn_coco_iou(int i);

typedef struct {
    int n_gt, n_det;
    double ap[CNN_COCO_IOUS]; /* AP at each COCO IoU threshold (NaN when n_gt == 0) */
    double ap50;              /* = ap[0] */
    double ap50_95;           /* mean of ap[] */
    double precision, recall; /* at IoU 0.5 over detections with score > pr_conf */
} cnn_class_ap;

/* Every class 0..n_classes-1 at every COCO threshold. *map50 and *map (0.5:0.95) are means over
 * the classes that have ground truth (NaN when none has); detections of classes without ground
 * truth do not count. */
cnn_status cnn_metric_map(const cnn_eval_box *dets, int n_dets, const cnn_eval_box *gts,
                          int n_gts, int n_classes, float pr_conf, cnn_class_ap *per_class,
                          double *map50, double *map, cnn_error *err);

#endif
