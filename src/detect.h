/* detect.h — turning detection-head outputs into boxes: yolo and region decoding, mapping from
 * network-input pixels to original-image pixels (cnn_frame), class-wise greedy NMS; and top-k
 * for classifiers. Boxes are pixel corners (x1, y1, x2, y2) in the original image, clipped. */
#ifndef CNN_DETECT_H
#define CNN_DETECT_H

#include "image.h"
#include "net.h"

typedef struct {
    int class_id;
    float score;
    float x1, y1, x2, y2;
    /* where it came from (decode sets these; explain.c seeds its gradient there): head layer
     * index, anchor slot within the head, cell = row * head width + column */
    int layer, anchor, cell;
} cnn_det;

/* Upper bound on candidates decode can produce for one image (size the dets array with it). */
size_t cnn_detect_capacity(const cnn_net *net);

/* Decodes every [yolo]/[region] head of batch item b: a candidate per (anchor, cell, class)
 * with score > conf (strict, as darknet), boxes mapped through frame (not yet clipped).
 * Returns the number written (at most cap). */
int cnn_detect_decode(const cnn_net *net, int b, const cnn_frame *frame, float conf, cnn_det *dets,
                      int cap);
/* Clips boxes to [0, w] x [0, h]. */
void cnn_det_clip(cnn_det *dets, int n, int w, int h);

/* The score and NMS thresholds the model asks for ([region] x_conf, x_nms), or -1 each. */
void cnn_detect_model_thresholds(const cnn_net *net, float *conf, float *nms);

float cnn_det_iou(const cnn_det *a, const cnn_det *b);
/* Sorts by score (descending) and drops, per class, boxes whose IoU with a kept box is > iou.
 * Returns the number kept; dets[0..n) holds them in descending score order. */
int cnn_nms(cnn_det *dets, int n, float iou);

/* Indices of the k largest values of p[0..n) in descending order; returns min(k, n). */
int cnn_topk(const float *p, int n, int k, int *idx);

#endif
