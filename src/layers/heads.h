/* heads.h — options of the detection heads ([yolo], [region]), shared with detect.c which
 * decodes their outputs. Output layout of both: (anchor, entry, h, w) per batch item, entries
 * x, y, w, h, objectness, class scores; x, y, objectness and classes already activated. */
#ifndef CNN_HEADS_H
#define CNN_HEADS_H

#define CNN_HEAD_MAX_ANCHORS 32

typedef struct {
    int classes, num, n_mask;
    int mask[CNN_HEAD_MAX_ANCHORS];
    float anchors[2 * CNN_HEAD_MAX_ANCHORS]; /* (w, h) in network-input pixels */
    float scale_x_y;
} cnn_yolo_params;

typedef struct {
    int classes, coords, num, softmax;
    float anchors[2 * CNN_HEAD_MAX_ANCHORS]; /* (w, h) in grid cells */
    float nms;  /* x_nms: the model's own NMS threshold, or < 0 to use the caller's */
    float conf; /* x_conf: the model's default score threshold, or < 0 to use the caller's */
} cnn_region_params;

#endif
