/* explain.h — Grad-CAM (Selvaraju et al., 2017): a class-activation map of where in the image a
 * classifier's top class or a detector's detections came from, computed with the backward pass
 * of the INFERENCE function (net->frozen: batch-norm with running statistics, no dropout).
 *   target   classifier: the logit of the explained class (the [softmax] input);
 *            detector: the sum, over the kept detections of the head that produced the
 *            strongest one, of the objectness logit plus (classes > 0) the class logit at the
 *            detection's anchor and cell (raw head input, before logistic/softmax).
 *   layer A  the last [convolutional] layer with a rectifier-family activation (relu, leaky,
 *            relu6, elu, selu, swish, mish, hardswish) and more than one output cell before the
 *            [softmax] / that head; if there is none, the last [convolutional] layer with more
 *            than one output cell.
 *   map      alpha_c = mean over space of dT/dA_c; cam = ReLU(sum_c alpha_c A_c), divided by its
 *            maximum (so in [0, 1]); no map when nothing is explained or the map is all zero.
 * An explainer is per thread: a clone of the model's network (shared, read-only parameters)
 * with gradient buffers of its own. */
#ifndef CNN_EXPLAIN_H
#define CNN_EXPLAIN_H

#include "detect.h"
#include "image.h"
#include "net.h"

typedef struct cnn_explainer cnn_explainer;

typedef struct {
    int layer;            /* the layer A the map was taken at; -1 when nothing was explained */
    int class_id;         /* classifier: the explained class; else -1 */
    int head;             /* detector: the head whose kept detections were explained; else -1 */
    int ok;               /* 1 when there is a map (and a peak) */
    int gw, gh;           /* map size: layer A's output (w, h) */
    int net_w, net_h;     /* network input size the map spans */
    const float *cam;     /* (gh, gw) in [0, 1], owned by the explainer until its next call */
    float peak_x, peak_y; /* the map's maximum in original-image pixels: the largest cell,
                             refined along each axis by the parabola through it and its two
                             neighbours (at most half a cell), clipped to the image */
    double ms;            /* wall time of the explanation */
} cnn_explanation;

/* Clones net (which must outlive the explainer) and checks that every layer between each
 * target layer A and its output can be differentiated (CNN_ERR_MODEL names the layer).
 * layer >= 0 chooses A instead of the rule above (--explain-layer) for every output after it
 * (any layer kind with more than one output cell; CNN_ERR_USAGE otherwise); -1: the rule. */
cnn_status cnn_explainer_create(const cnn_net *net, int layer, cnn_explainer **out, cnn_error *err);
void cnn_explainer_free(cnn_explainer *x);

/* The layer A for an output at layer `before` (a [softmax] or a head), or -1. */
int cnn_explain_layer(const cnn_net *net, int before);

/* input is the network input (in.c, in.h, in.w) as cnn_preprocess wrote it, f its frame.
 * Classifier: explains class_id. */
void cnn_explain_class(cnn_explainer *x, const float *input, int class_id, const cnn_frame *f,
                       cnn_explanation *e);
/* Detector: dets as decoded, NMS'd and clipped (dets[0] the strongest); n may be 0. */
void cnn_explain_detections(cnn_explainer *x, const float *input, const cnn_det *dets, int n,
                            const cnn_frame *f, cnn_explanation *e);

/* Blends the map, bilinearly upsampled through the frame (letterbox undone) and coloured with
 * the jet colour map, over img: out = (1 - alpha) img + alpha colour. Nothing without a map. */
void cnn_explain_overlay(cnn_rgb8 *img, const cnn_explanation *e, const cnn_frame *f, float alpha);

/* Jet colour map: v in [0, 1] (blue -> cyan -> yellow -> red) to RGB. */
void cnn_jet(float v, uint8_t rgb[3]);

#endif
